"""The collection run (seed 001): on the collection day, the 22nd by default ("20 days to review the
invoice"), each customer's open recurring invoices are charged to their default method.

One attempt per invoice per collection day, by construction: the ``CollectionAttempt`` row, unique on
(invoice, collection date), is inserted and committed before the provider is called, so a second run
of the day, or a run racing this one, finds the row taken and calls nothing. A claim not answered
yet is a PENDING row without a payment; a direct debit still settling is a PENDING row with its
payment. The charge goes through ``pay_invoice`` with a key derived from the invoice and the date,
which commits its own attempt before the call: a claim left unanswered by a crash is taken up again
after ``selectors.STALE_CLAIM`` with the same key, and a charge already made is found, never made twice.

A provider answers in a round trip, and customers are independent: a pool of threads keeps
``concurrency`` calls in flight, each thread on one customer at a time (a customer's invoices one
after another, since a payment settles and locks that customer's invoices), each with its own
database connection, closed when the thread ends. SQLite locks the whole database for each write,
and a caller's open transaction is invisible to other connections: in either case the charges are
made one at a time in the calling thread.
"""

import datetime
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person, actor_label
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.money import ZERO
from acquitte.core.tenancy import check_can_write
from acquitte.documents.services import date_text, money_text, public_url
from acquitte.invoicing.models import Invoice
from acquitte.notifications.services import notify_staff, queue_email
from acquitte.payments.models import Payment, PaymentMethod
from acquitte.payments.services import pay_invoice

from ..models import BillingRun, CollectionAttempt
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
#: Provider calls in flight at once (PostgreSQL); a real provider answers in a few hundred ms.
DEFAULT_CONCURRENCY = 20

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
    default method are told, and the others' invoices are charged, ``concurrency`` calls at a time.
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
        by_customer: dict[int, list[_Claim]] = {}
        for claim in charged:
            by_customer.setdefault(claim.customer_id, []).append(claim)
        work = [(methods[customer_id], group) for customer_id, group in by_customer.items()]
        _run_pool(work, collection_date, actor, result, concurrency, progress)
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

    CollectionAttempt.objects.bulk_create(
        [
            CollectionAttempt(
                organisation=organisation,
                invoice_id=pk,
                collection_date=collection_date,
                outcome=first_outcome(pk, customer_id),
                message=_("Virement ou chèque déclaré.") if pk in declared else "",
                run=run,
            )
            for pk, customer_id in invoices
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    # One UPDATE takes each claim cut short: a racing run's UPDATE finds it fresh and leaves it.
    stale_claims(organisation, collection_date).filter(invoice__customer_id__in=customer_ids).update(
        run=run, created_at=timezone.now()
    )
    ours = CollectionAttempt.objects.filter(
        run=run, collection_date=collection_date, invoice__customer_id__in=customer_ids, payment__isnull=True
    ).exclude(outcome=_Outcome.SKIPPED)
    rows = ours.values_list("pk", "invoice_id", "invoice__customer_id", "outcome").order_by(
        "invoice__customer_id", "invoice__due_date", "invoice_id"
    )
    claims = [
        _Claim(pk=pk, invoice_id=invoice_id, customer_id=customer_id, outcome=_Outcome(outcome))
        for pk, invoice_id, customer_id, outcome in rows
    ]
    return claims, methods


def _run_pool(
    work: list[tuple[PaymentMethod, list[_Claim]]],
    collection_date: datetime.date,
    actor: Actor,
    result: ChunkResult,
    concurrency: int,
    progress: Progress | None,
) -> None:
    """Each customer's charges, ``concurrency`` customers at a time, each thread on its own connection."""
    lock = threading.Lock()
    done = [0]

    def collect(method: PaymentMethod, claims: list[_Claim]) -> None:
        outcome = _collect_customer(method, claims, collection_date, actor)
        with lock:
            result.charges += outcome.charges
            result.total += outcome.total
            result.failures += outcome.failures
            result.errors.extend(outcome.errors)
            done[0] += 1
            if progress is not None:
                progress(done[0], len(work))

    if concurrency <= 1 or len(work) <= 1 or connection.vendor == "sqlite" or connection.in_atomic_block:
        for method, claims in work:
            collect(method, claims)
        return
    queue: SimpleQueue[tuple[PaymentMethod, list[_Claim]]] = SimpleQueue()
    for item in work:
        queue.put(item)
    failed: list[BaseException] = []

    def worker() -> None:
        try:
            while True:
                try:
                    method, claims = queue.get_nowait()
                except Empty:
                    return
                collect(method, claims)
        except BaseException as error:  # surfaced in the calling thread below
            failed.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(min(concurrency, len(work)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failed:
        raise failed[0]


def _collect_customer(
    method: PaymentMethod, claims: list[_Claim], collection_date: datetime.date, actor: Actor
) -> ChunkResult:
    """Charge one customer's claimed invoices one after another, record each outcome, and tell the
    customer of the declined ones (staff hear of each failure from the payment's outcome)."""
    done = ChunkResult()
    answered: list[CollectionAttempt] = []
    declined: list[Invoice] = []
    reason = ""
    for claim in claims:
        invoice = Invoice.objects.select_related("customer__organisation", "organisation").get(
            pk=claim.invoice_id
        )
        attempt = CollectionAttempt(pk=claim.pk, outcome=_Outcome.PENDING, payment=None, message="")
        try:
            payment = pay_invoice(
                invoice=invoice,
                payment_method=method,
                idempotency_key=collection_key(invoice.pk, collection_date),
                actor=actor,
            )
        except BusinessError as error:  # refused before any call (paid meanwhile, a payment in flight)
            attempt.outcome, attempt.message = _Outcome.FAILED, error.text()[:255]
        except Exception:  # the call's outcome is unknown: the claim stays open, taken up later by key
            logger.exception("collection of invoice %s on %s", invoice.pk, collection_date)
            done.failures += 1
            done.errors.append(
                f"{invoice.number}: {_('réponse du prestataire inconnue, reprise plus tard.')}"
            )
            continue
        else:
            attempt.payment = payment
            if payment.status in (Payment.Status.FAILED, Payment.Status.CANCELED):
                attempt.outcome, attempt.message = _Outcome.FAILED, payment.failure_message[:255]
                declined.append(invoice)
                reason = payment.failure_message
            else:
                pending = payment.status in (Payment.Status.PROCESSING, Payment.Status.PENDING)
                attempt.outcome = _Outcome.PENDING if pending else _Outcome.CHARGED
                done.charges += 1
                done.total += payment.amount
        if attempt.outcome == _Outcome.FAILED:
            done.failures += 1
            done.errors.append(f"{invoice.number}: {attempt.message}")
        answered.append(attempt)
    with transaction.atomic():
        CollectionAttempt.objects.bulk_update(answered, ["outcome", "payment", "message"])
        if declined:
            _tell_declined(declined, reason, collection_date, actor)
    return done


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
