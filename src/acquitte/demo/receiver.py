"""The demo's stand-in for a merchant's system: it verifies and keeps what the webhooks send, so
the demo shows an event leaving, signed, and arriving."""

import json
from collections.abc import Mapping

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from acquitte.customers.models import Organisation
from acquitte.notifications.models import WebhookEndpoint

from .models import ReceivedWebhook

MAX_BODY = 64 * 1024
#: Only the newest requests are kept: the receiver is public, its log must not grow without end.
KEEP = 200
KEPT_HEADERS = ("content-type", "user-agent", "webhook-id", "webhook-timestamp", "webhook-signature")


def record(
    *, organisation: Organisation, url: str, body: bytes, headers: Mapping[str, str]
) -> ReceivedWebhook:
    """Verify ``body`` with the secret of the organisation's endpoint(s) at ``url`` and keep it."""
    kept = {name: headers.get(name, "")[:500] for name in KEPT_HEADERS if headers.get(name)}
    payload, error = None, "no endpoint of this organisation has this address"
    for endpoint in WebhookEndpoint.objects.filter(organisation=organisation, url=url):
        try:
            payload = Webhook(endpoint.secret).verify(body, kept)
            break
        except (WebhookVerificationError, ValueError) as exc:
            error = str(exc)
    received = ReceivedWebhook.objects.create(
        organisation=organisation,
        message_id=kept.get("webhook-id", "")[:80],
        event_type=str(payload.get("type", ""))[:60] if isinstance(payload, dict) else "",
        headers=kept,
        body=body.decode("utf-8", "replace").replace("\x00", ""),
        verified=payload is not None,
        error="" if payload is not None else error[:200],
    )
    old = ReceivedWebhook.objects.filter(organisation=organisation).values_list("pk", flat=True)[KEEP:]
    ReceivedWebhook.objects.filter(pk__in=list(old)).delete()
    return received


def pretty(received: ReceivedWebhook) -> str:
    try:
        return json.dumps(json.loads(received.body), indent=2, ensure_ascii=False)
    except ValueError:
        return received.body
