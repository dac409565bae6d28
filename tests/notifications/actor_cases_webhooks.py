"""Foreign-actor cases for outbound webhooks (``tests/test_actors.py`` loads them)."""

from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.notifications import services as notifications
from acquitte.notifications.models import WebhookDelivery, WebhookEndpoint


def set_up(w: Any) -> None:
    endpoint = WebhookEndpoint.objects.create(
        organisation=w.org, url="https://hooks.example.test/acquitte", secret="whsec_" + "A" * 32
    )
    w.extra["endpoint"] = endpoint
    w.extra["delivery"] = WebhookDelivery.objects.create(
        organisation=w.org,
        endpoint=endpoint,
        message_id="msg_actor_case",
        event_type="service.renewed",
        payload={"type": "service.renewed", "timestamp": "2026-11-02T00:00:00+00:00", "data": {}},
        status=WebhookDelivery.Status.FAILED,
        attempts=8,
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "notifications.queue_webhook_event": (
        lambda w, a: notifications.queue_webhook_event(
            organisation=w.org, event_type="service.suspended", data={"service": 1}, actor=a
        ),
        False,
    ),
    "notifications.create_webhook_endpoint": (
        lambda w, a: notifications.create_webhook_endpoint(
            organisation=w.org, url="https://intrus.example.test/", description="", event_types=[], actor=a
        ),
        False,
    ),
    "notifications.update_webhook_endpoint": (
        lambda w, a: notifications.update_webhook_endpoint(
            endpoint=w.extra["endpoint"],
            url="https://intrus.example.test/",
            description="",
            event_types=[],
            active=False,
            actor=a,
        ),
        False,
    ),
    "notifications.delete_webhook_endpoint": (
        lambda w, a: notifications.delete_webhook_endpoint(endpoint=w.extra["endpoint"], actor=a),
        False,
    ),
    "notifications.rotate_webhook_secret": (
        lambda w, a: notifications.rotate_webhook_secret(endpoint=w.extra["endpoint"], actor=a),
        False,
    ),
    "notifications.send_test_event": (
        lambda w, a: notifications.send_test_event(endpoint=w.extra["endpoint"], actor=a),
        False,
    ),
    "notifications.replay_webhook_delivery": (
        lambda w, a: notifications.replay_webhook_delivery(delivery=w.extra["delivery"], actor=a),
        False,
    ),
    "notifications.deliver_webhook": (
        lambda w, a: notifications.deliver_webhook(delivery_id=w.extra["delivery"].pk, actor=a),
        False,
    ),
    "notifications.deliver_due_webhooks": (lambda w, a: notifications.deliver_due_webhooks(actor=a), False),
}
