"""Corrections of finalised documents: voiding, credit notes, and a paid pro-forma's invoice."""

from collections.abc import Sequence

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_act_for, check_can_write

from ..models import Invoice, LedgerEntry
from .drafts import create_invoice, open_draft
from .finalise import finalise_checked, finalise_invoice
from .lines import LineInput, line_input

FINALISED = (Invoice.Status.OPEN, Invoice.Status.PAID)


@transaction.atomic
def void_invoice(*, invoice: Invoice, actor: Actor, reason: str = "") -> Invoice:
    """Cancel an unpaid finalised document; its number stays used, its amount leaves the ledger."""
    invoice = (
        Invoice.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=invoice.pk)
    )
    check_can_write(actor, invoice.organisation)
    if invoice.status != Invoice.Status.OPEN:
        raise BusinessError(
            _("Seul un document finalisé et non réglé peut être annulé."), code=ErrorCode.INVALID_STATE
        )
    settled = invoice.credit_notes.exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID]).exists()
    if invoice.amount_paid > 0 or settled:
        raise BusinessError(
            _("Ce document a déjà des règlements ou des avoirs ; émettez un avoir."),
            code=ErrorCode.INVALID_STATE,
        )
    invoice.status = Invoice.Status.VOID
    invoice.voided_at = timezone.now()
    invoice.save(update_fields=["status", "voided_at"])
    if invoice.kind != Invoice.Kind.PROFORMA:
        sign = -1 if invoice.kind == Invoice.Kind.INVOICE else 1
        LedgerEntry.objects.create(
            organisation_id=invoice.organisation_id,
            customer_id=invoice.customer_id,
            kind=LedgerEntry.Kind.VOID,
            amount=sign * invoice.total,
            invoice=invoice,
            occurred_on=timezone.localdate(),
        )
    record_transition(
        obj=invoice,
        organisation=invoice.organisation,
        actor=actor,
        action=AuditAction.VOID,
        from_state=Invoice.Status.OPEN,
        to_state=Invoice.Status.VOID,
        detail={"reason": reason},
    )
    return invoice


def _copy_lines(invoice: Invoice) -> list[LineInput]:
    return [line_input(line) for line in invoice.lines.select_related("tax_category", "product")]


def create_credit_note(
    *, invoice: Invoice, actor: Actor, lines: Sequence[LineInput] | None = None, notes: str = ""
) -> Invoice:
    """Draft a credit note correcting ``invoice``: all its lines unless ``lines`` says otherwise."""
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status not in FINALISED:
        raise BusinessError(_("Un avoir doit corriger une facture finalisée."), code=ErrorCode.INVALID_STATE)
    return create_invoice(
        organisation=invoice.organisation,
        customer=invoice.customer,
        actor=actor,
        kind=Invoice.Kind.CREDIT_NOTE,
        lines=lines if lines is not None else _copy_lines(invoice),
        billing_contact=invoice.billing_contact,
        billing_address=invoice.billing_address,
        notes=notes or _("Avoir sur la facture %(number)s") % {"number": invoice.number},
        corrects=invoice,
        online_payment=False,
    )


@transaction.atomic
def issue_credit_note(*, invoice: Invoice, actor: Actor) -> Invoice:
    """Credit the whole invoice and finalise the note at once (one transaction: no stray draft)."""
    return finalise_invoice(invoice=create_credit_note(invoice=invoice, actor=actor), actor=actor)


def convert_proforma(*, proforma: Invoice, actor: Actor) -> Invoice:
    """Turn a finalised pro-forma into a real invoice (when it is paid); idempotent.

    The payer may be the customer: paying a pro-forma is what asks for its invoice, so the
    customer's right to act on their account is enough here.
    """
    with transaction.atomic():
        proforma = (
            Invoice.objects.select_for_update(of=("self",))
            .select_related("organisation", "customer")
            .get(pk=proforma.pk)
        )
        check_can_act_for(actor, proforma.customer)
        if proforma.kind != Invoice.Kind.PROFORMA or proforma.status not in FINALISED:
            raise BusinessError(
                _("Seule une facture pro forma émise peut être convertie."), code=ErrorCode.INVALID_STATE
            )
        if proforma.converted_to is not None:
            return proforma.converted_to
        draft = open_draft(
            organisation=proforma.organisation,
            customer=proforma.customer,
            actor=actor,
            lines=_copy_lines(proforma),
            billing_contact=proforma.billing_contact,
            billing_address=proforma.billing_address,
            online_payment=proforma.online_payment,
            notes=proforma.notes,
        )
        invoice = finalise_checked(organisation=proforma.organisation, invoices=[draft], actor=actor)[0]
        proforma.converted_to = invoice
        proforma.status = Invoice.Status.PAID
        proforma.paid_at = timezone.now()
        proforma.save(update_fields=["converted_to", "status", "paid_at"])
        record_transition(
            obj=proforma,
            organisation=proforma.organisation,
            actor=actor,
            action=AuditAction.CONVERT,
            from_state=Invoice.Status.OPEN,
            to_state=Invoice.Status.PAID,
            detail={"invoice": invoice.number},
        )
    return invoice
