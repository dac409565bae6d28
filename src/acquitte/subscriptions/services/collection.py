"""The collection run (seed 001): on the collection day, the 22nd by default ("20 days to review the
invoice"), each customer's open recurring invoices are charged to their default method.

One attempt per invoice per collection day, by construction: the ``CollectionAttempt`` row, unique on
(invoice, collection date), is inserted and committed before the provider is called, so a second run
of the day, or a run racing this one, finds the row taken and calls nothing. A claim not answered
yet is a PENDING row without a payment; a direct debit still settling is a PENDING row with its
payment.

A chunk of customers goes through the payments app's batch path (``payments.services.batch``), with
the rules of ``pay_invoice``: the chunk's charges are committed in one transaction, each attempt with
a key derived from the invoice and the date, before any call; the calls are made with no database
work of ours; the answers are applied set-based, a batch of customers per transaction, while the
other calls go on. A claim left unanswered by a crash is taken up again after
``selectors.STALE_CLAIM`` with the same key: a charge already made is found, never made twice, and
reconciliation asks the provider about one left in doubt.

A provider answers in a round trip, and customers are independent: a pool of threads keeps
``concurrency`` calls in flight, each thread on one customer at a time (a customer's invoices one
after another, in due order, so the customer hears of their declined ones in one e-mail). SQLite
locks the whole database for each write, and a caller's open transaction is invisible to other
connections: in either case the calls are made one at a time in the calling thread.
"""

import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person, actor_label
from acquitte.core.bulk import update_rows
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.money import ZERO
from acquitte.core.tenancy import check_can_write
from acquitte.documents.services import date_text, money_text, public_url
from acquitte.invoicing.models import Invoice
from acquitte.notifications.services import notify_staff, queue_email
from acquitte.payments.models import Payment, PaymentMethod
from acquitte.payments.providers import ChargeResult
from acquitte.payments.services import (
    Call,
    ChargeRequest,
    OpenedCharges,
    apply_charge_results,
    open_charges,
)

from ..models import BillingRun, CollectionAttempt
from ..renewal_selectors import chargeable_invoices
from ..selectors import (
    billing_settings,
    collectable_invoices,
    customers_to_collect,
    declared_invoice_ids,
    default_methods,
    last_collection_date,
    stale_claims,
)
from .runs import count_chunk, open_run

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation

logger = logging.getLogger(__name__)

#: Customers per chunk: one Celery task, one claim transaction.
CHUNK_SIZE = 500
#: Provider calls in flight at once (PostgreSQL). A provider answers in a few hundred ms, so C calls
#: in flight make at most C / latency charges a second: 40 at 200 ms, 200/s, of which one process
#: reaches some 150 (bench/collection_run.py); 20 would cap it at 100.
DEFAULT_CONCURRENCY = 40
#: Invoices whose answers are applied in one transaction, while the other calls go on.
APPLY_BATCH = 50

_Outcome = CollectionAttempt.Outcome
Progress = Callable[[int, int], None]


@dataclass
class CollectionSummary:
    """What a collection run did (the billing run's ``RunSummary`` fields, with the charges made)."""

    run: BillingRun | None
    customers: int = 0
    invoices: int = 0
    charges: int = 0
    total: Decimal = ZERO
    failures: int = 0
    seconds: float = 0.0


@dataclass
class ChunkResult:
    """One chunk of customers collected: invoices attempted, charges made (a debit settling
    included), their total, and the failures (declined, refused, no method) with their reasons."""

    customers: int = 0
    invoices: int = 0
    charges: int = 0
    total: Decimal = ZERO
    failures: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Claim:
    pk: int
    invoice_id: int
    customer_id: int
    outcome: CollectionAttempt.Outcome


def collection_key(invoice_id: int, collection_date: datetime.date) -> str:
    """The idempotency key of an invoice's charge on one collection day."""
    return f"collect-{invoice_id}-{collection_date.isoformat()}"


def run_collection(
    *,
    organisation: "Organisation",
    as_of: datetime.date,
    actor: Actor,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> CollectionSummary:
    """Collect the latest collection day on or before ``as_of``, recorded as a run of chunks.

    With a broker, each chunk is a Celery task (``collect_chunk``) and the run's record fills in as
    workers finish; without one, the chunks are collected here, ``progress(customers done, total)``
    called as each customer is done.
    """
    check_can_write(actor, organisation)
    started = time.perf_counter()
    day = last_collection_date(as_of, billing_settings(organisation).collection_day)
    customer_ids = customers_to_collect(organisation, day)
    chunks = [customer_ids[i : i + chunk_size] for i in range(0, len(customer_ids), max(chunk_size, 1))]
    run = open_run(
        organisation=organisation,
        kind=BillingRun.Kind.COLLECTION,
        run_date=day,
        chunks_total=len(chunks),
        actor=actor,
    )
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        from ..tasks import collect_chunk  # the tasks call the services; only this dispatch goes back

        for chunk in chunks:
            transaction.on_commit(
                partial(
                    collect_chunk.delay,
                    run_id=run.pk,
                    customer_ids=chunk,
                    concurrency=concurrency,
                    user_id=actor.pk if isinstance(actor, Person) else None,
                    reason=actor_label(actor),
                )
            )
        return CollectionSummary(run=run, seconds=time.perf_counter() - started)
    summary = CollectionSummary(run=run)
    done = 0
    for chunk in chunks:
        before = done

        def chunk_progress(n: int, _total: int, before: int = before) -> None:
            if progress is not None:
                progress(before + n, len(customer_ids))

        result = collect_customers(
            organisation=organisation,
            customer_ids=chunk,
            collection_date=day,
            actor=actor,
            run=run,
            concurrency=concurrency,
            progress=chunk_progress,
        )
        done += len(chunk)
        summary.customers += result.customers
        summary.invoices += result.invoices
        summary.charges += result.charges
        summary.total += result.total
        summary.failures += result.failures
    run.refresh_from_db()
    summary.seconds = time.perf_counter() - started
    return summary


def collect_customers(
    *,
    organisation: "Organisation",
    customer_ids: list[int],
    collection_date: datetime.date,
    actor: Actor,
    run: BillingRun,
    concurrency: int = DEFAULT_CONCURRENCY,
    progress: Progress | None = None,
) -> ChunkResult:
    """Collect one chunk of customers for ``collection_date`` and count it into ``run``.

    The chunk's claims are committed first, in one transaction; then the customers without a
    default method are told; then the others' charges are committed in one transaction, the
    provider calls made ``concurrency`` at a time, and the answers applied in batches as they come.
    """
    check_can_write(actor, organisation)
    if run.organisation_id != organisation.pk or run.kind != BillingRun.Kind.COLLECTION:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    result = ChunkResult()
    try:
        claims, methods = _claim(organisation, customer_ids, collection_date, run)
        result.customers = len({c.customer_id for c in claims})
        result.invoices = len(claims)
        _tell_no_method(organisation, claims, methods, collection_date, actor, result)
        charged = [c for c in claims if c.customer_id in methods and c.outcome == _Outcome.PENDING]
        if charged:
            by_invoice = {c.invoice_id: methods[c.customer_id] for c in charged}
            _charge(organisation, charged, by_invoice, collection_date, actor, result, concurrency, progress)
    except Exception as error:
        count_chunk(run=run, actor=actor, failures=1, errors=[f"{type(error).__name__}: {error}"])
        raise
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


@transaction.atomic
def _claim(
    organisation: "Organisation", customer_ids: list[int], collection_date: datetime.date, run: BillingRun
) -> tuple[list[_Claim], dict[int, PaymentMethod]]:
    """Insert the day's attempt of each invoice of these customers, or take up one cut short; what
    another run holds stays its own. Returns this run's claims still to answer or tell, and the
    customers' default methods."""
    invoices = list(
        collectable_invoices(organisation, collection_date)
        .filter(customer_id__in=customer_ids)
        .order_by("pk")  # racing runs insert in one order: they wait on each other, never deadlock
        .values_list("pk", "customer_id")
    )
    declared = declared_invoice_ids([pk for pk, _customer in invoices])
    methods = default_methods(organisation, customer_ids)

    def first_outcome(invoice_id: int, customer_id: int) -> CollectionAttempt.Outcome:
        if invoice_id in declared:
            return _Outcome.SKIPPED
        return _Outcome.PENDING if customer_id in methods else _Outcome.NO_METHOD

    claims = _take_claims(
        organisation,
        [(pk, first_outcome(pk, customer_id), pk in declared) for pk, customer_id in invoices],
        collection_date,
        run,
        Q(invoice__customer_id__in=customer_ids),
    )
    return claims, methods


def _take_claims(
    organisation: "Organisation",
    invoices: list[tuple[int, CollectionAttempt.Outcome, bool]],
    collection_date: datetime.date,
    run: BillingRun,
    scope: Q,
) -> list[_Claim]:
    """Insert the day's attempt of each (invoice, first outcome, transfer declared), take up the
    claims of ``scope`` cut short, and return this run's claims of ``scope`` still to answer."""
    CollectionAttempt.objects.bulk_create(
        [
            CollectionAttempt(
                organisation=organisation,
                invoice_id=pk,
                collection_date=collection_date,
                outcome=outcome,
                message=_("Virement ou chèque déclaré.") if declared else "",
                run=run,
            )
            for pk, outcome, declared in invoices
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    # One UPDATE takes each claim cut short: a racing run's UPDATE finds it fresh and leaves it.
    stale_claims(organisation, collection_date).filter(scope).update(run=run, created_at=timezone.now())
    ours = (
        CollectionAttempt.objects.filter(run=run, collection_date=collection_date, payment__isnull=True)
        .filter(scope)
        .exclude(outcome=_Outcome.SKIPPED)
    )
    rows = ours.values_list("pk", "invoice_id", "invoice__customer_id", "outcome").order_by(
        "invoice__customer_id", "invoice__due_date", "invoice_id"
    )
    return [
        _Claim(pk=pk, invoice_id=invoice_id, customer_id=customer_id, outcome=_Outcome(outcome))
        for pk, invoice_id, customer_id, outcome in rows
    ]


def charge_invoices(
    *,
    organisation: "Organisation",
    methods: Mapping[int, PaymentMethod],
    collection_date: datetime.date,
    actor: Actor,
    run: BillingRun,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> ChunkResult:
    """Charge each invoice of ``methods`` to its own method (a service's chosen card, not the
    customer's default), with the rules of ``collect_customers``: one attempt per invoice and
    collection day (``CollectionAttempt``), committed before the calls, the same keys, the calls
    outside any transaction, a declared transfer skipped. The caller counts the result into ``run``."""
    check_can_write(actor, organisation)
    if run.organisation_id != organisation.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    result = ChunkResult()
    with transaction.atomic():
        invoices = list(
            chargeable_invoices(organisation, list(methods)).order_by("pk").values_list("pk", flat=True)
        )
        declared = declared_invoice_ids(invoices)
        claims = _take_claims(
            organisation,
            [
                (pk, _Outcome.SKIPPED if pk in declared else _Outcome.PENDING, pk in declared)
                for pk in invoices
            ],
            collection_date,
            run,
            Q(invoice_id__in=list(methods)),
        )
    claims = [claim for claim in claims if claim.outcome == _Outcome.PENDING]
    result.customers = len({c.customer_id for c in claims})
    result.invoices = len(claims)
    if claims:
        charged = {claim.invoice_id: methods[claim.invoice_id] for claim in claims}
        _charge(organisation, claims, charged, collection_date, actor, result, concurrency, None)
    return result


def _charge(
    organisation: "Organisation",
    claims: list[_Claim],
    methods: dict[int, PaymentMethod],
    collection_date: datetime.date,
    actor: Actor,
    result: ChunkResult,
    concurrency: int,
    progress: Progress | None,
) -> None:
    """Commit the claims' charges (each to its invoice's method in ``methods``), call the providers,
    and record each customer's outcomes in batches of about ``APPLY_BATCH`` invoices as they come in."""
    opened = open_charges(
        organisation=organisation,
        requests=[
            ChargeRequest(
                invoice_id=claim.invoice_id,
                method=methods[claim.invoice_id],
                idempotency_key=collection_key(claim.invoice_id, collection_date),
            )
            for claim in claims
        ],
        actor=actor,
    )
    by_customer: dict[int, list[tuple[_Claim, Call | None]]] = {}
    for claim in claims:
        by_customer.setdefault(claim.customer_id, []).append((claim, opened.calls.get(claim.invoice_id)))
    batch: list[list[_Answer]] = []
    done = 0
    for answers in _calls(list(by_customer.values()), concurrency):
        batch.append(answers)
        if sum(len(group) for group in batch) >= APPLY_BATCH:
            _record(organisation, batch, opened, collection_date, actor, result)
            done += len(batch)
            batch = []
            if progress is not None:
                progress(done, len(by_customer))
    if batch:
        _record(organisation, batch, opened, collection_date, actor, result)
        if progress is not None:
            progress(done + len(batch), len(by_customer))


#: What became of one claim's call: the provider's answer, the error of a call whose outcome is
#: unknown, or None when no call was made (refused, or a charge already made with the key).
_Answer = tuple[_Claim, ChargeResult | Exception | None]


def _calls(work: list[list[tuple[_Claim, Call | None]]], concurrency: int) -> Iterator[list[_Answer]]:
    """Make each customer's calls (a customer's invoices one after another, in due order), and yield
    each customer's answers as they come. Threads keep ``concurrency`` customers in flight; a call
    touches no row of ours, and the sandbox's own ledger gets each thread's own connection, closed
    when the thread ends. SQLite locks the whole database for each write, and a caller's open
    transaction is invisible to other connections: in either case the calls are made here, in turn."""
    if concurrency <= 1 or len(work) <= 1 or connection.vendor == "sqlite" or connection.in_atomic_block:
        for items in work:
            yield [_call(claim, call) for claim, call in items]
        return
    todo: SimpleQueue[list[tuple[_Claim, Call | None]]] = SimpleQueue()
    for items in work:
        todo.put(items)
    answers: SimpleQueue[list[_Answer] | None] = SimpleQueue()
    stop = threading.Event()

    def worker() -> None:
        try:
            while not stop.is_set():
                try:
                    items = todo.get_nowait()
                except Empty:
                    return
                answers.put([_call(claim, call) for claim, call in items])
        finally:
            connection.close()
            answers.put(None)

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(concurrency, len(work)))]
    for thread in threads:
        thread.start()
    try:
        running = len(threads)
        while running:
            got = answers.get()
            if got is None:
                running -= 1
            else:
                yield got
    finally:  # the caller failed to record a batch: the threads finish their customer and stop
        stop.set()
        for thread in threads:
            thread.join()


def _call(claim: _Claim, call: Call | None) -> _Answer:
    if call is None:
        return claim, None
    try:
        return claim, call()
    except Exception as error:  # the outcome is unknown: the attempt stays open, settled by its key
        logger.exception("collection of invoice %s", claim.invoice_id)
        return claim, error


def _record(
    organisation: "Organisation",
    batch: list[list[_Answer]],
    opened: OpenedCharges,
    collection_date: datetime.date,
    actor: Actor,
    result: ChunkResult,
) -> None:
    """Apply a batch of customers' answers and record each claim's outcome, in one transaction, and
    tell each customer of their declined invoices (staff hear of each failure from the payment's
    outcome). A claim whose call failed stays open: a later run takes it up with its key."""
    answers = [answer for group in batch for answer in group]
    results = {
        opened.calls[claim.invoice_id].attempt_id: reply
        for claim, reply in answers
        if isinstance(reply, ChargeResult)
    }
    with transaction.atomic():
        applied = (
            apply_charge_results(organisation=organisation, results=results, actor=actor) if results else {}
        )
        outcomes: list[tuple[_Claim, Payment | None, str]] = []
        for claim, reply in answers:
            refused = opened.refused.get(claim.invoice_id)
            call = opened.calls.get(claim.invoice_id)
            if isinstance(reply, Exception):
                outcomes.append((claim, None, ""))
            elif refused is not None:
                outcomes.append((claim, None, refused.text()[:255]))
            elif call is not None:
                outcomes.append((claim, applied[call.attempt_id], ""))
            else:
                outcomes.append((claim, opened.payments[claim.invoice_id], ""))
        unpaid = [c.invoice_id for c, payment, _m in outcomes if payment is None or _declined(payment)]
        invoices = Invoice.objects.select_related("customer__organisation").in_bulk(unpaid)
        rows: list[CollectionAttempt] = []
        declined: dict[int, list[Invoice]] = {}
        reasons: dict[int, str] = {}
        for claim, payment, message in outcomes:
            if payment is None and not message:
                result.failures += 1
                result.errors.append(
                    f"{invoices[claim.invoice_id].number}: "
                    + _("réponse du prestataire inconnue, reprise plus tard.")
                )
                continue
            row = CollectionAttempt(pk=claim.pk, outcome=_Outcome.FAILED, payment=payment, message=message)
            if payment is not None and _declined(payment):
                row.message = payment.failure_message[:255]
                declined.setdefault(claim.customer_id, []).append(invoices[claim.invoice_id])
                reasons[claim.customer_id] = payment.failure_message
            elif payment is not None:
                pending = payment.status in (Payment.Status.PROCESSING, Payment.Status.PENDING)
                row.outcome = _Outcome.PENDING if pending else _Outcome.CHARGED
                result.charges += 1
                result.total += payment.amount
            if row.outcome == _Outcome.FAILED:
                result.failures += 1
                result.errors.append(f"{invoices[claim.invoice_id].number}: {row.message}")
            rows.append(row)
        update_rows(rows, ["outcome", "payment", "message"])
        for customer_id, group in declined.items():
            _tell_declined(group, reasons[customer_id], collection_date, actor)


def _declined(payment: Payment) -> bool:
    return payment.status in (Payment.Status.FAILED, Payment.Status.CANCELED)


def _tell_no_method(
    organisation: "Organisation",
    claims: list[_Claim],
    methods: dict[int, PaymentMethod],
    collection_date: datetime.date,
    actor: Actor,
    result: ChunkResult,
) -> None:
    """Each customer without a default method: told by e-mail with where to add one, staff notified;
    nothing is charged."""
    missing = [c for c in claims if c.customer_id not in methods]
    if not missing:
        return
    CollectionAttempt.objects.filter(pk__in=[c.pk for c in missing]).update(outcome=_Outcome.NO_METHOD)
    invoices: dict[int, list[Invoice]] = {}
    for invoice in Invoice.objects.filter(pk__in=[c.invoice_id for c in missing]).select_related(
        "customer__organisation"
    ):
        invoices.setdefault(invoice.customer_id, []).append(invoice)
    for group in invoices.values():
        customer = group[0].customer
        result.failures += len(group)
        result.errors.append(
            _("%(customer)s : aucun moyen de paiement par défaut.") % {"customer": customer.name}
        )
        with transaction.atomic():
            with translation.override(customer.language):
                values = _values(customer, group, collection_date)
                _email_customer(
                    customer,
                    actor,
                    kind="collection_no_method",
                    subject=_("Ajoutez un moyen de paiement pour le prélèvement du %(date)s") % values,
                    intro=_(
                        "Nous n'avons pas pu prélever %(amount)s le %(date)s : aucune carte de crédit ni "
                        "aucun prélèvement automatique n'est enregistré par défaut sur votre compte."
                    )
                    % values,
                    invoices=group,
                )
            values = _values(customer, group, collection_date)
            notify_staff(
                organisation=organisation,
                actor=actor,
                kind="collection_no_method",
                subject=_("Prélèvement impossible : %(customer)s n'a aucun moyen de paiement par défaut")
                % {"customer": customer.name},
                body=_("%(amount)s non prélevés le %(date)s.") % values,
                link=reverse("backoffice:customer_detail", args=[customer.pk]),
            )


def _tell_declined(
    invoices: list[Invoice], reason: str, collection_date: datetime.date, actor: Actor
) -> None:
    """The customer's e-mail of a declined collection (staff hear of it from the payment's outcome)."""
    customer = invoices[0].customer
    with translation.override(customer.language):
        values = {**_values(customer, invoices, collection_date), "reason": reason}
        _email_customer(
            customer,
            actor,
            kind="collection_failed",
            subject=_("Le prélèvement du %(date)s a échoué") % values,
            intro=_("Le prélèvement de %(amount)s du %(date)s a été refusé : %(reason)s") % values,
            invoices=invoices,
        )


def _values(customer: "Customer", invoices: list[Invoice], collection_date: datetime.date) -> dict[str, str]:
    """The amount still due on ``invoices`` and the collection date, written the customer's way."""
    return {
        "amount": _money(sum((inv.amount_due for inv in invoices), ZERO), customer),
        "date": date_text(collection_date, lang=customer.language, country=customer.organisation.country),
    }


def _email_customer(
    customer: "Customer", actor: Actor, *, kind: str, subject: str, intro: str, invoices: list[Invoice]
) -> None:
    """An e-mail in the customer's language (the caller set it): what happened, each invoice with the
    link to pay it online, and where to add or choose the default method."""
    if not customer.email:
        return
    billing = settings.PUBLIC_BASE_URL.rstrip("/") + reverse("portal:billing")
    lines = [
        f"- {invoice.number} : {_money(invoice.amount_due, customer)} — {public_url(invoice)}"
        for invoice in invoices
    ]
    body = "\n\n".join(
        [
            _("Bonjour,"),
            intro,
            "\n".join([_("Factures concernées :"), *lines]),
            _("Ajoutez ou choisissez votre moyen de paiement par défaut dans votre espace client : %(url)s")
            % {"url": billing},
            customer.organisation.name,
        ]
    )
    queue_email(
        organisation=customer.organisation,
        actor=actor,
        to=customer.email,
        kind=kind,
        subject=subject,
        body=body,
        reference=invoices[0].number,
        link=billing,
    )


def _money(amount: Decimal, customer: "Customer") -> str:
    organisation = customer.organisation
    return money_text(amount, organisation.currency, lang=customer.language, country=organisation.country)
