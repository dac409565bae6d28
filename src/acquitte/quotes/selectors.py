from django.db.models import Q, QuerySet

from acquitte.core.tokens import by_public_token

from .models import Quote

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
    organisation, *, status: str = "", query: str = "", customer=None, sort: str = ""
) -> QuerySet[Quote]:
    rows = Quote.objects.filter(organisation=organisation).select_related("customer", "invoice")
    if status in Quote.Status.values:
        rows = rows.filter(status=status)
    if customer is not None:
        rows = rows.filter(customer=customer)
    if query:
        rows = rows.filter(Q(number__icontains=query) | Q(customer__name__icontains=query))
    return rows.order_by(sort if sort in SORTS else "-created_at", "-id")


def quote_for_organisation(organisation, pk) -> Quote | None:
    return Quote.objects.filter(organisation=organisation, pk=pk).select_related("customer").first()


def quote_by_public_token(token: str) -> Quote | None:
    """The quote a link points to (never a draft)."""
    return by_public_token(Quote.objects.exclude(status=Quote.Status.DRAFT), token)
