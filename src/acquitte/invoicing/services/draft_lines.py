"""The lines of a draft: adding, changing and removing them; the draft's totals follow."""

from collections.abc import Sequence
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.money import Amount, to_decimal
from acquitte.core.tenancy import check_can_write, check_same_organisation

from ..models import Invoice, InvoiceLine
from .lines import (
    LineInput,
    catalogue_category,
    check_total,
    compute_totals,
    line_fields,
    line_input,
    product_line,
)

if TYPE_CHECKING:
    from acquitte.catalog.models import Product


def require_draft(invoice: Invoice) -> None:
    if invoice.status != Invoice.Status.DRAFT:
        raise BusinessError(
            _("Une facture finalisée ne peut pas être modifiée ; émettez un avoir."),
            code=ErrorCode.DOCUMENT_FINALISED,
        )


def build_line(invoice: Invoice, data: LineInput, position: int) -> InvoiceLine:
    fields = line_fields(organisation=invoice.organisation, customer=invoice.customer, data=data)
    line = InvoiceLine(invoice=invoice, position=position, **fields)
    if data.source is not None:
        line.source = data.source
    return line


def refresh_totals(invoice: Invoice) -> None:
    totals = compute_totals(list(invoice.lines.all()))
    invoice.subtotal, invoice.tax_total, invoice.total = totals.subtotal, totals.tax_total, totals.total
    check_total(invoice.total)
    invoice.save(update_fields=["subtotal", "tax_total", "total"])


def locked_invoice(invoice_id: int) -> Invoice:
    return (
        Invoice.objects.select_for_update(of=("self",))
        .select_related("organisation", "customer")
        .get(pk=invoice_id)
    )


@transaction.atomic
def add_line(*, invoice: Invoice, actor: Actor, line: LineInput) -> InvoiceLine:
    check_can_write(actor, invoice.organisation)
    invoice = locked_invoice(invoice.pk)
    require_draft(invoice)
    built = build_line(invoice, line, invoice.lines.count() + 1)
    built.save()
    refresh_totals(invoice)
    return built


@transaction.atomic
def add_product(*, invoice: Invoice, product: "Product", actor: Actor, quantity: Amount = 1) -> InvoiceLine:
    """Tap a product on a draft: a new line at its price, or one more on its existing line."""
    check_can_write(actor, invoice.organisation)
    check_same_organisation(invoice.organisation, product)
    existing = invoice.lines.filter(product=product).first()
    if existing is not None:
        return set_line_quantity(
            line=existing, actor=actor, quantity=existing.quantity + to_decimal(quantity)
        )
    return add_line(invoice=invoice, actor=actor, line=product_line(product, quantity))


@transaction.atomic
def set_line_quantity(*, line: InvoiceLine, actor: Actor, quantity: Amount) -> InvoiceLine:
    """Change a draft line's quantity; its net and the draft's totals follow."""
    invoice = locked_invoice(line.invoice_id)
    check_can_write(actor, invoice.organisation)
    require_draft(invoice)
    data = line_input(line, quantity=quantity, tax_category=catalogue_category(line))
    fields = line_fields(organisation=invoice.organisation, customer=invoice.customer, data=data)
    for name, value in fields.items():
        setattr(line, name, value)
    line.invoice = invoice
    line.save()
    refresh_totals(invoice)
    return line


@transaction.atomic
def replace_draft_lines(*, invoice: Invoice, actor: Actor, lines: Sequence[LineInput]) -> Invoice:
    """Set all lines of a draft at once (the admin's line editor); totals are recomputed."""
    invoice = locked_invoice(invoice.pk)
    check_can_write(actor, invoice.organisation)
    require_draft(invoice)
    built = [build_line(invoice, data, position) for position, data in enumerate(lines, 1)]
    invoice.lines.all().delete()
    InvoiceLine.objects.bulk_create(built)
    refresh_totals(invoice)
    return invoice


@transaction.atomic
def remove_line(*, line: InvoiceLine, actor: Actor) -> None:
    invoice = locked_invoice(line.invoice_id)
    check_can_write(actor, invoice.organisation)
    require_draft(invoice)
    line.invoice = invoice
    line.delete()
    refresh_totals(invoice)
