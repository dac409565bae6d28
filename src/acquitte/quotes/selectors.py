"""Reads of quotes, always scoped to one organisation or to one public link."""

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from acquitte.core.taxes import TaxAmount
from acquitte.core.tokens import by_public_token
from acquitte.invoicing.services import compute_totals

from .models import Quote

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation

SORTS = {
    "number",
    "-number",
    "created_at",
    "-created_at",
    "total",
    "-total",
    "customer__name",
    "-customer__name",
}


def quotes_for_organisation(
    organisation: "Organisation",
    *,
    status: str = "",
    query: str = "",
    customer: "Customer | None" = None,
    sort: str = "",
) -> QuerySet[Quote]:
    rows = Quote.objects.filter(organisation=organisation).select_related("customer", "invoice")
    if status in Quote.Status.values:
        rows = rows.filter(status=status)
    if customer is not None:
        rows = rows.filter(customer=customer)
    if query:
        rows = rows.filter(Q(number__icontains=query) | Q(customer__name__icontains=query))
    return rows.order_by(sort if sort in SORTS else "-created_at", "-id")


def quote_by_public_token(token: str) -> Quote | None:
    """The quote a link points to (never a draft)."""
    return by_public_token(Quote.objects.exclude(status=Quote.Status.DRAFT), token)


def link_replaced(quote: Quote) -> bool:
    """The quote became an invoice whose link was revoked: the quote's link must not lead to it.

    The invoice's new link goes only to whom staff send it; the quote link, out since the quote
    was sent, says the document was replaced and nothing more.
    """
    invoice = quote.invoice
    return invoice is not None and invoice.public_token_revoked_at is not None


def quote_taxes(quote: Quote) -> list[TaxAmount]:
    """The per-rate tax breakdown of a quote, as the invoice will freeze it."""
    return compute_totals(list(quote.lines.all())).taxes
