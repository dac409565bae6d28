from typing import Any

from django.core.management.base import BaseCommand

from acquitte.core.actors import System
from acquitte.quotes.services import expire_quotes


class Command(BaseCommand):
    help = "Mark sent quotes past their validity date as expired (what the hourly task does)."

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write(f"{expire_quotes(actor=System(reason='expire_quotes'))} quote(s) expired")
