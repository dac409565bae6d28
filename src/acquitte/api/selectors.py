"""Reads of API keys: the organisation's list, and the key a request's token names."""

import hmac
from typing import TYPE_CHECKING

from django.db.models import QuerySet

from .models import KEY_START, ApiKey, hash_key

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation


def api_keys_of(organisation: "Organisation") -> QuerySet[ApiKey]:
    return ApiKey.objects.filter(organisation=organisation)


def key_for_token(token: str) -> ApiKey | None:
    """The live key ``token`` is, compared in constant time; ``None`` for anything else."""
    if not token.startswith(KEY_START) or len(token) > 200:
        return None
    prefix, _sep, _rest = token.removeprefix(KEY_START).partition("_")
    key = ApiKey.objects.filter(prefix=prefix, revoked_at__isnull=True).select_related("organisation").first()
    if key is None or not hmac.compare_digest(key.key_hash, hash_key(token)):
        return None
    return key
