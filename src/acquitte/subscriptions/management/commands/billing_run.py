"""``manage.py billing_run``: what the half-hourly task does, for one organisation or all, on a date
of your choosing (catching up missed days: what is due by then and not billed is billed), or as a
dry run that prints what would be invoiced and writes nothing."""

import datetime
import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from acquitte.core.actors import System
from acquitte.core.errors import BusinessError
from acquitte.core.money import ZERO
from acquitte.customers.models import Organisation
from acquitte.subscriptions.selectors import preview_billing, today_for
from acquitte.subscriptions.services import run_billing

ACTOR = System(reason="billing_run")
BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Invoice each customer once for every subscription period due by the date (default: each "
        "organisation's today) and not billed yet."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", help="slug of one organisation (default: all)")
        parser.add_argument(
            "--date", type=datetime.date.fromisoformat, help="YYYY-MM-DD, as if it were today"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="show what would be invoiced, write nothing"
        )
        parser.add_argument("--chunk-size", type=int, default=500, help="customers per chunk (per task)")

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
                self._run(organisation, as_of, options["chunk_size"])

    def _preview(self, organisation: Organisation, as_of: datetime.date) -> None:
        invoices = preview_billing(organisation, as_of)
        for invoice in invoices:
            self.stdout.write(
                f"  {invoice.customer.number} {invoice.customer.name}: {len(invoice.lines)} line(s), "
                f"{invoice.subtotal} + {invoice.tax_total} = {invoice.total} {organisation.currency}"
            )
            for line in invoice.lines:
                self.stdout.write(
                    f"      {line.description} [{line.period_start} – {line.period_end}] "
                    f"{line.quantity.normalize()} × {line.unit_price} = {line.amount}"
                )
            for line in invoice.credits:
                self.stdout.write(f"      credit: {line.description} −{line.amount}")
        total = sum((invoice.total for invoice in invoices), ZERO)
        self.stdout.write(
            f"{organisation.slug} (dry run) billing of {as_of}: customers {len(invoices)}, "
            f"invoices {sum(1 for invoice in invoices if invoice.lines)}, total {total}"
        )

    def _run(self, organisation: Organisation, as_of: datetime.date, chunk_size: int) -> None:
        tty = sys.stdout.isatty()
        try:
            summary = run_billing(
                organisation=organisation,
                as_of=as_of,
                actor=ACTOR,
                chunk_size=chunk_size,
                progress=self._bar if tty else None,
            )
        except BusinessError as exc:
            raise CommandError(exc.text()) from exc
        if tty:
            self.stdout.write("")
        run = summary.run
        errors = run.errors if run is not None else []
        for error in errors:
            self.stderr.write(f"  {error}")
        self.stdout.write(
            f"{organisation.slug} billing of {as_of}: customers {summary.customers}, "
            f"invoices {summary.invoices}, total {summary.total}, failures {summary.failures}, "
            f"duration {summary.seconds:.1f} s"
        )

    def _bar(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        self.stdout.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total} chunks", ending="")
        self.stdout.flush()
