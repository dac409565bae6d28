from django.db.models import Q, QuerySet

from acquitte.customers.models import Organisation

from .models import Notification, OutboundMessage, WebhookDelivery, WebhookEndpoint


def outbox(
    *, organisation: Organisation, channel: str = "", status: str = "", query: str = ""
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


def notifications(*, organisation: Organisation) -> QuerySet[Notification]:
    return Notification.objects.filter(organisation=organisation)


def unread_count(*, organisation: Organisation) -> int:
    return Notification.objects.filter(organisation=organisation, read_at__isnull=True).count()


def messages_about(*, organisation: Organisation, reference: str) -> QuerySet[OutboundMessage]:
    """What was sent about a document (by its number); nothing for a document not numbered yet."""
    if not reference:
        return OutboundMessage.objects.none()
    return OutboundMessage.objects.filter(organisation=organisation, reference=reference).defer("attachment")


def webhook_endpoints(*, organisation: Organisation) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(organisation=organisation)


def webhook_deliveries(*, endpoint: WebhookEndpoint, status: str = "") -> QuerySet[WebhookDelivery]:
    """An endpoint's delivery log, newest first, optionally in one state."""
    rows = WebhookDelivery.objects.filter(organisation_id=endpoint.organisation_id, endpoint=endpoint)
    if status in WebhookDelivery.Status.values:
        rows = rows.filter(status=status)
    return rows
