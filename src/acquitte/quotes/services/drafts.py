"""Quote drafts: opening one, its customer, validity and notes, its lines, deleting it."""

import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import Amount, to_decimal
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.invoicing.services import (
    MAX_QUANTITY,
    LineInput,
    catalogue_category,
    check_total,
    compute_totals,
    line_fields,
    line_input,
    product_line,
)

from ..models import Quote, QuoteLine

if TYPE_CHECKING:
    from acquitte.catalog.models import Product
    from acquitte.customers.models import Customer, Organisation

EDITABLE = (Quote.Status.DRAFT,)


def require_draft(quote: Quote) -> None:
    if quote.status not in EDITABLE:
        raise BusinessError(
            _("Une soumission envoyée ne peut plus être modifiée."), code=ErrorCode.DOCUMENT_FINALISED
        )


#: A quote holds its prices for at most about a year.
MAX_VALIDITY = datetime.timedelta(days=366)


def _check_validity(valid_until: datetime.date | None) -> None:
    if valid_until and valid_until < timezone.localdate():
        raise BusinessError(
            _("La date de validité ne peut pas être dans le passé."), code=ErrorCode.INVALID_DATE
        )
    if valid_until and valid_until > timezone.localdate() + MAX_VALIDITY:
        raise BusinessError(
            _("Une soumission est valable au plus un an : choisissez une date avant le %(date)s.")
            % {"date": (timezone.localdate() + MAX_VALIDITY).isoformat()},
            code=ErrorCode.INVALID_DATE,
        )


def _refresh_totals(quote: Quote) -> None:
    totals = compute_totals(list(quote.lines.all()))
    check_total(totals.total)
    quote.subtotal, quote.tax_total, quote.total = totals.subtotal, totals.tax_total, totals.total
    quote.save(update_fields=["subtotal", "tax_total", "total"])


def input_of(line: QuoteLine, quantity: Amount | None = None) -> LineInput:
    """A stored line as input again, re-checked against its product's tax category."""
    changes: dict[str, Any] = {"tax_category": catalogue_category(line)}
    if quantity is not None:
        changes["quantity"] = quantity
    return line_input(line, **changes)


def _rewrite(line: QuoteLine, quote: Quote, data: LineInput) -> None:
    for name, value in line_fields(
        organisation=quote.organisation, customer=quote.customer, data=data
    ).items():
        setattr(line, name, value)
    line.save()


@transaction.atomic
def create_quote(
    *,
    organisation: "Organisation",
    customer: "Customer",
    actor: Actor,
    valid_until: datetime.date | None = None,
    notes: str = "",
) -> Quote:
    check_can_write(actor, organisation)
    check_same_organisation(organisation, customer)
    _check_validity(valid_until)
    quote = Quote.objects.create(
        organisation=organisation,
        customer=customer,
        currency=organisation.currency,
        valid_until=valid_until,
        notes=notes,
        created_by_id=actor.pk if isinstance(actor, Person) else None,
    )
    record_transition(
        obj=quote,
        organisation=organisation,
        actor=actor,
        action=AuditAction.CREATE,
        to_state=Quote.Status.DRAFT,
    )
    return quote


@transaction.atomic
def update_quote(
    *,
    quote: Quote,
    actor: Actor,
    customer: "Customer | None" = None,
    valid_until: datetime.date | None = None,
    notes: str | None = None,
) -> Quote:
    """Change a draft's customer, validity or notes; lines are re-checked for the new customer's taxes."""
    check_can_write(actor, quote.organisation)
    require_draft(quote)
    _check_validity(valid_until)
    if customer is not None and customer.pk != quote.customer_id:
        check_same_organisation(quote.organisation, customer)
        quote.customer = customer
        for line in quote.lines.select_related("product", "tax_category"):
            _rewrite(line, quote, input_of(line))
    if valid_until is not None:
        quote.valid_until = valid_until
    if notes is not None:
        quote.notes = notes
    quote.save(update_fields=["customer", "valid_until", "notes"])
    _refresh_totals(quote)
    return quote


@transaction.atomic
def add_line(*, quote: Quote, actor: Actor, line: LineInput) -> QuoteLine:
    check_can_write(actor, quote.organisation)
    require_draft(quote)
    fields = line_fields(organisation=quote.organisation, customer=quote.customer, data=line)
    position = (quote.lines.order_by("-position").values_list("position", flat=True).first() or 0) + 1
    created = QuoteLine.objects.create(quote=quote, position=position, **fields)
    _refresh_totals(quote)
    return created


@transaction.atomic
def add_product(*, quote: Quote, product: "Product", actor: Actor, quantity: Amount = 1) -> QuoteLine:
    """Tap a product: a new line at its catalogue price, or one more on its existing line."""
    check_can_write(actor, quote.organisation)
    require_draft(quote)
    check_same_organisation(quote.organisation, product)
    existing = quote.lines.filter(product=product).first()
    if existing is not None:
        return set_quantity(line=existing, actor=actor, quantity=existing.quantity + to_decimal(quantity))
    return add_line(quote=quote, actor=actor, line=product_line(product, quantity))


@transaction.atomic
def set_quantity(*, line: QuoteLine, actor: Actor, quantity: Amount) -> QuoteLine:
    quote = line.quote
    check_can_write(actor, quote.organisation)
    require_draft(quote)
    value = to_decimal(quantity)
    if value > MAX_QUANTITY:
        raise BusinessError(_("Quantité invalide (au plus 3 décimales)."), code=ErrorCode.INVALID_INPUT)
    _rewrite(line, quote, input_of(line, value))
    _refresh_totals(quote)
    return line


@transaction.atomic
def remove_line(*, line: QuoteLine, actor: Actor) -> None:
    quote = line.quote
    check_can_write(actor, quote.organisation)
    require_draft(quote)
    line.delete()
    _refresh_totals(quote)


@transaction.atomic
def delete_draft(*, quote: Quote, actor: Actor) -> None:
    """A draft was never sent and has no number: it can simply go."""
    check_can_write(actor, quote.organisation)
    require_draft(quote)
    record_transition(
        obj=quote,
        organisation=quote.organisation,
        actor=actor,
        action=AuditAction.DELETE,
        from_state=Quote.Status.DRAFT,
    )
    quote.delete()
