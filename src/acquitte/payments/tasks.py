from celery import shared_task

from acquitte.core.actors import System

from . import services
from .services.reconciliation import Counts


@shared_task
def process_webhook_event(event_id: int) -> None:
    services.process_webhook_event(event_id=event_id)


@shared_task
def reconcile_payments(pending: bool = True) -> Counts:
    """Every 20 s for attempts in doubt (``pending=False``), every 5 minutes for debits settling too."""
    return services.reconcile_payments(actor=System(reason="reconcile_payments"), pending=pending)
