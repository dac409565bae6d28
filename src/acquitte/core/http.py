"""Small request helpers shared by the portal, the public pages, the back office and the admin."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.paginator import Page, Paginator
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse
from ipware import get_client_ip

from .errors import BusinessError

if TYPE_CHECKING:
    from django_htmx.middleware import HtmxDetails

    from acquitte.customers.models import User

M = TypeVar("M", bound=Model)
#: A view function as the sign-in decorators take and return it.
View = Callable[..., HttpResponse]


class AuthenticatedHttpRequest(HttpRequest):
    """The request of a view behind a sign-in check (staff_required, customer_required)."""

    user: User
    htmx: HtmxDetails


def signed_in_user(request: HttpRequest) -> User:
    """The user of a request the admin site or a sign-in decorator has already let through."""
    return cast("User", request.user)


def client_ip(request: HttpRequest) -> str:
    """The client's address, as sign-in lockouts, rate limits and the audit trail see it.

    With ``ACQUITTE_TRUSTED_PROXIES = 0`` (the default) it is the peer address and X-Forwarded-For
    is ignored: a client could write anything there. With N trusted proxies in front of the app,
    each appending the address it received the request from, the client is the N-th address from
    the right of X-Forwarded-For (django-ipware, not strict, so entries a client prepends are
    skipped); a request that did not cross them all falls back to the peer address.
    """
    peer = request.META.get("REMOTE_ADDR") or "0.0.0.0"
    proxies = settings.ACQUITTE_TRUSTED_PROXIES
    if proxies <= 0:
        return peer
    address, _routable = get_client_ip(
        request,
        proxy_order="left-most",
        proxy_count=proxies - 1,
        request_header_order=["HTTP_X_FORWARDED_FOR"],
        strict=False,
    )
    return address or peer


def paginate(request: HttpRequest, rows: QuerySet[M], *, per_page: int = 25) -> Page[M]:
    """One page of ``rows`` from ?page=, clamped to the valid range."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))


def report(request: HttpRequest, exc: BusinessError, form: forms.BaseForm | None = None) -> None:
    """The one way to show a refused operation: on its form (on the fields the error names, when
    the form has them), else as a message on the next page."""
    if form is not None and hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
        return
    if form is not None:
        form.add_error(None, exc.text())
        return
    messages.error(request, exc.text())
