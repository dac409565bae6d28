from celery import shared_task

from acquitte.core.actors import System

from . import services

DELIVERY = System(reason="outbox delivery")
WEBHOOKS = System(reason="webhook delivery")


@shared_task
def deliver_message(message_id: int) -> None:
    services.deliver(message_id=message_id, actor=DELIVERY)


@shared_task
def deliver_queued_messages() -> int:
    """Pick up messages left queued (a worker crash, a transient SMTP or SMS error)."""
    return services.deliver_queued(actor=DELIVERY)


@shared_task
def deliver_webhook(delivery_id: int) -> None:
    services.deliver_webhook(delivery_id=delivery_id, actor=WEBHOOKS)


@shared_task
def deliver_due_webhooks() -> int:
    """Retries whose time has come, and deliveries whose task was lost (a worker crash)."""
    return services.deliver_due_webhooks(actor=WEBHOOKS)
