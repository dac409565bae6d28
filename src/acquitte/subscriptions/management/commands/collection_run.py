"""``manage.py collection_run``: what the half-hourly task does, for one organisation or all, on a
date of your choosing (catching up a missed collection day), or as a dry run that writes nothing."""

import datetime
import sys
import time
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from acquitte.core.actors import System
from acquitte.core.money import ZERO
from acquitte.customers.models import Organisation
from acquitte.subscriptions.models import BillingRun
from acquitte.subscriptions.selectors import (
    billing_settings,
    last_collection_date,
    preview_collection,
    today_for,
)
from acquitte.subscriptions.services import CollectionSummary, run_collection
from acquitte.subscriptions.services.collection import DEFAULT_CONCURRENCY

ACTOR = System(reason="collection_run")
BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Charge each customer's open recurring invoices to their default method on the latest "
        "collection day on or before the date (default: each organisation's today)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", help="slug of one organisation (default: all)")
        parser.add_argument(
            "--date", type=datetime.date.fromisoformat, help="YYYY-MM-DD, as if it were today"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would be charged, write nothing"
        )
        parser.add_argument(
            "--concurrency",
            type=int,
            default=DEFAULT_CONCURRENCY,
            help="provider calls in flight (PostgreSQL)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisations = Organisation.objects.order_by("slug")
        if options["organisation"]:
            organisations = organisations.filter(slug=options["organisation"])
            if not organisations.exists():
                raise CommandError(f"no organisation {options['organisation']!r}")
        for organisation in organisations:
            as_of = options["date"] or today_for(organisation)
            if options["dry_run"]:
                self._preview(organisation, as_of)
            else:
                self._run(organisation, as_of, options["concurrency"])

    def _preview(self, organisation: Organisation, as_of: datetime.date) -> None:
        day = last_collection_date(as_of, billing_settings(organisation).collection_day)
        rows = preview_collection(organisation, as_of)
        for row in rows:
            method = (
                f"{row.method.get_kind_display()} …{row.method.last4}" if row.method else "NO DEFAULT METHOD"
            )
            skipped = f", {len(row.skipped)} skipped (transfer declared)" if row.skipped else ""
            self.stdout.write(
                f"  {row.customer.name}: {len(row.invoices)} invoice(s), {row.amount} → {method}{skipped}"
            )
        total = sum((row.amount for row in rows if row.method), ZERO)
        self.stdout.write(
            f"{organisation.slug} (dry run) collection of {day}: customers {len(rows)}, "
            f"invoices {sum(len(row.invoices) for row in rows)}, total {total}, "
            f"no method {sum(1 for row in rows if row.method is None)}"
        )

    def _run(self, organisation: Organisation, as_of: datetime.date, concurrency: int) -> None:
        started = time.perf_counter()
        summary = run_collection(
            organisation=organisation,
            as_of=as_of,
            actor=ACTOR,
            concurrency=concurrency,
            progress=self._bar if sys.stdout.isatty() else None,
        )
        run = summary.run
        if run is not None and run.finished_at is None:  # chunks on the workers: follow the record
            summary = self._follow(run)
        if sys.stdout.isatty():
            self.stdout.write("")
        self.stdout.write(
            f"{organisation.slug} collection of {run.run_date if run else as_of}: "
            f"customers {summary.customers}, invoices {summary.invoices}, charges {summary.charges}, "
            f"total {summary.total}, failures {summary.failures}, "
            f"duration {time.perf_counter() - started:.1f} s"
        )

    def _follow(self, run: BillingRun) -> CollectionSummary:
        while True:
            run.refresh_from_db()
            if sys.stdout.isatty():
                self._bar(run.chunks_done, run.chunks_total, unit="chunks")
            if run.finished_at is not None:
                return CollectionSummary(
                    run=run,
                    customers=run.customers,
                    invoices=run.invoices,
                    charges=run.charges,
                    total=Decimal(run.total),
                    failures=run.failures,
                )
            time.sleep(0.5)

    def _bar(self, done: int, total: int, unit: str = "customers") -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        self.stdout.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} {unit}", ending="")
        self.stdout.flush()
