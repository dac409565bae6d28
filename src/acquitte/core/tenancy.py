"""Who may act on an organisation's data. Services call these; views never decide it."""

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.utils.translation import gettext as _

from .actors import Actor, Person, PublicLink, System
from .errors import BusinessError, ErrorCode


def _staff_of(actor: Person, organisation_id: int) -> bool:
    return actor.customer_id is None and (actor.is_superuser or actor.organisation_id == organisation_id)


def check_can_write(actor: Actor, organisation: Model) -> None:
    """Staff with a writing role in this organisation, or the system. Anyone else is refused."""
    if isinstance(actor, System):
        return
    if not isinstance(actor, Person) or not _staff_of(actor, organisation.pk):
        raise PermissionDenied(_("Vous n'avez pas accès à cette organisation."))
    if not actor.can_write:
        raise PermissionDenied(_("Votre rôle ne permet que la consultation."))


def check_is_system(actor: Actor) -> None:
    """Runs that act on every organisation at once (reconciliation, outbox sweeps, expiry)."""
    if not isinstance(actor, System):
        raise PermissionDenied(_("Seules les tâches planifiées font cette opération."))


def check_can_manage_settings(actor: Actor, organisation: Model) -> None:
    """Payment settings and the like: the organisation's owner only (or the system)."""
    check_can_write(actor, organisation)
    if isinstance(actor, Person) and not actor.can_manage_settings:
        raise PermissionDenied(_("Seul le propriétaire peut modifier ces réglages."))


def check_can_act_for(actor: Actor, customer: Any) -> None:
    """The customer themself (signed in or through their public link), their merchant's staff, or the system."""
    if isinstance(actor, System):
        return
    if isinstance(actor, PublicLink):
        if actor.customer_id == customer.pk and actor.organisation_id == customer.organisation_id:
            return
        raise PermissionDenied(_("Ce lien ne donne pas accès à ce compte."))
    if not isinstance(actor, Person):
        raise PermissionDenied(_("Vous n'avez pas accès à ce compte."))
    if actor.customer_id is not None:
        if actor.customer_id == customer.pk:
            return
        raise PermissionDenied(_("Vous n'avez pas accès à ce compte."))
    check_can_write(actor, customer.organisation)


def check_same_organisation(organisation: Model, *objects: Any) -> None:
    """Refuse any object (customer, product, contact…) that belongs to another organisation.

    The message is the same as for a missing object, so ids of other tenants reveal nothing.
    """
    for obj in objects:
        if obj is None:
            continue
        org_id = getattr(obj, "organisation_id", None)
        if org_id is None and hasattr(obj, "customer"):
            org_id = obj.customer.organisation_id
        if org_id != organisation.pk:
            raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
