"""One billing run shared by two real Celery workers on Redis bills what one process bills.

The workers are processes started here (``tests/subscriptions/live.py``), on Redis database 7 and
on this test's PostgreSQL database, and stopped at the end whatever happens. The same data is
built twice, in two organisations: one is billed through the workers, its copy in this process
(eager, as the embedded default runs); the two results must be the same, row for row.
"""

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_django.fixtures import Settings

from acquitte import celery_app
from acquitte.customers.models import Organisation
from acquitte.invoicing.models import Invoice, InvoiceLine
from acquitte.notifications.models import OutboundMessage
from acquitte.subscriptions import tasks
from acquitte.subscriptions.models import BilledPeriod, BillingRun
from acquitte.subscriptions.services import run_billing
from tests import factories

from .live import REDIS_URL, BillingChild, Worker, celery_workers, many_subscriptions, redis_available, stop

pytestmark = pytest.mark.postgres

STARTED = datetime.date(2026, 1, 10)
AS_OF = datetime.date(2026, 2, 2)
CUSTOMERS = 1000  # three subscriptions each
CHUNK = 50
BILL_CHUNK = "acquitte.subscriptions.tasks.bill_chunk"


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[Worker]]:
    if not redis_available():
        pytest.skip(f"needs Redis at {REDIS_URL}")
    with celery_workers(["w1", "w2"], tmp_path) as started:
        yield started


def outcome(organisation: Organisation) -> dict[str, list[Any]]:
    """What a run produced, by business keys only (customer numbers, not ids), in a fixed order."""
    invoices = sorted(
        Invoice.objects.filter(organisation=organisation).values_list(
            "customer__number", "kind", "status", "issue_date", "due_date", "subtotal", "tax_total", "total"
        )
    )
    lines = sorted(
        InvoiceLine.objects.filter(invoice__organisation=organisation).values_list(
            "invoice__customer__number",
            "description",
            "quantity",
            "unit_price",
            "net_amount",
            "period_start",
            "period_end",
            "position",
        )
    )
    periods = sorted(
        BilledPeriod.objects.filter(organisation=organisation).values_list(
            "subscription__customer__number",
            "subscription__product__sku",
            "period_start",
            "period_end",
            "prorated",
            "quantity",
            "unit_price",
            "amount",
        )
    )
    numbers = sorted(
        int(n.rsplit("-", 1)[1])
        for n in Invoice.objects.filter(organisation=organisation).values_list("number", flat=True)
    )
    emails = sorted(
        OutboundMessage.objects.filter(organisation=organisation, kind="invoice_sent").values_list(
            "to", flat=True
        )
    )
    return {"invoices": invoices, "lines": lines, "periods": periods, "numbers": numbers, "emails": emails}


def test_two_workers_share_one_run_and_bill_what_one_process_bills(
    workers: list[Worker], tmp_path: Path, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    child = BillingChild("two-workers", AS_OF, tmp_path, chunk_size=CHUNK, redis_url=REDIS_URL)
    try:
        shared = factories.quebec_organisation("two-workers")
        alone = factories.quebec_organisation("one-process")
        for organisation in (shared, alone):
            many_subscriptions(organisation, customers=CUSTOMERS, started_on=STARTED)
        child.read("ready")
        for worker in workers:
            worker.wait_ready()
        child.go()  # sends the chunks to Redis and waits until the workers have counted them all in
        summary = child.finish()
    finally:
        stop(child.process)
    run = BillingRun.objects.get(organisation=shared)
    assert run.status == BillingRun.Status.SUCCEEDED and run.finished_at is not None, (summary, run.errors)
    done = {w.name: w.tasks_succeeded(BILL_CHUNK) for w in workers}
    assert sum(done.values()) == run.chunks_total == CUSTOMERS // CHUNK, done
    assert all(n >= 1 for n in done.values()), f"a worker processed no chunk: {done}"

    # The copy, in this process: eager, whatever REDIS_URL this test process was started with. Its
    # e-mails stay in the outbox (compared below): delivering them, one by one after each chunk,
    # would only make the test slow.
    settings.CELERY_TASK_ALWAYS_EAGER = True
    monkeypatch.setitem(celery_app.conf, "task_always_eager", True)
    monkeypatch.setattr(tasks.deliver_run_messages, "delay", lambda message_ids: None)
    run_billing(organisation=alone, as_of=AS_OF, actor=factories.SYSTEM, chunk_size=CHUNK)
    expected = outcome(alone)
    assert len(expected["invoices"]) == CUSTOMERS and expected["numbers"] == list(range(1, CUSTOMERS + 1))
    assert len(expected["periods"]) == CUSTOMERS * 5  # January's part and February, twice; the year
    assert outcome(shared) == expected
