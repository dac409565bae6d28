"""Lookups by the secret of a public link (invoice or quote): 32 random bytes, never a sequential id."""

import hmac
from typing import TypeVar

from django.db.models import Model, QuerySet

MIN_LENGTH = 40

M = TypeVar("M", bound=Model)


def by_public_token(queryset: QuerySet[M], token: str) -> M | None:
    """The row of ``queryset`` whose ``public_token`` is ``token``, or None.

    Rows are found by the token's first 12 characters (indexed ``public_key``), then the whole
    secret is compared in constant time, so the response time says nothing about the rest of it.
    """
    if not token or len(token) < MIN_LENGTH:
        return None
    for row in queryset.filter(public_key=token[:12]):
        secret: str = getattr(row, "public_token")  # noqa: B009 - any model with a public link
        if hmac.compare_digest(secret.encode(), token.encode()):
            return row
    return None
