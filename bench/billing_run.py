# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Bill N monthly subscriptions over N/3 customers in one billing run and print its rates.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<db> uv run python bench/billing_run.py [N]
    REDIS_URL=redis://127.0.0.1:6379/<n> DATABASE_URL=… uv run python bench/billing_run.py [N] --workers 2

N defaults to 30 000. The data is written in bulk (not timed): N/3 customers with a billing
address and two sites, three monthly subscriptions each, started on 1 February 2026; the run of
2 February bills each customer one invoice of three lines, one worker, in process (eager Celery),
every rule kept (locked chunk, billed periods, gapless numbers, frozen taxes and bill-to, ledger,
audit, the e-mail queued in the outbox). Delivering the e-mails is the outbox's work after commit
and is not timed here. Then an immediate second run (which must add nothing), then a PostgreSQL
COPY of the same invoice and line rows into temporary tables shaped like ours, in the same
process, as the ceiling: ``copy_ratio`` is our invoices/s over COPY's; ``copy_all_rows_ratio`` is the
same against a COPY of every row the run writes (taxes, ledger, billed periods, audit, e-mails).

With ``--workers W`` (and ``REDIS_URL`` set, a Redis database of its own: it is emptied), the
chunks go to W Celery worker processes started here (``tests/subscriptions/live.py``) on the
default queue and stopped at the end, and one more worker on the ``outbox`` queue delivers the
e-mails, meanwhile, to an in-memory backend: the deployment the README recommends at that size.
Peak RSS is then this process's, not the workers'.
"""

import datetime
import resource
import tempfile
import time
import uuid
from decimal import Decimal

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection

from acquitte.catalog.models import Product
from acquitte.core.actors import System
from acquitte.customers.models import Address, Customer, Site
from acquitte.core.models import AuditAction, AuditLog
from acquitte.invoicing.models import Invoice, InvoiceLine, InvoiceTax, LedgerEntry
from acquitte.notifications.models import OutboundMessage
from acquitte.subscriptions import tasks
from acquitte.subscriptions.models import BilledPeriod, Subscription
from acquitte.subscriptions.services import run_billing
from tests import factories
from _workers import parse_args, workers_for

ACTOR = System(reason="billing_run")
STARTED = datetime.date(2026, 2, 1)
AS_OF = datetime.date(2026, 2, 2)
#: sku, monthly price, quantity, which of the two sites
PLAN = [("TEL-1", "31.00", "1", 0), ("INT-1", "59.99", "2", 0), ("SAUV-1", "12.35", "1", 1)]
BATCH = 5000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(n: int):  # type: ignore[no-untyped-def]
    org = factories.quebec_organisation(f"bench-{uuid.uuid4().hex[:8]}")
    products = [
        factories.product(org, sku=sku, price=price, kind=Product.Kind.MONTHLY, name=f"Service {sku}")
        for sku, price, _qty, _site in PLAN
    ]
    place = {"city": "Montréal", "region": "QC", "postal_code": "H2X 2T3", "country": "CA"}
    customers = n // len(PLAN)
    for start in range(0, customers, BATCH):
        made = Customer.objects.bulk_create(
            Customer(
                organisation=org,
                number=f"B{k:07d}",
                name=f"Client {k:07d}",
                email=f"client{k}@example.test",
                currency=org.currency,
            )
            for k in range(start, min(start + BATCH, customers))
        )
        Address.objects.bulk_create(
            Address(customer=c, line1=f"{c.number} rue Principale", is_default=True, **place) for c in made
        )
        sites = Site.objects.bulk_create(
            Site(customer=c, name=f"Site {s + 1}", line1=f"{s + 1} rue du Port", **place)
            for c in made
            for s in (0, 1)
        )
        Subscription.objects.bulk_create(
            Subscription(
                organisation=org,
                customer=c,
                site=sites[2 * i + site],
                product=product,
                description=product.name,
                quantity=Decimal(qty),
                unit_price=product.unit_price,
                period=Subscription.Period.MONTHLY,
                started_on=STARTED,
            )
            for i, c in enumerate(made)
            for product, (_sku, _price, qty, site) in zip(products, PLAN, strict=True)
        )
    return org, customers


def _run_rows(org) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Each table the run writes, with the WHERE clause that selects this organisation's rows."""
    org_id = int(org.pk)
    invoices = f"SELECT id FROM {Invoice._meta.db_table} WHERE organisation_id = {org_id}"
    return {
        Invoice._meta.db_table: f"organisation_id = {org_id}",
        InvoiceLine._meta.db_table: f"invoice_id IN ({invoices})",
        InvoiceTax._meta.db_table: f"invoice_id IN ({invoices})",
        LedgerEntry._meta.db_table: f"organisation_id = {org_id}",
        BilledPeriod._meta.db_table: f"organisation_id = {org_id}",
        AuditLog._meta.db_table: f"organisation_id = {org_id} AND action = '{AuditAction.FINALISE}'",
        OutboundMessage._meta.db_table: f"organisation_id = {org_id}",
    }


def copy_rate(org, tables: list[str]) -> float:  # type: ignore[no-untyped-def]
    """Invoices per second of a COPY of the run's rows of ``tables`` into look-alike tables."""
    where = _run_rows(org)
    dumps = []
    with connection.cursor() as cursor:
        for table in tables:
            dump = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the process, read back below
            with cursor.cursor.copy(f"COPY (SELECT * FROM {table} WHERE {where[table]}) TO STDOUT") as copy:
                for data in copy:
                    dump.write(data)
            dump.seek(0)
            dumps.append((table, dump))
            cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS copy_{table} (LIKE {table} INCLUDING ALL)")
            cursor.execute(f"TRUNCATE copy_{table}")
        started = time.perf_counter()
        with connection.cursor().connection.transaction():
            for table, dump in dumps:
                with cursor.cursor.copy(f"COPY copy_{table} FROM STDIN") as copy:
                    while data := dump.read(1 << 20):
                        copy.write(data)
        elapsed = time.perf_counter() - started
    return Invoice.objects.filter(organisation=org).count() / elapsed


def main(n: int, workers: int = 0) -> None:
    call_command("migrate", verbosity=0)
    print(
        f"database: {connection.vendor}; building {n} subscriptions over {n // len(PLAN)} customers…",
        flush=True,
    )
    started = time.perf_counter()
    org, customers = build(n)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    print(
        f"built in {time.perf_counter() - started:.1f} s; peak RSS so far {peak_rss_mb():.0f} MB", flush=True
    )
    # Delivery is the outbox's, after commit: not part of the run measured here.
    tasks.deliver_run_messages.delay = lambda ids: None  # type: ignore[method-assign]

    def progress(done: int, total: int) -> None:
        if done % max(1, total // 10) == 0 or done == total:
            print(f"  {done}/{total} chunks, peak RSS {peak_rss_mb():.0f} MB", flush=True)

    with workers_for(workers) as started:
        for worker in started:
            worker.wait_ready()
        cpu = time.process_time()
        first = run_billing(organisation=org, as_of=AS_OF, actor=ACTOR, progress=progress)
        cpu = time.process_time() - cpu
        rss = peak_rss_mb()
        assert first.invoices == customers and first.failures == 0, first
        assert BilledPeriod.objects.filter(organisation=org).count() == n // len(PLAN) * len(PLAN)
        second = run_billing(organisation=org, as_of=AS_OF, actor=ACTOR)
    assert second.invoices == 0, "the second run billed something"
    postgres = connection.vendor == "postgresql"
    copy = copy_rate(org, [Invoice._meta.db_table, InvoiceLine._meta.db_table]) if postgres else float("nan")
    copy_all = copy_rate(org, list(_run_rows(org))) if postgres else float("nan")
    invoices_per_s = first.invoices / first.seconds
    print(f"first run: {first.invoices} invoices, total {first.total}, in {first.seconds:.2f} s")
    print(f"workers: {workers or '1, in process'}")
    # This process's CPU only (PostgreSQL's is apart): what the run costs in Python, load aside.
    print(f"python_cpu_s: {cpu:.2f} ({first.invoices / cpu:.0f} invoices per CPU second)")
    print(f"subscriptions_per_s: {n // len(PLAN) * len(PLAN) / first.seconds:.0f}")
    print(f"peak_rss_mb: {rss:.0f}")
    print(f"second_run_s: {second.seconds:.2f} ({second.seconds / first.seconds:.3f} of the first)")
    print(f"copy_invoices_per_s: {copy:.0f}")
    print(f"copy_ratio: {invoices_per_s / copy:.3f}")
    # Every row the run writes (taxes, ledger, billed periods, audit, e-mails too): the run's own floor.
    print(f"copy_all_rows_invoices_per_s: {copy_all:.0f}")
    print(f"copy_all_rows_ratio: {invoices_per_s / copy_all:.3f}")
    print(f"invoices_per_s: {invoices_per_s:.0f}")


if __name__ == "__main__":
    main(*parse_args(30_000))
