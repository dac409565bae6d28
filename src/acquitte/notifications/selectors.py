from django.db.models import Q, QuerySet

from .models import Notification, OutboundMessage


def outbox(
    *, organisation, channel: str = "", status: str = "", query: str = ""
) -> QuerySet[OutboundMessage]:
    rows = OutboundMessage.objects.filter(organisation=organisation).defer("attachment", "html_body")
    if channel in OutboundMessage.Channel.values:
        rows = rows.filter(channel=channel)
    if status in OutboundMessage.Status.values:
        rows = rows.filter(status=status)
    if query:
        rows = rows.filter(
            Q(to__icontains=query) | Q(subject__icontains=query) | Q(reference__icontains=query)
        )
    return rows


def notifications(*, organisation) -> QuerySet[Notification]:
    return Notification.objects.filter(organisation=organisation)


def unread_count(*, organisation) -> int:
    return Notification.objects.filter(organisation=organisation, read_at__isnull=True).count()
