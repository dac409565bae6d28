def backoffice(request):
    """The unread-notification count for the back office's bell, on staff pages only."""
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated or not user.organisation_id or "/gestion/" not in request.path:
        return {}
    from acquitte.notifications.selectors import unread_count

    return {"unread_notifications": unread_count(organisation=user.organisation)}
