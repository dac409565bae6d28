"""What payments does when a lower app reports an event (connected in PaymentsConfig.ready)."""

from typing import Any

from django.conf import settings
from django.dispatch import receiver

from acquitte.core.actors import System
from acquitte.customers.models import Organisation
from acquitte.customers.signals import organisation_created


@receiver(organisation_created)
def connect_sandbox(sender: type[Organisation], *, organisation: Organisation, **kwargs: Any) -> None:
    """With PAYMENTS_SANDBOX on, a new organisation can take test payments from its first minute."""
    if not settings.PAYMENTS_SANDBOX:
        return
    from .services import connect_provider  # at call time: ready() stays free of the services' imports

    connect_provider(
        organisation=organisation,
        provider="sandbox",
        credentials={},
        actor=System(reason="sandbox for a new organisation"),
    )
