"""Webhooks a partner app receives for every merchant it connected (GoCardless's OAuth, PayPal's
partner onboarding): one URL and one secret or webhook id, the platform's.

Accounts connected by pasted keys keep their own endpoint and secret (``receive_webhook``); an
account connected through the platform's app has neither, so its events come here and are stored
for the organisation they concern, then applied as any other. A GoCardless event names its
merchant (``links.organisation``); a PayPal one does not always (a vault token's never does), so
the order, setup or token it names is looked up among the sellers the partner app connected.
"""

import logging
from collections.abc import Mapping
from typing import Any

from django.conf import settings

from ..models import MethodSetup, PaymentMethod, ProviderAccount, WebhookEvent
from ..providers import ProviderName, get_provider
from ..providers.base import MethodEvent, Provider, ProviderEvent, WebhookRejected, load_json
from ..providers.oauth import paypal_mode
from ..providers.paypal import PayPalProvider
from .webhooks import MAX_HEADER_LENGTH, SETUP_EVENT_PREFIX, attempt_named, store_event

logger = logging.getLogger(__name__)


def platform_webhook_secret(provider: str) -> str:
    """The partner app's webhook secret, from the environment ("" when the platform has none)."""
    if provider == ProviderName.GOCARDLESS:
        return str(getattr(settings, "GOCARDLESS_WEBHOOK_SECRET", ""))
    if provider == ProviderName.PAYPAL and settings.PAYPAL_PARTNER_CLIENT_ID:
        return str(settings.PAYPAL_PARTNER_WEBHOOK_ID)
    return ""


def _platform_client(provider: str) -> Provider:
    """The provider as the partner app: PayPal asks it, with the app's own credentials, to verify."""
    if provider == ProviderName.PAYPAL:
        return PayPalProvider(
            credentials={
                "client_id": settings.PAYPAL_PARTNER_CLIENT_ID,
                "client_secret": settings.PAYPAL_PARTNER_CLIENT_SECRET,
                "webhook_id": settings.PAYPAL_PARTNER_WEBHOOK_ID,
            },
            mode=paypal_mode(),
        )
    return get_provider(provider)


def receive_platform_webhook(*, provider: str, body: bytes, headers: Mapping[str, str]) -> list[WebhookEvent]:
    """Verify the delivery with the platform's secret and store each event once for its merchant's
    organisation; an event for a merchant no organisation connected is dropped (logged), since no
    one here can act on it. Raises WebhookRejected."""
    secret = platform_webhook_secret(provider)
    if not secret:
        raise WebhookRejected("no platform webhook for this provider", 404)
    if any(len(value) > MAX_HEADER_LENGTH for value in headers.values()):
        raise WebhookRejected("header too long", 400)
    events = _platform_client(provider).parse_webhook(body=body, headers=headers, secret=secret)
    owners = _gocardless_owners(body) if provider == ProviderName.GOCARDLESS else _owners(provider, events)
    stored = []
    for event in events:
        organisation_id = owners.get(event.event_id)
        if organisation_id is None:
            logger.info("%s event %s for no connected merchant dropped", provider, event.event_id)
            continue
        row = store_event(organisation_id=organisation_id, provider=provider, event=event, body=body)
        if row is not None:
            stored.append(row)
    return stored


def _gocardless_owners(body: bytes) -> dict[str, int]:
    """Each event's organisation, by the merchant it names (its organisation id at GoCardless)."""
    merchant_of = {
        str(event.get("id")): str((event.get("links") or {}).get("organisation") or "")
        for event in _events(body)
    }
    accounts = dict(
        ProviderAccount.objects.filter(
            provider=ProviderName.GOCARDLESS,
            connected_by_oauth=True,
            external_account_id__in=set(merchant_of.values()),
        ).values_list("external_account_id", "organisation_id")
    )
    return {event_id: accounts[m] for event_id, m in merchant_of.items() if m in accounts}


def _owners(provider: str, events: list[ProviderEvent | MethodEvent]) -> dict[str, int]:
    """Each event's organisation, by the charge, setup or saved method it names."""
    connected = set(
        ProviderAccount.objects.filter(provider=provider, connected_by_oauth=True).values_list(
            "organisation_id", flat=True
        )
    )
    owners = {}
    for event in events:
        found: int | None
        if isinstance(event, MethodEvent):
            found = _owner(PaymentMethod.objects.filter(provider=provider, token=event.token), connected)
        elif event.event_type.startswith(SETUP_EVENT_PREFIX):
            found = _owner(
                MethodSetup.objects.filter(provider=provider, reference=event.reference), connected
            )
        else:
            attempt = attempt_named(organisation_id=None, provider=provider, event=event)
            found = attempt.organisation_id if attempt is not None else None
        if found in connected:
            owners[event.event_id] = found
    return owners


def _owner(rows: Any, connected: set[int]) -> int | None:
    found: int | None = (
        rows.filter(organisation_id__in=connected).values_list("organisation_id", flat=True).first()
    )
    return found


def _events(body: bytes) -> list[dict[str, Any]]:
    events = load_json(body).get("events")
    return [e for e in events if isinstance(e, dict)] if isinstance(events, list) else []
