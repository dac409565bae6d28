# ruff: noqa: I001  (bench/_setup must configure Django before Django is imported)
"""Renew N domains expiring on one day, over N/5 customers, in one renewal run, and print its rate.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/<db> uv run python bench/renewals.py [N]
    REDIS_URL=redis://127.0.0.1:6379/<n> DATABASE_URL=… uv run python bench/renewals.py [N] --workers 2

N defaults to 10 000. The data is written in bulk (not timed): N/5 customers with a billing address,
five domains each, all expiring on 15 March 2027. The run of 1 March (the renewal invoice 14 days
before, the default) issues one invoice per domain, in process (eager Celery), or shared by W
Celery workers with ``--workers W``, every rule kept (locked chunk, renewal rows, gapless numbers,
frozen taxes and bill-to, ledger, audit, the e-mail queued in the outbox; delivering it is the
outbox's work after commit, not timed). Then an immediate second run (which must issue nothing).
Then the dunning steps of 16 March, on which every renewal invoice is overdue:
``dunning_steps_per_s``.

The last line is ``renewals_per_s: <renewal invoices issued per second>``.
"""

import datetime
import resource
import time
import uuid
from decimal import Decimal

import _setup  # noqa: F401
from django.core.management import call_command
from django.db import connection

from acquitte.catalog.models import Product
from acquitte.core.actors import System
from acquitte.customers.models import Address, Customer, Site
from acquitte.subscriptions import services, tasks
from acquitte.subscriptions.models import DunningStep, Service, ServiceRenewal, Subscription
from acquitte.subscriptions.services.billing import wait_for_run
from tests import factories
from _workers import parse_args, workers_for

ACTOR = System(reason="renewal_run")
EXPIRES = datetime.date(2027, 3, 15)
NOTICE_DAY = datetime.date(2027, 3, 1)
OVERDUE_DAY = datetime.date(2027, 3, 16)
STARTED = datetime.date(2026, 3, 15)
DOMAINS_EACH = 5
BATCH = 5000


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(n: int):  # type: ignore[no-untyped-def]
    org = factories.quebec_organisation(f"bench-ren-{uuid.uuid4().hex[:8]}")
    product = factories.product(
        org, sku="DOM-CA", price="25.00", kind=Product.Kind.DOMAIN, name="Domaine .ca"
    )
    place = {"city": "Montréal", "region": "QC", "postal_code": "H2X 2T3", "country": "CA"}
    customers = n // DOMAINS_EACH
    for start in range(0, customers, BATCH):
        made = Customer.objects.bulk_create(
            Customer(
                organisation=org,
                number=f"R{k:07d}",
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
            Site(customer=c, name="Site 1", line1="1 rue du Port", **place) for c in made
        )
        subscriptions = Subscription.objects.bulk_create(
            Subscription(
                organisation=org,
                customer=c,
                site=site,
                product=product,
                description=f"{c.number.lower()}-{d}.ca",
                quantity=Decimal(1),
                unit_price=product.unit_price,
                period=Subscription.Period.YEARLY,
                started_on=STARTED,
            )
            for c, site in zip(made, sites, strict=True)
            for d in range(DOMAINS_EACH)
        )
        Service.objects.bulk_create(
            Service(
                organisation=org,
                customer_id=s.customer_id,
                subscription=s,
                kind=Service.Kind.DOMAIN,
                name=s.description,
                expires_on=EXPIRES,
            )
            for s in subscriptions
        )
    return org, customers * DOMAINS_EACH


def main(n: int, workers: int = 0) -> None:
    call_command("migrate", verbosity=0)
    print(
        f"database: {connection.vendor}; building {n} domains over {n // DOMAINS_EACH} customers…", flush=True
    )
    started = time.perf_counter()
    org, domains = build(n)
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
        first = services.run_renewals(organisation=org, as_of=NOTICE_DAY, actor=ACTOR, progress=progress)
        cpu = time.process_time() - cpu
        if first.run is not None:
            first.run.refresh_from_db()
        issued = first.invoices if not workers else first.run.invoices
        assert issued == domains and first.failures == 0, first
        assert ServiceRenewal.objects.filter(organisation=org).count() == domains
        second = services.run_renewals(organisation=org, as_of=NOTICE_DAY, actor=ACTOR)
        assert (second.invoices if not workers else second.run.invoices) == 0, (
            "the second run issued something"
        )
        renewals_per_s = issued / first.seconds
        print(f"first run: {issued} renewal invoices, total {first.total}, in {first.seconds:.2f} s")
        print(f"workers: {workers or '1, in process'}")
        print(f"python_cpu_s: {cpu:.2f} ({issued / cpu:.0f} invoices per CPU second, this process)")
        print(f"peak_rss_mb: {peak_rss_mb():.0f}")
        print(f"second_run_s: {second.seconds:.2f}")
        began = time.perf_counter()
        dunning = services.run_dunning(
            organisation=org, as_of=OVERDUE_DAY, actor=System(reason="dunning_run")
        )
        if workers and dunning.run is not None:
            wait_for_run(dunning.run, None)
        seconds = time.perf_counter() - began
        steps = DunningStep.objects.filter(organisation=org, done_on=OVERDUE_DAY).count()
        print(f"dunning run: {steps} steps over {domains} invoices in {seconds:.2f} s")
        print(f"dunning_steps_per_s: {steps / seconds:.0f}")
    print(f"renewals_per_s: {renewals_per_s:.0f}")


if __name__ == "__main__":
    main(*parse_args(10_000))
