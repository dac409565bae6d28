from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from acquitte.core.admin import OrganisationScopedAdmin, ReadOnlyMixin

from .models import Notification, OutboundMessage


@admin.register(Notification)
class NotificationAdmin(OrganisationScopedAdmin):
    list_display = ["created_at", "kind", "subject", "read_at"]
    list_filter = ["kind"]
    search_fields = ["subject"]
    readonly_fields = ["created_at", "kind", "subject", "body", "link", "emailed_at"]

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return False


@admin.register(OutboundMessage)
class OutboundMessageAdmin(ReadOnlyMixin, OrganisationScopedAdmin):
    list_display = ["created_at", "channel", "to", "subject", "status", "attempts"]
    list_filter = ["channel", "status", "kind"]
    search_fields = ["to", "subject", "reference"]
    exclude = ["attachment", "html_body"]
