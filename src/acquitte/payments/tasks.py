from celery import shared_task

from acquitte.core.actors import System

from . import services
from .services.reconciliation import Counts
from .services.setup import SweepCounts


@shared_task
def process_webhook_event(event_id: int) -> None:
    services.process_webhook_event(event_id=event_id)


@shared_task
def reconcile_payments(pending: bool = True) -> Counts:
    """Every 20 s for attempts in doubt (``pending=False``), every 5 minutes for debits settling too."""
    return services.reconcile_payments(actor=System(reason="reconcile_payments"), pending=pending)


@shared_task
def sweep_abandoned_setups() -> SweepCounts:
    """Hourly: setups left on a provider's page for a week are asked about once more, then closed."""
    return services.sweep_abandoned_setups(actor=System(reason="sweep_abandoned_setups"))
