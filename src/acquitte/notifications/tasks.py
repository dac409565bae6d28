from celery import shared_task
from django.core.mail import send_mail
from django.utils import timezone

from acquitte.customers.models import User

from .models import Notification


@shared_task
def email_notification(notification_id: int) -> None:
    """E-mail a notification to the organisation's active staff, once."""
    notification = Notification.objects.select_related("organisation").get(pk=notification_id)
    if notification.emailed_at:
        return
    recipients = list(
        User.objects.filter(organisation=notification.organisation, is_active=True).values_list(
            "email", flat=True
        )
    )
    if recipients:
        send_mail(notification.subject, notification.body or notification.subject, None, recipients)
    Notification.objects.filter(pk=notification_id).update(emailed_at=timezone.now())
