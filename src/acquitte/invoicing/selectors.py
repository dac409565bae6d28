"""Reads of invoices and receivables, always scoped to one organisation or one customer."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, DecimalField, F, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from acquitte.core.money import ZERO, round_money
from acquitte.core.tokens import by_public_token

from .models import Invoice, LedgerEntry

MONEY = DecimalField(max_digits=14, decimal_places=2)


@dataclass(frozen=True)
class Receivables:
    """What a customer owes, as the portal, the back office and the API all show it."""

    currency: str
    balance: Decimal  # ledger sum: positive owes, negative is credit in hand
    amount_due: Decimal  # unpaid part of finalised invoices
    next_due_date: datetime.date | None
    overdue_amount: Decimal
    credit_balance: Decimal  # payments and credit notes not yet applied to an invoice


def invoices_for_organisation(organisation) -> QuerySet[Invoice]:
    return Invoice.objects.filter(organisation=organisation).select_related("customer")


def invoices_for_customer(customer, *, include_drafts: bool = False) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(customer=customer, organisation_id=customer.organisation_id)
    if not include_drafts:
        qs = qs.exclude(status=Invoice.Status.DRAFT)
    return qs


def receivables(customer, *, today: datetime.date | None = None) -> Receivables:
    """Balance, amount due, next due date, overdue amount and credit of one customer (2 queries)."""
    today = today or timezone.localdate()
    due_expr = F("total") - F("amount_paid")
    agg = Invoice.objects.filter(
        customer=customer, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
    ).aggregate(
        due=Coalesce(Sum(due_expr, output_field=MONEY), Value(ZERO, output_field=MONEY)),
        overdue=Coalesce(
            Sum(Case(When(due_date__lt=today, then=due_expr), default=Value(ZERO), output_field=MONEY)),
            Value(ZERO, output_field=MONEY),
        ),
        next_due=Min("due_date"),
    )
    balance = round_money(
        LedgerEntry.objects.filter(customer=customer).aggregate(
            s=Coalesce(Sum("amount"), Value(ZERO, output_field=MONEY))
        )["s"]
    )
    # SQLite sums decimals as floats-in-text; rounding to the cent gives back exact amounts.
    due, overdue = round_money(agg["due"]), round_money(agg["overdue"])
    return Receivables(
        currency=customer.currency,
        balance=balance,
        amount_due=due,
        next_due_date=agg["next_due"],
        overdue_amount=overdue,
        credit_balance=max(due - balance, ZERO),
    )


def invoice_by_public_token(token: str) -> Invoice | None:
    """The invoice a public link points to, or None. The secret is compared in constant time."""
    return by_public_token(Invoice.objects.exclude(status=Invoice.Status.DRAFT), token)


def overdue_invoices(organisation, *, today: datetime.date | None = None) -> QuerySet[Invoice]:
    today = today or timezone.localdate()
    return invoices_for_organisation(organisation).filter(
        Q(kind=Invoice.Kind.INVOICE) & Q(status=Invoice.Status.OPEN) & Q(due_date__lt=today)
    )


STAFF_SORTS = {
    "number",
    "-number",
    "issue_date",
    "-issue_date",
    "due_date",
    "-due_date",
    "total",
    "-total",
    "customer__name",
    "-customer__name",
    "status",
    "-status",
}


def staff_invoices(
    organisation,
    *,
    status: str = "",
    kind: str = "",
    query: str = "",
    customer=None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    sort: str = "",
    today: datetime.date | None = None,
) -> QuerySet[Invoice]:
    """The back office's invoice list: filters by state, customer and issue dates, any sort."""
    today = today or timezone.localdate()
    rows = Invoice.objects.filter(organisation=organisation).select_related("customer")
    if status == "overdue":
        rows = rows.filter(status=Invoice.Status.OPEN, kind=Invoice.Kind.INVOICE, due_date__lt=today)
    elif status in Invoice.Status.values:
        rows = rows.filter(status=status)
    if kind in Invoice.Kind.values:
        rows = rows.filter(kind=kind)
    if customer is not None:
        rows = rows.filter(customer=customer)
    if query:
        rows = rows.filter(Q(number__icontains=query) | Q(customer__name__icontains=query))
    if date_from:
        rows = rows.filter(issue_date__gte=date_from)
    if date_to:
        rows = rows.filter(issue_date__lte=date_to)
    return rows.order_by(sort if sort in STAFF_SORTS else "-created_at", "-id")
