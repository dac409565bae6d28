import datetime
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.test import Client
from django.utils import timezone

from acquitte.payments import services
from acquitte.payments.models import ChargeAttempt
from acquitte.payments.providers import ProviderName
from acquitte.payments.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, sign


class Command(BaseCommand):
    help = (
        "Bac à sable : fait aboutir (ou échouer) les prélèvements en attente en postant les webhooks "
        "signés au point d'entrée de l'application, comme le ferait un vrai prestataire. Avec --every, "
        "tourne comme une banque : `make run` le lance ainsi à côté du serveur."
    )

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("--outcome", choices=["paid_out", "failed"], default="paid_out")
        parser.add_argument(
            "--after",
            type=int,
            default=0,
            metavar="S",
            help="seulement les prélèvements en attente depuis S s",
        )
        parser.add_argument(
            "--every", type=int, default=0, metavar="S", help="recommencer toutes les S s, sans fin"
        )

    def handle(self, *args: Any, outcome: str, after: int, every: int, **options: Any) -> None:
        while True:
            done = self.settle(outcome=outcome, after=datetime.timedelta(seconds=max(after, 0)))
            if not every:
                self.stdout.write(f"prélèvements traités : {done} ({outcome})")
                return
            if done:
                self.stdout.write(f"prélèvements traités : {done} ({outcome})")
            time.sleep(max(every, 1))

    def settle(self, *, outcome: str, after: datetime.timedelta) -> int:
        client = Client(HTTP_HOST=settings.ALLOWED_HOSTS[0] if settings.ALLOWED_HOSTS else "127.0.0.1")
        sandbox = SandboxProvider()
        pending = ChargeAttempt.objects.filter(
            provider=ProviderName.SANDBOX,
            state=ChargeAttempt.State.PENDING,
            created_at__lte=timezone.now() - after,
        ).select_related("organisation")
        done = 0
        for attempt in pending:
            secret = services.webhook_secret(provider=ProviderName.SANDBOX, organisation=attempt.organisation)
            for step in ("confirmed", outcome):
                body = sandbox.event_body(
                    sandbox.settle_debit(reference=attempt.provider_reference, outcome=step)
                )
                url = f"/webhooks/sandbox/{attempt.organisation.slug}/"
                response = client.post(
                    url,
                    data=body,
                    content_type="application/json",
                    headers={SIGNATURE_HEADER: sign(body, secret)},
                )
                if response.status_code != 200:
                    self.stderr.write(f"{attempt.provider_reference}: HTTP {response.status_code}")
            done += 1
        return done
