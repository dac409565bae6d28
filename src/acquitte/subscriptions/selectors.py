"""Reads of the subscriptions app: the organisation's billing settings and the date its runs take as today."""

import datetime
import zoneinfo
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import DecimalField, Exists, F, OuterRef, Q, QuerySet, Sum
from django.utils import timezone

from acquitte.catalog.models import Product
from acquitte.core.money import ZERO, round_money
from acquitte.invoicing.models import Invoice
from acquitte.payments.models import ChargeAttempt, PaymentMethod, ProviderAccount, TransferDeclaration
from acquitte.payments.selectors import saved_methods_available

from .billing_plan import PreviewInvoice, candidate_customers, plan_customers
from .billing_plan import PreviewLine as PreviewLine  # the preview's lines, shared with the run
from .change_plan import ChangePreview, plan_cancellation, plan_product_change, plan_quantity_change
from .models import (
    RECURRING_KINDS,
    Adjustment,
    BilledPeriod,
    BillingRun,
    BillingSettings,
    CollectionAttempt,
    Order,
    OrderLine,
    Subscription,
)
from .periods import next_collection_date

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation, Site


def billing_settings(organisation: "Organisation") -> BillingSettings:
    """The organisation's settings, the defaults (2nd and 22nd) until an owner changes them."""
    found, _created = BillingSettings.objects.get_or_create(organisation=organisation)
    return found


def in_test_mode(organisation: "Organisation") -> bool:
    """Test mode is the sandbox connected: only then may a test clock move the runs' date."""
    return saved_methods_available(organisation.pk)


def real_today(settings: BillingSettings) -> datetime.date:
    return timezone.now().astimezone(zoneinfo.ZoneInfo(settings.time_zone)).date()


def today_for(organisation: "Organisation") -> datetime.date:
    """The date the runs of this organisation take as today: its test clock in test mode, else
    the real date in its own time zone."""
    settings = billing_settings(organisation)
    if settings.test_clock is not None and in_test_mode(organisation):
        return settings.test_clock
    return real_today(settings)


# --- orders ---

_O = Order.Status
#: Every move of an order, the one table the services check: shipped only with hardware in it,
#: completed from in progress only without hardware (ship first). A shipped order is not cancelled:
#: its hardware left and was invoiced, so undoing it is a return and a credit note, not a state.
ORDER_MOVES: dict[Order.Status, frozenset[Order.Status]] = {
    _O.DRAFT: frozenset({_O.IN_PROGRESS, _O.CANCELLED}),
    _O.IN_PROGRESS: frozenset({_O.SHIPPED, _O.COMPLETED, _O.CANCELLED}),
    _O.SHIPPED: frozenset({_O.COMPLETED}),
    _O.COMPLETED: frozenset(),
    _O.CANCELLED: frozenset(),
}
#: The order in which moves are offered (buttons), forward first, cancel last.
_MOVE_ORDER = [_O.IN_PROGRESS, _O.SHIPPED, _O.COMPLETED, _O.CANCELLED]
#: Catalogue kinds charged once, and the stage of the order that invoices them.
PLACED_KINDS = frozenset({Product.Kind.ONE_TIME})
SHIPPED_KINDS = frozenset({Product.Kind.HARDWARE})


def order_has_hardware(order: Order) -> bool:
    return order.lines.filter(product__kind__in=SHIPPED_KINDS).exists()


def order_move_allowed(
    current: Order.Status, to: Order.Status, *, has_lines: bool, has_hardware: bool
) -> bool:
    """Whether ``current`` → ``to`` is a legal move for an order with these contents."""
    if to not in ORDER_MOVES[current]:
        return False
    if to == _O.IN_PROGRESS:
        return has_lines
    if to == _O.SHIPPED:
        return has_hardware
    if to == _O.COMPLETED and current == _O.IN_PROGRESS:
        return not has_hardware
    return True


def next_statuses(order: Order) -> list[Order.Status]:
    """The moves staff may make now (the back office's buttons), from the order's contents; a
    customer without a valid method is refused when the order is placed, with the reason."""
    current = Order.Status(order.status)
    has_lines = order.lines.exists()
    has_hardware = has_lines and order_has_hardware(order)
    return [
        to
        for to in _MOVE_ORDER
        if order_move_allowed(current, to, has_lines=has_lines, has_hardware=has_hardware)
    ]


def orders_of(
    organisation: "Organisation",
    *,
    status: Order.Status | str | None = None,
    customer: "Customer | None" = None,
    q: str = "",
) -> QuerySet[Order]:
    """The organisation's orders, newest first, by status, customer and number or customer name."""
    orders = Order.objects.filter(organisation=organisation).select_related("customer")
    if status:
        orders = orders.filter(status=status)
    if customer is not None:
        orders = orders.filter(customer=customer)
    if q.strip():
        text = q.strip()
        orders = orders.filter(Q(number__icontains=text) | Q(customer__name__icontains=text))
    return orders


def order_lines(order: Order) -> QuerySet[OrderLine]:
    return order.lines.select_related("product", "site").order_by("site__name", "site_id", "position", "id")


def order_lines_by_site(order: Order) -> list[tuple["Site", list[OrderLine]]]:
    """The order's lines grouped by site, sites by name (for the order's pages)."""
    groups: dict[int, tuple[Site, list[OrderLine]]] = {}
    for line in order_lines(order):
        groups.setdefault(line.site_id, (line.site, []))[1].append(line)
    return list(groups.values())


def order_totals(order: Order) -> dict[str, Decimal]:
    """Pre-tax totals for display: charged once (``one_time`` at placing, ``hardware`` at shipping,
    ``upfront`` both) and recurring (``monthly``, ``yearly``), each line rounded to the cent."""
    totals = dict.fromkeys(("one_time", "hardware", "upfront", "monthly", "yearly"), ZERO)
    for line in order.lines.select_related("product"):
        amount = round_money(line.quantity * line.unit_price)
        kind = Product.Kind(line.product.kind)
        if kind in RECURRING_KINDS:
            totals[RECURRING_KINDS[kind]] += amount
        else:
            totals["hardware" if kind in SHIPPED_KINDS else "one_time"] += amount
            totals["upfront"] += amount
    return totals


# --- back office (subscriptions list, billed periods, test clock) ---


def subscriptions_of(
    organisation: "Organisation",
    *,
    status: str = "",
    period: str = "",
    customer: "Customer | None" = None,
    site: "Site | None" = None,
    product: Product | None = None,
    order: Order | None = None,
    q: str = "",
) -> QuerySet[Subscription]:
    """The organisation's subscriptions, filtered as the back-office list asks, newest first."""
    rows = Subscription.objects.filter(organisation=organisation).select_related(
        "customer", "site", "product"
    )
    if status in Subscription.Status.values:
        rows = rows.filter(status=status)
    if period in Subscription.Period.values:
        rows = rows.filter(period=period)
    if customer is not None:
        rows = rows.filter(customer=customer)
    if site is not None:
        rows = rows.filter(site=site)
    if product is not None:
        rows = rows.filter(product=product)
    if order is not None:
        rows = rows.filter(order_line__order=order)
    if q:
        rows = rows.filter(
            Q(description__icontains=q)
            | Q(customer__name__icontains=q)
            | Q(customer__number__icontains=q)
            | Q(site__name__icontains=q)
            | Q(product__sku__icontains=q)
        )
    return rows.order_by("-started_on", "-id")


def billed_periods_of(subscription: Subscription) -> QuerySet[BilledPeriod]:
    """Every period billed for a subscription, the newest first, with the invoice that billed it."""
    return subscription.billed_periods.select_related("invoice").order_by("-period_start")


def periods_billed_by(run: BillingRun) -> QuerySet[BilledPeriod]:
    """The periods one billing run billed, with their invoices (the run's page)."""
    return BilledPeriod.objects.filter(organisation_id=run.organisation_id, run=run).select_related(
        "invoice", "subscription"
    )


# --- collection ---


def last_collection_date(as_of: datetime.date, collection_day: int) -> datetime.date:
    """The collection day the run of ``as_of`` collects: the latest one on or before it, so a run on
    the 23rd after a missed 22nd still collects the 22nd."""
    if as_of.day >= collection_day:
        return as_of.replace(day=collection_day)
    return (as_of.replace(day=1) - datetime.timedelta(days=1)).replace(day=collection_day)


def recurring_invoices(organisation: "Organisation") -> QuerySet[Invoice]:
    """Open invoices billed by the billing run (a billed period or an adjustment on them) that owe
    money and may be paid online: what the collection run charges."""
    billed = BilledPeriod.objects.filter(invoice_id=OuterRef("pk"))
    adjusted = Adjustment.objects.filter(invoice_id=OuterRef("pk"))
    return Invoice.objects.filter(
        Exists(billed) | Exists(adjusted),
        organisation=organisation,
        kind=Invoice.Kind.INVOICE,
        status=Invoice.Status.OPEN,
        online_payment=True,
        total__gt=F("amount_paid"),
    )


def collectable_invoices(organisation: "Organisation", collection_date: datetime.date) -> QuerySet[Invoice]:
    """The recurring invoices the collection of ``collection_date`` has yet to take: issued by then
    (an invoice of the 2nd waits for the 22nd), not attempted that day, and with no charge in flight
    (a debit still settling is not charged again)."""
    attempted = CollectionAttempt.objects.filter(invoice_id=OuterRef("pk"), collection_date=collection_date)
    in_flight = ChargeAttempt.objects.filter(
        payment__invoice_id=OuterRef("pk"),
        state__in=[ChargeAttempt.State.CREATED, ChargeAttempt.State.PENDING],
    )
    return recurring_invoices(organisation).filter(
        ~Exists(attempted), ~Exists(in_flight), issue_date__lte=collection_date
    )


#: A claim with no payment after this long was cut short (a crash): the next run takes it up again.
STALE_CLAIM = datetime.timedelta(minutes=15)


def stale_claims(organisation: "Organisation", collection_date: datetime.date) -> QuerySet[CollectionAttempt]:
    """The day's claims that a crash left without an answer or a payment."""
    return CollectionAttempt.objects.filter(
        organisation=organisation,
        collection_date=collection_date,
        outcome=CollectionAttempt.Outcome.PENDING,
        payment__isnull=True,
        created_at__lt=timezone.now() - STALE_CLAIM,
    )


def customers_to_collect(organisation: "Organisation", collection_date: datetime.date) -> list[int]:
    """The customers with an invoice to collect that day, or a claim of that day cut short."""
    due = set(collectable_invoices(organisation, collection_date).values_list("customer_id", flat=True))
    due.update(stale_claims(organisation, collection_date).values_list("invoice__customer_id", flat=True))
    return sorted(due)


def collection_due(organisation: "Organisation", as_of: datetime.date) -> bool:
    """Whether the collection run of ``as_of`` has anything to do (the half-hourly task asks first)."""
    day = last_collection_date(as_of, billing_settings(organisation).collection_day)
    return collectable_invoices(organisation, day).exists() or stale_claims(organisation, day).exists()


def declared_invoice_ids(invoice_ids: list[int]) -> set[int]:
    """Those of the invoices for which a transfer or cheque was declared and not yet recorded."""
    return set(
        TransferDeclaration.objects.filter(
            invoice_id__in=invoice_ids, status=TransferDeclaration.Status.DECLARED
        ).values_list("invoice_id", flat=True)
    )


def default_methods(organisation: "Organisation", customer_ids: list[int]) -> dict[int, PaymentMethod]:
    """Each customer's default method that can be charged now (valid, its provider connected)."""
    connected = ProviderAccount.objects.filter(organisation=organisation).values_list("provider", flat=True)
    methods = PaymentMethod.objects.filter(
        customer_id__in=customer_ids,
        customer__organisation=organisation,
        status=PaymentMethod.Status.VALID,
        is_default=True,
        provider__in=list(connected),
    ).order_by("customer_id", "-created_at", "-id")
    found: dict[int, PaymentMethod] = {}
    for method in methods:
        found.setdefault(method.customer_id, method)
    return found


@dataclass(frozen=True)
class CollectionPreview:
    """What the collection would do for one customer: charge ``invoices`` (``amount``) to ``method``,
    tell them they have no method (``method`` None), and leave ``skipped`` (a transfer declared)."""

    customer: "Customer"
    method: PaymentMethod | None
    invoices: list[Invoice]
    skipped: list[Invoice]
    amount: Decimal


def preview_collection(organisation: "Organisation", as_of: datetime.date) -> list[CollectionPreview]:
    """What the collection run of ``as_of`` would charge, per customer, with the method; writes nothing."""
    day = last_collection_date(as_of, billing_settings(organisation).collection_day)
    invoices = list(
        collectable_invoices(organisation, day).select_related("customer").order_by("customer__name", "id")
    )
    declared = declared_invoice_ids([inv.pk for inv in invoices])
    methods = default_methods(organisation, sorted({inv.customer_id for inv in invoices}))
    rows: dict[int, CollectionPreview] = {}
    for inv in invoices:
        row = rows.setdefault(
            inv.customer_id,
            CollectionPreview(inv.customer, methods.get(inv.customer_id), [], [], ZERO),
        )
        (row.skipped if inv.pk in declared else row.invoices).append(inv)
    return [
        CollectionPreview(
            row.customer,
            row.method,
            row.invoices,
            row.skipped,
            sum((inv.amount_due for inv in row.invoices), ZERO),
        )
        for row in rows.values()
    ]


def _amount_collected_on(customer: "Customer", day: datetime.date) -> Decimal:
    due = collectable_invoices(customer.organisation, day).filter(customer=customer)
    declared = declared_invoice_ids(list(due.values_list("pk", flat=True)))
    return sum((inv.amount_due for inv in due if inv.pk not in declared), ZERO)


def next_debit(customer: "Customer") -> tuple[datetime.date, Decimal] | None:
    """The portal home's "next automatic debit on <date>: <amount>": the next collection day and what
    it would charge to the default method; None without a default method or nothing to charge."""
    organisation = customer.organisation
    if not default_methods(organisation, [customer.pk]):
        return None
    today = today_for(organisation)
    collection_day = billing_settings(organisation).collection_day
    day = next_collection_date(as_of=today, collection_day=collection_day)
    amount = _amount_collected_on(customer, day)
    if amount == 0 and day == today:  # today's collection is made: what is still open waits a month
        day = next_collection_date(as_of=today + datetime.timedelta(days=1), collection_day=collection_day)
        amount = _amount_collected_on(customer, day)
    return (day, amount) if amount > 0 else None


# --- billing ---


def next_invoice_estimate(customer: "Customer", on: datetime.date) -> Decimal:
    """Before tax, what the run of ``on`` would bill this customer, less the credit notes it would
    issue: the run's own plan, so prorations and waiting changes count exactly as they will."""
    organisation = customer.organisation
    plan = plan_customers(
        organisation=organisation,
        settings=billing_settings(organisation),
        customer_ids=[customer.pk],
        as_of=on,
    )
    billed = sum((line.amount for planned in plan.invoices for line in planned.lines), ZERO)
    credited = sum((line.amount for planned in plan.invoices for line in planned.credits), ZERO)
    return billed - credited


#: The preview reads customers this many at a time, as a run's chunk does.
PREVIEW_CHUNK = 500


def stored_billing_settings(organisation: "Organisation") -> BillingSettings:
    """The settings without writing the defaults (``billing_settings`` saves them): for pure reads."""
    found = BillingSettings.objects.filter(organisation=organisation).first()
    return found or BillingSettings(organisation=organisation)


def billing_due(organisation: "Organisation", as_of: datetime.date) -> bool:
    """Whether a billing run on ``as_of`` has anything to look at (the half-hourly task asks first)."""
    return candidate_customers(organisation, as_of, stored_billing_settings(organisation).bill_day).exists()


def preview_billing(organisation: "Organisation", as_of: datetime.date) -> list[PreviewInvoice]:
    """What a billing run on ``as_of`` would invoice, customer by customer; writes nothing.

    The lines are the run's own computation (``billing_plan``): the run writes them, this returns them."""
    settings = stored_billing_settings(organisation)
    candidates = candidate_customers(organisation, as_of, settings.bill_day).order_by("pk")
    found: list[PreviewInvoice] = []
    after = 0
    while ids := list(candidates.filter(pk__gt=after).values_list("pk", flat=True)[:PREVIEW_CHUNK]):
        plan = plan_customers(organisation=organisation, settings=settings, customer_ids=ids, as_of=as_of)
        for invoice in plan.invoices:
            invoice.compute_totals()
            found.append(invoice)
        after = ids[-1]
    return found


def runs_of(organisation: "Organisation", kind: BillingRun.Kind | None = None) -> QuerySet[BillingRun]:
    """The organisation's runs, latest first (the run history)."""
    runs = BillingRun.objects.filter(organisation=organisation)
    return runs.filter(kind=kind) if kind is not None else runs.order_by("-started_at", "-id")


# --- changes ---


def preview_quantity_change(
    subscription: Subscription, quantity: Decimal | int | str, on: datetime.date | None = None
) -> ChangePreview:
    """The charge or credit a quantity change would write, before staff confirm it."""
    today = today_for(subscription.organisation)
    return plan_quantity_change(subscription, quantity, on=on, today=today).preview


def preview_product_change(
    subscription: Subscription, product: Product, on: datetime.date | None = None
) -> ChangePreview:
    """The net of the credit of the old product and the charge of the new one."""
    today = today_for(subscription.organisation)
    return plan_product_change(subscription, product, on=on, today=today).preview


def preview_cancellation(
    subscription: Subscription, at_period_end: bool, on: datetime.date | None = None
) -> ChangePreview:
    """The credit of cancelling now (none at the end of the period)."""
    today = today_for(subscription.organisation)
    return plan_cancellation(subscription, at_period_end=at_period_end, on=on, today=today).preview


MONEY = DecimalField(max_digits=20, decimal_places=5)
#: How many months one period of each kind covers.
MONTHS_IN = {Subscription.Period.MONTHLY: 1, Subscription.Period.YEARLY: 12}


def monthly_recurring_revenue(organisation: "Organisation") -> Decimal | None:
    """What the active subscriptions bring in a month before taxes, a yearly one counting for a
    twelfth; None when the organisation has no subscription at all (nothing to show)."""
    rows = Subscription.objects.filter(organisation=organisation)
    if not rows.exists():
        return None
    by_period = (
        rows.filter(status=Subscription.Status.ACTIVE)
        .values("period")
        .annotate(amount=Sum(F("quantity") * F("unit_price"), output_field=MONEY))
    )
    return round_money(
        sum((row["amount"] / MONTHS_IN[Subscription.Period(row["period"])] for row in by_period), ZERO)
    )


def reader_time_zone(*, organisation_id: int | None, customer_id: int | None) -> str | None:
    """The time zone a signed-in reader's pages show times in: their organisation's (their
    customer's organisation's, for a portal user), in one query; ``None`` before it has settings."""
    if organisation_id is not None:
        found = BillingSettings.objects.filter(organisation_id=organisation_id)
    elif customer_id is not None:
        found = BillingSettings.objects.filter(organisation__customers__id=customer_id)
    else:
        return None
    return found.values_list("time_zone", flat=True).first()
