"""Messages leave through the outbox: staff notifications, e-mails and SMS to customers.

A message is a row written in the caller's transaction and delivered by a task after commit, so a
rollback sends nothing, a crash leaves a visible "queued" row and staff can see every delivery state.
"""

import datetime
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.db.models import F
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor, Person
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.tenancy import check_can_write, check_is_system
from acquitte.customers.models import Customer, Organisation, User

from ..models import Notification, OutboundMessage
from ..sms import SmsError, get_sms_backend
from .access import _check_acts_in
from .webhooks import (
    PROVISIONING_EVENTS,
    TEST_EVENT,
    create_webhook_endpoint,
    delete_webhook_endpoint,
    deliver_due_webhooks,
    deliver_webhook,
    queue_webhook_event,
    replay_webhook_delivery,
    rotate_webhook_secret,
    send_test_event,
    update_webhook_endpoint,
)

__all__ = [
    "PROVISIONING_EVENTS",
    "TEST_EVENT",
    "StaffNotice",
    "create_webhook_endpoint",
    "delete_webhook_endpoint",
    "deliver",
    "deliver_due_webhooks",
    "deliver_queued",
    "deliver_webhook",
    "mark_read",
    "notify_staff",
    "notify_staff_many",
    "queue_email",
    "queue_sms",
    "queue_webhook_event",
    "record_sms_status",
    "render_email",
    "render_sms",
    "replay_webhook_delivery",
    "retry_message",
    "rotate_webhook_secret",
    "send_test_event",
    "send_to_customer",
    "update_webhook_endpoint",
]

MAX_ATTEMPTS = 5
STALE_SENDING = datetime.timedelta(hours=1)
#: Twilio's MessageStatus values, mapped onto ours; an update never moves a message backwards.
SMS_STATUS = {
    "sent": OutboundMessage.Status.SENT,
    "delivered": OutboundMessage.Status.DELIVERED,
    "undelivered": OutboundMessage.Status.FAILED,
    "failed": OutboundMessage.Status.FAILED,
}
FINAL = {OutboundMessage.Status.DELIVERED, OutboundMessage.Status.FAILED}


def render_email(template: str, context: dict[str, Any], *, language: str) -> tuple[str, str, str]:
    """Subject, text and HTML of ``notifications/email/<template>`` in the recipient's language."""
    with translation.override(language):
        subject = render_to_string(f"notifications/email/{template}_subject.txt", context).strip()
        text = render_to_string(f"notifications/email/{template}.txt", context).strip()
        html = render_to_string(f"notifications/email/{template}.html", context)
    return " ".join(subject.split()), text, html


def render_sms(template: str, context: dict[str, Any], *, language: str) -> str:
    with translation.override(language):
        return " ".join(render_to_string(f"notifications/sms/{template}.txt", context).split())


def _queue(**fields: Any) -> OutboundMessage:
    from ..tasks import deliver_message

    message = OutboundMessage.objects.create(**fields)
    transaction.on_commit(lambda: deliver_message.delay(message.pk))
    return message


def _queue_many(messages: list[OutboundMessage]) -> None:
    """Write many messages in one insert, each delivered after commit as ``_queue`` does."""
    from ..tasks import deliver_message

    created = OutboundMessage.objects.bulk_create(messages)

    def deliver_all() -> None:
        for message in created:
            deliver_message.delay(message.pk)

    transaction.on_commit(deliver_all)


def queue_email(
    *,
    organisation: Organisation,
    actor: Actor,
    to: str,
    kind: str,
    subject: str,
    body: str,
    html_body: str = "",
    reference: str = "",
    link: str = "",
    attachment: tuple[str, bytes] | None = None,
) -> OutboundMessage:
    _check_acts_in(actor, organisation)
    if not to:
        raise BusinessError(
            _("Aucune adresse de courriel pour ce destinataire."), code=ErrorCode.INVALID_INPUT
        )
    name, content = attachment or ("", None)
    return _queue(
        organisation=organisation,
        channel=OutboundMessage.Channel.EMAIL,
        kind=kind,
        to=to,
        subject=subject[:200],
        body=body,
        html_body=html_body,
        reference=reference,
        link=link,
        attachment_name=name,
        attachment=content,
    )


def queue_sms(
    *,
    organisation: Organisation,
    actor: Actor,
    to: str,
    kind: str,
    body: str,
    reference: str = "",
    link: str = "",
) -> OutboundMessage:
    _check_acts_in(actor, organisation)
    if not to:
        raise BusinessError(
            _("Aucun numéro de téléphone mobile pour ce destinataire."), code=ErrorCode.INVALID_INPUT
        )
    return _queue(
        organisation=organisation,
        channel=OutboundMessage.Channel.SMS,
        kind=kind,
        to=to,
        body=body,
        reference=reference,
        link=link,
    )


def send_to_customer(
    *,
    organisation: Organisation,
    customer: Customer,
    actor: Actor,
    template: str,
    context: dict[str, Any],
    reference: str,
    attachment: Callable[[], tuple[str, bytes]] | None = None,
    email: str = "",
    sms: bool = True,
) -> list[OutboundMessage]:
    """Queue a document's e-mail (and its SMS when the customer has a phone), in their language.

    ``template`` names both ``email/<template>*`` and ``sms/<template>.txt``; ``context["url"]`` is the
    link both carry. ``attachment`` is called only when an e-mail goes, to render the PDF once.
    """
    _check_acts_in(actor, organisation)
    email = email or customer.email
    language, link = customer.language, context["url"]
    queued: list[OutboundMessage] = []
    if email:
        subject, text, html = render_email(template, context, language=language)
        queued.append(
            queue_email(
                organisation=organisation,
                actor=actor,
                to=email,
                kind=template,
                subject=subject,
                body=text,
                html_body=html,
                reference=reference,
                link=link,
                attachment=attachment() if attachment else None,
            )
        )
    if sms and customer.phone:
        queued.append(
            queue_sms(
                organisation=organisation,
                actor=actor,
                to=customer.phone,
                kind=template,
                body=render_sms(template, context, language=language),
                reference=reference,
                link=link,
            )
        )
    if not queued:
        raise BusinessError(
            _("Le client n'a ni courriel ni téléphone : complétez sa fiche."), code=ErrorCode.INVALID_INPUT
        )
    return queued


def deliver(*, message_id: int, actor: Actor) -> OutboundMessage:
    """Send one queued message; a second call (a retried task) finds it no longer queued.

    The message is claimed (queued → sending) and committed before the mail server or the SMS
    provider is called, so no lock is held across the call; the outcome is written afterwards.
    """
    message = OutboundMessage.objects.get(pk=message_id)
    check_can_write(actor, message.organisation)
    claimed = OutboundMessage.objects.filter(pk=message_id, status=OutboundMessage.Status.QUEUED).update(
        status=OutboundMessage.Status.SENDING, attempts=F("attempts") + 1, updated_at=timezone.now()
    )
    message.refresh_from_db()
    if not claimed:
        return message
    outcome: dict[str, Any] = {}
    try:
        if message.channel == OutboundMessage.Channel.EMAIL:
            _send_email(message)
            outcome["status"] = OutboundMessage.Status.SENT
        else:
            backend = get_sms_backend()
            outcome["provider_id"] = backend.send(
                to=message.to, body=message.body, status_callback=_sms_callback_url()
            )
            outcome["status"] = (
                OutboundMessage.Status.SENT if backend.delivers else OutboundMessage.Status.OUTBOX_ONLY
            )
        outcome.update(sent_at=timezone.now(), error="")
    except (OSError, SmsError) as exc:
        failed = message.attempts >= MAX_ATTEMPTS
        outcome.update(
            error=str(exc)[:2000],
            status=OutboundMessage.Status.FAILED if failed else OutboundMessage.Status.QUEUED,
        )
    OutboundMessage.objects.filter(pk=message_id, status=OutboundMessage.Status.SENDING).update(
        updated_at=timezone.now(), **outcome
    )
    message.refresh_from_db()
    return message


def deliver_queued(*, actor: Actor, older_than: datetime.timedelta = datetime.timedelta(minutes=1)) -> int:
    """Deliver what is still queued after ``older_than``; returns how many were tried.

    A message left "sending" for an hour belongs to a worker that died mid-send: it is queued again
    (at worst the recipient gets it twice, never not at all). It sweeps every organisation: the system's.
    """
    check_is_system(actor)
    cutoff = timezone.now() - older_than
    OutboundMessage.objects.filter(
        status=OutboundMessage.Status.SENDING, updated_at__lt=timezone.now() - STALE_SENDING
    ).update(status=OutboundMessage.Status.QUEUED)
    ids = list(
        OutboundMessage.objects.filter(status=OutboundMessage.Status.QUEUED, updated_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for message_id in ids:
        deliver(message_id=message_id, actor=actor)
    return len(ids)


def _send_email(message: OutboundMessage) -> None:
    email = EmailMultiAlternatives(message.subject, message.body, None, [message.to])
    if message.html_body:
        email.attach_alternative(message.html_body, "text/html")
    if message.attachment:
        email.attach(message.attachment_name, bytes(message.attachment), "application/pdf")
    email.send()


def _sms_callback_url() -> str:
    from django.urls import reverse

    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("notifications:sms_status")


def retry_message(*, message: OutboundMessage, actor: Actor) -> OutboundMessage:
    """Staff send a failed message again."""
    check_can_write(actor, message.organisation)
    if message.status != OutboundMessage.Status.FAILED:
        raise BusinessError(_("Seul un message en échec peut être renvoyé."), code=ErrorCode.INVALID_STATE)
    from ..tasks import deliver_message

    OutboundMessage.objects.filter(pk=message.pk).update(status=OutboundMessage.Status.QUEUED, attempts=0)
    transaction.on_commit(lambda: deliver_message.delay(message.pk))
    message.refresh_from_db()
    return message


def record_sms_status(
    *, actor: Actor, provider_id: str, status: str, error_code: str = ""
) -> OutboundMessage | None:
    """A delivery report from the SMS provider; unknown ids and backward moves change nothing."""
    check_is_system(actor)
    target = SMS_STATUS.get(status)
    if not provider_id or target is None:
        return None
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update()
            .filter(channel=OutboundMessage.Channel.SMS, provider_id=provider_id)
            .first()
        )
        if message is None:
            return None
        check_can_write(actor, message.organisation)
        if message.status in FINAL or message.status == target:
            return message
        message.status = target
        if target == OutboundMessage.Status.FAILED:
            message.error = _("Non remis par l'opérateur (code %(code)s).") % {"code": error_code or "—"}
        message.save(update_fields=["status", "error", "updated_at"])
    return message


@dataclass(frozen=True)
class StaffNotice:
    """One thing to tell an organisation's staff: in the app and by e-mail."""

    kind: str
    subject: str
    body: str = ""
    link: str = ""


def notify_staff(
    *, organisation: Organisation, actor: Actor, kind: str, subject: str, body: str = "", link: str = ""
) -> Notification:
    """An in-app notification, and the same by e-mail to each active staff member."""
    notice = StaffNotice(kind=kind, subject=subject, body=body, link=link)
    return notify_staff_many(organisation=organisation, actor=actor, notices=[notice])[0]


def notify_staff_many(
    *, organisation: Organisation, actor: Actor, notices: Sequence[StaffNotice]
) -> list[Notification]:
    """``notify_staff`` for many notices at once (a batch of payments): the staff are read once and
    the rows written in two inserts."""
    _check_acts_in(actor, organisation)
    now = timezone.now()
    notifications = Notification.objects.bulk_create(
        Notification(
            organisation=organisation,
            kind=notice.kind,
            subject=notice.subject[:200],
            body=notice.body,
            link=notice.link,
            emailed_at=now,
        )
        for notice in notices
    )
    users = list(User.objects.filter(organisation=organisation, is_active=True).order_by("pk"))
    messages: list[OutboundMessage] = []
    for notice in notices:
        url = (
            settings.PUBLIC_BASE_URL.rstrip("/") + notice.link if notice.link.startswith("/") else notice.link
        )
        context = {"subject": notice.subject, "body": notice.body, "url": url, "organisation": organisation}
        for user in users:
            if not user.email:
                raise BusinessError(
                    _("Aucune adresse de courriel pour ce destinataire."), code=ErrorCode.INVALID_INPUT
                )
            mail_subject, text, html = render_email("staff_notification", context, language=user.language)
            messages.append(
                OutboundMessage(
                    organisation=organisation,
                    channel=OutboundMessage.Channel.EMAIL,
                    kind=notice.kind,
                    to=user.email,
                    subject=mail_subject[:200],
                    body=text,
                    html_body=html,
                    link=url,
                )
            )
    if messages:
        _queue_many(messages)
    return notifications


def mark_read(*, organisation: Organisation, actor: Actor, notification_ids: list[int] | None = None) -> int:
    """Staff mark their organisation's notifications read (all of them, or the given ones)."""
    if not isinstance(actor, Person) or actor.organisation_id != organisation.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    rows = Notification.objects.filter(organisation=organisation, read_at__isnull=True)
    if notification_ids is not None:
        rows = rows.filter(pk__in=notification_ids)
    return rows.update(read_at=timezone.now())
