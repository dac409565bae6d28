"""What a request brings in, parsed and bounded at the edge.

Views read ids, numbers, years and search text from the query string and from buttons through
these helpers, never with ``int(...)`` or a raw ``.get`` passed to the database: a value that is
not what the parameter holds is refused with a clear message (or treated as absent, where the
parameter is only a filter), never a 500. The middleware refuses a NUL byte anywhere in the path,
the query string or the form data: PostgreSQL cannot store one, and no field of the app holds one.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponseBase, JsonResponse, QueryDict
from django.shortcuts import render
from django.utils.translation import gettext as _

from .errors import BusinessError, ErrorCode

#: Database ids are positive 64-bit integers at most; longer digit strings are not ids.
MAX_ID = 2**63 - 1
#: Years a page can be asked about (filters, reports).
MIN_YEAR, MAX_YEAR = 2000, 2100
#: A search is a few words: longer text is refused, not cut.
MAX_SEARCH = 200


def has_nul(value: str) -> bool:
    return "\x00" in value


def parse_id(raw: object) -> int | None:
    """A database id from a parameter's text, or None when it is not one."""
    if not isinstance(raw, str | int) or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if not text.isascii() or not text.isdigit() or len(text) > 19:
        return None
    value = int(text)
    return value if 0 < value <= MAX_ID else None


def int_param(request: HttpRequest, name: str, *, source: QueryDict | None = None) -> int | None:
    """An id (or other positive integer) from ``?name=`` (or ``source``): None when absent or not one.

    Filters treat a bad id as "no filter"; a lookup by it finds nothing (404 or its message).
    """
    data = request.GET if source is None else source
    return parse_id(data.get(name, ""))


def year_param(request: HttpRequest, name: str = "annee", *, default: int | None = None) -> int | None:
    """A year from ``?annee=``, between MIN_YEAR and MAX_YEAR; ``default`` when absent or out of range."""
    raw = request.GET.get(name, "").strip()
    if not (raw.isascii() and raw.isdigit() and len(raw) == 4):
        return default
    year = int(raw)
    return year if MIN_YEAR <= year <= MAX_YEAR else default


def date_param(request: HttpRequest, name: str) -> datetime.date | None:
    """An ISO date from ``?name=``, between MIN_YEAR and MAX_YEAR, else None."""
    raw = request.GET.get(name, "").strip()
    try:
        value = datetime.date.fromisoformat(raw)
    except ValueError:
        return None
    return value if MIN_YEAR <= value.year <= MAX_YEAR else None


def search_param(request: HttpRequest, name: str = "q") -> str:
    """Search text from ``?q=``, stripped. A NUL byte or more than MAX_SEARCH characters is refused:
    the page says so (a message) and searches nothing, rather than cutting the text."""
    raw = request.GET.get(name, "").strip()
    try:
        check_text(raw, max_length=MAX_SEARCH, label=_("La recherche"))
    except BusinessError as exc:
        messages.error(request, exc.text())
        return ""
    return raw


def check_text(value: str, *, max_length: int, label: str) -> None:
    """Refuse a NUL byte or text longer than ``max_length`` (never cut it silently)."""
    if has_nul(value):
        raise BusinessError(
            _("%(label)s contient un caractère nul, qui n'est pas permis.") % {"label": label},
            code=ErrorCode.INVALID_INPUT,
        )
    if len(value) > max_length:
        raise BusinessError(
            _("%(label)s dépasse %(max)d caractères (%(length)d).")
            % {"label": label, "max": max_length, "length": len(value)},
            code=ErrorCode.INVALID_INPUT,
        )


def _request_has_nul(request: HttpRequest) -> bool:
    if has_nul(request.path) or "%00" in request.META.get("QUERY_STRING", ""):
        return True
    if any(has_nul(key) or any(has_nul(v) for v in values) for key, values in request.GET.lists()):
        return True
    if request.method == "POST" and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        # Read (and keep) the raw body first: a view that reads request.body (webhooks) still can.
        request.body  # noqa: B018
        return any(has_nul(key) or any(has_nul(v) for v in values) for key, values in request.POST.lists())
    return False


#: The JSON API's paths: its programs read problem documents, not pages.
API_PREFIX = "/api/"


class RefuseNulMiddleware:
    """Answers 400, with a page that says why, to any request with a NUL byte in its path, query
    string or form fields. (Uploaded files and JSON bodies, such as webhooks, are not form fields.)"""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if _request_has_nul(request):
            if request.path.startswith(API_PREFIX):
                return JsonResponse(
                    {
                        "type": "urn:acquitte:problem:invalid_input",
                        "title": _(
                            "La requête contient un caractère nul (U+0000), qui n'est permis dans aucun champ."
                        ),
                        "status": 400,
                        "code": "invalid_input",
                    },
                    status=400,
                    content_type="application/problem+json",
                    json_dumps_params={"ensure_ascii": False},
                )
            return render(
                request,
                "400.html",
                {
                    "message": _(
                        "La requête contient un caractère nul (U+0000), qui n'est permis dans aucun champ."
                    )
                },
                status=400,
            )
        return self.get_response(request)
