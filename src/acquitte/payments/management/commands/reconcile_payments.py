import datetime
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from acquitte.core.actors import System
from acquitte.payments.services import reconcile_payments
from acquitte.payments.services.reconciliation import IN_DOUBT_AFTER


class Command(BaseCommand):
    help = "Règle les prélèvements restés en suspens en interrogeant le prestataire (jamais en reprélevant)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=int(IN_DOUBT_AFTER.total_seconds()),
            help=f"secondes (défaut {int(IN_DOUBT_AFTER.total_seconds())})",
        )

    def handle(self, *args: Any, older_than: int, **options: Any) -> None:
        counts = reconcile_payments(
            actor=System(reason="reconcile_payments"), older_than=datetime.timedelta(seconds=older_than)
        )
        self.stdout.write(f"vérifiées : {counts['checked']}, réglées : {counts['settled']}")
