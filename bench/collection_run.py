# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Charges per second of the collection run, with a provider that answers each call after 200 ms.

    uv run python bench/collection_run.py [N] [--concurrency C] [--latency-ms L] [--workers K]
    (default N = 2 000, C = the run's default, L = 200, K = 0; DATABASE_URL picks the database)

N open recurring invoices (one per customer with a default card, billed by the billing run of the
2nd: finalised through the real path, a billed period on each) are collected by one run of the 22nd,
through the payments app's batch path (the rules of ``pay_invoice``) and the sandbox set to sleep
L ms per charge as a real provider would (``PAYMENTS_SANDBOX_LATENCY_MS``), C calls in flight per
process. K = 0: in this process (eager
Celery), the e-mails each payment queues for staff left to the outbox's worker (kept in memory, as
``bench/payments.py`` does). K > 0: the chunks go to K real Celery worker processes on Redis
(``BENCH_REDIS_URL``, default database 9), which share the run. Checks one sandbox charge per
invoice, no invoice charged twice, every invoice paid, and a second run the same day charging
nothing. Prints the calls in flight it reached (in process), the ceiling
``ceiling_charges_per_s`` = C / L a second per process and the ratio to it; last line ``charges_per_s``.
"""

import argparse
import contextlib
import datetime
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

parser = argparse.ArgumentParser()
parser.add_argument("n", nargs="?", type=int, default=2000)
parser.add_argument("--concurrency", type=int, default=None)
parser.add_argument("--latency-ms", type=int, default=200)
parser.add_argument("--workers", type=int, default=0)
ARGS = parser.parse_args()
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
os.environ["PAYMENTS_SANDBOX_LATENCY_MS"] = str(ARGS.latency_ms)
if ARGS.workers:
    os.environ["REDIS_URL"] = REDIS_URL  # Celery leaves eager mode: the chunks go to the workers

import _setup  # noqa: F401, E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from acquitte.catalog.models import Product  # noqa: E402
from acquitte.customers.models import Address, Customer, Organisation, Site  # noqa: E402
from acquitte.invoicing.models import Invoice  # noqa: E402
from acquitte.notifications import tasks as outbox  # noqa: E402
from acquitte.payments import services as payments  # noqa: E402
from acquitte.payments.models import ChargeAttempt, PaymentMethod, SandboxCharge, SandboxToken  # noqa: E402
from acquitte.payments.providers import ChargeResult  # noqa: E402
from acquitte.payments.providers.sandbox import SandboxProvider  # noqa: E402
from acquitte.subscriptions import tasks as billing_tasks  # noqa: E402
from acquitte.subscriptions.models import BilledPeriod, BillingRun, CollectionAttempt, Subscription  # noqa: E402
from acquitte.subscriptions.services import CollectionSummary, collection, run_billing, run_collection  # noqa: E402
from tests import factories  # noqa: E402
from tests.factories import SYSTEM  # noqa: E402
from tests.subscriptions.live import celery_workers  # noqa: E402

STARTED = datetime.date(2026, 11, 1)
BILL_DAY = datetime.date(2026, 11, 2)
COLLECTION_DAY = datetime.date(2026, 11, 22)
BATCH = 5000
EXPIRY = f"12/{(datetime.date.today().year + 1) % 100:02d}"


def set_up(n: int) -> list[int]:
    """N customers with a default card and a monthly subscription each (written in bulk, the card
    saved once through the sandbox and copied), then billed by the billing run of 2 November: N open
    recurring invoices finalised through the real path. Returns the invoice ids."""
    org = factories.quebec_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    factories.staff(org, email=f"staff-{org.slug}@example.test")
    product = factories.product(org, sku="TEL-1", price="30.00", kind=Product.Kind.MONTHLY)
    place = {"city": "Montréal", "region": "QC", "postal_code": "H2X 2T3", "country": "CA"}
    card: PaymentMethod | None = None
    for start in range(0, n, BATCH):
        made = Customer.objects.bulk_create(
            Customer(
                organisation=org,
                number=f"B{k:07d}",
                name=f"Client {k:07d}",
                email=f"client{k}@example.test",
                currency=org.currency,
            )
            for k in range(start, min(start + BATCH, n))
        )
        Address.objects.bulk_create(
            Address(customer=c, line1=f"{c.number} rue Principale", is_default=True, **place) for c in made
        )
        sites = Site.objects.bulk_create(
            Site(customer=c, name="Siège", line1="1 rue du Port", **place) for c in made
        )
        if card is None:
            card = payments.add_card(
                customer=made[0],
                holder="Bench",
                number="4242424242424242",
                cvv="123",
                expiry=EXPIRY,
                actor=SYSTEM,
            )
        others = [c for c in made if c.pk != card.customer_id]
        tokens = [f"{card.token}_{c.pk}" for c in others]  # a token is one method: each its own
        SandboxToken.objects.bulk_create(
            SandboxToken(token=t, behaviour="succeed", kind=card.kind) for t in tokens
        )
        PaymentMethod.objects.bulk_create(
            PaymentMethod(
                organisation=org,
                customer=c,
                kind=card.kind,
                scheme=card.scheme,
                provider=card.provider,
                token=token,
                holder=card.holder,
                last4=card.last4,
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                is_default=True,
            )
            for c, token in zip(others, tokens, strict=True)
        )
        Subscription.objects.bulk_create(
            Subscription(
                organisation=org,
                customer=c,
                site=site,
                product=product,
                description=product.name,
                quantity=Decimal(1),
                unit_price=product.unit_price,
                period=Subscription.Period.MONTHLY,
                started_on=STARTED,
            )
            for c, site in zip(made, sites, strict=True)
        )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    billing_tasks.deliver_run_messages.delay = lambda ids: None  # the invoices' e-mails: not measured
    billed = run_billing(organisation=org, as_of=BILL_DAY, actor=SYSTEM)
    assert billed.invoices == n and billed.failures == 0, billed
    return list(BilledPeriod.objects.filter(organisation=org).values_list("invoice_id", flat=True))


def collect(organisation: Organisation, n: int, concurrency: int) -> tuple[CollectionSummary, float]:
    """One collection run of the 22nd and its duration, to the last chunk counted in."""
    started = time.perf_counter()
    summary = run_collection(
        organisation=organisation,
        as_of=COLLECTION_DAY,
        actor=SYSTEM,
        concurrency=concurrency,
        chunk_size=max(1, n // (ARGS.workers * 4)) if ARGS.workers else collection.CHUNK_SIZE,
    )
    run = summary.run
    assert run is not None
    while run.finished_at is None:  # the workers' chunks
        time.sleep(0.05)
        run.refresh_from_db()
    elapsed = time.perf_counter() - started
    assert run.status == BillingRun.Status.SUCCEEDED, run.errors
    summary.invoices, summary.charges, summary.failures = run.invoices, run.charges, run.failures
    summary.total = run.total
    return summary, elapsed


class InFlight:
    """Counts the sandbox charges under way in this process: the peak, and how long each took."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.seconds: list[float] = []
        self.charge = SandboxProvider.charge

    def install(self) -> None:
        def counted(provider: SandboxProvider, **kwargs: Any) -> ChargeResult:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            started = time.perf_counter()
            try:
                return self.charge(provider, **kwargs)
            finally:
                with self.lock:
                    self.now -= 1
                    self.seconds.append(time.perf_counter() - started)

        SandboxProvider.charge = counted  # type: ignore[method-assign]


def main() -> None:
    n = ARGS.n
    concurrency = ARGS.concurrency or collection.DEFAULT_CONCURRENCY
    call_command("migrate", verbosity=0)
    print(
        f"database: {connection.vendor}; sandbox latency {settings.PAYMENTS_SANDBOX_LATENCY_MS} ms; "
        f"concurrency {concurrency}; workers {ARGS.workers or 'none (in process)'}; "
        f"preparing {n} open recurring invoices…",
        flush=True,
    )
    with contextlib.ExitStack() as stack:
        if ARGS.workers:
            var_dir = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            names = [f"collect{k}" for k in range(ARGS.workers)]
            stack.enter_context(celery_workers(names, var_dir, redis_url=REDIS_URL))
        else:
            queued: list[int] = []
            outbox.deliver_message.delay = queued.append  # the outbox's broker, in memory
        started = time.perf_counter()
        invoice_ids = set(set_up(n))
        organisation = Invoice.objects.get(pk=min(invoice_ids)).organisation
        print(f"set-up: {time.perf_counter() - started:.1f} s", flush=True)
        flight = InFlight()
        flight.install()
        cpu = time.process_time()
        summary, elapsed = collect(organisation, n, concurrency)
        cpu = time.process_time() - cpu
        again, again_seconds = collect(organisation, n, concurrency)

    keys = SandboxCharge.objects.filter(idempotency_key__startswith="collect-").values_list(
        "idempotency_key", flat=True
    )
    per_invoice = Counter(int(key.split("-")[1]) for key in keys if int(key.split("-")[1]) in invoice_ids)
    attempts = Counter(
        ChargeAttempt.objects.filter(organisation=organisation).values_list("payment__invoice_id", flat=True)
    )
    assert summary.charges == n and summary.failures == 0, (summary.charges, summary.failures)
    assert sum(per_invoice.values()) == n and set(per_invoice) == set(invoice_ids), "one charge per invoice"
    assert max(per_invoice.values()) == 1 and max(attempts.values()) == 1, "an invoice charged twice"
    assert CollectionAttempt.objects.filter(invoice_id__in=invoice_ids).count() == n
    assert Invoice.objects.filter(pk__in=invoice_ids, status=Invoice.Status.PAID).count() == n
    assert again.charges == 0 and again.invoices == 0
    print(f"charged {n} invoices once each in {elapsed:.2f} s (second run: {again_seconds:.2f} s, nothing)")
    print(f"total: {summary.total}")
    # Each call lasts at least the latency, so C calls in flight per process make at most
    # C / latency charges a second (N / (N / C × latency)), times the worker processes sharing the run.
    latency = settings.PAYMENTS_SANDBOX_LATENCY_MS / 1000
    ceiling = concurrency * max(ARGS.workers, 1) / latency if latency else 0
    if not ARGS.workers:  # the calls are made in this process: counted here
        calls = sorted(flight.seconds)
        print(
            f"calls_in_flight_peak: {flight.peak}; call ms median {1000 * calls[len(calls) // 2]:.0f}, "
            f"p95 {1000 * calls[int(len(calls) * 0.95)]:.0f}; "
            f"process CPU {1000 * cpu / n:.1f} ms per charge"
        )
    if ceiling:
        print(f"ceiling_charges_per_s: {ceiling:.0f} (ratio {n / elapsed / ceiling:.2f})")
    print(f"charges_per_s: {n / elapsed:.0f}")


if __name__ == "__main__":
    main()
