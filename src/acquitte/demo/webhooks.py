"""The demo organisations' webhook endpoint, pointing at the receiver inside the app."""

from django.conf import settings
from django.urls import reverse

from acquitte.core.actors import System
from acquitte.core.errors import BusinessError
from acquitte.customers.models import Organisation
from acquitte.notifications import services as notifications
from acquitte.notifications.models import WebhookEndpoint

DEMO = System(reason="demo data")


def receiver_url(organisation: Organisation) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("demo:webhook_receiver", args=[organisation.slug])


def ensure_demo_endpoint(organisation: Organisation) -> str:
    """What was done, for the log: the endpoint made, found, or refused (a private address outside
    development needs WEBHOOKS_ALLOW_PRIVATE)."""
    url = receiver_url(organisation)
    if WebhookEndpoint.objects.filter(organisation=organisation, url=url).exists():
        return ""
    try:
        notifications.create_webhook_endpoint(
            organisation=organisation,
            url=url,
            description="Récepteur de démonstration",
            event_types=[],
            actor=DEMO,
        )
    except BusinessError as exc:
        return f"récepteur de webhooks non configuré ({exc.text()} WEBHOOKS_ALLOW_PRIVATE=1 l'autorise)"
    return f"webhooks envoyés au récepteur de démonstration {url}"
