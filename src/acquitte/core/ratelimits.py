"""Rate limits per address, per account and per document, counted in the cache (Redis when configured).

django-ratelimit does the counting (fixed windows in Django's cache, atomic increments, IPv6
addresses grouped by /64); this module says which requests count against which limits, and
answers 429 with a page and a Retry-After header. The limits are settings
(``ACQUITTE_RATE_LIMITS``): rule → {dimension → "count/period"}, where a dimension is
``address`` (the client address, see ``core.http.client_ip``), ``account`` (the e-mail typed in,
or the signed-in user) or ``subject`` (the document: an invoice, a link).

The rules are attached to URL names in ``ROUTES``, so a new public view is limited by adding its
name here, and the view itself stays free of it. Requests are counted before the view runs,
whatever their outcome: guessing tokens, passwords or addresses costs the same as using them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django_ratelimit.core import get_usage

log = logging.getLogger("acquitte.security")

#: How a dimension's key is read from the request (None: the dimension does not apply to it).
KeyReader = Callable[[HttpRequest, dict[str, Any]], str | None]


def _address(request: HttpRequest, kwargs: dict[str, Any]) -> str | None:
    from .http import client_ip

    return client_ip(request)


def _typed_account(field: str) -> KeyReader:
    """The e-mail typed into ``field``, as the user model keeps it (trimmed, lower case)."""

    def read(request: HttpRequest, kwargs: dict[str, Any]) -> str | None:
        value = request.POST.get(field, "").strip().lower()
        return value[:320] or None

    return read


def _signed_in(request: HttpRequest, kwargs: dict[str, Any]) -> str | None:
    user = getattr(request, "user", None)
    return f"user:{user.pk}" if user is not None and user.is_authenticated else None


def _kwarg(name: str) -> KeyReader:
    def read(request: HttpRequest, kwargs: dict[str, Any]) -> str | None:
        value = kwargs.get(name)
        return f"{name}:{value}" if value is not None else None

    return read


@dataclass(frozen=True)
class Route:
    rule: str
    methods: frozenset[str]
    keys: Mapping[str, KeyReader]
    #: Only when these URL arguments have these values (e.g. the "declare" kind of payment).
    only: tuple[tuple[str, str], ...] = ()


_POST = frozenset({"POST"})
_ANY = frozenset({"GET", "HEAD", "POST"})
_LINK = {"address": _address}

ROUTES: dict[str, list[Route]] = {
    "portal:login": [
        Route("signin", _POST, {"address": _address, "account": _typed_account("username")}),
    ],
    "admin:login": [
        Route("signin", _POST, {"address": _address, "account": _typed_account("username")}),
    ],
    "portal:password_reset": [
        Route("password_reset", _POST, {"address": _address, "account": _typed_account("email")}),
    ],
    "portal:public_declare": [
        Route("public_link", _ANY, _LINK),
        Route("declaration", _POST, {"address": _address, "subject": _kwarg("token")}),
    ],
    "portal:invoice_pay": [
        Route(
            "declaration",
            _POST,
            {"address": _address, "account": _signed_in, "subject": _kwarg("pk")},
            only=(("kind", "declare"),),
        ),
    ],
    "quotes:public_approve": [
        Route("public_link", _ANY, _LINK),
        Route("quote_decision", _POST, {"address": _address, "subject": _kwarg("token")}),
    ],
    "quotes:public_decline": [
        Route("public_link", _ANY, _LINK),
        Route("quote_decision", _POST, {"address": _address, "subject": _kwarg("token")}),
    ],
    "portal:public_invoice": [Route("public_link", _ANY, _LINK)],
    "portal:public_pay": [Route("public_link", _ANY, _LINK)],
    "documents:public_pdf": [Route("public_link", _ANY, _LINK)],
    "quotes:public": [Route("public_link", _ANY, _LINK)],
    "quotes:public_pdf": [Route("public_link", _ANY, _LINK)],
}


class RateLimited(Exception):
    """Too many requests of one kind; ``retry_after`` seconds until the window that refused ends."""

    def __init__(self, rule: str, retry_after: int) -> None:
        super().__init__(rule)
        self.rule = rule
        self.retry_after = max(1, retry_after)


def hit(request: HttpRequest, rule: str, keys: dict[str, str | None]) -> None:
    """Count one request against every limit of ``rule`` that has a key; refuse it if one is exceeded.

    Every dimension is counted, even once one refuses, so that spreading requests over several
    accounts or addresses does not dodge the others.
    """
    limits: dict[str, str] = settings.ACQUITTE_RATE_LIMITS.get(rule, {})
    refused: list[int] = []
    for dimension, value in keys.items():
        rate = limits.get(dimension)
        if not rate or value is None:
            continue
        usage = get_usage(
            request,
            group=f"acquitte:{rule}:{dimension}",
            key=lambda _group, _request, value=value: value,
            rate=rate,
            increment=True,
        )
        if usage is not None and usage["should_limit"]:
            refused.append(int(usage["time_left"]))
            log.warning(
                "Rate limit %s exceeded per %s (%s) from %s",
                rule,
                dimension,
                rate,
                keys.get("address"),
            )
    if refused:
        raise RateLimited(rule, max(refused))


def too_many_requests(request: HttpRequest, *, message: str, retry_after: int) -> HttpResponse:
    """The 429 page, in the user's language, with the time to wait in Retry-After."""
    minutes = max(1, (retry_after + 59) // 60)
    response = render(
        request,
        "429.html",
        {"message": message, "retry_after": retry_after, "minutes": minutes},
        status=429,
    )
    response["Retry-After"] = str(retry_after)
    response["Cache-Control"] = "no-store"
    return response


def _message(rule: str) -> str:
    from django.utils.translation import gettext as _

    messages = {
        "signin": _("Trop de tentatives de connexion."),
        "password_reset": _("Trop de demandes de réinitialisation du mot de passe."),
        "declaration": _("Trop de déclarations de paiement pour cette facture."),
        "quote_decision": _("Trop de réponses à cette soumission."),
        "public_link": _("Trop de pages demandées depuis votre adresse."),
    }
    return messages.get(rule, _("Trop de requêtes."))


class RateLimitMiddleware:
    """Counts the requests of the routes in ``ROUTES`` before their view runs; answers 429 when over."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self,
        request: HttpRequest,
        view_func: Callable[..., HttpResponse],
        view_args: tuple[Any, ...],
        view_kwargs: dict[str, Any],
    ) -> HttpResponse | None:
        match = request.resolver_match
        routes = ROUTES.get(match.view_name, []) if match is not None else []
        try:
            for route in routes:
                if request.method not in route.methods:
                    continue
                if any(str(view_kwargs.get(name)) != value for name, value in route.only):
                    continue
                hit(
                    request,
                    route.rule,
                    {name: read(request, view_kwargs) for name, read in route.keys.items()},
                )
        except RateLimited as exc:
            return too_many_requests(request, message=_message(exc.rule), retry_after=exc.retry_after)
        return None

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """A view or service may also count a limit itself and raise ``RateLimited``."""
        if isinstance(exception, RateLimited):
            return too_many_requests(
                request, message=_message(exception.rule), retry_after=exception.retry_after
            )
        return None
