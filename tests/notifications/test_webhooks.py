"""Outbound webhooks: signed as Standard Webhooks says, sent to a local HTTP server after commit,
retried with backoff, claimed so that two sweeps never send one attempt twice, and refused when
they would reach the app's own network."""

import datetime
import socket
import threading
import time

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.test import TestCase
from django.utils import timezone
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.notifications import services, tasks
from acquitte.notifications.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from acquitte.notifications.services import webhooks
from tests import factories
from tests.fake_server import LocalFake, QuietHandler

SYSTEM = factories.SYSTEM
SUSPENDED = {"service": 12, "domain": "cafebonjour.ca", "amount": "25.00"}


class ReceiverHandler(QuietHandler):
    def _dispatch(self):
        fake = self.server.fake
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with fake.lock:
            fake.received.append((body, {k.lower(): v for k, v in self.headers.items()}))
            status = fake.statuses.pop(0) if fake.statuses else 200
        if fake.delay:
            time.sleep(fake.delay)
        answer = b"x" * 800 if status >= 300 else b"ok"
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)


class Receiver(LocalFake):
    """A merchant's endpoint: answers each request with the next of ``statuses`` (then 200)."""

    handler = ReceiverHandler

    def __init__(self, statuses=(), delay=0.0):
        super().__init__()
        self.statuses = list(statuses)
        self.delay = delay
        self.received: list[tuple[bytes, dict[str, str]]] = []
        self.lock = threading.Lock()


@pytest.fixture
def receiver(settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver() as fake:
        yield fake


@pytest.fixture
def owner(org_qc):
    return factories.staff(org_qc)


def endpoint(org, url, *, event_types=(), owner=None, active=True):
    created = services.create_webhook_endpoint(
        organisation=org,
        url=url,
        description="Panneau d'hébergement",
        event_types=list(event_types),
        actor=owner or SYSTEM,
    )
    if not active:
        WebhookEndpoint.objects.filter(pk=created.pk).update(active=False)
    return created


def queue(org, event_type="service.suspended", data=None):
    with TestCase.captureOnCommitCallbacks(execute=True):
        deliveries = services.queue_webhook_event(
            organisation=org, event_type=event_type, data=data or SUSPENDED, actor=SYSTEM
        )
    for delivery in deliveries:
        delivery.refresh_from_db()
    return deliveries


def make_due(*deliveries):
    WebhookDelivery.objects.filter(pk__in=[d.pk for d in deliveries]).update(
        next_attempt_at=timezone.now() - datetime.timedelta(seconds=1)
    )


def test_an_event_is_delivered_after_commit_signed_as_standard_webhooks_says(org_qc, owner, receiver):
    hook = endpoint(org_qc, receiver.url + "/hooks", owner=owner)
    assert hook.secret.startswith("whsec_")
    (delivery,) = queue(org_qc)
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 1
    assert delivery.message_id.startswith("msg_") and delivery.delivered_at
    (body, headers) = receiver.received[0]
    payload = Webhook(hook.secret).verify(body, headers)
    assert payload["type"] == "service.suspended" and payload["data"] == SUSPENDED
    assert datetime.datetime.fromisoformat(payload["timestamp"]).tzinfo is not None
    assert headers["webhook-id"] == delivery.message_id
    assert headers["content-type"] == "application/json"
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks._new_secret()).verify(body, headers)
    attempt = WebhookAttempt.objects.get(delivery=delivery)
    assert attempt.status_code == 200 and attempt.response == "ok"
    assert attempt.request_headers["webhook-signature"] == headers["webhook-signature"]


def test_only_active_endpoints_of_the_organisation_that_hear_the_type_get_it(org_qc, org_fr, receiver):
    everything = endpoint(org_qc, receiver.url + "/all")
    renewals = endpoint(org_qc, receiver.url + "/renewals", event_types=["service.renewed"])
    endpoint(org_qc, receiver.url + "/off", active=False)
    endpoint(org_fr, receiver.url + "/fr")
    assert [d.endpoint_id for d in queue(org_qc, "service.suspended")] == [everything.pk]
    assert sorted(d.endpoint_id for d in queue(org_qc, "service.renewed")) == [everything.pk, renewals.pk]
    assert len(receiver.received) == 3


def test_a_rolled_back_change_tells_nothing(org_qc, receiver):
    endpoint(org_qc, receiver.url)
    with (
        TestCase.captureOnCommitCallbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        services.queue_webhook_event(
            organisation=org_qc, event_type="service.terminated", data={}, actor=SYSTEM
        )
        raise RuntimeError("the change fails after the event was queued")
    assert not WebhookDelivery.objects.exists() and receiver.received == []


def test_an_unknown_type_or_a_foreign_actor_is_refused(org_qc, org_fr, receiver):
    endpoint(org_qc, receiver.url)
    with pytest.raises(BusinessError) as refused:
        services.queue_webhook_event(organisation=org_qc, event_type="service.deleted", data={}, actor=SYSTEM)
    assert refused.value.error_code == ErrorCode.INVALID_INPUT
    with pytest.raises(PermissionDenied):
        services.queue_webhook_event(
            organisation=org_qc, event_type="service.renewed", data={}, actor=factories.staff(org_fr)
        )
    assert not WebhookDelivery.objects.exists()


def test_a_500_is_retried_with_backoff_until_the_last_attempt_fails(org_qc, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(statuses=[500] * webhooks.MAX_ATTEMPTS) as fake:
        endpoint(org_qc, fake.url)
        (delivery,) = queue(org_qc)
        waits = []
        while delivery.status == WebhookDelivery.Status.RETRYING:
            waits.append(delivery.next_attempt_at - delivery.attempt_log.first().attempted_at)
            assert services.deliver_due_webhooks(actor=SYSTEM) == 0, "not due yet"
            make_due(delivery)
            assert services.deliver_due_webhooks(actor=SYSTEM) == 1
            delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.next_attempt_at is None
    assert delivery.attempts == webhooks.MAX_ATTEMPTS == len(fake.received) == 8
    assert [round(w.total_seconds()) for w in waits] == [5, 300, 1800, 7200, 18000, 36000, 36000]
    attempts = list(delivery.attempt_log.all())
    assert len(attempts) == 8 and {a.status_code for a in attempts} == {500}
    assert all(len(a.response) == 500 for a in attempts) and delivery.last_status_code == 500
    assert len({body for body, _ in fake.received}) == 1
    assert len({h["webhook-id"] for _, h in fake.received}) == 1


def test_a_refused_connection_and_a_timeout_are_attempts_retried_later(org_qc, settings, monkeypatch):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    endpoint(org_qc, f"http://127.0.0.1:{port}/")
    (refused,) = queue(org_qc)
    assert refused.status == WebhookDelivery.Status.RETRYING and refused.last_status_code is None
    assert "ConnectionError" in refused.attempt_log.get().response
    WebhookEndpoint.objects.all().delete()

    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.2)
    with Receiver(delay=1.0) as slow:
        endpoint(org_qc, slow.url)
        (late,) = queue(org_qc)
    assert late.status == WebhookDelivery.Status.RETRYING and late.attempts == 1
    assert "Timeout" in late.last_error
    assert late.next_attempt_at > timezone.now()


def test_a_claimed_attempt_is_sent_once_however_many_tasks_or_sweeps_ask(org_qc, receiver):
    endpoint(org_qc, receiver.url)
    with TestCase.captureOnCommitCallbacks(execute=False):
        (delivery,) = services.queue_webhook_event(
            organisation=org_qc, event_type="service.unsuspended", data={}, actor=SYSTEM
        )
    assert services.deliver_due_webhooks(actor=SYSTEM) == 1
    services.deliver_webhook(delivery_id=delivery.pk, actor=SYSTEM)
    assert services.deliver_due_webhooks(actor=SYSTEM) == 0
    assert len(receiver.received) == 1


@pytest.mark.postgres
def test_racing_sweeps_send_each_attempt_once(settings, monkeypatch):
    """Four sweeps at once over thirty due deliveries whose own tasks were lost."""
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    monkeypatch.setattr(tasks.deliver_webhook, "delay", lambda delivery_id: None)
    org = factories.quebec_organisation("webhook-race")
    with Receiver() as fake:
        for n in range(3):
            endpoint(org, f"{fake.url}/{n}")
        for _ in range(10):
            services.queue_webhook_event(
                organisation=org, event_type="service.renewed", data={}, actor=SYSTEM
            )
        barrier = threading.Barrier(4)
        sent, errors = [], []

        def sweep():
            try:
                barrier.wait()
                sent.append(services.deliver_due_webhooks(actor=SYSTEM, limit=10))
            except Exception as exc:  # collected and asserted below
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=sweep) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == [] and sum(sent) == 30
        ids = [h["webhook-id"] for _, h in fake.received]
        assert len(ids) == len(set(ids)) == 30
    assert WebhookDelivery.objects.filter(status=WebhookDelivery.Status.DELIVERED).count() == 30
    assert WebhookAttempt.objects.count() == 30


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/demo/",
        "http://localhost/",
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://0.0.0.0/",
    ],
)
def test_outside_development_an_address_of_our_own_network_is_refused(org_qc, owner, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    with pytest.raises(BusinessError) as refused:
        endpoint(org_qc, url, owner=owner)
    assert "réseau privé" in refused.value.text()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    "url", ["ftp://example.com/", "javascript:alert(1)", "file:///etc/passwd", "https://"]
)
def test_only_http_urls_are_accepted(org_qc, owner, settings, url):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with pytest.raises(BusinessError) as refused:
        endpoint(org_qc, url, owner=owner)
    assert refused.value.error_code == ErrorCode.INVALID_INPUT
    assert not WebhookEndpoint.objects.exists()


def test_an_endpoint_that_turned_private_is_not_called(org_qc, receiver, settings):
    endpoint(org_qc, receiver.url)
    settings.WEBHOOKS_ALLOW_PRIVATE = False
    (delivery,) = queue(org_qc)
    assert receiver.received == [] and delivery.status == WebhookDelivery.Status.RETRYING
    assert "réseau privé" in delivery.last_error


def test_replay_sends_the_same_message_again_now(org_qc, owner, receiver):
    endpoint(org_qc, receiver.url, owner=owner)
    (delivery,) = queue(org_qc)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.replay_webhook_delivery(delivery=delivery, actor=owner)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.DELIVERED and delivery.attempts == 2
    assert [h["webhook-id"] for _, h in receiver.received] == [delivery.message_id] * 2
    assert delivery.attempt_log.count() == 2


def test_a_failed_delivery_replayed_gets_one_more_attempt(org_qc, owner, settings):
    settings.WEBHOOKS_ALLOW_PRIVATE = True
    with Receiver(statuses=[500, 503]) as fake:
        endpoint(org_qc, fake.url, owner=owner)
        (delivery,) = queue(org_qc)
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=WebhookDelivery.Status.FAILED, attempts=webhooks.MAX_ATTEMPTS, next_attempt_at=None
        )
        with TestCase.captureOnCommitCallbacks(execute=True):
            services.replay_webhook_delivery(delivery=delivery, actor=owner)
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED and delivery.last_status_code == 503
    assert len(fake.received) == 2


def test_test_event_rotation_and_disabling(org_qc, owner, receiver):
    hook = endpoint(org_qc, receiver.url, event_types=["service.renewed"], owner=owner)
    with TestCase.captureOnCommitCallbacks(execute=True):
        test = services.send_test_event(endpoint=hook, actor=owner)
    old_secret = hook.secret
    rotated = services.rotate_webhook_secret(endpoint=hook, actor=owner)
    assert rotated.secret != old_secret and rotated.secret.startswith("whsec_")
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.send_test_event(endpoint=hook, actor=owner)
    (first, first_headers), (second, second_headers) = receiver.received
    assert Webhook(old_secret).verify(first, first_headers)["type"] == services.TEST_EVENT
    assert Webhook(rotated.secret).verify(second, second_headers)["type"] == services.TEST_EVENT
    with pytest.raises(WebhookVerificationError):
        Webhook(old_secret).verify(second, second_headers)
    assert WebhookDelivery.objects.get(pk=test.pk).status == WebhookDelivery.Status.DELIVERED

    WebhookDelivery.objects.filter(pk=test.pk).update(status=WebhookDelivery.Status.RETRYING)
    services.update_webhook_endpoint(
        endpoint=hook, url=hook.url, description="", event_types=[], active=False, actor=owner
    )
    assert WebhookDelivery.objects.get(pk=test.pk).status == WebhookDelivery.Status.FAILED
    with pytest.raises(BusinessError):
        services.send_test_event(endpoint=hook, actor=owner)
    services.delete_webhook_endpoint(endpoint=hook, actor=owner)
    assert not WebhookEndpoint.objects.exists() and not WebhookDelivery.objects.exists()


def test_only_the_owner_manages_endpoints(org_qc, receiver):
    accountant = factories.staff(org_qc, email="compta@example.test", role="accountant")
    with pytest.raises(PermissionDenied):
        endpoint(org_qc, receiver.url, owner=accountant)
    assert not WebhookEndpoint.objects.exists()
