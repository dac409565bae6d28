"""Who may cause a message to be sent for an organisation."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person, PublicLink, System
from acquitte.customers.models import Customer, Organisation


def _check_acts_in(actor: Actor, organisation: Organisation) -> None:
    """A message reports a change someone made in this organisation: its staff, one of its
    customers (signed in or through a public link), or the system. Anyone else is refused."""
    if isinstance(actor, System):
        return
    if isinstance(actor, PublicLink):
        allowed = actor.organisation_id == organisation.pk
    elif isinstance(actor, Person) and actor.customer_id is not None:
        allowed = Customer.objects.filter(pk=actor.customer_id, organisation=organisation).exists()
    elif isinstance(actor, Person):
        allowed = actor.is_superuser or actor.organisation_id == organisation.pk
    else:
        allowed = False
    if not allowed:
        raise PermissionDenied(_("Vous n'avez pas accès à cette organisation."))
