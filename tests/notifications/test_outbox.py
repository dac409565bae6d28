"""The outbox: e-mails through Django's backend, SMS through Twilio's SDK (against a local fake),
delivery states visible to staff, and Twilio's signed delivery reports."""

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from django.utils import timezone
from twilio.request_validator import RequestValidator

from acquitte.notifications import services
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.notifications.sms import SmsBackend
from tests import factories
from tests.notifications.fake_twilio import ACCOUNT_SID, AUTH_TOKEN, INVALID_NUMBER, FakeTwilio


@pytest.fixture
def twilio(settings):
    with FakeTwilio() as fake:
        settings.SMS_BACKEND = "acquitte.notifications.sms.TwilioBackend"
        settings.TWILIO_ACCOUNT_SID = ACCOUNT_SID
        settings.TWILIO_AUTH_TOKEN = AUTH_TOKEN
        settings.TWILIO_FROM_NUMBER = "+15145550100"
        settings.TWILIO_API_BASE = fake.url
        settings.PUBLIC_BASE_URL = "https://acquitte.example"
        yield fake


def queue_sms(org, to="+15145550199"):
    with TestCase.captureOnCommitCallbacks(execute=True):
        message = services.queue_sms(
            actor=factories.SYSTEM,
            organisation=org,
            to=to,
            kind="test",
            body="Votre soumission : https://x/q/abc/",
        )
    message.refresh_from_db()
    return message


def test_email_is_sent_by_the_task_with_html_and_attachment(org_qc):
    with TestCase.captureOnCommitCallbacks(execute=True):
        message = services.queue_email(
            actor=factories.SYSTEM,
            organisation=org_qc,
            to="client@example.test",
            kind="test",
            subject="Objet",
            body="Texte",
            html_body="<p>HTML</p>",
            attachment=("S-1.pdf", b"%PDF-1.7"),
        )
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 1 and message.sent_at
    sent = mail.outbox[-1]
    assert sent.to == ["client@example.test"] and sent.alternatives[0][0] == "<p>HTML</p>"
    assert sent.attachments[0][0] == "S-1.pdf"


def test_a_rolled_back_transaction_sends_nothing(org_qc):
    from django.db import transaction

    with TestCase.captureOnCommitCallbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        services.queue_email(
            actor=factories.SYSTEM, organisation=org_qc, to="a@example.test", kind="t", subject="s", body="b"
        )
        raise RuntimeError
    assert not OutboundMessage.objects.exists() and mail.outbox == []


def test_default_sms_backend_keeps_the_message_in_the_outbox(org_qc):
    message = queue_sms(org_qc)
    assert message.status == "outbox_only" and message.provider_id == ""


def test_twilio_backend_sends_through_the_sdk(org_qc, twilio):
    message = queue_sms(org_qc)
    assert message.status == "sent" and message.provider_id.startswith("SM")
    request = twilio.requests[-1]
    assert request["form"]["To"] == "+15145550199" and request["form"]["From"] == "+15145550100"
    assert request["form"]["Body"].startswith("Votre soumission")
    assert request["form"]["StatusCallback"] == "https://acquitte.example/webhooks/sms/twilio/"


def test_twilio_refusal_is_kept_and_retried_until_failed(org_qc, twilio):
    message = queue_sms(org_qc, to=INVALID_NUMBER)
    assert message.status == "queued" and message.attempts == 1 and "21211" in message.error
    for _ in range(services.MAX_ATTEMPTS - 1):
        services.deliver(actor=factories.SYSTEM, message_id=message.pk)
    message.refresh_from_db()
    assert message.status == "failed" and message.attempts == services.MAX_ATTEMPTS
    # A failed message is not tried again by the task.
    services.deliver(actor=factories.SYSTEM, message_id=message.pk)
    assert OutboundMessage.objects.get(pk=message.pk).attempts == services.MAX_ATTEMPTS


def test_staff_can_retry_a_failed_message(org_qc, twilio):
    OutboundMessage.objects.create(
        organisation=org_qc, channel="sms", kind="t", to="+15145550199", body="b", status="failed", attempts=5
    )
    message = OutboundMessage.objects.get()
    reader = factories.staff(org_qc, email="lecture@example.test", role="read_only")
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.retry_message(message=message, actor=reader)
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.retry_message(message=message, actor=factories.staff(org_qc))
    message.refresh_from_db()
    assert message.status == "sent" and message.attempts == 1


def _signed_post(client, params, token=AUTH_TOKEN):
    url = "https://acquitte.example/webhooks/sms/twilio/"
    signature = RequestValidator(token).compute_signature(url, params)
    return client.post("/webhooks/sms/twilio/", params, HTTP_X_TWILIO_SIGNATURE=signature)


def test_signed_delivery_reports_move_the_state_forward_only(client, org_qc, twilio):
    message = queue_sms(org_qc)
    sid = message.provider_id
    assert _signed_post(client, {"MessageSid": sid, "MessageStatus": "delivered"}).status_code == 204
    assert OutboundMessage.objects.get(pk=message.pk).status == "delivered"
    _signed_post(client, {"MessageSid": sid, "MessageStatus": "sent"})  # late, out of order
    assert OutboundMessage.objects.get(pk=message.pk).status == "delivered"
    forged = _signed_post(client, {"MessageSid": sid, "MessageStatus": "failed"}, token="wrong")
    assert forged.status_code == 403
    assert (
        client.post("/webhooks/sms/twilio/", {"MessageSid": sid, "MessageStatus": "failed"}).status_code
        == 403
    )
    assert OutboundMessage.objects.get(pk=message.pk).status == "delivered"


def test_undelivered_report_marks_failed(client, org_qc, twilio):
    message = queue_sms(org_qc)
    _signed_post(
        client, {"MessageSid": message.provider_id, "MessageStatus": "undelivered", "ErrorCode": "30003"}
    )
    message.refresh_from_db()
    assert message.status == "failed" and "30003" in message.error


def test_reports_are_refused_when_twilio_is_not_configured(client, settings, db):
    settings.TWILIO_AUTH_TOKEN = ""
    assert client.post("/webhooks/sms/twilio/", {"MessageSid": "SM1"}).status_code == 404


def test_staff_get_an_in_app_notification_and_an_email_each(org_qc):
    factories.staff(org_qc, email="a@example.test")
    factories.staff(org_qc, email="b@example.test", role="accountant")
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.notify_staff(
            actor=factories.SYSTEM,
            organisation=org_qc,
            kind="payment_received",
            subject="Paiement reçu",
            link="/gestion/",
        )
    assert Notification.objects.filter(organisation=org_qc).count() == 1
    assert sorted(m.to[0] for m in mail.outbox) == ["a@example.test", "b@example.test"]
    assert "/gestion/" in mail.outbox[0].body


def test_messages_are_refused_to_an_actor_of_another_organisation(org_qc, org_fr, customer_fr):
    from django.core.exceptions import PermissionDenied

    from acquitte.core.actors import PublicLink

    outsider = factories.staff(org_fr, email="owner@fr.test")
    foreign_link = PublicLink(token="x" * 43, organisation_id=org_fr.pk, customer_id=customer_fr.pk)
    for actor in (outsider, foreign_link, None):
        with pytest.raises(PermissionDenied):
            services.queue_email(
                actor=actor, organisation=org_qc, to="a@example.test", kind="t", subject="s", body="b"
            )
        with pytest.raises(PermissionDenied):
            services.notify_staff(actor=actor, organisation=org_qc, kind="t", subject="s")
    assert not OutboundMessage.objects.exists() and not Notification.objects.exists()


def test_only_the_organisations_staff_mark_its_notifications_read(org_qc, org_fr):
    from acquitte.core.errors import BusinessError, ErrorCode

    services.notify_staff(actor=factories.SYSTEM, organisation=org_qc, kind="t", subject="s")
    with pytest.raises(BusinessError) as refused:
        services.mark_read(organisation=org_qc, actor=factories.staff(org_fr, email="owner@fr.test"))
    assert refused.value.error_code == ErrorCode.NOT_FOUND
    assert services.mark_read(organisation=org_qc, actor=factories.staff(org_qc, role="read_only")) == 1


class _RecordingBackend(SmsBackend):
    """Notes whether a transaction was open when the provider was called."""

    calls: list[bool] = []

    def send(self, *, to: str, body: str, status_callback: str = "") -> str:
        _RecordingBackend.calls.append(connection.in_atomic_block)
        return "SM-recorded"


@pytest.mark.django_db(transaction=True)
def test_the_sms_provider_is_called_outside_any_transaction(settings):
    settings.SMS_BACKEND = f"{__name__}._RecordingBackend"
    _RecordingBackend.calls.clear()
    org = factories.quebec_organisation()
    message = services.queue_sms(
        actor=factories.SYSTEM, organisation=org, to="+15145550199", kind="t", body="b"
    )
    message.refresh_from_db()
    assert _RecordingBackend.calls == [False]
    assert message.status == OutboundMessage.Status.SENT and message.provider_id == "SM-recorded"


def test_a_message_left_sending_by_a_dead_worker_is_sent_again(org_qc):
    stale = OutboundMessage.objects.create(
        organisation=org_qc,
        channel="email",
        kind="t",
        to="a@example.test",
        subject="s",
        body="b",
        status=OutboundMessage.Status.SENDING,
        attempts=1,
    )
    OutboundMessage.objects.filter(pk=stale.pk).update(
        updated_at=timezone.now() - services.STALE_SENDING - datetime.timedelta(minutes=1)
    )
    assert services.deliver_queued(actor=factories.SYSTEM, older_than=datetime.timedelta(0)) == 1
    stale.refresh_from_db()
    assert stale.status == OutboundMessage.Status.SENT and stale.attempts == 2


def test_messages_wait_in_a_queue_of_their_own_that_every_worker_takes():
    """A run's hundred thousand e-mails must not hold up the next run's chunks (one queue each)."""
    from acquitte.celery import app

    for task in ("notifications.tasks.deliver_message", "subscriptions.tasks.deliver_run_messages"):
        assert app.amqp.router.route({}, f"acquitte.{task}")["queue"].name == "outbox"
    assert app.amqp.router.route({}, "acquitte.subscriptions.tasks.bill_chunk")["queue"].name == "celery"
    assert {"celery", "outbox"} <= set(app.amqp.queues)
