"""Reads of invoices and receivables, always scoped to one organisation or one customer."""

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django.db.models import Case, Count, DecimalField, F, Min, Q, QuerySet, Sum, Value, When
from django.db.models.functions import Coalesce, TruncMonth
from django.utils import timezone

from acquitte.core.money import ZERO, round_money
from acquitte.core.months import month_starts
from acquitte.core.tokens import by_public_token
from acquitte.customers.models import Address

from .models import Invoice, LedgerEntry

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation

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


def invoices_for_organisation(organisation: "Organisation") -> QuerySet[Invoice]:
    return Invoice.objects.filter(organisation=organisation).select_related("customer")


def invoices_for_customer(customer: "Customer", *, include_drafts: bool = False) -> QuerySet[Invoice]:
    qs = Invoice.objects.filter(customer=customer, organisation_id=customer.organisation_id)
    if not include_drafts:
        qs = qs.exclude(status=Invoice.Status.DRAFT)
    return qs


def receivables(customer: "Customer", *, today: datetime.date | None = None) -> Receivables:
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
        # The next date to come; what is past due is the overdue amount, shown apart.
        next_due=Min("due_date", filter=Q(due_date__gte=today)),
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


def credit_notes_of(invoice: Invoice) -> QuerySet[Invoice]:
    """The credit notes that correct an invoice."""
    return Invoice.objects.filter(organisation_id=invoice.organisation_id, corrects=invoice)


def invoice_by_public_token(token: str) -> Invoice | None:
    """The invoice a public link points to, or None. The secret is compared in constant time."""
    return by_public_token(Invoice.objects.exclude(status=Invoice.Status.DRAFT), token)


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
    organisation: "Organisation",
    *,
    status: str = "",
    kind: str = "",
    query: str = "",
    customer: "Customer | None" = None,
    date_from: datetime.date | None = None,
    date_to: datetime.date | None = None,
    sort: str = "",
    today: datetime.date | None = None,
) -> QuerySet[Invoice]:
    """The back office's invoice list: filters by state, customer and issue dates, any sort."""
    today = today or timezone.localdate()
    rows = Invoice.objects.filter(organisation=organisation).select_related("customer")
    if status == Invoice.DisplayStatus.OVERDUE:
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


def default_billing_addresses(customer_ids: Iterable[int]) -> dict[int, Address]:
    """Each customer's default billing address (or its first one), in one query."""
    found: dict[int, Address] = {}
    for address in Address.objects.filter(customer_id__any_of=list(customer_ids)).order_by(
        "-is_default", "id"
    ):
        found.setdefault(address.customer_id, address)
    return found


def default_billing_address(customer: "Customer") -> Address | None:
    return Address.objects.filter(customer=customer).order_by("-is_default", "id").first()


def bill_to_snapshot(invoice: Invoice, default_address: Address | None = None) -> dict[str, Any]:
    """Who the invoice is addressed to, frozen: the billing sub-contact when one is chosen."""
    customer = invoice.customer
    contact = invoice.billing_contact
    address = (
        (contact.address if contact and contact.address_id else None)
        or invoice.billing_address
        or default_address
    )
    name = contact.name if contact else customer.name
    company = (contact.company or customer.name) if contact else ""
    return {
        "customer_number": customer.number,
        "name": name,
        "company": company if company != name else "",
        "email": (contact.email if contact and contact.email else customer.email),
        "address": address.address_lines() if address else [],
        "country": address.country if address else "",
        "vat_number": customer.vat_number,
        "language": customer.language,
    }


SELLER_FIELDS = (
    "name",
    "gst_number",
    "qst_number",
    "siren",
    "siret",
    "vat_number",
    "legal_form",
    "support_email",
    "support_phone",
    "country",
    "iban",
    "bic",
    "cheque_payee",
)


def seller_snapshot(organisation: "Organisation") -> dict[str, Any]:
    """The seller's identity as a finalised document freezes it."""
    data: dict[str, Any] = {f: getattr(organisation, f) for f in SELLER_FIELDS}
    data["address"] = organisation.address_lines()
    data["late_penalty_rate"] = str(organisation.late_penalty_rate)
    return data


#: The age bands of what is owed, by days past the due date: (label, first day, last day).
AGE_BANDS: tuple[tuple[str, int | None, int | None], ...] = (
    ("not_due", None, 0),
    ("1-30", 1, 30),
    ("31-60", 31, 60),
    ("61-90", 61, 90),
    ("90+", 91, None),
)


@dataclass(frozen=True)
class AgeBand:
    """What is owed in one age band: ``first``/``last`` days past due (None: open-ended)."""

    key: str
    first: int | None
    last: int | None
    amount: Decimal
    count: int


def receivables_by_age(organisation: "Organisation", *, today: datetime.date | None = None) -> list[AgeBand]:
    """The unpaid part of the organisation's open invoices by days past due, in one query; the
    bands add up to the customers' ``receivables(...).amount_due``, the overdue ones to their
    ``overdue_amount``."""
    today = today or timezone.localdate()
    due_expr = F("total") - F("amount_paid")
    aggregates: dict[str, Any] = {}
    for key, first, last in AGE_BANDS:
        # Past due by n days: due on today - n. "Not due" is due today or later.
        when = Q()
        if first is not None:
            when &= Q(due_date__lte=today - datetime.timedelta(days=first))
        if last is not None:
            when &= Q(due_date__gte=today - datetime.timedelta(days=last))
        aggregates[f"amount_{key}"] = Coalesce(
            Sum(due_expr, filter=when, output_field=MONEY), Value(ZERO, output_field=MONEY)
        )
        aggregates[f"count_{key}"] = Count("pk", filter=when)
    row = Invoice.objects.filter(
        organisation=organisation, kind=Invoice.Kind.INVOICE, status=Invoice.Status.OPEN
    ).aggregate(**aggregates)
    return [
        AgeBand(key, first, last, round_money(row[f"amount_{key}"]), row[f"count_{key}"])
        for key, first, last in AGE_BANDS
    ]


@dataclass(frozen=True)
class MonthFigure:
    """One month's figure: an amount and how many documents or payments make it."""

    month: datetime.date
    amount: Decimal
    count: int


def issued_per_month(
    organisation: "Organisation", *, months: int = 12, today: datetime.date | None = None
) -> list[MonthFigure]:
    """Invoices issued each month (totals with taxes, credit notes apart), the last ``months``."""
    starts = month_starts(today or timezone.localdate(), months)
    rows = (
        Invoice.objects.filter(
            organisation=organisation, kind=Invoice.Kind.INVOICE, issue_date__gte=starts[0]
        )
        .exclude(status__in=[Invoice.Status.DRAFT, Invoice.Status.VOID])
        .annotate(month=TruncMonth("issue_date"))
        .values("month")
        .annotate(amount=Sum("total"), count=Count("pk"))
    )
    return by_month(starts, rows)


def by_month(starts: list[datetime.date], rows: Iterable[Mapping[str, Any]]) -> list[MonthFigure]:
    """Rows of ``month``, ``amount`` and ``count`` laid on every month of ``starts``, empty ones at 0."""
    found = {_as_date(row["month"]): row for row in rows}
    return [
        MonthFigure(
            month=start,
            amount=round_money(found[start]["amount"] or ZERO) if start in found else ZERO,
            count=found[start]["count"] if start in found else 0,
        )
        for start in starts
    ]


def _as_date(value: datetime.date | datetime.datetime) -> datetime.date:
    return value.date() if isinstance(value, datetime.datetime) else value


@dataclass(frozen=True)
class OverdueCustomer:
    customer_id: int
    name: str
    amount: Decimal
    oldest_due_date: datetime.date
    invoices: int


def largest_overdue(
    organisation: "Organisation", *, limit: int = 5, today: datetime.date | None = None
) -> list[OverdueCustomer]:
    """The customers who owe the most past due, with since when and on how many invoices."""
    today = today or timezone.localdate()
    rows = (
        Invoice.objects.filter(
            organisation=organisation,
            kind=Invoice.Kind.INVOICE,
            status=Invoice.Status.OPEN,
            due_date__lt=today,
        )
        .values("customer_id", "customer__name")
        .annotate(
            amount=Sum(F("total") - F("amount_paid"), output_field=MONEY),
            oldest=Min("due_date"),
            count=Count("pk"),
        )
        .order_by("-amount", "customer__name")[:limit]
    )
    return [
        OverdueCustomer(
            customer_id=row["customer_id"],
            name=row["customer__name"],
            amount=round_money(row["amount"]),
            oldest_due_date=row["oldest"],
            invoices=row["count"],
        )
        for row in rows
    ]
