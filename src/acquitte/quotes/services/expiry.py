"""The hourly run that closes quotes left past their validity date."""

import datetime

from django.db import transaction
from django.utils import timezone

from acquitte.core.actors import Actor
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_is_system

from ..models import Quote
from .sending import OPEN_FOR_DECISION


def expire_quotes(*, actor: Actor, today: datetime.date | None = None) -> int:
    """Sent quotes past their validity date become expired; returns how many. A scheduled run."""
    check_is_system(actor)
    today = today or timezone.localdate()
    expired = 0
    stale = Quote.objects.filter(status__in=OPEN_FOR_DECISION, valid_until__lt=today).order_by("pk")
    for quote_id in stale.values_list("pk", flat=True):
        with transaction.atomic():
            quote = (
                Quote.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=quote_id)
            )
            if quote.status not in OPEN_FOR_DECISION:
                continue
            previous = quote.status
            quote.status = Quote.Status.EXPIRED
            quote.save(update_fields=["status"])
            record_transition(
                obj=quote,
                organisation=quote.organisation,
                actor=actor,
                action=AuditAction.EXPIRE,
                from_state=previous,
                to_state=Quote.Status.EXPIRED,
            )
            expired += 1
    return expired
