"""``manage.py renewal_run``: what the half-hourly task does for domains and yearly services, for one
organisation or all, on a date of your choosing (missed days caught up: what is due by then is
invoiced once), or as a dry run that prints what would be done and writes nothing."""

import datetime
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from acquitte.core.actors import System
from acquitte.core.errors import BusinessError
from acquitte.customers.models import Organisation
from acquitte.subscriptions.selectors import today_for
from acquitte.subscriptions.services import RenewalAction, RenewalSummary, run_renewals

ACTOR = System(reason="renewal_run")
BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Issue the renewal invoices of domains and yearly services due by the date (default: each "
        "organisation's today), charge the chosen cards on the expiry date, expire what passed "
        "unpaid and send the card-expiry notices."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", "--organisation", dest="organisation", help="slug of one organisation")
        parser.add_argument(
            "--date", type=datetime.date.fromisoformat, help="YYYY-MM-DD, as if it were today"
        )
        parser.add_argument("--dry-run", action="store_true", help="show what would be done, write nothing")
        parser.add_argument("--chunk-size", type=int, default=1000, help="customers per chunk (per task)")

    def handle(self, *args: Any, **options: Any) -> None:
        organisations = Organisation.objects.order_by("slug")
        if options["organisation"]:
            organisations = organisations.filter(slug=options["organisation"])
            if not organisations.exists():
                raise CommandError(f"no organisation {options['organisation']!r}")
        tty = sys.stdout.isatty()
        for organisation in organisations:
            as_of = options["date"] or today_for(organisation)
            try:
                summary = run_renewals(
                    organisation=organisation,
                    as_of=as_of,
                    actor=ACTOR,
                    dry_run=options["dry_run"],
                    chunk_size=options["chunk_size"],
                    progress=self._bar if tty and not options["dry_run"] else None,
                )
            except BusinessError as exc:
                raise CommandError(exc.text()) from exc
            if tty and not options["dry_run"]:
                self.stdout.write("")
            self._report(organisation, as_of, summary, dry_run=options["dry_run"])

    def _report(
        self, organisation: Organisation, as_of: datetime.date, summary: RenewalSummary, *, dry_run: bool
    ) -> None:
        for action in summary.actions:
            self.stdout.write(f"  {action.action}: {self._subject(action)}")
        errors = summary.run.errors if summary.run is not None else []
        for error in errors:
            self.stderr.write(f"  {error}")
        self.stdout.write(
            f"{organisation.slug}{' (dry run)' if dry_run else ''} renewals of {as_of}: "
            f"invoices {summary.invoices}, charges {summary.charges}, expired {summary.expired}, "
            f"card notices {summary.notices}, total {summary.total}, failures {summary.failures}, "
            f"duration {summary.seconds:.1f} s"
        )

    @staticmethod
    def _subject(action: RenewalAction) -> str:
        if action.service is not None:
            service = action.service
            card = f" with {action.payment_method}" if action.payment_method is not None else ""
            return f"{service.name} (expires {service.expires_on}){card}"
        return str(action.payment_method)

    def _bar(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        self.stdout.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} chunks", ending="")
        self.stdout.flush()
