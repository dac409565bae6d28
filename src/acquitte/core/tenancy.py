"""Who may act on an organisation's data. Services call these; views never decide it."""

from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext as _


def check_can_write(actor, organisation) -> None:
    """Refuse a staff user of another organisation, or a read-only one. ``None`` is the system."""
    if actor is None or actor.is_superuser:
        return
    if actor.organisation_id != organisation.pk:
        raise PermissionDenied(_("Vous n'avez pas accès à cette organisation."))
    if not actor.can_write:
        raise PermissionDenied(_("Votre rôle ne permet que la consultation."))


def check_same_organisation(organisation, *objects) -> None:
    """Refuse any object (customer, product, contact…) that belongs to another organisation.

    The message is the same as for a missing object, so ids of other tenants reveal nothing.
    """
    from acquitte.core.errors import BusinessError

    for obj in objects:
        if obj is None:
            continue
        org_id = getattr(obj, "organisation_id", None)
        if org_id is None and hasattr(obj, "customer"):
            org_id = obj.customer.organisation_id
        if org_id != organisation.pk:
            raise BusinessError(_("Objet introuvable."))
