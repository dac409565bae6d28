"""Recording money received and applying it to invoices."""

import datetime
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError
from acquitte.core.money import MAX_AMOUNT, to_decimal
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.invoicing.models import Invoice, LedgerEntry
from acquitte.invoicing.services import convert_proforma, settle_oldest_first

from .models import Payment

MANUAL_METHODS = {
    Payment.Method.BANK_TRANSFER,
    Payment.Method.CHEQUE,
    Payment.Method.CASH,
    Payment.Method.OTHER,
}


@transaction.atomic
def record_payment(
    *,
    organisation,
    customer,
    amount,
    method: str,
    actor=None,
    received_on: datetime.date | None = None,
    reference: str = "",
    invoice: Invoice | None = None,
) -> Payment:
    """Record money received (transfer, cheque, cash) and settle invoices with it.

    The named invoice is settled first (a pro-forma is turned into its invoice), then the oldest
    unpaid ones; whatever is left stays on the account as credit.
    """
    check_can_write(actor, organisation)
    check_same_organisation(organisation, customer, invoice)
    amount = to_decimal(amount)
    if amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise BusinessError(_("Le montant doit être positif, au cent près."))
    if method not in Payment.Method.values:
        raise BusinessError(_("Mode de paiement inconnu."))
    if invoice is not None and invoice.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."))
    if invoice is not None and invoice.kind == Invoice.Kind.PROFORMA:
        invoice = convert_proforma(proforma=invoice, actor=actor)
    received_on = received_on or timezone.localdate()
    if received_on > timezone.localdate():
        raise BusinessError(_("La date de réception ne peut pas être dans le futur."))
    payment = Payment.objects.create(
        organisation=organisation,
        customer=customer,
        amount=amount,
        currency=organisation.currency,
        method=method,
        status=Payment.Status.SUCCEEDED,
        reference=reference[:120],
        received_on=received_on,
        recorded_by=actor,
    )
    LedgerEntry.objects.create(
        organisation=organisation,
        customer=customer,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=-amount,
        payment=payment,
        occurred_on=received_on,
    )
    record_transition(
        obj=payment,
        organisation=organisation,
        actor=actor,
        action="record",
        to_state=payment.status,
    )
    settle_oldest_first(customer=customer, amount=amount, payment=payment, actor=actor, first=invoice)
    return payment
