"""Reads for the customer portal, always scoped to the signed-in customer."""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Case, DecimalField, F, IntegerField, QuerySet, Value, When
from django.db.models.functions import ExtractYear
from django.utils.formats import number_format

from acquitte.core.money import round_money
from acquitte.customers.models import Customer, Site
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import invoices_for_customer
from acquitte.subscriptions.models import Order, OrderLine, Subscription
from acquitte.subscriptions.periods import next_bill_date
from acquitte.subscriptions.selectors import (
    billing_settings,
    next_invoice_estimate,
    order_lines_by_site,
    order_totals,
    today_for,
)

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
        # Unpaid means something to pay: credit notes and invoices settled by credit go with the rest.
        unpaid_first=Case(
            When(
                status=Invoice.Status.OPEN,
                kind__in=(Invoice.Kind.INVOICE, Invoice.Kind.PROFORMA),
                total__gt=F("amount_paid"),
                then=Value(0),
            ),
            default=Value(1),
            output_field=IntegerField(),
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


# --- services and orders (issue 18) ---


@dataclass(frozen=True)
class ServiceRow:
    """One subscription as "Mes services" shows it."""

    subscription: Subscription
    quantity: str
    price: Decimal
    next_bill_on: datetime.date | None


@dataclass(frozen=True)
class SiteServices:
    site: Site | None
    rows: list[ServiceRow]


@dataclass(frozen=True)
class ServicesOverview:
    sites: list[SiteServices]
    currency: str
    next_bill_on: datetime.date | None
    #: Before tax; ``None`` when no service is to be billed again.
    estimate: Decimal | None


#: States whose subscription may still be billed (a cancellation keeps billing up to its end).
BILLABLE = (Subscription.Status.ACTIVE, Subscription.Status.CANCELLED)


def quantity_text(quantity: Decimal) -> str:
    """A quantity without its trailing zeros, in the reader's number format (3, 1,5)."""
    exact = (
        quantity.quantize(Decimal(1)) if quantity == quantity.to_integral_value() else quantity.normalize()
    )
    return number_format(exact)


def _next_bill_on(subscription: Subscription, bill_day: int, today: datetime.date) -> datetime.date | None:
    if subscription.status not in BILLABLE:
        return None
    return next_bill_date(
        period=subscription.period,
        started_on=subscription.started_on,
        ends_on=subscription.ends_on,
        bill_day=bill_day,
        as_of=today,
    )


def customer_services(*, customer: Customer) -> ServicesOverview:
    """The customer's subscriptions grouped by site, and an estimate of the next invoice.

    The estimate is what the run of the next bill date would bill, before tax (the run's plan).
    """
    organisation = customer.organisation
    settings = billing_settings(organisation)
    today = today_for(organisation)
    subscriptions = list(
        Subscription.objects.filter(customer=customer, organisation=organisation)
        .select_related("site", "product")
        .order_by("site__name", "site_id", "started_on", "id")
    )
    rows: dict[int | None, list[ServiceRow]] = {}
    sites: dict[int | None, Site | None] = {}
    for sub in subscriptions:
        sites.setdefault(sub.site_id, sub.site)
        rows.setdefault(sub.site_id, []).append(
            ServiceRow(
                subscription=sub,
                quantity=quantity_text(sub.quantity),
                price=round_money(sub.quantity * sub.unit_price),
                next_bill_on=_next_bill_on(sub, settings.bill_day, today),
            )
        )
    dates = [row.next_bill_on for group in rows.values() for row in group if row.next_bill_on]
    next_on = min(dates) if dates else None
    estimate = next_invoice_estimate(customer, next_on) if next_on is not None else None
    return ServicesOverview(
        sites=[SiteServices(site=sites[key], rows=group) for key, group in rows.items()],
        currency=organisation.currency,
        next_bill_on=next_on,
        estimate=estimate,
    )


@dataclass(frozen=True)
class OrderRow:
    line: OrderLine
    quantity: str
    amount: Decimal


@dataclass(frozen=True)
class OrderView:
    """An order as the customer reads it: lines per site and its one-time and recurring totals."""

    order: Order
    sites: list[tuple[Site, list[OrderRow]]]
    #: Charged once: the one-time lines when the order goes in progress, the hardware when it ships.
    upfront: Decimal
    monthly: Decimal
    yearly: Decimal
    currency: str


def customer_orders(*, customer: Customer) -> QuerySet[Order]:
    return Order.objects.filter(customer=customer, organisation_id=customer.organisation_id)


def pending_order(*, customer: Customer) -> Order | None:
    """The order the first-login terms flow offers to show: the latest one not cancelled."""
    return customer_orders(customer=customer).exclude(status=Order.Status.CANCELLED).first()


def order_view(*, customer: Customer, pk: int) -> OrderView | None:
    order = customer_orders(customer=customer).filter(pk=pk).first()
    if order is None:
        return None
    totals = order_totals(order)
    return OrderView(
        order=order,
        sites=[
            (
                site,
                [
                    OrderRow(
                        line=line,
                        quantity=quantity_text(line.quantity),
                        amount=round_money(line.quantity * line.unit_price),
                    )
                    for line in lines
                ],
            )
            for site, lines in order_lines_by_site(order)
        ],
        upfront=totals["upfront"],
        monthly=totals["monthly"],
        yearly=totals["yearly"],
        currency=customer.organisation.currency,
    )
