"""Settling invoices: allocations of payments and credit notes, and taking them back."""

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.bulk import update_rows
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import ZERO, Amount, to_decimal
from acquitte.core.services import record_transition, record_transitions
from acquitte.core.tenancy import check_can_act_for, check_can_write

from ..models import Allocation, Invoice
from ..signals import invoices_paid

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation


class PaymentRef(Protocol):
    """A payment as invoicing sees it: payments sits above invoicing, so it is described here."""

    @property
    def pk(self) -> Any: ...

    @property
    def customer_id(self) -> int: ...

    @property
    def customer(self) -> "Customer": ...


#: Open invoices are locked this many at a time while a payment is spread over them.
SETTLE_BATCH = 20


def mark_paid(invoice: Invoice, actor: Actor) -> None:
    invoice.status = Invoice.Status.PAID
    invoice.paid_at = timezone.now()
    invoice.save(update_fields=["status", "paid_at"])
    record_transition(
        obj=invoice,
        organisation=invoice.organisation,
        actor=actor,
        action=AuditAction.PAID,
        from_state=Invoice.Status.OPEN,
        to_state=Invoice.Status.PAID,
    )
    invoices_paid.send(Invoice, organisation=invoice.organisation, invoice_ids=[invoice.pk], actor=actor)


def apply_credit_note(credit_note: Invoice, actor: Actor) -> None:
    """Apply a new credit note to the invoice it corrects, as far as that invoice is unpaid."""
    if credit_note.corrects_id is None:
        return
    corrected = Invoice.objects.select_for_update().get(pk=credit_note.corrects_id)
    usable = min(credit_note.total - credit_note.amount_paid, corrected.amount_due)
    if corrected.status == Invoice.Status.OPEN and usable > 0:
        allocate(invoice=corrected, amount=usable, credit_note=credit_note, actor=actor)


def _take_credit(credit_note: Invoice, amount: Decimal) -> Invoice:
    credit_note = Invoice.objects.select_for_update().get(pk=credit_note.pk)
    if credit_note.kind != Invoice.Kind.CREDIT_NOTE or credit_note.status != Invoice.Status.OPEN:
        raise BusinessError(_("Cet avoir ne peut pas être utilisé."), code=ErrorCode.INVALID_STATE)
    if amount > credit_note.total - credit_note.amount_paid:
        raise BusinessError(_("L'avoir n'a plus assez de crédit disponible."), code=ErrorCode.CREDIT_EXCEEDED)
    credit_note.amount_paid += amount
    credit_note.save(update_fields=["amount_paid"])
    return credit_note


@transaction.atomic
def allocate(
    *,
    invoice: Invoice,
    amount: Amount,
    actor: Actor,
    payment: PaymentRef | None = None,
    credit_note: Invoice | None = None,
) -> Allocation:
    """Apply part of a payment or of a credit note to an invoice; it turns paid when fully settled."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "customer")
        .get(pk=invoice.pk)
    )
    check_can_act_for(actor, invoice.customer)
    value = to_decimal(amount)
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.OPEN:
        raise BusinessError(
            _("Seule une facture non payée peut recevoir un règlement."), code=ErrorCode.NOT_PAYABLE
        )
    if value <= 0 or value > invoice.amount_due:
        raise BusinessError(
            _("Le montant affecté doit être positif et au plus égal au solde dû (%(due)s).")
            % {"due": invoice.amount_due},
            code=ErrorCode.INVALID_AMOUNT,
        )
    source = payment or credit_note
    if source is None or source.customer_id != invoice.customer_id:
        raise BusinessError(_("Le règlement doit provenir du même client."), code=ErrorCode.INVALID_INPUT)
    if credit_note is not None:
        credit_note = _take_credit(credit_note, value)
    allocation = Allocation.objects.create(
        organisation_id=invoice.organisation_id,
        invoice=invoice,
        amount=value,
        payment_id=payment.pk if payment is not None else None,
        credit_note=credit_note,
    )
    invoice.amount_paid += value
    invoice.save(update_fields=["amount_paid"])
    if invoice.amount_paid == invoice.total:
        mark_paid(invoice, actor)
    return allocation


def settle_oldest_first(
    *,
    customer: "Customer",
    amount: Decimal,
    payment: PaymentRef,
    actor: Actor,
    first: Invoice | None = None,
) -> Decimal:
    """Spread ``amount`` over the customer's unpaid invoices, oldest due first; return what is left.

    What is left stays on the customer's account as credit (seed 001: "Effectuer un paiement").
    Invoices are locked a few at a time, so a customer with thousands of open invoices costs no
    more than one with two.
    """
    check_can_act_for(actor, customer)
    remaining = amount
    if first is not None and first.kind == Invoice.Kind.INVOICE:
        first = Invoice.objects.select_for_update().get(pk=first.pk)
        if first.status == Invoice.Status.OPEN and first.amount_due > 0:
            part = min(remaining, first.amount_due)
            allocate(invoice=first, amount=part, payment=payment, actor=actor)
            remaining -= part
    open_invoices = Invoice.objects.filter(
        customer=customer, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
    ).order_by("due_date", "issue_date", "id")
    while remaining > 0:
        batch = list(open_invoices.select_for_update()[:SETTLE_BATCH])
        if not batch:
            break
        for invoice in batch:
            if remaining <= 0:
                break
            part = min(remaining, invoice.amount_due)
            allocate(invoice=invoice, amount=part, payment=payment, actor=actor)
            remaining -= part
    return remaining


@dataclass(frozen=True)
class PaymentShare:
    """A payment made for one invoice, to apply to it (what ``settle_oldest_first`` does first)."""

    payment_id: int
    invoice_id: int
    customer_id: int
    amount: Decimal


@transaction.atomic
def allocate_payments(
    *, organisation: "Organisation", shares: Sequence[PaymentShare], actor: Actor
) -> set[int]:
    """Apply many payments, each to the invoice it was made for, in a few statements (a batch of
    collected charges), with ``allocate``'s rules and outcome: the invoice open and owing at least the
    payment, paid once fully settled. Returns the ids of the payments applied; the caller settles
    the others one at a time (``settle_oldest_first``), which spreads what an invoice cannot take."""
    check_can_write(actor, organisation)
    invoices = Invoice.objects.select_for_update().filter(
        organisation=organisation,
        pk__in={share.invoice_id for share in shares},
        kind=Invoice.Kind.INVOICE,
        status=Invoice.Status.OPEN,
    )
    by_pk = {invoice.pk: invoice for invoice in invoices.order_by("pk")}
    applied: set[int] = set()
    allocations: list[Allocation] = []
    paid: list[Invoice] = []
    now = timezone.now()
    for share in shares:
        invoice = by_pk.get(share.invoice_id)
        if invoice is None or invoice.customer_id != share.customer_id:
            continue
        if not 0 < share.amount <= invoice.amount_due or invoice.status != Invoice.Status.OPEN:
            continue
        allocations.append(
            Allocation(
                organisation_id=organisation.pk,
                invoice=invoice,
                amount=share.amount,
                payment_id=share.payment_id,
            )
        )
        invoice.amount_paid += share.amount
        if invoice.amount_paid == invoice.total:
            invoice.status, invoice.paid_at = Invoice.Status.PAID, now
            paid.append(invoice)
        applied.add(share.payment_id)
    touched = [by_pk[pk] for pk in sorted({a.invoice.pk for a in allocations})]
    Allocation.objects.bulk_create(allocations)
    update_rows(touched, ["amount_paid", "status", "paid_at"])
    for invoice in touched:
        invoice.mark_stored()
    record_transitions(
        objs=paid,
        organisation=organisation,
        actor=actor,
        action=AuditAction.PAID,
        from_state=Invoice.Status.OPEN,
        to_state=Invoice.Status.PAID,
    )
    if paid:
        invoices_paid.send(
            Invoice, organisation=organisation, invoice_ids=[invoice.pk for invoice in paid], actor=actor
        )
    return applied


@transaction.atomic
def reverse_allocations(*, payment: PaymentRef, amount: Decimal, actor: Actor) -> None:
    """Take ``amount`` of a payment back from the invoices it settled (refund, chargeback).

    The latest allocations are undone first; an invoice that was paid reopens. A negative
    allocation keeps the history instead of rewriting it.
    """
    check_can_act_for(actor, payment.customer)
    remaining = amount
    allocations = Allocation.objects.filter(payment_id=payment.pk)
    for allocation in allocations.select_related("invoice").order_by("-id"):
        if remaining <= 0:
            break
        net = sum((a.amount for a in allocations.filter(invoice=allocation.invoice)), ZERO)
        part = min(remaining, net)
        if part <= 0:
            continue
        invoice = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("organisation")
            .get(pk=allocation.invoice_id)
        )
        Allocation.objects.create(
            organisation_id=invoice.organisation_id, invoice=invoice, amount=-part, payment_id=payment.pk
        )
        invoice.amount_paid -= part
        fields = ["amount_paid"]
        if invoice.status == Invoice.Status.PAID:
            invoice.status, invoice.paid_at = Invoice.Status.OPEN, None
            fields += ["status", "paid_at"]
            record_transition(
                obj=invoice,
                organisation=invoice.organisation,
                actor=actor,
                action=AuditAction.REOPEN,
                from_state=Invoice.Status.PAID,
                to_state=Invoice.Status.OPEN,
            )
        invoice.save(update_fields=fields)
        remaining -= part
