"""The billing run on PostgreSQL, raced and crashed: every period is billed exactly once.

Each run is a real process on this test's database (``tests/subscriptions/live.py`` says how), so
two runs meet only where production runs meet: in PostgreSQL. To make them meet at a chosen point
rather than by luck, the test holds the row lock of the organisation's invoice number series
(which every chunk takes to number its invoices, inside its transaction) and lets go when the
children are where it wants them.
"""

import contextlib
import datetime
import os
import signal
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from acquitte.core.models import NumberSeries
from acquitte.customers.models import Organisation
from acquitte.invoicing.models import Invoice, InvoiceLine
from acquitte.subscriptions.models import BilledPeriod, BillingRun, Subscription
from acquitte.subscriptions.services.runs import STALLED_AFTER
from tests import factories

from .live import PLAN, STARTUP, BillingChild, manage, many_subscriptions, stop, wait_until

pytestmark = pytest.mark.postgres

STARTED = datetime.date(2026, 1, 10)
AS_OF = datetime.date(2026, 2, 2)
CUSTOMERS = 240
CHUNK = CUSTOMERS // 6
#: What is due on AS_OF for a start on STARTED: the part of January and February in full (monthly,
#: seed 001), the first year (yearly, billed as it starts).
DUE = {
    Subscription.Period.MONTHLY: {
        (datetime.date(2026, 1, 10), datetime.date(2026, 1, 31)),
        (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28)),
    },
    Subscription.Period.YEARLY: {(datetime.date(2026, 1, 10), datetime.date(2027, 1, 9))},
}
PERIODS_PER_CUSTOMER = sum(len(DUE[Subscription.Period(kind)]) for _sku, _price, kind, _qty, _site in PLAN)


def waiting_on_locks() -> dict[int, str]:
    """The other backends of this database waiting on a lock (row, transaction or advisory), and
    the statement each one waits in."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")  # else a transaction sees its first look again
        cursor.execute(
            "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database() "
            "AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
        )
        return dict(cursor.fetchall())


def backend_alive(pid: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
        return bool(cursor.fetchone()[0])


@contextlib.contextmanager
def series_locked(organisation: Organisation) -> Iterator[None]:
    """Hold the invoice series' row lock: every chunk that gets to numbering waits here."""
    with transaction.atomic():
        NumberSeries.objects.select_for_update().get(organisation=organisation, kind="invoice")
        yield


def sequence(number: str) -> int:
    return int(number.rsplit("-", 1)[1])


def assert_billed_exactly_once(organisation: Organisation, *, customers: int) -> None:
    """Each due period billed once on one invoice per customer, numbers gapless, lines complete."""
    periods = list(
        BilledPeriod.objects.filter(organisation=organisation).values_list(
            "subscription_id", "period_start", "period_end", "invoice_id", "amount"
        )
    )
    assert len(periods) == customers * PERIODS_PER_CUSTOMER
    billed: dict[int, set[tuple[datetime.date, datetime.date]]] = {}
    for subscription_id, start, end, _invoice, _amount in periods:
        billed.setdefault(subscription_id, set()).add((start, end))
    subscriptions = dict(Subscription.objects.filter(organisation=organisation).values_list("id", "period"))
    assert {s: billed.get(s, set()) for s in subscriptions} == {
        s: DUE[Subscription.Period(p)] for s, p in subscriptions.items()
    }

    invoices = Invoice.objects.filter(organisation=organisation)
    assert not invoices.exclude(status=Invoice.Status.OPEN).exists(), "a draft or void invoice was left"
    per_customer = Counter(invoices.values_list("customer_id", flat=True))
    assert len(per_customer) == customers and set(per_customer.values()) == {1}, "one invoice per customer"
    numbers = sorted(sequence(n) for n in invoices.values_list("number", flat=True))
    assert numbers == list(range(1, customers + 1)), "invoice numbers are not gapless"

    lines = Counter(
        InvoiceLine.objects.filter(invoice__organisation=organisation).values_list("invoice_id", flat=True)
    )
    on_invoice = Counter(invoice for *_rest, invoice, _amount in periods)
    assert lines == on_invoice, "each billed period is one line of its invoice, and nothing else"
    for invoice in invoices.only("id", "subtotal"):
        assert invoice.subtotal == sum(
            (amount for *_rest, invoice_id, amount in periods if invoice_id == invoice.pk), Decimal(0)
        )


def test_two_runs_started_at_once_from_two_processes_bill_each_period_once(tmp_path: Path) -> None:
    # Six chunks each: after the first, the two runs take the same chunks at the same time.
    children = [BillingChild("race", AS_OF, tmp_path, chunk_size=CHUNK) for _ in range(2)]
    try:
        organisation = factories.quebec_organisation("race")
        many_subscriptions(organisation, customers=CUSTOMERS, started_on=STARTED)
        for child in children:
            child.read("ready")
        with series_locked(organisation):
            for child in children:
                child.go()
            # Both are inside their run: queued on the series, on the other's customers, or done.
            wait_until(
                lambda: len(waiting_on_locks()) + sum(c.process.poll() is not None for c in children) >= 2,
                timeout=30,
                what="both runs to reach the database",
            )
        summaries = [child.finish() for child in children]
    finally:
        for child in children:
            stop(child.process)
    assert_billed_exactly_once(organisation, customers=CUSTOMERS)
    runs = BillingRun.objects.filter(organisation=organisation, kind=BillingRun.Kind.BILLING)
    assert [r.status for r in runs] == [BillingRun.Status.SUCCEEDED] * 2, summaries
    assert sum(r.invoices for r in runs) == CUSTOMERS and sum(r.failures for r in runs) == 0


def test_a_run_killed_halfway_then_restarted_bills_each_period_once(tmp_path: Path) -> None:
    child = BillingChild("crash", AS_OF, tmp_path, chunk_size=CHUNK, hold=True)
    try:
        organisation = factories.quebec_organisation("crash")
        many_subscriptions(organisation, customers=CUSTOMERS, started_on=STARTED)
        child.read("ready")
        child.go()
        assert child.read("chunk ") == "chunk 1/6"
        assert Invoice.objects.filter(organisation=organisation).count() == CHUNK
        with series_locked(organisation):
            child.go()
            wait_until(lambda: len(waiting_on_locks()) == 1, timeout=30, what="the second chunk to wait")
            ((backend, statement),) = waiting_on_locks().items()
            # Its customers locked, its drafts, lines and billed periods written, it waits to number them.
            assert NumberSeries._meta.db_table in statement and "FOR UPDATE" in statement
            os.killpg(child.process.pid, signal.SIGKILL)  # in the middle of the second chunk's transaction
            child.process.wait(timeout=10)
    finally:
        stop(child.process)
    # Its backend gets the lock, finds its client gone and rolls the second chunk back.
    wait_until(lambda: not backend_alive(backend), timeout=20, what="the killed run's backend to end")
    assert Invoice.objects.filter(organisation=organisation).count() == CHUNK, "the killed chunk left rows"
    assert BilledPeriod.objects.filter(organisation=organisation).count() == CHUNK * PERIODS_PER_CUSTOMER
    killed = BillingRun.objects.get(organisation=organisation)
    assert killed.status == BillingRun.Status.RUNNING and killed.chunks_done == 1
    # Half an hour without a chunk: the next run marks it interrupted before it starts.
    BillingRun.objects.filter(pk=killed.pk).update(progressed_at=timezone.now() - STALLED_AFTER * 2)

    restart = manage("billing_run", "--organisation", "crash", "--date", AS_OF.isoformat(), var_dir=tmp_path)
    try:
        output, _ = restart.communicate(timeout=STARTUP)
    finally:
        stop(restart)
    assert restart.returncode == 0, output
    assert_billed_exactly_once(organisation, customers=CUSTOMERS)
    again = BillingRun.objects.exclude(pk=killed.pk).get(organisation=organisation)
    assert again.status == BillingRun.Status.SUCCEEDED and again.invoices == CUSTOMERS - CHUNK, output
    killed.refresh_from_db()
    assert (killed.status, killed.chunks_done) == (BillingRun.Status.INTERRUPTED, 1)
