"""Telling staff what happened: an in-app notification, then an e-mail sent by a task."""

from django.db import transaction

from .models import Notification


def notify_staff(*, organisation, kind: str, subject: str, body: str = "", link: str = "") -> Notification:
    from .tasks import email_notification

    notification = Notification.objects.create(
        organisation=organisation, kind=kind, subject=subject[:200], body=body, link=link
    )
    transaction.on_commit(lambda: email_notification.delay(notification.pk))
    return notification
