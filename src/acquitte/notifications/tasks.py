from celery import shared_task

from acquitte.core.actors import System

from . import services

DELIVERY = System(reason="outbox delivery")


@shared_task
def deliver_message(message_id: int) -> None:
    services.deliver(message_id=message_id, actor=DELIVERY)


@shared_task
def deliver_queued_messages() -> int:
    """Pick up messages left queued (a worker crash, a transient SMTP or SMS error)."""
    return services.deliver_queued(actor=DELIVERY)
