"""Webhooks a partner app receives for every merchant it connected by OAuth (GoCardless): one URL
and one secret, the platform's, each event naming its merchant in ``links.organisation``.

Accounts connected by pasted keys keep their own endpoint and secret (``receive_webhook``); an
account connected through the platform's app has neither, so its events come here and are stored
for the organisation whose account that merchant is, then applied as any other.
"""

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from ..models import ProviderAccount, WebhookEvent
from ..providers import ProviderName, get_provider
from ..providers.base import WebhookRejected, load_json
from .webhooks import MAX_HEADER_LENGTH, store_event

logger = logging.getLogger(__name__)


def platform_webhook_secret(provider: str) -> str:
    """The partner app's webhook secret, from the environment ("" when the platform has none)."""
    if provider == ProviderName.GOCARDLESS:
        return str(getattr(settings, "GOCARDLESS_WEBHOOK_SECRET", ""))
    return ""


def receive_platform_webhook(*, provider: str, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
    """Verify the delivery with the platform's secret and store each event once for its merchant's
    organisation; an event for a merchant no organisation connected is dropped (logged), since no
    one here can act on it. Raises WebhookRejected."""
    secret = platform_webhook_secret(provider)
    if not secret:
        raise WebhookRejected("no platform webhook for this provider", 404)
    if any(len(value) > MAX_HEADER_LENGTH for value in headers.values()):
        raise WebhookRejected("header too long", 400)
    events = get_provider(provider).parse_webhook(body=body, headers=headers, secret=secret)
    merchant_of = _merchants(body)
    accounts = dict(
        ProviderAccount.objects.filter(
            provider=provider, connected_by_oauth=True, external_account_id__in=set(merchant_of.values())
        ).values_list("external_account_id", "organisation_id")
    )
    stored = []
    for event in events:
        organisation_id = accounts.get(merchant_of.get(event.event_id, ""))
        if organisation_id is None:
            logger.info("%s event %s for no connected merchant dropped", provider, event.event_id)
            continue
        row = store_event(organisation_id=organisation_id, provider=provider, event=event, body=body)
        if row is not None:
            stored.append(row)
    return stored


def _merchants(body: bytes) -> dict[str, str]:
    """Each event's merchant (its organisation id at GoCardless), from the verified body."""
    return {
        str(event.get("id")): str((event.get("links") or {}).get("organisation") or "")
        for event in _events(body)
    }


def _events(body: bytes) -> list[dict[str, Any]]:
    events = load_json(body).get("events")
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
