"""What a billing run bills for a set of customers, computed once: the run writes it
(``services.billing``), the preview shows it (``selectors.preview_billing``).

For each customer: one invoice with every slice due by ``as_of`` (``periods.due_slices``) of
every subscription on every site that no ``BilledPeriod`` holds yet, and the unbilled prorated
charges (``Adjustment`` of kind charge); the unbilled prorated credits go on credit notes, one per
corrected invoice. An adjustment waits for the first bill day after the change took effect
(seed 001: "on the next invoice"), so a change never makes an invoice of its own mid-month.
"""

import datetime
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Case, DateField, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Coalesce, Least
from django.utils import translation
from django.utils.translation import gettext as _

from acquitte.catalog.models import Product
from acquitte.core.errors import BusinessError
from acquitte.core.models import TaxRate
from acquitte.core.money import ZERO, round_money
from acquitte.core.taxes import TaxableLine, tax_breakdown
from acquitte.customers.models import Customer, Organisation, Site
from acquitte.invoicing.services import LineFields, LineInput, line_fields

from .models import Adjustment, BilledPeriod, BillingSettings, Subscription
from .periods import Slice, add_months, due_slices, month_end, prorated_unit_price

#: Subscriptions in these states bill nothing new (a paused one resumes where it left off).
NOT_BILLED = (Subscription.Status.PAUSED,)


@dataclass(frozen=True)
class PreviewLine:
    """One line the run would write, with its checked invoice-line fields."""

    site_name: str
    description: str
    period_start: datetime.date
    period_end: datetime.date
    quantity: Decimal
    unit_price: Decimal
    amount: Decimal
    prorated: bool
    subscription_id: int
    fields: LineFields
    #: The ``BilledPeriod`` the line records (its slice's start); ``None`` for an adjustment.
    slice_start: datetime.date | None = None
    adjustment_id: int | None = None
    #: For a credit: the invoice its credit note corrects.
    corrects_invoice_id: int | None = None

    @property
    def net_amount(self) -> Decimal:
        return self.amount

    @property
    def tax_codes(self) -> list[str]:
        return self.fields["tax_codes"]


@dataclass
class PreviewInvoice:
    """One customer's invoice of the run (``lines``) and the credit notes it would issue (``credits``)."""

    customer: Customer
    lines: list[PreviewLine]
    subtotal: Decimal = ZERO
    tax_total: Decimal = ZERO
    total: Decimal = ZERO
    credits: list[PreviewLine] = field(default_factory=list)

    def compute_totals(self) -> None:
        """The totals as finalisation will freeze them (one tax per rate on the sum of its nets)."""
        rates: dict[int, tuple[TaxRate, ...]] = {}
        taxable = []
        for line in self.lines:
            category = line.fields["tax_category"]
            if category.pk not in rates:
                rates[category.pk] = tuple(category.rates.all())
            taxable.append(TaxableLine(net=line.amount, rates=rates[category.pk]))
        self.subtotal = sum((line.amount for line in self.lines), ZERO)
        self.tax_total = sum((tax.amount for tax in tax_breakdown(taxable)), ZERO)
        self.total = self.subtotal + self.tax_total


@dataclass
class Plan:
    """What a chunk bills, and the customers whose lines a rule refused (nothing billed for them)."""

    invoices: list[PreviewInvoice] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)


def last_bill_date(as_of: datetime.date, bill_day: int) -> datetime.date:
    """The last bill day on or before ``as_of``."""
    month = as_of.replace(day=1) if as_of.day >= bill_day else add_months(as_of, -1)
    return month.replace(day=bill_day)


def _due_adjustments(organisation: Organisation, as_of: datetime.date, bill_day: int) -> QuerySet[Adjustment]:
    return Adjustment.objects.filter(
        organisation=organisation,
        invoice__isnull=True,
        period_start__lt=last_bill_date(as_of, bill_day),
    )


def _subscriptions_to_check(
    organisation: Organisation, as_of: datetime.date, bill_day: int
) -> QuerySet[Subscription]:
    """Subscriptions that may have a slice due: those billed through the period ``as_of`` falls in
    (or through their last day) need no look, which keeps a run with nothing to do cheap."""
    covered = Case(
        # A service's first year only: the renewal run invoices the next ones (``services.renewals``).
        When(service__isnull=False, then=F("started_on")),
        When(period=Subscription.Period.MONTHLY, then=Value(month_end(last_bill_date(as_of, bill_day)))),
        default=Value(as_of),
        output_field=DateField(),
    )
    billed_through = BilledPeriod.objects.filter(
        subscription=OuterRef("pk"), period_end__gte=OuterRef("covered_until")
    )
    return (
        Subscription.objects.filter(organisation=organisation, started_on__lte=as_of)
        .exclude(status__in=NOT_BILLED)
        .annotate(covered_until=Least(covered, Coalesce("ends_on", covered)))
        .exclude(Exists(billed_through))
    )


def candidate_customers(
    organisation: Organisation, as_of: datetime.date, bill_day: int
) -> QuerySet[Customer]:
    """Customers of the organisation who may have something to bill by ``as_of``."""
    subscriptions = _subscriptions_to_check(organisation, as_of, bill_day).filter(customer=OuterRef("pk"))
    adjustments = _due_adjustments(organisation, as_of, bill_day).filter(
        subscription__customer=OuterRef("pk")
    )
    return Customer.objects.filter(organisation=organisation).filter(
        Q(Exists(subscriptions)) | Q(Exists(adjustments))
    )


def chunk_bounds(organisation: Organisation, chunk_size: int) -> Iterator[tuple[int, int]]:
    """(first, last) customer ids of each chunk of ``chunk_size`` customers, by keyset on the
    primary key alone: which of them have something due is each chunk's to find
    (``customers_in_range``), so that question is asked once per customer, not twice."""
    ids = Customer.objects.filter(organisation=organisation).order_by("pk").values_list("pk", flat=True)
    after = 0
    while True:
        page = list(ids.filter(pk__gt=after)[:chunk_size])
        if not page:
            return
        yield page[0], page[-1]
        after = page[-1]


class _Words:
    """The line descriptions in each customer's language, translated once per language."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, str]] = {}

    def of(self, language: str) -> tuple[str, str]:
        if language not in self._cache:
            with translation.override(language):
                self._cache[language] = (
                    _("%(description)s — %(site)s"),
                    _("%(description)s (prorata %(days)d/%(period_days)d jours)"),
                )
        return self._cache[language]


def _product_id(adjustment: Adjustment) -> int:
    """The product an adjustment bills or credits (its subscription's, on rows made before it was kept)."""
    return adjustment.product_id or adjustment.subscription.product_id


def _first_year_of_service(row: "SubscriptionRow", slices: list[Slice]) -> list[Slice]:
    """A domain's or yearly service's subscription is billed here for its first year only (the
    year the order started); its later periods are the renewal run's, from its expiry date."""
    if row[10] is None:
        return slices
    return [part for part in slices if part.period_start == row[8]]


def _billed(slices: dict[int, list[Slice]]) -> set[tuple[int, datetime.date]]:
    """Which of these subscriptions' due slices are billed already, by (subscription, start).

    Read by the subscriptions' ids (one array parameter on PostgreSQL) and from the earliest due
    start: through the (subscription, period_start) index whatever the table's statistics say,
    where a filter on the organisation let a stale plan scan every period it ever billed."""
    if not slices:
        return set()
    earliest = min(parts[0].start for parts in slices.values())
    return set(
        BilledPeriod.objects.filter(subscription_id__any_of=list(slices), period_start__gte=earliest)
        .order_by()
        .values_list("subscription_id", "period_start")
    )


def _sites(site_ids: set[int]) -> dict[int, str]:
    return dict(Site.objects.filter(pk__any_of=list(site_ids)).values_list("pk", "name"))


def _products(product_ids: set[int]) -> dict[int, Product]:
    products = Product.objects.filter(pk__in=product_ids).select_related("tax_category")
    return {p.pk: p for p in products.prefetch_related("tax_category__rates")}


SubscriptionRow = tuple[
    int, int, int | None, int, str, Decimal, Decimal, str, datetime.date, datetime.date | None, int | None
]


class _Planner:
    """Plans the invoices of one chunk of customers; every read is one query for the whole chunk."""

    def __init__(self, organisation: Organisation, settings: BillingSettings, as_of: datetime.date) -> None:
        self.organisation = organisation
        self.as_of = as_of
        self.bill_day = settings.bill_day
        self.words = _Words()
        self._checked: dict[tuple[object, ...], LineFields] = {}

    def plan(self, customer_ids: Sequence[int]) -> Plan:
        """Reads go by the range of ids, filtered here: a chunk's ids are dense, and a list of
        hundreds of ids in a query costs more to send than the rows it selects."""
        organisation = self.organisation
        wanted = set(customer_ids)
        if not wanted:
            return Plan()
        span = (min(wanted), max(wanted))
        customers = {
            c.pk: c
            for c in Customer.objects.filter(organisation=organisation, pk__range=span)
            .select_related("tax_category")
            .prefetch_related("tax_category__rates")
            if c.pk in wanted
        }
        rows: list[SubscriptionRow] = list(
            Subscription.objects.filter(
                organisation=organisation,
                customer_id__gte=span[0],
                customer_id__lte=span[1],
                started_on__lte=self.as_of,
            )
            .exclude(status__in=NOT_BILLED)
            .values_list(
                "pk",
                "customer_id",
                "site_id",
                "product_id",
                "description",
                "quantity",
                "unit_price",
                "period",
                "started_on",
                "ends_on",
                "service__id",
            )
        )
        rows = [row for row in rows if row[1] in customers]
        adjustments = list(
            _due_adjustments(organisation, self.as_of, self.bill_day)
            .filter(subscription__customer_id__gte=span[0], subscription__customer_id__lte=span[1])
            .select_related("subscription", "corrects")
        )
        adjustments = [a for a in adjustments if a.subscription.customer_id in customers]
        slices = {
            row[0]: _first_year_of_service(
                row,
                due_slices(
                    period=row[7], started_on=row[8], ends_on=row[9], bill_day=self.bill_day, as_of=self.as_of
                ),
            )
            for row in rows
        }
        billed = _billed({pk: parts for pk, parts in slices.items() if parts})
        sites = _sites(
            {r[2] for r in rows if r[2]}
            | {a.subscription.site_id for a in adjustments if a.subscription.site_id}
        )
        products = _products({r[3] for r in rows} | {_product_id(a) for a in adjustments})
        by_customer: dict[int, list[tuple[tuple, PreviewLine]]] = {}
        credits: dict[int, list[PreviewLine]] = {}
        plan = Plan()
        refused: set[int] = set()
        for row in rows:
            customer = customers[row[1]]
            if row[1] in refused:
                continue
            try:
                for key, line in self._subscription_lines(
                    row, customer, slices[row[0]], billed, sites, products
                ):
                    by_customer.setdefault(row[1], []).append((key, line))
            except BusinessError as exc:
                refused.add(row[1])
                plan.failures.append((row[1], exc.text()))
        for adjustment in adjustments:
            sub = adjustment.subscription
            if sub.customer_id in refused:
                continue
            try:
                key, line = self._adjustment_line(adjustment, customers[sub.customer_id], sites, products)
            except BusinessError as exc:
                refused.add(sub.customer_id)
                plan.failures.append((sub.customer_id, exc.text()))
                continue
            if adjustment.kind == Adjustment.Kind.CHARGE:
                by_customer.setdefault(sub.customer_id, []).append((key, line))
            elif line.corrects_invoice_id is not None:
                credits.setdefault(sub.customer_id, []).append(line)
            else:
                plan.failures.append((sub.customer_id, _("Crédit sans facture à corriger : non émis.")))
        for customer_id in sorted(set(by_customer) | set(credits)):
            if customer_id in refused:
                continue
            lines = [line for _key, line in sorted(by_customer.get(customer_id, []), key=lambda kl: kl[0])]
            plan.invoices.append(
                PreviewInvoice(
                    customer=customers[customer_id], lines=lines, credits=credits.get(customer_id, [])
                )
            )
        return plan

    def _description(self, customer: Customer, text: str, site_name: str) -> str:
        with_site = self.words.of(customer.language)[0]
        return with_site % {"description": text, "site": site_name} if site_name else text

    def _subscription_lines(
        self,
        row: SubscriptionRow,
        customer: Customer,
        slices: list[Slice],
        billed: set[tuple[int, datetime.date]],
        sites: dict[int, str],
        products: dict[int, Product],
    ) -> Iterator[tuple[tuple, PreviewLine]]:
        pk, _customer_id, site_id, product_id, text, quantity, unit_price, *_rest = row
        product = products[product_id]
        site_name = sites.get(site_id, "") if site_id else ""
        base = self._description(customer, text, site_name)
        for part in slices:
            if (pk, part.start) in billed:
                continue
            yield (
                self._line_key(site_id, site_name, product, pk, 0, part.start),
                self._slice_line(customer, part, base, site_name, pk, product, quantity, unit_price),
            )

    @staticmethod
    def _line_key(
        site_id: int | None, site_name: str, product: Product, pk: int, order: int, start: datetime.date
    ) -> tuple:
        """Lines by site, then product, then subscription, its periods before its adjustments."""
        return (site_id is None, site_name, site_id or 0, product.name, product.pk, pk, order, start)

    def _slice_line(
        self,
        customer: Customer,
        part: Slice,
        base: str,
        site_name: str,
        pk: int,
        product: Product,
        quantity: Decimal,
        unit_price: Decimal,
    ) -> PreviewLine:
        if part.full:
            description = base
        else:
            description = self.words.of(customer.language)[1] % {
                "description": base,
                "days": part.days,
                "period_days": part.period_days,
            }
        price = prorated_unit_price(unit_price, part)
        category = customer.tax_category_id or product.tax_category_id
        key = (product.pk, category, quantity, price, part.start, part.end)
        fields = self._checked.get(key)
        if fields is None or not description.strip():
            fields = line_fields(
                organisation=self.organisation,
                customer=customer,
                data=LineInput(
                    description=description,
                    quantity=quantity,
                    unit_price=price,
                    tax_category=product.tax_category,
                    unit=product.unit,
                    product=product,
                    period_start=part.start,
                    period_end=part.end,
                ),
            )
            self._checked[key] = fields
        else:
            # The same line for another customer: only the description differs (checked as
            # ``line_fields`` checks it); thousands of customers share a handful of lines.
            fields = {**fields, "description": description.strip()[:500]}
        return PreviewLine(
            site_name=site_name,
            description=fields["description"],
            period_start=part.start,
            period_end=part.end,
            quantity=fields["quantity"],
            unit_price=fields["unit_price"],
            amount=fields["net_amount"],
            prorated=not part.full,
            subscription_id=pk,
            fields=fields,
            slice_start=part.start,
        )

    def _adjustment_line(
        self, adjustment: Adjustment, customer: Customer, sites: dict[int, str], products: dict[int, Product]
    ) -> tuple[tuple, PreviewLine]:
        sub = adjustment.subscription
        product = products[_product_id(adjustment)]
        site_name = sites.get(sub.site_id, "") if sub.site_id else ""
        quantity, unit_price = adjustment.quantity, adjustment.unit_price
        if round_money(quantity * unit_price) != adjustment.amount:
            quantity, unit_price = Decimal(1), adjustment.amount
        description = adjustment.description
        if site_name and site_name not in description:
            description = self._description(customer, description, site_name)
        fields = line_fields(
            organisation=self.organisation,
            customer=customer,
            data=LineInput(
                description=description,
                quantity=quantity,
                unit_price=unit_price,
                tax_category=product.tax_category,
                unit=product.unit,
                product=product,
                period_start=adjustment.period_start,
                period_end=adjustment.period_end,
            ),
        )
        corrects = adjustment.corrects
        line = PreviewLine(
            site_name=site_name,
            description=fields["description"],
            period_start=adjustment.period_start,
            period_end=adjustment.period_end,
            quantity=fields["quantity"],
            unit_price=fields["unit_price"],
            amount=fields["net_amount"],
            prorated=True,
            subscription_id=sub.pk,
            fields=fields,
            adjustment_id=adjustment.pk,
            corrects_invoice_id=corrects.invoice_id if corrects is not None else None,
        )
        key = self._line_key(sub.site_id, site_name, product, sub.pk, 1, adjustment.period_start)
        return key, line


def plan_customers(
    *,
    organisation: Organisation,
    settings: BillingSettings,
    customer_ids: Sequence[int],
    as_of: datetime.date,
) -> Plan:
    """What a run on ``as_of`` bills these customers; reads only."""
    return _Planner(organisation, settings, as_of).plan(customer_ids)


def customers_in_range(
    organisation: Organisation, as_of: datetime.date, bill_day: int, first: int, last: int
) -> list[int]:
    """The candidates of one chunk, read again when the chunk runs."""
    return list(
        candidate_customers(organisation, as_of, bill_day)
        .filter(pk__gte=first, pk__lte=last)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
