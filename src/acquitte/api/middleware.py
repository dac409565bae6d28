"""Idempotency keys on the API's POSTs, around the whole request: the response kept is exactly
what was sent, and nothing runs twice. Only requests with a live key take part (a request without
one is refused by the API anyway)."""

import hashlib
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from acquitte.core.errors import ErrorCode

from . import idempotency
from .models import IdempotencyKey
from .problems import problem
from .selectors import key_for_token

PREFIX = "/api/v1/"


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key_text = request.headers.get("Idempotency-Key", "")
        if request.method != "POST" or not key_text or not request.path.startswith(PREFIX):
            return self.get_response(request)
        if len(key_text) > 255 or "\x00" in key_text:
            return problem(
                request,
                status=422,
                code=ErrorCode.INVALID_INPUT,
                title=_("En-tête Idempotency-Key invalide (255 caractères au plus)."),
            )
        token = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        api_key = key_for_token(token)
        if api_key is None:
            return self.get_response(request)
        digest = hashlib.sha256(request.path.encode() + b"\n" + request.body).hexdigest()
        found = idempotency.begin_idempotent(api_key=api_key, key=key_text, request_hash=digest)
        if found is not None:
            return self._answer_again(request, found, digest)
        try:
            response = self.get_response(request)
        except BaseException:
            idempotency.release_idempotent(api_key=api_key, key=key_text)
            raise
        idempotency.finish_idempotent(
            api_key=api_key,
            key=key_text,
            status_code=response.status_code,
            body=bytes(response.content) if not response.streaming else b"",
            content_type=response.get("Content-Type", ""),
        )
        return response

    def _answer_again(self, request: HttpRequest, found: IdempotencyKey, digest: str) -> HttpResponse:
        if found.request_hash != digest:
            return problem(
                request,
                status=422,
                code="idempotency_key_reused",
                title=_("Cette clé d'idempotence a déjà servi pour une autre requête."),
            )
        if found.state == IdempotencyKey.State.IN_FLIGHT:
            return problem(
                request,
                status=409,
                code="idempotency_in_flight",
                title=_("Une requête avec cette clé d'idempotence est en cours : réessayez dans un instant."),
            )
        response = HttpResponse(
            bytes(found.response_body), status=found.status_code or 200, content_type=found.content_type
        )
        response["Idempotent-Replayed"] = "true"
        return response
