"""What subscriptions does when a lower app reports an event (connected in SubscriptionsConfig.ready)."""

from typing import Any

from django.dispatch import receiver

from acquitte.core.actors import Actor
from acquitte.customers.models import Organisation
from acquitte.invoicing.signals import invoices_paid

from .services.renewals import renew_paid_services
from .services.suspensions import lift_paid_suspensions


@receiver(invoices_paid)
def lift_overdue_suspensions(
    sender: Any, *, organisation: Organisation, invoice_ids: list[int], actor: Actor, **kwargs: Any
) -> None:
    """A service suspended for an unpaid invoice is reactivated at once when that invoice and its
    reactivation invoice are both paid (seed 000); one suspended by hand waits for staff."""
    lift_paid_suspensions(organisation=organisation, invoice_ids=invoice_ids, actor=actor)


@receiver(invoices_paid)
def move_renewed_expiry(
    sender: Any, *, organisation: Organisation, invoice_ids: list[int], actor: Actor, **kwargs: Any
) -> None:
    """A paid renewal invoice (or the invoice its pro-forma became) moves its service's expiry date
    to the end of the period it pays, and the merchant's systems hear ``service.renewed``."""
    renew_paid_services(organisation=organisation, invoice_ids=invoice_ids, actor=actor)
