"""Money that does not go through a provider: a transfer or cheque received, or announced."""

import datetime
from typing import TYPE_CHECKING

from babel.numbers import format_currency
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import Amount
from acquitte.core.params import check_text
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_act_for, check_can_write, check_same_organisation
from acquitte.invoicing.models import Invoice
from acquitte.notifications.services import notify_staff

from ..models import Payment, TransferDeclaration
from .outcomes import positive_amount, settle, user_of

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation


#: Without an invoice to date it, money recorded as received at most this long ago.
OLDEST_RECEIPT = datetime.timedelta(days=5 * 366)
#: The longest reference a transfer, cheque or payment keeps: longer is refused, not cut.
MAX_REFERENCE = 120


def _not_in_future(day: datetime.date, message: str) -> None:
    if day > timezone.localdate():
        raise BusinessError(message, code=ErrorCode.INVALID_DATE)


def _not_before(day: datetime.date, invoice: Invoice | None, message: str) -> None:
    """Money for an invoice cannot have left or arrived before the invoice was issued."""
    floor = invoice.issue_date if invoice is not None and invoice.issue_date else None
    floor = floor or timezone.localdate() - OLDEST_RECEIPT
    if day < floor:
        raise BusinessError(message % {"date": floor.isoformat()}, code=ErrorCode.INVALID_DATE)


@transaction.atomic
def record_payment(
    *,
    organisation: "Organisation",
    customer: "Customer",
    amount: Amount,
    method: str,
    actor: Actor,
    received_on: datetime.date | None = None,
    reference: str = "",
    invoice: Invoice | None = None,
) -> Payment:
    """Record money received (transfer, cheque, cash) and settle invoices with it.

    The named invoice is settled first (a pro-forma is turned into its invoice), then the oldest
    unpaid ones; whatever is left stays on the account as credit. A pending declaration of that
    invoice is marked received.
    """
    check_can_write(actor, organisation)
    check_same_organisation(organisation, customer, invoice)
    value = positive_amount(amount)
    if method not in Payment.Method.values:
        raise BusinessError(_("Mode de paiement inconnu."), code=ErrorCode.INVALID_INPUT)
    if invoice is not None and invoice.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    received_on = received_on or timezone.localdate()
    _not_in_future(received_on, _("La date de réception ne peut pas être dans le futur."))
    _not_before(received_on, invoice, _("La date de réception ne peut pas précéder le %(date)s."))
    check_text(reference or "", max_length=MAX_REFERENCE, label=_("La référence"))
    payment = Payment.objects.create(
        organisation=organisation,
        customer=customer,
        amount=value,
        currency=organisation.currency,
        method=method,
        status=Payment.Status.SUCCEEDED,
        reference=reference,
        invoice=invoice,
        received_on=received_on,
        recorded_by=user_of(actor),
    )
    record_transition(
        obj=payment,
        organisation=organisation,
        actor=actor,
        action=AuditAction.RECORD,
        to_state=payment.status,
    )
    settle(payment, actor)
    if invoice is not None:
        TransferDeclaration.objects.filter(
            invoice=invoice, status=TransferDeclaration.Status.DECLARED
        ).update(status=TransferDeclaration.Status.RECEIVED, payment=payment)
    return payment


@transaction.atomic
def declare_transfer(
    *, invoice: Invoice, kind: str, reference: str, sent_on: datetime.date, amount: Amount, actor: Actor
) -> TransferDeclaration:
    """The customer says a transfer or cheque is on its way; the invoice stays unpaid, staff are told."""
    if kind not in TransferDeclaration.Kind.values:
        raise BusinessError(_("Mode de paiement inconnu."), code=ErrorCode.INVALID_INPUT)
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "customer")
        .get(pk=invoice.pk)
    )
    check_can_act_for(actor, invoice.customer)
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.OPEN:
        raise BusinessError(_("Cette facture n'est pas à payer."), code=ErrorCode.NOT_PAYABLE)
    reference = (reference or "").strip()
    if not reference:
        raise BusinessError(
            _("Indiquez la référence du virement ou le numéro du chèque."), code=ErrorCode.INVALID_INPUT
        )
    _not_in_future(sent_on, _("La date d'envoi ne peut pas être dans le futur."))
    _not_before(sent_on, invoice, _("La date d'envoi ne peut pas précéder le %(date)s, date de la facture."))
    check_text(reference, max_length=MAX_REFERENCE, label=_("La référence"))
    declaration = TransferDeclaration.objects.create(
        organisation_id=invoice.organisation_id,
        invoice=invoice,
        kind=kind,
        reference=reference,
        sent_on=sent_on,
        amount=positive_amount(amount),
    )
    notify_staff(
        organisation=invoice.organisation,
        actor=actor,
        kind="transfer_declared",
        subject=_("%(kind)s déclaré pour la facture %(number)s")
        % {"kind": declaration.get_kind_display(), "number": invoice.number},
        body=_("Référence : %(ref)s, montant : %(amount)s, envoyé le %(date)s.")
        % {
            "ref": reference,
            "amount": format_currency(
                declaration.amount, invoice.currency, locale=invoice.organisation.babel_locale
            ),
            "date": sent_on.isoformat(),
        },
        link=reverse("backoffice:invoice_detail", args=[invoice.pk]),
    )
    return declaration
