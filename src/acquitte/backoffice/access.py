"""Who reaches the back office, and how refused operations come back to the page."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse

from acquitte.core.errors import BusinessError


def staff_required(view):
    """Back-office pages are for the staff of one organisation; customers go to their portal.

    The view gets ``organisation`` as a keyword: every lookup it makes is scoped by it.
    """

    @wraps(view)
    def wrapped(request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("portal:login"))
        if user.customer_id is not None:
            return redirect("portal:home")
        if user.organisation_id is None:
            raise PermissionDenied
        return view(request, *args, organisation=user.organisation, **kwargs)

    return wrapped


def owned(model_or_queryset, organisation, pk, **filters):
    """The object with ``pk`` in ``organisation``, or 404 (another tenant's id looks missing)."""
    queryset = getattr(model_or_queryset, "objects", model_or_queryset)
    obj = queryset.filter(organisation=organisation, pk=pk, **filters).first()
    if obj is None:
        raise Http404
    return obj


def report(request, exc: BusinessError, form=None) -> None:
    """Show a refused operation: on its form fields when they exist, else as a message."""
    if form is not None and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    if form is not None:
        form.add_error(None, exc.messages)
        return
    messages.error(request, " ".join(exc.messages))
