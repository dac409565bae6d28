"""``manage.py dunning_run``: what the half-hourly task does for one organisation (or all), on a
date of your choosing (catching up missed days: each step is done once), or as a dry run that
writes nothing and lists the steps it would do."""

import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from acquitte.core.actors import System
from acquitte.customers.models import Organisation
from acquitte.subscriptions.selectors import today_for
from acquitte.subscriptions.services import run_dunning

ACTOR = System(reason="dunning_run")


class Command(BaseCommand):
    help = (
        "Do the dunning steps due by the date (default: each organisation's today): reminders, "
        "card retries, late fees, suspensions, terminations."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--org", "--organisation", dest="organisation", help="slug of one organisation")
        parser.add_argument(
            "--date", type=datetime.date.fromisoformat, help="YYYY-MM-DD, as if it were today"
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="list the steps that would be done, write nothing"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        organisations = Organisation.objects.order_by("slug")
        if options["organisation"]:
            organisations = organisations.filter(slug=options["organisation"])
            if not organisations.exists():
                raise CommandError(f"no organisation {options['organisation']!r}")
        for organisation in organisations:
            as_of = options["date"] or today_for(organisation)
            summary = run_dunning(
                organisation=organisation, as_of=as_of, actor=ACTOR, dry_run=options["dry_run"]
            )
            for planned in summary.planned:
                step = planned.step
                self.stdout.write(
                    f"  {planned.number} ({planned.customer}): {step.kind} {step.offset:+d} "
                    f"on {step.on}{' (skipped)' if step.outcome == 'skipped' else ''}"
                )
            label = " (dry run)" if options["dry_run"] else ""
            self.stdout.write(
                f"{organisation.slug}{label} dunning of {as_of}: steps {summary.steps}, "
                f"invoices {summary.invoices}, charges {summary.charges}, failures {summary.failures}, "
                f"total {summary.total}, duration {summary.seconds:.1f} s"
            )
