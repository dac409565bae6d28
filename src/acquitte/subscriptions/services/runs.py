"""The record of each billing and collection run: opened once, its chunks counted in as they finish."""

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from acquitte.core.actors import Actor, actor_label
from acquitte.core.tenancy import check_can_write, check_is_system

from ..models import BillingRun

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

#: Errors kept on a run's record; the rest are counted in ``failures`` only.
MAX_ERRORS_KEPT = 50
#: A running run with no chunk counted in for this long has lost its worker (a chunk of 1 000
#: customers takes seconds): it is marked interrupted.
STALLED_AFTER = datetime.timedelta(minutes=30)


def close_stalled_runs(
    *,
    actor: Actor,
    organisation: "Organisation | None" = None,
    kind: BillingRun.Kind | None = None,
) -> int:
    """Mark interrupted the runs (of ``organisation`` and ``kind``, or of all) whose chunks stopped
    coming in; returns how many. What they left unbilled or uncollected is the next run's: each
    period and each collection is guarded by its own unique row, so nothing is done twice."""
    stalled = BillingRun.objects.filter(
        status=BillingRun.Status.RUNNING, progressed_at__lt=timezone.now() - STALLED_AFTER
    )
    if organisation is None:
        check_is_system(actor)
    else:
        check_can_write(actor, organisation)
        stalled = stalled.filter(organisation=organisation)
    if kind is not None:
        stalled = stalled.filter(kind=kind)
    return stalled.update(status=BillingRun.Status.INTERRUPTED, finished_at=timezone.now())


def open_run(
    *,
    organisation: "Organisation",
    kind: BillingRun.Kind,
    run_date: datetime.date,
    chunks_total: int,
    actor: Actor,
) -> BillingRun:
    """Record the start of a run, split into ``chunks_total`` chunks (none: it finishes at once)."""
    check_can_write(actor, organisation)
    close_stalled_runs(actor=actor, organisation=organisation, kind=kind)
    run = BillingRun.objects.create(
        organisation=organisation,
        kind=kind,
        run_date=run_date,
        chunks_total=chunks_total,
        started_by=actor_label(actor)[:120],
    )
    if chunks_total == 0:
        BillingRun.objects.filter(pk=run.pk).update(
            status=BillingRun.Status.SUCCEEDED, finished_at=timezone.now()
        )
        run.refresh_from_db()
    return run


def count_chunk(
    *,
    run: BillingRun,
    actor: Actor,
    customers: int = 0,
    invoices: int = 0,
    charges: int = 0,
    failures: int = 0,
    total: Decimal = Decimal(0),
    errors: list[str] | None = None,
) -> BillingRun:
    """Add one finished chunk's counts; the last chunk in closes the run. Workers on several
    machines count in concurrently, so the counts move by UPDATE … SET x = x + n under a row lock.
    A run swept as interrupted whose chunks were only late (a long queue) is closed by its last one
    like any other: "interrupted" was the sweep's guess, the counts are the facts."""
    check_can_write(actor, run.organisation)
    with transaction.atomic():
        locked = BillingRun.objects.select_for_update().get(pk=run.pk)
        kept = (locked.errors + list(errors or []))[:MAX_ERRORS_KEPT]
        BillingRun.objects.filter(pk=run.pk).update(
            customers=F("customers") + customers,
            invoices=F("invoices") + invoices,
            charges=F("charges") + charges,
            failures=F("failures") + failures,
            total=F("total") + total,
            chunks_done=F("chunks_done") + 1,
            errors=kept,
            progressed_at=timezone.now(),
        )
        locked.refresh_from_db()
        closable = locked.finished_at is None or locked.status == BillingRun.Status.INTERRUPTED
        if locked.chunks_done >= locked.chunks_total and closable:
            locked.status = BillingRun.Status.FAILED if locked.failures else BillingRun.Status.SUCCEEDED
            locked.finished_at = timezone.now()
            locked.save(update_fields=["status", "finished_at"])
    return locked
