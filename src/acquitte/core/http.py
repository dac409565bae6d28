"""Small request helpers shared by the portal, the public pages and the back office."""

from django.core.paginator import Paginator


def client_ip(request) -> str:
    """The peer address; behind a proxy, the proxy is expected to set REMOTE_ADDR (not X-Forwarded-For)."""
    return request.META.get("REMOTE_ADDR") or "0.0.0.0"


def paginate(request, rows, *, per_page: int = 25):
    """One page of ``rows`` from ?page=, clamped to the valid range."""
    return Paginator(rows, per_page).get_page(request.GET.get("page"))
