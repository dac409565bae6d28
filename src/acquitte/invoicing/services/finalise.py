"""Finalisation: number, freeze and post drafts, one or a whole batch, all or none."""

import datetime
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol, cast

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import TaxRate
from acquitte.core.money import ZERO
from acquitte.core.services import next_numbers
from acquitte.core.tenancy import check_can_write

from ..models import DocumentLine, Invoice, InvoiceLine
from ..selectors import bill_to_snapshot, default_billing_addresses, seller_snapshot
from .lines import check_dates, check_total, compute_totals
from .posting import Frozen, post, record_finalised, write_finalised
from .settlement import apply_credit_note, mark_paid

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


class PricedLine(Protocol):
    """What finalisation reads of a line: its net and its tax codes."""

    @property
    def net_amount(self) -> Decimal: ...

    @property
    def tax_codes(self) -> list[str]: ...


SERIES_FOR_KIND = {
    Invoice.Kind.INVOICE: "invoice",
    Invoice.Kind.CREDIT_NOTE: "credit_note",
    Invoice.Kind.PROFORMA: "proforma",
}


def finalise_invoice(*, invoice: Invoice, actor: Actor, issue_date: datetime.date | None = None) -> Invoice:
    """Number, freeze and post a draft. The number is taken under the series' row lock."""
    return finalise_invoices(
        organisation=invoice.organisation, invoices=[invoice], actor=actor, issue_date=issue_date
    )[0]


def finalise_invoices(
    *,
    organisation: "Organisation",
    invoices: Sequence[Invoice],
    actor: Actor,
    issue_date: datetime.date | None = None,
) -> list[Invoice]:
    """Finalise drafts of one organisation together, all or none (billing runs, the admin).

    Every rule of a single finalisation holds; the work is done in a fixed number of queries
    whatever the batch size, and each series is locked once.
    """
    check_can_write(actor, organisation)
    return finalise_checked(organisation=organisation, invoices=invoices, actor=actor, issue_date=issue_date)


def finalise_checked(
    *,
    organisation: "Organisation",
    invoices: Sequence[Invoice],
    actor: Actor,
    issue_date: datetime.date | None = None,
    new_lines: Mapping[int, Sequence[PricedLine]] | None = None,
) -> list[Invoice]:
    """``finalise_invoices`` once the caller has checked who acts.

    ``new_lines`` (each draft's lines by its id) says the caller created these drafts in its
    current transaction (``posting.give_ids``), customers loaded: no other transaction can see
    them, so they are neither locked nor read back (a billing run finalises thousands a second)."""
    with transaction.atomic():
        if new_lines is None:
            locked = _lock_drafts(organisation, invoices)
        else:
            locked = _check_new_drafts(organisation, invoices)
        frozen = _freeze(organisation, locked, issue_date, new_lines)
        _number(organisation, locked, frozen)
        now = timezone.now()  # after the series lock, so finalisation times follow the numbers
        for invoice in locked:
            invoice.finalised_at = now
        write_finalised(locked)
        post(organisation, locked, frozen)
        record_finalised(organisation, locked, actor)
        for invoice in locked:
            invoice.mark_stored()
            if invoice.kind == Invoice.Kind.INVOICE and invoice.total == 0:
                mark_paid(invoice, actor)
            elif invoice.kind == Invoice.Kind.CREDIT_NOTE:
                apply_credit_note(invoice, actor)
    by_pk = {inv.pk: inv for inv in locked}
    return [by_pk[inv.pk] for inv in invoices]


def _lock_drafts(organisation: "Organisation", invoices: Iterable[Invoice]) -> list[Invoice]:
    ids = sorted({inv.pk for inv in invoices})
    locked = list(
        Invoice.objects.select_for_update(of=("self",))
        .select_related("customer", "billing_contact__address", "billing_address", "corrects")
        .filter(organisation=organisation, pk__in=ids)
        .order_by("id")
    )
    if len(locked) != len(ids):
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    for invoice in locked:
        invoice.organisation = organisation
        if invoice.status != Invoice.Status.DRAFT:
            raise BusinessError(_("Ce document est déjà finalisé."), code=ErrorCode.DOCUMENT_FINALISED)
    return locked


def _check_new_drafts(organisation: "Organisation", invoices: Iterable[Invoice]) -> list[Invoice]:
    """The drafts a caller just created, held to the checks ``_lock_drafts`` makes."""
    checked = sorted(invoices, key=lambda inv: inv.pk)
    for invoice in checked:
        if invoice.pk is None or invoice.organisation_id != organisation.pk:
            raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
        invoice.organisation = organisation
        if invoice.status != Invoice.Status.DRAFT:
            raise BusinessError(_("Ce document est déjà finalisé."), code=ErrorCode.DOCUMENT_FINALISED)
    return checked


def _freeze(
    organisation: "Organisation",
    locked: list[Invoice],
    issue_date: datetime.date | None,
    new_lines: Mapping[int, Sequence[PricedLine]] | None = None,
) -> dict[int, Frozen]:
    """Dates, totals and snapshots of each draft, checked; nothing is written yet."""
    lines_of: dict[int, list[PricedLine]] = {inv.pk: [] for inv in locked}
    if new_lines is not None:
        for invoice in locked:
            lines_of[invoice.pk] = list(new_lines.get(invoice.pk, ()))
    else:
        for line in InvoiceLine.objects.filter(invoice_id__in=list(lines_of)).order_by("position", "id"):
            lines_of[line.invoice_id].append(line)
    codes = {code for lines in lines_of.values() for line in lines for code in line.tax_codes}
    rates_by_code = {r.code: r for r in TaxRate.objects.filter(code__in=codes)}
    default_address = default_billing_addresses({inv.customer_id for inv in locked})
    seller = seller_snapshot(organisation)
    today = timezone.localdate()
    frozen: dict[int, Frozen] = {}
    for invoice in locked:
        if not lines_of[invoice.pk]:
            raise BusinessError(
                _("Impossible de finaliser une facture sans ligne."), code=ErrorCode.INVALID_STATE
            )
        invoice.issue_date = issued = issue_date or invoice.issue_date or today
        invoice.due_date = invoice.due_date or issued + datetime.timedelta(
            days=organisation.payment_terms_days
        )
        check_dates(invoice.issue_date, invoice.due_date)
        # compute_totals reads only what a PricedLine has
        totals = compute_totals(cast("list[DocumentLine]", lines_of[invoice.pk]), rates_by_code)
        frozen[invoice.pk] = Frozen(totals=totals, issue_date=issued)
        if invoice.kind == Invoice.Kind.CREDIT_NOTE:
            _check_credit_within_invoice(invoice, totals.subtotal)
        invoice.subtotal, invoice.tax_total, invoice.total = totals.subtotal, totals.tax_total, totals.total
        check_total(invoice.total)
        invoice.bill_to = bill_to_snapshot(invoice, default_address.get(invoice.customer_id))
        invoice.seller = seller
        invoice.status = Invoice.Status.OPEN
    return frozen


def _number(organisation: "Organisation", locked: list[Invoice], frozen: dict[int, Frozen]) -> None:
    """Numbers per series, in issue-date order, under each series' row lock."""
    for kind, series in SERIES_FOR_KIND.items():
        of_kind = sorted((i for i in locked if i.kind == kind), key=lambda i: (frozen[i.pk].issue_date, i.pk))
        if of_kind:
            numbers = next_numbers(
                organisation=organisation,
                kind=series,
                issue_dates=[frozen[i.pk].issue_date for i in of_kind],
            )
            for invoice, number in zip(of_kind, numbers, strict=True):
                invoice.number = number


def _check_credit_within_invoice(credit_note: Invoice, subtotal: Decimal) -> None:
    """Credit notes may not credit more than the invoice's pre-tax amount.

    Compared before tax: crediting lines one by one rounds each note's tax separately, so the
    taxed totals may differ from the invoice's by a cent while the nets match exactly.
    """
    corrected = credit_note.corrects
    if (
        corrected is None
        or corrected.kind != Invoice.Kind.INVOICE
        or corrected.status in (Invoice.Status.DRAFT, Invoice.Status.VOID)
    ):
        raise BusinessError(_("Un avoir doit corriger une facture finalisée."), code=ErrorCode.INVALID_STATE)
    already = sum(
        (
            cn.subtotal
            for cn in corrected.credit_notes.filter(
                status__in=[Invoice.Status.OPEN, Invoice.Status.PAID]
            ).exclude(pk=credit_note.pk)
        ),
        ZERO,
    )
    if already + subtotal > corrected.subtotal:
        raise BusinessError(
            _("Les avoirs ne peuvent pas dépasser le montant hors taxes de la facture corrigée (%(total)s).")
            % {"total": corrected.subtotal},
            code=ErrorCode.CREDIT_EXCEEDED,
        )
