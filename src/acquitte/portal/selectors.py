"""Reads for the customer portal, always scoped to the signed-in customer."""

from django.db.models import Case, DecimalField, F, IntegerField, QuerySet, Value, When
from django.db.models.functions import ExtractYear

from acquitte.customers.models import Customer
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import invoices_for_customer

SORTS = {
    "numero": "number",
    "date": "issue_date",
    "echeance": "due_date",
    "total": "total",
    "du": "due",
    "statut": "status",
}


def portal_invoices(
    *, customer: Customer, sort: str = "", status: str = "", year: int | None = None
) -> QuerySet[Invoice]:
    """The customer's documents; by default unpaid first, then oldest to newest (seed 000)."""
    qs = invoices_for_customer(customer).annotate(
        due=Case(
            When(status=Invoice.Status.OPEN, kind=Invoice.Kind.INVOICE, then=F("total") - F("amount_paid")),
            default=Value(0),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        ),
        unpaid_first=Case(
            When(status=Invoice.Status.OPEN, then=Value(0)), default=Value(1), output_field=IntegerField()
        ),
    )
    if status in Invoice.Status.values:
        qs = qs.filter(status=status)
    if year is not None:
        qs = qs.filter(issue_date__year=year)
    key = sort.lstrip("-")
    if key in SORTS:
        field = SORTS[key]
        return qs.order_by(f"-{field}" if sort.startswith("-") else field, "id")
    return qs.order_by("unpaid_first", "issue_date", "id")


def invoice_years(*, customer: Customer) -> list[int]:
    years = invoices_for_customer(customer).annotate(y=ExtractYear("issue_date")).values_list("y", flat=True)
    return sorted({y for y in years.distinct() if y}, reverse=True)


def customer_invoice(*, customer: Customer, pk: int) -> Invoice | None:
    return invoices_for_customer(customer).filter(pk=pk).first()
