"""Errors as RFC 9457 problem details (``application/problem+json``), in the caller's language
(``Accept-Language``, French by default): a stable ``type`` per error code, field errors apart."""

import json
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from acquitte.core.errors import BusinessError, ErrorCode

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
#: Where a problem's ``type`` points: the error codes are documented in the OpenAPI description.
TYPE_BASE = "urn:acquitte:problem:"
#: The HTTP status of each business error code (422 for the rest: the request was understood, refused).
STATUS_OF_CODE = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.DUPLICATE: 409,
    ErrorCode.PAYMENT_IN_PROGRESS: 409,
    ErrorCode.PROVIDER_UNAVAILABLE: 503,
}


def problem(
    request: HttpRequest, *, status: int, code: str, title: str, detail: str = "", errors: Any = None
) -> HttpResponse:
    body: dict[str, Any] = {"type": f"{TYPE_BASE}{code}", "title": title, "status": status, "code": code}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=PROBLEM_JSON)
    response["Content-Language"] = getattr(request, "LANGUAGE_CODE", "fr")
    return response


def not_found() -> BusinessError:
    """What a missing id and another organisation's id both answer."""
    return BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)


#: pydantic's error types in words, for people (the ``type`` stays for programs).
def _field_message(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return _("Ce champ est obligatoire.")
    if kind in {"extra_forbidden"}:
        return _("Ce champ n'existe pas.")
    if kind.startswith(("int_", "decimal_", "float_")):
        return _("Nombre invalide.")
    if kind.startswith(("date_", "datetime_")):
        return _("Date invalide (AAAA-MM-JJ).")
    if kind == "string_too_long":
        return _("Texte trop long.")
    if kind == "string_too_short":
        return _("Ce champ ne peut pas être vide.")
    if kind == "string_pattern_mismatch":
        return _('Format invalide (un montant s\'écrit "12.50", sans caractère nul).')
    if kind.startswith("string_"):
        return _(
            'Texte attendu, de la bonne longueur (montants et quantités s\'écrivent en texte : "12.50").'
        )
    if kind in {"enum", "literal_error"}:
        return _("Valeur non reconnue.")
    return _("Valeur invalide.")


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ()) if part not in {"body", "payload", "query", "path"}]
        found.append(
            {"field": ".".join(loc), "message": _field_message(error), "type": error.get("type", "")}
        )
    return found


def business_errors(exc: BusinessError) -> list[dict[str, str]]:
    if not hasattr(exc, "error_dict"):
        return []
    return [
        {"field": name, "message": str(message), "type": str(exc.error_code)}
        for name, messages in exc.message_dict.items()
        for message in messages
        if name != "__all__"
    ]


def install(api: NinjaAPI) -> None:
    """Every error the API answers, as a problem."""

    def validation(request: HttpRequest, exc: ValidationError) -> HttpResponse:
        return problem(
            request,
            status=422,
            code=ErrorCode.INVALID_INPUT,
            title=_("Données invalides."),
            errors=field_errors(list(exc.errors)),
        )

    def business(request: HttpRequest, exc: BusinessError) -> HttpResponse:
        fields = business_errors(exc)
        general = [str(m) for m in exc.error_dict.get("__all__", [])] if hasattr(exc, "error_dict") else []
        return problem(
            request,
            status=STATUS_OF_CODE.get(exc.error_code, 422),
            code=exc.error_code,
            title=" ".join(general) or (_("Données invalides.") if fields else exc.text()),
            errors=fields,
        )

    def forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
        return problem(request, status=403, code="forbidden", title=str(exc) or _("Accès refusé."))

    def missing(request: HttpRequest, exc: Http404) -> HttpResponse:
        return problem(request, status=404, code=ErrorCode.NOT_FOUND, title=_("Objet introuvable."))

    def unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
        response = problem(
            request,
            status=401,
            code="unauthenticated",
            title=_("Clé d'API absente, invalide ou révoquée (en-tête Authorization: Bearer)."),
        )
        response["WWW-Authenticate"] = "Bearer"
        return response

    def throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
        wait = max(1, int(exc.wait or 1))
        response = problem(
            request,
            status=429,
            code="rate_limited",
            title=_("Trop de requêtes : réessayez dans %(seconds)d s.") % {"seconds": wait},
        )
        response["Retry-After"] = str(wait)
        return response

    def http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
        return problem(request, status=exc.status_code, code="http_error", title=str(exc))

    def crashed(request: HttpRequest, exc: Exception) -> HttpResponse:
        log.exception("API error", exc_info=exc)
        return problem(
            request, status=500, code="server_error", title=_("Erreur interne : rien n'a été modifié.")
        )

    handlers: list[tuple[type[Exception], Callable[..., HttpResponse]]] = [
        (ValidationError, validation),
        (BusinessError, business),
        (PermissionDenied, forbidden),
        (Http404, missing),
        (AuthenticationError, unauthenticated),
        (Throttled, throttled),
        (HttpError, http_error),
        (Exception, crashed),
    ]
    for kind, handler in handlers:
        api.add_exception_handler(kind, handler)
