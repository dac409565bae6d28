"""The billing run of the bill day (seed 001): one invoice per customer covering every
subscription on every site, set-based, in chunks of customers that Celery workers share.

Idempotent by construction: each billed (subscription, period) is a ``BilledPeriod`` under a unique
constraint. A chunk locks its customers' rows first (``SELECT … FOR UPDATE``, in id order, so two
workers never deadlock), then computes what is due by ``as_of`` and subtracts what is billed, and
inserts the invoices with their ``BilledPeriod`` rows in the same transaction. A second worker on
the same customers waits for the lock and then finds everything billed; should anything bypass the
lock, the unique constraint refuses the insert and the whole chunk rolls back. A run that crashed
halfway, started twice, raced, or ran for a past date bills each period exactly once.

Issue date: ``as_of`` (or the date of the series' last number when a catch-up run for a past date
comes after it: numbers stay chronological). Due date: the collection day after the issue date
(seed 001: debited on the 22nd, twenty days to review the invoice).
"""

import datetime
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import cycle
from types import SimpleNamespace
from typing import TYPE_CHECKING

from django.conf import settings as django_settings
from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person, actor_label
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import NumberSeries
from acquitte.core.money import ZERO
from acquitte.core.tenancy import check_can_write
from acquitte.customers.models import Customer
from acquitte.documents.services.formatting import date_text, money_text, public_url
from acquitte.invoicing.models import Invoice, InvoiceLine, new_public_token
from acquitte.invoicing.services import LineInput, create_credit_note
from acquitte.invoicing.services.finalise import finalise_checked
from acquitte.invoicing.services.posting import give_ids, insert_rows
from acquitte.notifications.models import OutboundMessage
from acquitte.notifications.services import render_email

from ..billing_plan import (
    Plan,
    PreviewInvoice,
    PreviewLine,
    chunk_bounds,
    customers_in_range,
    plan_customers,
)
from ..models import Adjustment, BilledPeriod, BillingRun, BillingSettings, Subscription
from ..periods import next_collection_date
from ..selectors import billing_settings
from .runs import count_chunk, open_run

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

ONE_DAY = datetime.timedelta(days=1)
#: How long ``run_billing`` waits for Celery workers that make no progress before it returns.
STALL_TIMEOUT = 600.0


@dataclass
class RunSummary:
    """What a run did: its record, and the counts the command and the clock print."""

    run: BillingRun | None
    customers: int
    invoices: int
    total: Decimal
    failures: int
    seconds: float


@dataclass
class ChunkResult:
    """What one chunk of customers billed (committed together)."""

    customers: int = 0
    invoices: int = 0
    credit_notes: int = 0
    total: Decimal = ZERO
    failures: int = 0
    errors: list[str] = field(default_factory=list)
    invoice_ids: list[int] = field(default_factory=list)


def check_run_date(as_of: object) -> datetime.date:
    if not isinstance(as_of, datetime.date) or isinstance(as_of, datetime.datetime):
        raise BusinessError(_("Date invalide."), code=ErrorCode.INVALID_DATE)
    return as_of


def run_billing(
    *,
    organisation: "Organisation",
    as_of: datetime.date,
    actor: Actor,
    chunk_size: int = 1000,
    progress: Callable[[int, int], None] | None = None,
    wait: bool = True,
) -> RunSummary:
    """Bill every customer with something due by ``as_of``, ``chunk_size`` customers per chunk.

    Each chunk is a ``bill_chunk`` task in its own transaction: in process when Celery is eager,
    else shared by the workers, and then ``wait`` says whether to wait for them (the clock and the
    command do; the scheduled task does not). ``progress(done, total)`` follows the chunks.
    """
    from ..tasks import bill_chunk

    check_can_write(actor, organisation)
    as_of = check_run_date(as_of)
    if chunk_size < 1:
        raise BusinessError(_("Taille de lot invalide."), code=ErrorCode.INVALID_INPUT)
    started = time.perf_counter()
    bounds = list(chunk_bounds(organisation, chunk_size))
    run = open_run(
        organisation=organisation,
        kind=BillingRun.Kind.BILLING,
        run_date=as_of,
        chunks_total=len(bounds),
        actor=actor,
    )
    user_id = actor.pk if isinstance(actor, Person) else None
    reason = actor_label(actor)
    for done, (first, last) in enumerate(bounds, 1):
        bill_chunk.delay(organisation.pk, as_of.isoformat(), first, last, run.pk, user_id, reason)
        if progress is not None and runs_inline():
            progress(done, len(bounds))
    if not runs_inline() and wait:
        wait_for_run(run, progress)
    run.refresh_from_db()
    return RunSummary(
        run=run,
        customers=run.customers,
        invoices=run.invoices,
        total=run.total,
        failures=run.failures,
        seconds=time.perf_counter() - started,
    )


def runs_inline() -> bool:
    return bool(getattr(django_settings, "CELERY_TASK_ALWAYS_EAGER", False))


def wait_for_run(run: BillingRun, progress: Callable[[int, int], None] | None) -> None:
    """Poll the run's record until its last chunk is counted in, or the workers stall."""
    last_done, last_change = -1, time.monotonic()
    while True:
        run.refresh_from_db(fields=["chunks_done", "chunks_total", "finished_at"])
        if run.chunks_done != last_done:
            last_done, last_change = run.chunks_done, time.monotonic()
            if progress is not None:
                progress(run.chunks_done, run.chunks_total)
        if run.finished_at is not None or time.monotonic() - last_change > STALL_TIMEOUT:
            return
        time.sleep(0.2)


def bill_run_chunk(
    *, run: BillingRun, first_customer_id: int, last_customer_id: int, actor: Actor
) -> ChunkResult:
    """One chunk of a run: the candidates among customers ``first``–``last``, billed and counted in
    together. A failure rolls the chunk back and is counted in the run, and the run goes on: the
    next run bills what this one could not."""
    organisation = run.organisation
    check_can_write(actor, organisation)
    settings = billing_settings(organisation)
    ids = customers_in_range(
        organisation, run.run_date, settings.bill_day, first_customer_id, last_customer_id
    )
    try:
        return bill_customers(
            organisation=organisation, customer_ids=ids, as_of=run.run_date, actor=actor, run=run
        )
    except Exception as exc:  # any failure of a chunk is the run's to record
        message = exc.text() if isinstance(exc, BusinessError) else f"{type(exc).__name__}: {exc}"
        error = _("Clients %(first)d à %(last)d : %(error)s") % {
            "first": first_customer_id,
            "last": last_customer_id,
            "error": message,
        }
        count_chunk(run=run, actor=actor, failures=len(ids), errors=[error[:500]])
        return ChunkResult(failures=len(ids), errors=[error])


def bill_customers(
    *,
    organisation: "Organisation",
    customer_ids: Sequence[int],
    as_of: datetime.date,
    actor: Actor,
    run: BillingRun | None = None,
) -> ChunkResult:
    """Bill these customers for everything due by ``as_of`` and not billed yet, in one transaction
    (counted in ``run`` in that same transaction)."""
    check_can_write(actor, organisation)
    as_of = check_run_date(as_of)
    if run is not None and run.organisation_id != organisation.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    settings = billing_settings(organisation)
    with transaction.atomic():
        locked = lock_customers(organisation, customer_ids)
        plan = plan_customers(organisation=organisation, settings=settings, customer_ids=locked, as_of=as_of)
        result = _write(organisation, settings, plan, as_of, actor, run)
        if run is not None:
            count_chunk(
                run=run,
                actor=actor,
                customers=result.customers,
                invoices=result.invoices,
                failures=result.failures,
                total=result.total,
                errors=result.errors,
            )
    return result


def lock_customers(organisation: "Organisation", customer_ids: Sequence[int]) -> list[int]:
    """Lock the customers' rows in id order (two workers never deadlock), by their id range: a
    chunk's ids are dense, and the range is one index scan where a list of ids is a long query."""
    wanted = set(customer_ids)
    if not wanted:
        return []
    found = (
        Customer.objects.select_for_update()
        .filter(organisation=organisation, pk__range=(min(wanted), max(wanted)))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    return [pk for pk in found if pk in wanted]


def run_issue_date(
    organisation: "Organisation", as_of: datetime.date, series: str = "invoice"
) -> datetime.date:
    """``as_of``, or the date of the series' last number when a catch-up run comes after it."""
    last = (
        NumberSeries.objects.filter(organisation=organisation, kind=series)
        .values_list("last_date", flat=True)
        .first()
    )
    return max(as_of, last) if last else as_of


def _write(
    organisation: "Organisation",
    settings: BillingSettings,
    plan: Plan,
    as_of: datetime.date,
    actor: Actor,
    run: BillingRun | None,
) -> ChunkResult:
    result = ChunkResult(
        failures=len({customer_id for customer_id, _message in plan.failures}),
        errors=[f"{customer_id}: {message}" for customer_id, message in plan.failures],
    )
    to_invoice = [p for p in plan.invoices if p.lines]
    if to_invoice:
        issued = run_issue_date(organisation, as_of)
        drafts = _insert_drafts(organisation, settings, to_invoice, issued, run)
        finalised = finalise_checked(
            organisation=organisation,
            invoices=drafts,
            actor=actor,
            issue_date=issued,
            new_lines={draft.pk: planned.lines for draft, planned in zip(drafts, to_invoice, strict=True)},
        )
        queue_invoice_emails(organisation, finalised)
        result.invoices = len(finalised)
        result.total = sum((inv.total for inv in finalised), ZERO)
        result.invoice_ids = [inv.pk for inv in finalised]
    for planned in plan.invoices:
        if planned.credits:
            result.credit_notes += _issue_credits(organisation, planned, as_of, actor, result)
    result.customers = len(plan.invoices)
    return result


LINE_COLUMNS = [
    "invoice_id",
    "position",
    "source_type_id",
    "source_id",
    "product",
    "description",
    "quantity",
    "unit",
    "unit_price",
    "discount_percent",
    "tax_category",
    "tax_codes",
    "net_amount",
    "period_start",
    "period_end",
]
PERIOD_COLUMNS = [
    "organisation_id",
    "subscription_id",
    "period_start",
    "period_end",
    "prorated",
    "quantity",
    "unit_price",
    "amount",
    "invoice_id",
    "run_id",
]


def _insert_drafts(
    organisation: "Organisation",
    settings: BillingSettings,
    planned: list[PreviewInvoice],
    issued: datetime.date,
    run: BillingRun | None,
) -> list[Invoice]:
    """The drafts (written by their finalisation, see ``give_ids``), their lines, the billed
    periods and the billed adjustments, as plain rows."""
    due = next_collection_date(as_of=issued + ONE_DAY, collection_day=settings.collection_day)
    # One draft built with keywords, the others positionally from its values: a model's keyword
    # constructor costs more per invoice than everything else the draft needs.
    template = Invoice(
        organisation=organisation,
        kind=Invoice.Kind.INVOICE,
        currency=organisation.currency,
        issue_date=issued,
        due_date=due,
        online_payment=organisation.online_payment_default,
        created_at=timezone.now(),
    )
    attnames = [f.attname for f in Invoice._meta.concrete_fields]
    values = [getattr(template, name) for name in attnames]
    at = {name: k for k, name in enumerate(attnames)}
    drafts = []
    for planned_invoice in planned:
        token = new_public_token()
        values[at["customer_id"]] = planned_invoice.customer.pk
        values[at["public_token"]], values[at["public_key"]] = token, token[:12]
        draft = Invoice(*values)
        draft.customer = planned_invoice.customer
        drafts.append(draft)
    give_ids(drafts)
    source_type = ContentType.objects.get_for_model(Subscription).pk
    lines: list[tuple[object, ...]] = []
    periods: list[tuple[object, ...]] = []
    adjustments: dict[int, list[int]] = {}
    run_id = run.pk if run is not None else None
    for draft, planned_invoice in zip(drafts, planned, strict=True):
        for position, line in enumerate(planned_invoice.lines, 1):
            f = line.fields
            lines.append(
                (
                    draft.pk,
                    position,
                    source_type,
                    str(line.subscription_id),
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
            )
            if line.slice_start is not None:
                periods.append(
                    (
                        organisation.pk,
                        line.subscription_id,
                        line.slice_start,
                        line.period_end,
                        line.prorated,
                        line.quantity,
                        line.unit_price,
                        line.amount,
                        draft.pk,
                        run_id,
                    )
                )
            elif line.adjustment_id is not None:
                adjustments.setdefault(draft.pk, []).append(line.adjustment_id)
    insert_rows(InvoiceLine, LINE_COLUMNS, lines)
    # The unique (subscription, period_start) refuses a period billed twice: the chunk rolls back.
    insert_rows(BilledPeriod, PERIOD_COLUMNS, periods)
    for invoice_id, adjustment_ids in adjustments.items():
        _mark_billed(adjustment_ids, invoice_id)
    return drafts


def _mark_billed(adjustment_ids: list[int], invoice_id: int) -> None:
    """An adjustment is billed once: the update takes only unbilled rows, and a count short of
    what was planned means another transaction took one, so this one rolls back."""
    taken = Adjustment.objects.filter(pk__in=adjustment_ids, invoice__isnull=True).update(
        invoice_id=invoice_id
    )
    if taken != len(adjustment_ids):
        raise BusinessError(_("Ajustement déjà facturé."), code=ErrorCode.DUPLICATE)


def _issue_credits(
    organisation: "Organisation",
    planned: PreviewInvoice,
    as_of: datetime.date,
    actor: Actor,
    result: ChunkResult,
) -> int:
    """One credit note per corrected invoice (few: they come from changes), each in a savepoint so
    a refused one leaves its credits for a later run and the rest of the chunk goes on."""
    by_invoice: dict[int, list[PreviewLine]] = {}
    for line in planned.credits:
        assert line.corrects_invoice_id is not None
        by_invoice.setdefault(line.corrects_invoice_id, []).append(line)
    issued = 0
    for invoice_id, lines in sorted(by_invoice.items()):
        corrected = Invoice.objects.select_related("organisation", "customer").get(
            organisation=organisation, pk=invoice_id
        )
        try:
            with transaction.atomic():
                draft = create_credit_note(
                    invoice=corrected,
                    actor=actor,
                    lines=[_credit_input(line) for line in lines],
                )
                _mark_billed([line.adjustment_id for line in lines if line.adjustment_id], draft.pk)
                finalise_checked(
                    organisation=organisation,
                    invoices=[draft],
                    actor=actor,
                    issue_date=run_issue_date(organisation, as_of, "credit_note"),
                )
        except BusinessError as exc:
            result.failures += 1
            result.errors.append(f"{planned.customer.pk}: {exc.text()}")
            continue
        issued += 1
    return issued


def _credit_input(line: PreviewLine) -> LineInput:
    fields = line.fields
    return LineInput(
        description=fields["description"],
        quantity=fields["quantity"],
        unit_price=fields["unit_price"],
        tax_category=fields["tax_category"],
        unit=fields["unit"],
        product=fields["product"],
        period_start=fields["period_start"],
        period_end=fields["period_end"],
    )


class _InvoiceMail:
    """The invoice e-mail of ``send_invoice``, rendered once per language and payment offer with
    markers where each invoice's values go: a run queues thousands a second, which rendering
    each one (let alone its PDF) could not. The link in the body is the consultation page,
    which renders the PDF on demand."""

    NAMES = ("name", "number", "total", "due_date", "url")
    MARKER = re.compile("\ue000(\\w+)\ue001")

    def __init__(self, organisation: "Organisation") -> None:
        self.organisation = organisation
        self._parts: dict[tuple[str, bool], list[list[str]]] = {}
        self._money: dict[tuple[str, Decimal], str] = {}
        self._dates: dict[tuple[str, datetime.date], str] = {}

    def _template(self, language: str, online: bool) -> list[list[str]]:
        """Subject, text and HTML split at the markers: literal text at even places, names at odd."""
        key = (language, online)
        if key not in self._parts:
            m = {name: f"\ue000{name}\ue001" for name in self.NAMES}
            context = {
                "organisation": self.organisation,
                "customer": SimpleNamespace(name=m["name"]),
                "invoice": SimpleNamespace(number=m["number"], online_payment=online),
                "total": m["total"],
                "due_date": m["due_date"],
                "url": m["url"],
            }
            rendered = render_email("invoice_sent", context, language=language)
            self._parts[key] = [self.MARKER.split(text) for text in rendered]
        return self._parts[key]

    def render(self, invoice: Invoice, customer: Customer) -> tuple[str, str, str, str]:
        """Subject, text, HTML and link of this invoice's e-mail, as ``send_invoice`` writes them."""
        lang, country = customer.language, self.organisation.country
        money_key = (lang, invoice.total)
        if money_key not in self._money:
            self._money[money_key] = money_text(invoice.total, invoice.currency, lang=lang, country=country)
        assert invoice.due_date is not None
        date_key = (lang, invoice.due_date)
        if date_key not in self._dates:
            self._dates[date_key] = date_text(invoice.due_date, lang=lang, country=country)
        url = public_url(invoice)
        values = {
            "name": escape(customer.name),
            "number": escape(invoice.number),
            "total": escape(self._money[money_key]),
            "due_date": escape(self._dates[date_key]),
            "url": escape(url),
        }
        subject, body, html = (
            "".join(values[part] if odd else part for odd, part in zip(cycle((False, True)), parts))
            for parts in self._template(lang, invoice.online_payment)
        )
        return " ".join(subject.split())[:200], body, html, url


MESSAGE_COLUMNS = [
    "organisation_id",
    "channel",
    "kind",
    "to",
    "subject",
    "body",
    "html_body",
    "attachment_name",
    "attachment",
    "reference",
    "link",
    "status",
    "attempts",
    "error",
    "provider_id",
    "created_at",
    "sent_at",
    "updated_at",
]


def email_row(
    organisation: "Organisation",
    *,
    kind: str,
    to: str,
    subject: str,
    body: str,
    html: str,
    reference: str,
    link: str,
    now: datetime.datetime,
) -> tuple[object, ...]:
    """One queued e-mail, its values in ``MESSAGE_COLUMNS`` order, for ``queue_email_rows``."""
    queued = OutboundMessage.Status.QUEUED
    email = OutboundMessage.Channel.EMAIL
    return (
        organisation.pk,
        email,
        kind,
        to,
        subject,
        body,
        html,
        "",
        None,
        reference,
        link,
        queued,
        0,
        "",
        "",
        now,
        None,
        now,
    )


def queue_email_rows(rows: list[tuple[object, ...]]) -> None:
    """A run's e-mails, written at once in this transaction; the outbox delivers them after commit."""
    from ..tasks import deliver_run_messages

    ids = insert_rows(OutboundMessage, MESSAGE_COLUMNS, rows, ids=True)
    if ids:
        transaction.on_commit(lambda: deliver_run_messages.delay(ids))


def queue_invoice_emails(
    organisation: "Organisation", invoices: list[Invoice], recipients: Mapping[int, str] | None = None
) -> None:
    """Each new invoice's e-mail, in the outbox in this transaction; delivered after commit. It goes
    to the customer, or to the address ``recipients`` gives the invoice (a billing sub-contact)."""
    mail = _InvoiceMail(organisation)
    now = timezone.now()
    rows = []
    for invoice in invoices:
        to = (recipients or {}).get(invoice.pk) or invoice.customer.email
        if to:
            subject, body, html, url = mail.render(invoice, invoice.customer)
            rows.append(
                email_row(
                    organisation,
                    kind="invoice_sent",
                    to=to,
                    subject=subject,
                    body=body,
                    html=html,
                    reference=invoice.number,
                    link=url,
                    now=now,
                )
            )
    queue_email_rows(rows)
