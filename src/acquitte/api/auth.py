"""Who calls the API: the key of the ``Authorization: Bearer`` header, as an ``ApiClient`` actor."""

import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja.security import HttpBearer
from ninja.throttling import SimpleRateThrottle

from acquitte.core.actors import ApiClient
from acquitte.customers.models import Organisation

from .models import ApiKey
from .selectors import key_for_token


class ApiKeyAuth(HttpBearer):
    """A live key of any organisation; what it may do is the services' checks, with its actor."""

    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        key = key_for_token(token)
        if key is not None:
            touch_api_key(key)
        return key


def touch_api_key(key: ApiKey) -> None:
    """Record the key's use, at most once a minute (a busy client would rewrite the row each call)."""
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > datetime.timedelta(minutes=1):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)


def api_key(request: HttpRequest) -> ApiKey:
    key: Any = getattr(request, "auth", None)
    assert isinstance(key, ApiKey), "every operation is behind ApiKeyAuth"
    return key


def organisation(request: HttpRequest) -> Organisation:
    return api_key(request).organisation


def actor(request: HttpRequest) -> ApiClient:
    """The key as the services' actor: staff-like, writing only with a read-write key."""
    key = api_key(request)
    return ApiClient(
        pk=None,  # no user row: the audit trail names the key by its label
        email=f"api:{key.prefix}",
        organisation_id=key.organisation_id,
        writes=key.scope == ApiKey.Scope.WRITE,
    )


class KeyRateThrottle(SimpleRateThrottle):
    """Requests per key, counted in the cache (Redis when configured, in memory otherwise)."""

    scope = "api_key"

    def get_cache_key(self, request: HttpRequest) -> str | None:
        key = getattr(request, "auth", None)
        if not isinstance(key, ApiKey):
            return None
        return self.cache_format % {"scope": self.scope, "ident": key.pk}
