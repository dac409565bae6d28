"""The renewal run of domains and yearly services (seed 002, issue 13 item 3), daily, in chunks of
customers that Celery workers share, recorded as a ``BillingRun`` of kind renewal.

For each chunk:

1. In one transaction, its customers' rows locked (in id order, as the billing run does): each
   active service whose renewal invoice is due (``renewal_notice_days`` before it expires) gets its
   ``ServiceRenewal`` row for [expiry date, + 1 year), inserted with its invoice's id and
   ``ignore_conflicts``: the unique (service, period start) is the guard, and only the drafts whose
   row this run inserted are finalised, set-based as the billing run does. One invoice per service,
   to its billing sub-contact when one is chosen, due on the expiry date, e-mailed through the
   outbox. A period asked for early whose pro-forma is still unpaid gets its invoice the same way,
   and the pro-forma is voided. Cards on file expiring within the notice days get their e-mail,
   once per (card, days): ``CardExpiryNotice`` is unique.
2. With no transaction open, the open renewal invoices of services on recurring payment whose
   expiry date has come are charged to each service's chosen card, through the collection run's
   machinery (``collection.charge_invoices``): one attempt per invoice and day, keyed by both.
3. In one transaction, the active services whose expiry date passed unpaid become expired.

A paid renewal invoice moves its service's expiry date on (``renew_paid_services``, called by the
``invoices_paid`` receiver), only forward, and queues the ``service.renewed`` webhook.
"""

import datetime
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, cast

from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.db import connection, transaction
from django.db.models import Case, F, Q, Value, When
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from acquitte.catalog.models import Product, TaxCategory
from acquitte.core.actors import Actor, Person, actor_label
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction, TaxRate
from acquitte.core.money import ZERO
from acquitte.core.services import record_transition, record_transitions
from acquitte.core.tenancy import check_can_act_for, check_can_write
from acquitte.documents.services import date_text
from acquitte.invoicing.models import Invoice, InvoiceLine, new_public_token
from acquitte.invoicing.services import LineFields, LineInput, compute_totals, line_fields, void_invoice
from acquitte.invoicing.services.finalise import finalise_checked
from acquitte.invoicing.services.posting import give_ids, insert_rows
from acquitte.notifications.services import queue_email, queue_webhook_event
from acquitte.payments.models import PaymentMethod

from ..models import BillingRun, CardExpiryNotice, DunningSettings, Service, ServiceRenewal
from ..periods import ONE_DAY
from ..renewal_selectors import (
    cards_to_notify,
    expiring_services,
    proformas_to_replace,
    renewal_customers,
    renewal_end,
    renewal_settings,
    renewals_to_charge,
    services_to_expire,
    services_to_invoice,
)
from ..service_selectors import card_expires_on
from .billing import (
    LINE_COLUMNS,
    check_run_date,
    lock_customers,
    queue_invoice_emails,
    run_issue_date,
    runs_inline,
    wait_for_run,
)
from .collection import DEFAULT_CONCURRENCY, charge_invoices
from .runs import count_chunk, open_run

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation

#: Customers per chunk (one Celery task); a customer has five domains on average in the benchmark.
CHUNK_SIZE = 1000

INVOICE = "invoice"
CHARGE = "charge"
EXPIRE = "expire"
CARD_NOTICE = "card_notice"


@dataclass(frozen=True)
class RenewalAction:
    """One thing a run does, or (dry) would do: invoice, charge or expire a service, or tell the
    holder of a card that it expires soon."""

    action: str
    service: Service | None = None
    payment_method: PaymentMethod | None = None


@dataclass
class RenewalSummary:
    """What a run did (the billing run's fields, with the charges made). ``expired`` and
    ``notices`` are counted when the chunks run in this process; ``actions`` is the dry run's list."""

    run: BillingRun | None
    invoices: int = 0
    charges: int = 0
    failures: int = 0
    total: Decimal = ZERO
    seconds: float = 0.0
    expired: int = 0
    notices: int = 0
    actions: list[RenewalAction] = field(default_factory=list)


@dataclass
class RenewalChunkResult:
    customers: int = 0
    invoices: int = 0
    charges: int = 0
    expired: int = 0
    notices: int = 0
    failures: int = 0
    total: Decimal = ZERO
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Priced:
    """What finalisation and the totals read of a line."""

    net_amount: Decimal
    tax_codes: list[str]


@dataclass(frozen=True)
class _Due:
    """One period to invoice: the service, its period [start, end), and the pro-forma row it
    replaces (``None``: a new renewal row)."""

    service: Service
    start: datetime.date
    end: datetime.date
    asked: ServiceRenewal | None = None


def run_renewals(
    *,
    organisation: "Organisation",
    as_of: datetime.date,
    actor: Actor,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
) -> RenewalSummary:
    """Renew what is due on ``as_of``, ``chunk_size`` customers per chunk (a ``renew_chunk`` task:
    in process when Celery is eager, else shared by the workers, waited for when ``wait``).
    ``dry_run`` writes nothing and lists what the run would do."""
    from ..tasks import renew_chunk

    check_can_write(actor, organisation)
    as_of = check_run_date(as_of)
    if chunk_size < 1:
        raise BusinessError(_("Taille de lot invalide."), code=ErrorCode.INVALID_INPUT)
    started = time.perf_counter()
    if dry_run:
        summary = _preview(organisation, as_of)
        summary.seconds = time.perf_counter() - started
        return summary
    customer_ids = renewal_customers(organisation, as_of)
    chunks = [customer_ids[i : i + chunk_size] for i in range(0, len(customer_ids), chunk_size)]
    run = open_run(
        organisation=organisation,
        kind=BillingRun.Kind.RENEWAL,
        run_date=as_of,
        chunks_total=len(chunks),
        actor=actor,
    )
    user_id = actor.pk if isinstance(actor, Person) else None
    summary = RenewalSummary(run=run)
    for done, chunk in enumerate(chunks, 1):
        sent = renew_chunk.delay(
            organisation.pk,
            as_of.isoformat(),
            chunk[0],
            chunk[-1],
            run.pk,
            concurrency,
            user_id,
            actor_label(actor),
        )
        if runs_inline():
            counts = cast("dict[str, int]", sent.result)  # ran here: its value, no result backend
            summary.expired += counts["expired"]
            summary.notices += counts["notices"]
            if progress is not None:
                progress(done, len(chunks))
    if not runs_inline() and wait:
        wait_for_run(run, progress)
    run.refresh_from_db()
    summary.invoices, summary.charges, summary.failures = run.invoices, run.charges, run.failures
    summary.total = run.total
    summary.seconds = time.perf_counter() - started
    return summary


def renew_run_chunk(
    *,
    run: BillingRun,
    first_customer_id: int,
    last_customer_id: int,
    actor: Actor,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> RenewalChunkResult:
    """One chunk of a renewal run: customers ``first``–``last``, counted into ``run``. A failure of
    the invoicing transaction rolls it back and is counted; the next run does what this one could not."""
    organisation = run.organisation
    check_can_write(actor, organisation)
    if run.kind != BillingRun.Kind.RENEWAL:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    span = (first_customer_id, last_customer_id)
    result = RenewalChunkResult()
    try:
        _issue(organisation, run, span, actor, result)
        _charge(organisation, run, span, actor, result, concurrency)
        _expire(organisation, run.run_date, span, actor, result)
    except Exception as exc:  # any failure of a chunk is the run's to record
        message = exc.text() if isinstance(exc, BusinessError) else f"{type(exc).__name__}: {exc}"
        error = _("Clients %(first)d à %(last)d : %(error)s") % {
            "first": first_customer_id,
            "last": last_customer_id,
            "error": message,
        }
        result.failures += 1
        result.errors.append(error[:500])
    count_chunk(
        run=run,
        actor=actor,
        customers=result.customers,
        invoices=result.invoices,
        charges=result.charges,
        failures=result.failures,
        total=result.total,
        errors=result.errors,
    )
    return result


# --- 1. renewal invoices and card notices ---


def _due(
    organisation: "Organisation", as_of: datetime.date, notice: int, span: tuple[int, int] | None
) -> list[_Due]:
    """The periods to invoice on ``as_of``: new ones, then those asked for early and still unpaid.
    The few products and tax categories are read once and shared by the thousands of services."""
    related = ("customer", "subscription", "billing_contact__address")
    due: list[_Due] = []
    for service in (
        services_to_invoice(organisation, as_of, notice, span)
        .select_related(*related)
        .order_by("customer_id", "expires_on", "pk")
    ):
        end = renewal_end(service.expires_on)
        if end is not None:
            due.append(_Due(service=service, start=service.expires_on, end=end))
    for asked in (
        proformas_to_replace(organisation, as_of, notice, span)
        .select_related("proforma", *(f"service__{name}" for name in related))
        .order_by("service__customer_id", "period_start", "pk")
    ):
        due.append(_Due(service=asked.service, start=asked.period_start, end=asked.period_end, asked=asked))
    products = {
        p.pk: p
        for p in Product.objects.filter(
            organisation=organisation, pk__in={item.service.subscription.product_id for item in due}
        )
        .select_related("tax_category")
        .prefetch_related("tax_category__rates")
    }
    category_ids = [item.service.customer.tax_category_id for item in due]
    categories = {
        c.pk: c
        for c in TaxCategory.objects.filter(
            pk__in=[pk for pk in category_ids if pk is not None]
        ).prefetch_related("rates")
    }
    for item in due:
        item.service.subscription.product = products[item.service.subscription.product_id]
        customer = item.service.customer
        if customer.tax_category_id is not None:
            customer.tax_category = categories[customer.tax_category_id]
    return due


class _Lines:
    """The renewal lines, checked once per (product, tax category, quantity, price) and worded in
    each customer's language: thousands of services share a handful of lines."""

    def __init__(self, organisation: "Organisation") -> None:
        self.organisation = organisation
        self._checked: dict[tuple[object, ...], LineFields] = {}
        self._words: dict[str, str] = {}
        self._dates: dict[tuple[str, datetime.date], str] = {}

    def _date(self, language: str, day: datetime.date) -> str:
        key = (language, day)
        if key not in self._dates:
            self._dates[key] = date_text(day, lang=language, country=self.organisation.country)
        return self._dates[key]

    def description(self, due: _Due) -> str:
        language = due.service.customer.language
        if language not in self._words:
            with translation.override(language):
                self._words[language] = _("%(name)s — renouvellement du %(start)s au %(end)s")
        return self._words[language] % {
            "name": due.service.name,
            "start": self._date(language, due.start),
            "end": self._date(language, due.end - ONE_DAY),
        }

    def of(self, due: _Due) -> LineFields:
        subscription, customer = due.service.subscription, due.service.customer
        product = subscription.product
        category = customer.tax_category_id or product.tax_category_id
        key = (product.pk, category, subscription.quantity, subscription.unit_price)
        description = self.description(due)
        checked = self._checked.get(key)
        if checked is None:
            checked = line_fields(
                organisation=self.organisation,
                customer=customer,
                data=LineInput(
                    description=description,
                    quantity=subscription.quantity,
                    unit_price=subscription.unit_price,
                    tax_category=product.tax_category,
                    unit=product.unit,
                    product=product,
                    period_start=due.start,
                    period_end=due.end - ONE_DAY,
                ),
            )
            self._checked[key] = checked
        return {
            **checked,
            "description": description.strip()[:500],
            "period_start": due.start,
            "period_end": due.end - ONE_DAY,
        }


def _drafts(organisation: "Organisation", due: list[_Due], issued: datetime.date) -> list[Invoice]:
    """One draft per period, built positionally from a template (a keyword constructor per invoice
    costs more than everything else the draft needs), ids given (``give_ids``)."""
    template = Invoice(
        organisation=organisation,
        kind=Invoice.Kind.INVOICE,
        currency=organisation.currency,
        issue_date=issued,
        online_payment=True,
        created_at=timezone.now(),
    )
    attnames = [f.attname for f in Invoice._meta.concrete_fields]
    values = [getattr(template, name) for name in attnames]
    at = {name: k for k, name in enumerate(attnames)}
    drafts = []
    for item in due:
        service = item.service
        token = new_public_token()
        values[at["customer_id"]] = service.customer_id
        values[at["billing_contact_id"]] = service.billing_contact_id
        values[at["due_date"]] = max(item.start, issued)
        values[at["public_token"]], values[at["public_key"]] = token, token[:12]
        draft = Invoice(*values)
        draft.customer = service.customer
        draft.billing_contact = service.billing_contact
        drafts.append(draft)
    give_ids(drafts)
    return drafts


def _take(organisation: "Organisation", run: BillingRun, due: list[_Due], drafts: list[Invoice]) -> set[int]:
    """Record each period with its draft; returns the drafts whose period this run took. A new
    period's row is inserted with ON CONFLICT DO NOTHING (the unique constraint decides, whatever
    another run holds); a period asked for early is taken by an UPDATE that only finds it still
    without an invoice."""
    new = [(item, draft) for item, draft in zip(due, drafts, strict=True) if item.asked is None]
    taken = _insert_renewals(
        organisation,
        run,
        [(item.service.pk, item.start, item.end, draft.pk) for item, draft in new],
    )
    for item, draft in zip(due, drafts, strict=True):
        if item.asked is not None:
            updated = ServiceRenewal.objects.filter(pk=item.asked.pk, invoice__isnull=True).update(
                invoice_id=draft.pk, run=run
            )
            if updated:
                taken.add(draft.pk)
    return taken


def _insert_renewals(
    organisation: "Organisation",
    run: BillingRun,
    rows: list[tuple[int, datetime.date, datetime.date, int]],
) -> set[int]:
    """Insert (service, start, end, invoice) renewal rows, skipping the periods already held;
    returns the invoice ids of the rows inserted. On PostgreSQL one statement inserts them from
    arrays and returns what it inserted; elsewhere ``bulk_create`` and a read back."""
    if not rows:
        return set()
    if connection.vendor == "postgresql":
        table = ServiceRenewal._meta.db_table
        services, starts, ends, invoices = (list(column) for column in zip(*rows, strict=True))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {table} (organisation_id, service_id, period_start, period_end, invoice_id, "
                "run_id, created_at) SELECT %s, s, b, e, i, %s, %s "
                "FROM unnest(%s::bigint[], %s::date[], %s::date[], %s::bigint[]) AS t(s, b, e, i) "
                "ON CONFLICT (service_id, period_start) DO NOTHING RETURNING invoice_id",
                [organisation.pk, run.pk, timezone.now(), services, starts, ends, invoices],
            )
            return {row[0] for row in cursor.fetchall()}
    ServiceRenewal.objects.bulk_create(
        [
            ServiceRenewal(
                organisation=organisation,
                service_id=service_id,
                period_start=start,
                period_end=end,
                invoice_id=invoice_id,
                run=run,
            )
            for service_id, start, end, invoice_id in rows
        ],
        ignore_conflicts=True,
        batch_size=500,
    )
    mine = ServiceRenewal.objects.filter(invoice_id__in=[row[3] for row in rows])
    return {pk for pk in mine.values_list("invoice_id", flat=True) if pk is not None}


def _issue(
    organisation: "Organisation",
    run: BillingRun,
    span: tuple[int, int],
    actor: Actor,
    result: RenewalChunkResult,
) -> None:
    settings = renewal_settings(organisation)
    as_of = run.run_date
    with transaction.atomic():
        lock_customers(organisation, list(span))  # every customer of the span, in id order
        due = _due(organisation, as_of, settings.renewal_notice_days, span)
        if due:
            _invoice(organisation, run, due, actor, result)
        result.notices += _card_notices(organisation, as_of, settings, span, actor)


def _invoice(
    organisation: "Organisation", run: BillingRun, due: list[_Due], actor: Actor, result: RenewalChunkResult
) -> None:
    issued = run_issue_date(organisation, run.run_date)
    lines = _Lines(organisation)
    fields = [lines.of(item) for item in due]
    drafts = _drafts(organisation, due, issued)
    taken = _take(organisation, run, due, drafts)
    kept = [(item, draft, f) for item, draft, f in zip(due, drafts, fields, strict=True) if draft.pk in taken]
    dropped = [draft.pk for draft in drafts if draft.pk not in taken and not draft._state.adding]
    if dropped:  # written by ``give_ids`` (not on PostgreSQL): another run had the period
        Invoice.objects.filter(
            organisation=organisation, pk__in=dropped, status=Invoice.Status.DRAFT
        ).delete()
    if not kept:
        return
    source_type = ContentType.objects.get_for_model(Service).pk
    insert_rows(
        InvoiceLine,
        LINE_COLUMNS,
        [
            (
                draft.pk,
                1,
                source_type,
                str(item.service.pk),
                f["product"].pk if f["product"] is not None else None,
                f["description"],
                f["quantity"],
                f["unit"],
                f["unit_price"],
                f["discount_percent"],
                f["tax_category"].pk,
                f["tax_codes"],
                f["net_amount"],
                f["period_start"],
                f["period_end"],
            )
            for item, draft, f in kept
        ],
    )
    finalised = finalise_checked(
        organisation=organisation,
        invoices=[draft for _item, draft, _f in kept],
        actor=actor,
        issue_date=issued,
        new_lines={
            draft.pk: [_Priced(net_amount=f["net_amount"], tax_codes=f["tax_codes"])] for _i, draft, f in kept
        },
    )
    for item, draft, _f in kept:
        if item.asked is not None and item.asked.proforma is not None:
            void_invoice(
                invoice=item.asked.proforma,
                actor=actor,
                reason=_("Remplacée par la facture de renouvellement %(number)s.") % {"number": draft.number},
            )
    contacts = {
        draft.pk: item.service.billing_contact.email
        for item, draft, _f in kept
        if item.service.billing_contact is not None and item.service.billing_contact.email
    }
    queue_invoice_emails(organisation, finalised, contacts)
    result.customers += len({item.service.customer_id for item, _d, _f in kept})
    result.invoices += len(finalised)
    result.total += sum((invoice.total for invoice in finalised), ZERO)


def _card_notices(
    organisation: "Organisation",
    as_of: datetime.date,
    settings: DunningSettings,
    span: tuple[int, int] | None,
    actor: Actor,
) -> int:
    """The day's card-expiry e-mails, one per card however many notices fall due at once; the
    rows are read under the chunk's customer locks and inserted plainly: a row another transaction
    wrote all the same makes the unique constraint roll the chunk back."""
    rows: list[CardExpiryNotice] = []
    told = 0
    for card, new in cards_to_notify(organisation, as_of, list(settings.card_expiry_notice_days), span):
        rows.extend(
            CardExpiryNotice(organisation=organisation, payment_method=card, days_before=d, sent_on=as_of)
            for d in new
        )
        _tell_card_expires(card, actor)
        told += 1
    CardExpiryNotice.objects.bulk_create(rows)
    return told


def _tell_card_expires(card: PaymentMethod, actor: Actor) -> None:
    customer = card.customer
    if not customer.email:
        return
    expires = card_expires_on(card)
    assert expires is not None
    organisation = customer.organisation
    renewing = expiring_services(card, expires)
    billing = django_settings.PUBLIC_BASE_URL.rstrip("/") + reverse("portal:billing")
    with translation.override(customer.language):
        when = date_text(expires, lang=customer.language, country=organisation.country)
        parts = [
            _("Bonjour %(name)s,") % {"name": customer.name},
            _("Votre carte %(card)s expire le %(date)s.") % {"card": str(card), "date": when},
        ]
        if renewing:
            parts.append(
                "\n".join(
                    [
                        _("Ces services se renouvellent sur cette carte après son expiration :"),
                        *(
                            f"- {service.name} : "
                            + date_text(
                                service.expires_on, lang=customer.language, country=organisation.country
                            )
                            for service in renewing
                        ),
                    ]
                )
            )
        parts += [
            _(
                "Ajoutez une nouvelle carte dans votre espace client pour qu'ils ne soient pas suspendus : %(url)s"
            )
            % {"url": billing},
            organisation.name,
        ]
        subject = _("Votre carte %(card)s expire le %(date)s") % {"card": str(card), "date": when}
    queue_email(
        organisation=organisation,
        actor=actor,
        to=customer.email,
        kind="card_expiry_notice",
        subject=subject,
        body="\n\n".join(parts),
        reference=f"card-{card.pk}",
        link=billing,
    )


# --- 2. charges ---


def _charge(
    organisation: "Organisation",
    run: BillingRun,
    span: tuple[int, int],
    actor: Actor,
    result: RenewalChunkResult,
    concurrency: int,
) -> None:
    """Each open renewal invoice due by the run's date, charged to its service's chosen card."""
    due = dict(
        renewals_to_charge(organisation, run.run_date, span).values_list(
            "invoice_id", "service__payment_method_id"
        )
    )
    if not due:
        return
    methods = PaymentMethod.objects.in_bulk(set(due.values()))
    charged = charge_invoices(
        organisation=organisation,
        methods={invoice_id: methods[method_id] for invoice_id, method_id in due.items() if invoice_id},
        collection_date=run.run_date,
        actor=actor,
        run=run,
        concurrency=concurrency,
    )
    result.charges += charged.charges
    result.failures += charged.failures
    result.errors.extend(charged.errors)


# --- 3. expiry ---


def _expire(
    organisation: "Organisation",
    as_of: datetime.date,
    span: tuple[int, int],
    actor: Actor,
    result: RenewalChunkResult,
) -> None:
    with transaction.atomic():
        expiring = list(services_to_expire(organisation, as_of, span).select_for_update().order_by("pk"))
        if not expiring:
            return
        Service.objects.filter(pk__in=[s.pk for s in expiring], status=Service.Status.ACTIVE).update(
            status=Service.Status.EXPIRED
        )
        record_transitions(
            objs=expiring,
            organisation=organisation,
            actor=actor,
            action=AuditAction.EXPIRE,
            from_state=Service.Status.ACTIVE,
            to_state=Service.Status.EXPIRED,
        )
    result.expired += len(expiring)


# --- the dry run ---


def _preview(organisation: "Organisation", as_of: datetime.date) -> RenewalSummary:
    """What the run of ``as_of`` would do, from reads only."""
    settings = renewal_settings(organisation)
    summary = RenewalSummary(run=None)
    due = _due(organisation, as_of, settings.renewal_notice_days, None)
    lines = _Lines(organisation)
    priced = [lines.of(item) for item in due]
    codes = {code for f in priced for code in f["tax_codes"]}
    rates = {rate.code: rate for rate in TaxRate.objects.filter(code__in=codes)}
    for item, f in zip(due, priced, strict=True):
        totals = compute_totals([_Priced(net_amount=f["net_amount"], tax_codes=f["tax_codes"])], rates)  # type: ignore[list-item]
        summary.total += totals.total
        summary.actions.append(RenewalAction(action=INVOICE, service=item.service))
    summary.invoices = len(due)
    charged = {
        renewal.service_id: renewal.service
        for renewal in renewals_to_charge(organisation, as_of).select_related("service__payment_method")
    }
    for item in due:
        service = item.service
        method = service.payment_method
        if (
            item.start <= as_of
            and service.recurring
            and method is not None
            and method.status == PaymentMethod.Status.VALID
        ):
            charged.setdefault(service.pk, service)
    for service in charged.values():
        summary.actions.append(
            RenewalAction(action=CHARGE, service=service, payment_method=service.payment_method)
        )
    summary.charges = len(charged)
    for service in (
        services_to_expire(organisation, as_of).exclude(pk__in=list(charged)).order_by("expires_on", "pk")
    ):
        summary.actions.append(RenewalAction(action=EXPIRE, service=service))
        summary.expired += 1
    for card, _days in cards_to_notify(organisation, as_of, list(settings.card_expiry_notice_days)):
        summary.actions.append(RenewalAction(action=CARD_NOTICE, payment_method=card))
        summary.notices += 1
    return summary


# --- a renewal paid ---


def renew_paid_services(
    *, organisation: "Organisation", invoice_ids: Sequence[int], actor: Actor
) -> list[Service]:
    """Move on the expiry date of each service whose renewal these paid invoices settle (its
    invoice, or the invoice its pro-forma became), to the period's end: only forward, by an UPDATE
    that finds the service still expiring on the period's start, so a replayed signal moves
    nothing. An expired service is active again; each renewal queues ``service.renewed``."""
    renewals = list(
        ServiceRenewal.objects.filter(organisation=organisation, renewed_at__isnull=True)
        .filter(Q(invoice_id__in=list(invoice_ids)) | Q(proforma__converted_to_id__in=list(invoice_ids)))
        .select_related("service__customer", "invoice", "proforma__converted_to")
        .order_by("service_id", "period_start")
    )
    customers: dict[int, Customer] = {r.service.customer_id: r.service.customer for r in renewals}
    for customer in customers.values():
        check_can_act_for(actor, customer)
    moved: list[Service] = []
    with transaction.atomic():
        now = timezone.now()
        for renewal in renewals:
            service = renewal.service
            taken = (
                Service.objects.filter(pk=service.pk, expires_on=renewal.period_start)
                .exclude(status=Service.Status.TERMINATED)
                .update(
                    expires_on=renewal.period_end,
                    status=Case(
                        When(status=Service.Status.EXPIRED, then=Value(Service.Status.ACTIVE)),
                        default=F("status"),
                    ),
                )
            )
            if not taken:
                continue
            ServiceRenewal.objects.filter(pk=renewal.pk, renewed_at__isnull=True).update(renewed_at=now)
            before = Service.Status(service.status)
            service.refresh_from_db(fields=["expires_on", "status"])
            record_transition(
                obj=service,
                organisation=organisation,
                actor=actor,
                action=AuditAction.TRANSITION if before != service.status else AuditAction.UPDATE,
                from_state=before,
                to_state=service.status,
                detail={"expires_on": service.expires_on.isoformat(), "renewal": renewal.pk},
            )
            paid = renewal.invoice or (renewal.proforma.converted_to if renewal.proforma else None)
            queue_webhook_event(
                organisation=organisation,
                event_type="service.renewed",
                data={
                    "service": {
                        "id": service.pk,
                        "kind": service.kind,
                        "name": service.name,
                        "status": service.status,
                        "expires_on": service.expires_on.isoformat(),
                    },
                    "customer": {"id": service.customer_id, "number": service.customer.number},
                    "period": {
                        "start": renewal.period_start.isoformat(),
                        "end": renewal.period_end.isoformat(),
                    },
                    "invoice": paid.number if paid is not None else None,
                },
                actor=actor,
            )
            moved.append(service)
    return moved
