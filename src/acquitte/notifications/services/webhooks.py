"""Outbound webhooks: provisioning events told to the merchant's systems, signed as the Standard
Webhooks specification says (https://www.standardwebhooks.com).

An event is one ``WebhookDelivery`` per endpoint, written in the transaction of the change it
reports and delivered after commit, so a rollback tells nothing. Each HTTP request is made outside
any transaction, after the delivery was claimed by a conditional UPDATE: two workers never send the
same attempt. A failed attempt is retried later with the specification's backoff.
"""

import base64
import datetime
import ipaddress
import json
import secrets
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _
from standardwebhooks import Webhook

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_manage_settings, check_is_system
from acquitte.customers.models import Organisation

from ..models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from .access import _check_acts_in

PROVISIONING_EVENTS = ("service.suspended", "service.unsuspended", "service.renewed", "service.terminated")
#: Sent by "Envoyer un événement de test" to one endpoint, whatever events it hears.
TEST_EVENT = "webhook.test"
#: Waits before each new attempt (the specification's recommendation); then the delivery fails.
RETRY_DELAYS = tuple(
    datetime.timedelta(seconds=s) for s in (5, 5 * 60, 30 * 60, 2 * 3600, 5 * 3600, 10 * 3600, 10 * 3600)
)
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1
TIMEOUT_SECONDS = 10
#: A claimed delivery whose worker died is due again after this, so it is late but never lost.
CLAIM_LEASE = datetime.timedelta(seconds=TIMEOUT_SECONDS * 6)
SWEEP_CHUNK = 100
PENDING = (WebhookDelivery.Status.QUEUED, WebhookDelivery.Status.RETRYING)
USER_AGENT = "Acquitte-Webhooks/1"


def _json(data: dict[str, Any]) -> dict[str, Any]:
    """Decimals, dates and UUIDs as the strings a JSON receiver reads."""
    result: dict[str, Any] = json.loads(json.dumps(data, cls=DjangoJSONEncoder))
    return result


def _new_deliveries(
    *, endpoints: list[WebhookEndpoint], event_type: str, data: dict[str, Any]
) -> list[WebhookDelivery]:
    from ..tasks import deliver_webhook

    now = timezone.now()
    payload = {"type": event_type, "timestamp": now.isoformat(), "data": _json(data)}
    created = WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            organisation_id=endpoint.organisation_id,
            endpoint=endpoint,
            message_id=f"msg_{secrets.token_urlsafe(18)}",
            event_type=event_type,
            payload=payload,
            next_attempt_at=now,
        )
        for endpoint in endpoints
    )
    ids = [delivery.pk for delivery in created]

    def deliver_all() -> None:
        for delivery_id in ids:
            deliver_webhook.delay(delivery_id)

    if ids:
        transaction.on_commit(deliver_all)
    return created


def queue_webhook_event(
    *, organisation: Organisation, event_type: str, data: dict[str, Any], actor: Actor
) -> list[WebhookDelivery]:
    """One delivery per active endpoint of the organisation that hears ``event_type`` (an endpoint
    with no event chosen hears them all), in the caller's transaction, sent after it commits."""
    _check_acts_in(actor, organisation)
    if event_type not in PROVISIONING_EVENTS:
        raise BusinessError(
            _("Type d'événement inconnu : %(type)s.") % {"type": event_type}, code=ErrorCode.INVALID_INPUT
        )
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(organisation=organisation, active=True)
        if not endpoint.event_types or event_type in endpoint.event_types
    ]
    return _new_deliveries(endpoints=endpoints, event_type=event_type, data=data)


# --- Endpoints, managed by the organisation's owner ---------------------------------------------


def _new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def _refused_address(host: str) -> bool:
    """Whether ``host`` is, or resolves to, an address of our own network (SSRF)."""
    try:
        infos = socket.getaddrinfo(host, None)
    except (OSError, UnicodeError):
        return True
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global or address.is_multicast:
            return True
    return False


def _check_url(url: str) -> str:
    """An http(s) URL; outside development, not one that reaches the app's own network."""
    url = url.strip()
    parts = urlsplit(url)
    if "\x00" in url or parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BusinessError(
            _("Saisissez une adresse web complète commençant par https:// ou http://."),
            code=ErrorCode.INVALID_INPUT,
        )
    if not settings.WEBHOOKS_ALLOW_PRIVATE and _refused_address(parts.hostname):
        raise BusinessError(
            _("Cette adresse mène à un réseau privé ou est introuvable : elle est refusée."),
            code=ErrorCode.INVALID_INPUT,
        )
    return url


def _event_types(event_types: list[str]) -> list[str]:
    unknown = set(event_types) - set(PROVISIONING_EVENTS)
    if unknown:
        raise BusinessError(
            _("Type d'événement inconnu : %(type)s.") % {"type": ", ".join(sorted(unknown))},
            code=ErrorCode.INVALID_INPUT,
        )
    return [event for event in PROVISIONING_EVENTS if event in event_types]


def _clean_description(description: str) -> str:
    if "\x00" in description:
        raise BusinessError(_("Le texte contient un caractère invalide."), code=ErrorCode.INVALID_INPUT)
    return description.strip()[:200]


def create_webhook_endpoint(
    *, organisation: Organisation, url: str, description: str, event_types: list[str], actor: Actor
) -> WebhookEndpoint:
    check_can_manage_settings(actor, organisation)
    with transaction.atomic():
        endpoint = WebhookEndpoint(
            organisation=organisation,
            url=_check_url(url),
            description=_clean_description(description),
            event_types=_event_types(event_types),
        )
        endpoint.secret = _new_secret()
        endpoint.save()
        record_transition(obj=endpoint, organisation=organisation, actor=actor, action=AuditAction.CREATE)
    return endpoint


def update_webhook_endpoint(
    *,
    endpoint: WebhookEndpoint,
    url: str,
    description: str,
    event_types: list[str],
    active: bool,
    actor: Actor,
) -> WebhookEndpoint:
    """Change an endpoint; switching it off fails what it still had to receive."""
    check_can_manage_settings(actor, endpoint.organisation)
    endpoint.url = _check_url(url)
    endpoint.description = _clean_description(description)
    endpoint.event_types = _event_types(event_types)
    with transaction.atomic():
        if endpoint.active and not active:
            WebhookDelivery.objects.filter(endpoint=endpoint, status__in=PENDING).update(
                status=WebhookDelivery.Status.FAILED,
                next_attempt_at=None,
                last_error=_("Point de terminaison désactivé."),
            )
        endpoint.active = active
        endpoint.save(update_fields=["url", "description", "event_types", "active"])
        record_transition(
            obj=endpoint, organisation=endpoint.organisation, actor=actor, action=AuditAction.UPDATE
        )
    return endpoint


def delete_webhook_endpoint(*, endpoint: WebhookEndpoint, actor: Actor) -> None:
    """The endpoint and its delivery log go; the audit trail keeps that it existed."""
    check_can_manage_settings(actor, endpoint.organisation)
    with transaction.atomic():
        record_transition(
            obj=endpoint, organisation=endpoint.organisation, actor=actor, action=AuditAction.DELETE
        )
        endpoint.delete()


def rotate_webhook_secret(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookEndpoint:
    """A new secret signs every attempt from now on (retries of older messages included)."""
    check_can_manage_settings(actor, endpoint.organisation)
    with transaction.atomic():
        endpoint.secret = _new_secret()
        endpoint.save(update_fields=["secret_encrypted"])
        record_transition(
            obj=endpoint,
            organisation=endpoint.organisation,
            actor=actor,
            action=AuditAction.UPDATE,
            detail={"secret": "rotated"},
        )
    return endpoint


def send_test_event(*, endpoint: WebhookEndpoint, actor: Actor) -> WebhookDelivery:
    check_can_manage_settings(actor, endpoint.organisation)
    if not endpoint.active:
        raise BusinessError(_("Ce point de terminaison est désactivé."), code=ErrorCode.INVALID_STATE)
    data = {"message": _("Événement de test envoyé depuis Acquitte.")}
    with transaction.atomic():
        return _new_deliveries(endpoints=[endpoint], event_type=TEST_EVENT, data=data)[0]


def replay_webhook_delivery(*, delivery: WebhookDelivery, actor: Actor) -> WebhookDelivery:
    """Another attempt now, under the same ``webhook-id`` so a receiver that already has it can
    tell; if it fails too, the retries go on while attempts are left."""
    from ..tasks import deliver_webhook

    check_can_manage_settings(actor, delivery.organisation)
    if not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id, active=True).exists():
        raise BusinessError(_("Ce point de terminaison est désactivé."), code=ErrorCode.INVALID_STATE)
    with transaction.atomic():
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.QUEUED,
            next_attempt_at=timezone.now(),
        )
        record_transition(
            obj=delivery, organisation=delivery.organisation, actor=actor, action=AuditAction.SEND
        )
        transaction.on_commit(lambda: deliver_webhook.delay(delivery.pk))
    delivery.refresh_from_db()
    return delivery


# --- Delivery, by the system ---------------------------------------------------------------------


def _claim(delivery_id: int, now: datetime.datetime) -> bool:
    """Take one due delivery for one attempt: the UPDATE's condition lets one worker win."""
    claimed = WebhookDelivery.objects.filter(
        pk=delivery_id, status__in=PENDING, next_attempt_at__lte=now, endpoint__active=True
    ).update(next_attempt_at=now + CLAIM_LEASE, attempts=F("attempts") + 1)
    return claimed == 1


def signed_request(delivery: WebhookDelivery, *, secret: str) -> tuple[bytes, dict[str, str]]:
    """The body and headers of one attempt: signed anew, since the timestamp is part of it."""
    body = json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()
    now = timezone.now()
    return body, {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": delivery.message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign(delivery.message_id, now, body),
    }


def _post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str]:
    """The status code and the start of the answer, or no code and the error."""
    host = urlsplit(url).hostname or ""
    if not settings.WEBHOOKS_ALLOW_PRIVATE and _refused_address(host):
        return None, _("Adresse refusée : elle mène à un réseau privé.")
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=TIMEOUT_SECONDS, allow_redirects=False, stream=True
        )
        with response:
            text = response.raw.read(500, decode_content=True).decode("utf-8", "replace")
        return response.status_code, text
    except (requests.RequestException, OSError) as exc:
        return None, f"{type(exc).__name__}: {exc}"


def _attempt(delivery_id: int) -> None:
    """Send a claimed delivery and write what came back."""
    delivery = WebhookDelivery.objects.select_related("endpoint").filter(pk=delivery_id).first()
    if delivery is None:  # its endpoint was deleted meanwhile
        return
    body, headers = signed_request(delivery, secret=delivery.endpoint.secret)
    started = time.monotonic()
    status_code, answer = _post(delivery.endpoint.url, body, headers)
    duration_ms = int((time.monotonic() - started) * 1000)
    now = timezone.now()
    delivered = status_code is not None and 200 <= status_code < 300
    outcome: dict[str, Any] = {
        "last_status_code": status_code,
        "last_error": "" if delivered else answer[:300],
    }
    if delivered:
        outcome.update(status=WebhookDelivery.Status.DELIVERED, delivered_at=now, next_attempt_at=None)
    elif delivery.attempts >= MAX_ATTEMPTS:
        outcome.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
    else:
        outcome.update(
            status=WebhookDelivery.Status.RETRYING,
            next_attempt_at=now + RETRY_DELAYS[delivery.attempts - 1],
        )
    with transaction.atomic():
        WebhookAttempt.objects.create(
            delivery=delivery,
            status_code=status_code,
            response=answer[:500],
            duration_ms=duration_ms,
            request_headers={k: v for k, v in headers.items() if k != "content-type"},
        )
        WebhookDelivery.objects.filter(pk=delivery_id, attempts=delivery.attempts).update(**outcome)


def deliver_webhook(*, delivery_id: int, actor: Actor) -> WebhookDelivery | None:
    """One attempt of a due delivery; a retried task, or one a sweep took first, sends nothing.
    None when the delivery is gone (its endpoint deleted)."""
    check_is_system(actor)
    if _claim(delivery_id, timezone.now()):
        _attempt(delivery_id)
    return WebhookDelivery.objects.filter(pk=delivery_id).first()


def _claim_due(now: datetime.datetime, limit: int) -> list[int]:
    due = WebhookDelivery.objects.filter(
        status__in=PENDING, next_attempt_at__lte=now, endpoint__active=True
    ).order_by("next_attempt_at", "pk")
    if not connection.features.has_select_for_update_skip_locked:
        return [pk for pk in list(due.values_list("pk", flat=True)[:limit]) if _claim(pk, now)]
    with transaction.atomic():
        # Rows another sweep holds are skipped rather than waited for, then sent by that sweep.
        ids = list(due.select_for_update(skip_locked=True, of=("self",)).values_list("pk", flat=True)[:limit])
        return [pk for pk in ids if _claim(pk, now)]


def deliver_due_webhooks(*, actor: Actor, limit: int = SWEEP_CHUNK) -> int:
    """Send the deliveries whose next attempt is due, every organisation's; returns how many."""
    check_is_system(actor)
    ids = _claim_due(timezone.now(), limit)
    for delivery_id in ids:
        _attempt(delivery_id)
    return len(ids)
