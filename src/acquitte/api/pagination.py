"""Cursor pagination: a page of a queryset ordered by id, and an opaque cursor for the next one.
A cursor names the last id seen, so pages stay right while rows are added."""

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

from django.db.models import Model, QuerySet
from django.utils.translation import gettext as _

from acquitte.core.errors import BusinessError, ErrorCode

M = TypeVar("M", bound=Model)
MAX_LIMIT = 100


def encode_cursor(pk: int) -> str:
    return base64.urlsafe_b64encode(f"id:{pk}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _sep, value = text.partition(":")
        if kind != "id" or not value.isdigit() or len(value) > 19:
            raise ValueError(cursor)
        return int(value)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise BusinessError(
            {"cursor": [_("Curseur invalide : reprenez celui que la page précédente a donné.")]},
            code=ErrorCode.INVALID_INPUT,
        ) from exc


def page(
    rows: QuerySet[M], *, cursor: str = "", limit: int = 20, newest_first: bool = True
) -> tuple[Sequence[M], str | None]:
    """``limit`` rows after the cursor, and the cursor of the next page (``None`` on the last)."""
    limit = max(1, min(limit, MAX_LIMIT))
    if cursor:
        last = decode_cursor(cursor)
        rows = rows.filter(pk__lt=last) if newest_first else rows.filter(pk__gt=last)
    found = list(rows.order_by("-pk" if newest_first else "pk")[: limit + 1])
    more = len(found) > limit
    found = found[:limit]
    return found, (encode_cursor(found[-1].pk) if more and found else None)
