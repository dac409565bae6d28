"""Provider webhooks: verified and stored once on arrival, applied later by a task."""

import logging
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from acquitte.core.actors import System
from acquitte.customers.models import Organisation

from ..models import ChargeAttempt, ProviderAccount, WebhookEvent
from ..providers import PROVIDER_FIELDS, ChargeResult, ProviderName, get_provider
from ..providers.base import MethodEvent, ProviderEvent, WebhookRejected, load_json
from ..secrets import decrypt
from .outcomes import apply_charge_result
from .setup import apply_method_event, complete_method_setup, find_setup

#: The prefix of a normalised event that says a hosted setup is complete (contract of base.py).
SETUP_EVENT_PREFIX = "setup."

logger = logging.getLogger(__name__)

#: The longest header value a webhook may carry (PayPal's certificate URL and signature included).
MAX_HEADER_LENGTH = 2048


def webhook_secret(*, provider: str, organisation: Organisation) -> str:
    """The signing secret of an organisation's account with ``provider`` ("" when none is stored).

    It is the account's own: issued by the provider, or drawn at random when the sandbox was
    connected (``connect_provider``), and stored encrypted with the credentials; nothing derives it.
    """
    account = ProviderAccount.objects.filter(organisation=organisation, provider=provider).first()
    if account is None:
        return ""
    return decrypt(account.credentials_encrypted).get("webhook_secret", "")


def receive_webhook(
    *, provider: str, organisation_slug: str, body: bytes, headers: Mapping[str, str]
) -> list[WebhookEvent]:
    """Verify and store each event once; processing happens in a task. Raises WebhookRejected.

    The provider's signature is the authority here: nothing but the inbox row is written.
    """
    if provider not in PROVIDER_FIELDS:
        raise WebhookRejected("unknown provider", 404)
    # Bounded before anything reads them: signatures, ids and timestamps are short.
    if any(len(value) > MAX_HEADER_LENGTH for value in headers.values()):
        raise WebhookRejected("header too long", 400)
    # One query: the busiest endpoint of the app reads only what it needs.
    account = (
        ProviderAccount.objects.filter(organisation__slug=organisation_slug, provider=provider)
        .select_related("organisation")
        .only("mode", "credentials_encrypted", "organisation__slug")
        .first()
    )
    if account is None:
        raise WebhookRejected("unknown organisation, or provider not connected", 404)
    organisation = account.organisation
    handler = get_provider(provider, account=account)
    secret = handler.credentials.get("webhook_secret", "")
    if not secret and provider != ProviderName.PAYPAL:  # PayPal signs with a certificate instead
        raise WebhookRejected("no webhook secret for this account", 401)
    events = handler.parse_webhook(body=body, headers=headers, secret=secret)
    stored = (
        store_event(organisation_id=organisation.pk, provider=provider, event=e, body=body) for e in events
    )
    return [event for event in stored if event is not None]


def store_event(
    *, organisation_id: int, provider: str, event: ProviderEvent | MethodEvent, body: bytes
) -> WebhookEvent | None:
    """Store a verified event once for the organisation it concerns; None for a replay."""
    # The unique constraint, not a lookup, makes a replay a no-op. Outside a transaction the
    # insert commits on its own; inside one it needs a savepoint to survive the conflict.
    guard: AbstractContextManager[object] = (
        transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
    )
    try:
        with guard:
            return WebhookEvent.objects.create(
                organisation_id=organisation_id,
                provider=provider,
                event_id=event.event_id,
                event_type=event.event_type[:60],
                payload=event.payload or _payload(body),
            )
    except IntegrityError:
        logger.info("duplicate webhook event %s %s ignored", provider, event.event_id)
        return None


def _payload(body: bytes) -> dict[str, Any]:
    """The stored payload of an event that brings none: the verified body, read again later."""
    data = load_json(body)
    return data if isinstance(data, dict) else {}


def process_webhook_event(*, event_id: int) -> None:
    """Apply one stored event to the charge, the setup or the saved method it names; replays and
    late arrivals change nothing. A setup is finished by asking the provider, outside any
    transaction: the event is marked processed only once that is done, so a failure is retried."""
    event = WebhookEvent.objects.get(pk=event_id)
    if event.status != WebhookEvent.Status.RECEIVED:
        return
    parsed = get_provider(event.provider).parse_payload(event.payload)
    if isinstance(parsed, ProviderEvent) and parsed.event_type.startswith(SETUP_EVENT_PREFIX):
        setup = find_setup(
            organisation_id=event.organisation_id, provider=event.provider, reference=parsed.reference
        )
        if setup is not None:
            complete_method_setup(setup=setup, actor=System(reason=f"webhook:{event.provider}"))
        _mark(event_id, matched=setup is not None, error="unknown setup")
        return
    _apply_event(event_id)


@transaction.atomic
def _mark(event_id: int, *, matched: bool, error: str) -> None:
    event = WebhookEvent.objects.select_for_update().get(pk=event_id)
    if event.status != WebhookEvent.Status.RECEIVED:
        return
    event.status = WebhookEvent.Status.PROCESSED if matched else WebhookEvent.Status.UNMATCHED
    event.error = "" if matched else error
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "processed_at", "error"])


def attempt_named(
    *, organisation_id: int | None, provider: str, event: ProviderEvent
) -> ChargeAttempt | None:
    """The charge an event names: by the provider's reference, else by our key for a charge whose
    answer never came (it has no reference yet). Any organisation's when ``organisation_id`` is None."""
    attempts = ChargeAttempt.objects.filter(provider=provider)
    if organisation_id is not None:
        attempts = attempts.filter(organisation_id=organisation_id)
    references = [r for r in (event.reference, event.new_reference) if r]
    found = attempts.filter(provider_reference__in=references).first()
    if found is None and event.idempotency_key:
        found = attempts.filter(idempotency_key=event.idempotency_key, provider_reference="").first()
    return found


@transaction.atomic
def _apply_event(event_id: int) -> None:
    event = WebhookEvent.objects.select_for_update().get(pk=event_id)
    if event.status != WebhookEvent.Status.RECEIVED:
        return
    parsed = get_provider(event.provider).parse_payload(event.payload)
    if isinstance(parsed, MethodEvent):
        found = apply_method_event(
            organisation_id=event.organisation_id,
            provider=event.provider,
            event=parsed,
            actor=System(reason=f"webhook:{event.provider}"),
        )
        event.status = WebhookEvent.Status.PROCESSED if found else WebhookEvent.Status.UNMATCHED
        event.error = "" if found else "unknown method"
        event.processed_at = timezone.now()
        event.save(update_fields=["status", "processed_at", "error"])
        return
    attempt = attempt_named(organisation_id=event.organisation_id, provider=event.provider, event=parsed)
    if attempt is None:
        event.status, event.error = WebhookEvent.Status.UNMATCHED, "unknown charge"
    else:
        apply_charge_result(
            attempt=attempt,
            result=ChargeResult(status=parsed.status, reference=parsed.new_reference or parsed.reference),
            actor=System(reason=f"webhook:{event.provider}"),
        )
        event.status = WebhookEvent.Status.PROCESSED
    event.processed_at = timezone.now()
    event.save(update_fields=["status", "processed_at", "error"])
