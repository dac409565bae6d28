import datetime
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand

from acquitte.core.actors import System
from acquitte.payments.services import reconcile_payments, sweep_abandoned_setups
from acquitte.payments.services.reconciliation import IN_DOUBT_AFTER
from acquitte.payments.services.setup import SETUP_ABANDONED_AFTER


class Command(BaseCommand):
    help = (
        "Règle les paiements restés en suspens en interrogeant le prestataire (jamais en reprélevant), "
        "et clôt les enregistrements de moyens de paiement abandonnés."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--older-than",
            type=int,
            default=int(IN_DOUBT_AFTER.total_seconds()),
            help=f"secondes (défaut {int(IN_DOUBT_AFTER.total_seconds())})",
        )
        parser.add_argument(
            "--setups-older-than",
            type=int,
            default=int(SETUP_ABANDONED_AFTER.total_seconds()),
            help=f"secondes avant de clore un enregistrement ouvert (défaut {int(SETUP_ABANDONED_AFTER.total_seconds())})",
        )

    def handle(self, *args: Any, older_than: int, setups_older_than: int, **options: Any) -> None:
        actor = System(reason="reconcile_payments")
        counts = reconcile_payments(actor=actor, older_than=datetime.timedelta(seconds=older_than))
        self.stdout.write(f"vérifiées : {counts['checked']}, réglées : {counts['settled']}")
        swept = sweep_abandoned_setups(actor=actor, older_than=datetime.timedelta(seconds=setups_older_than))
        self.stdout.write(
            f"enregistrements abandonnés : {swept['closed']} clos, {swept['saved']} moyens retrouvés"
        )
