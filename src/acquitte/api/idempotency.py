"""Stripe's idempotency keys for the API's POSTs: the first request with a key claims it (a unique
row), its response is kept 24 hours and replayed; the same key with another body is refused, and
a second request while the first is in flight answers 409. Transport, not business: the rows
belong to the API key that sent them."""

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from .models import ApiKey, IdempotencyKey

#: Idempotency keys are kept this long (Stripe's 24 hours).
IDEMPOTENCY_KEPT = datetime.timedelta(hours=24)


def begin_idempotent(*, api_key: ApiKey, key: str, request_hash: str) -> IdempotencyKey | None:
    """Claim ``key`` for this request: ``None`` when claimed now (go on), else the row found
    (replay it when done, 409 while in flight, 422 when its body differs)."""
    IdempotencyKey.objects.filter(api_key=api_key, created_at__lt=timezone.now() - IDEMPOTENCY_KEPT).delete()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(api_key=api_key, key=key, request_hash=request_hash)
    except IntegrityError:
        return IdempotencyKey.objects.get(api_key=api_key, key=key)
    return None


def finish_idempotent(*, api_key: ApiKey, key: str, status_code: int, body: bytes, content_type: str) -> None:
    """Keep the response to replay; a server error frees the key for another try instead."""
    rows = IdempotencyKey.objects.filter(api_key=api_key, key=key, state=IdempotencyKey.State.IN_FLIGHT)
    if status_code >= 500:
        rows.delete()
        return
    rows.update(
        state=IdempotencyKey.State.DONE,
        status_code=status_code,
        response_body=body,
        content_type=content_type,
    )


def release_idempotent(*, api_key: ApiKey, key: str) -> None:
    """The request crashed: free the key so that the client's retry runs."""
    IdempotencyKey.objects.filter(api_key=api_key, key=key, state=IdempotencyKey.State.IN_FLIGHT).delete()
