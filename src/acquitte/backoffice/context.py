from typing import Any

from django.http import HttpRequest

from acquitte.core.http import signed_in_user
from acquitte.notifications.selectors import unread_count


def backoffice(request: HttpRequest) -> dict[str, Any]:
    """The unread-notification count for the back office's bell, on staff pages only."""
    user = getattr(request, "user", None)  # absent when a middleware refused the request first
    if user is None or not user.is_authenticated or "/gestion/" not in request.path:
        return {}
    organisation = signed_in_user(request).organisation
    if organisation is None:
        return {}
    return {"unread_notifications": unread_count(organisation=organisation)}
