from typing import Any

from django.core.management.base import BaseCommand

from acquitte.core.actors import System
from acquitte.notifications import services
from acquitte.notifications.models import OutboundMessage


class Command(BaseCommand):
    help = "Deliver e-mails and SMS still waiting in the outbox (what the periodic task does)."

    def handle(self, *args: Any, **options: Any) -> None:
        queued = OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED).order_by("pk")
        total = queued.count()
        self.stdout.write(f"{total} message(s) in the queue")
        for done, message_id in enumerate(queued.values_list("pk", flat=True), 1):
            message = services.deliver(message_id=message_id, actor=System(reason="deliver_outbox command"))
            self.stdout.write(f"[{done}/{total}] {message.channel} → {message.to}: {message.status}")
