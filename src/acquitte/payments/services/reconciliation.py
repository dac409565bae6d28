"""Settle what was left in doubt by asking the provider — never by charging or refunding again."""

import datetime
import logging
from typing import TypedDict

from django.utils import timezone

from acquitte.core.actors import System
from acquitte.core.tenancy import check_is_system

from ..models import ChargeAttempt, RefundAttempt
from ..providers import ChargeResult, ChargeStatus
from ..selectors import provider_client
from .hosted import HOSTED_PAGE_LIFETIME
from .outcomes import apply_charge_result
from .refunds import apply_refund_result

logger = logging.getLogger(__name__)


#: An attempt still without an answer this long after it was committed is in doubt: the provider
#: call that made it has ended one way or another (provider calls time out after 10 s, 20 s with
#: GoCardless's one retry; a web worker is killed after 30 s). Run every 20 s (settings'
#: CELERY_BEAT_SCHEDULE), reconciliation settles a crash within a minute, and never asks about a
#: call still on its way.
IN_DOUBT_AFTER = datetime.timedelta(seconds=40)


class Counts(TypedDict):
    checked: int
    settled: int


def reconcile_payments(
    *, actor: System, older_than: datetime.timedelta = IN_DOUBT_AFTER, pending: bool = True
) -> Counts:
    """Settle charge and refund attempts left in doubt.

    A charge is asked about by its key. A hosted payment is asked about by its reference; the payer
    may stay on the provider's page for its whole lifetime (``HOSTED_PAGE_LIFETIME``), and only after
    it is the page closed at the provider, whatever ``older_than`` says. One that never got a
    reference (a crash before the provider answered) never reached a payer, so it is cancelled.
    A refund is asked about by its key. ``pending=False`` leaves out the charges the provider already
    accepted and is settling (a direct debit takes days and is reported by webhook): the frequent run
    settles crashes, a slower one those. Only the system runs it: it acts on every organisation.
    """
    check_is_system(actor)
    now = timezone.now()
    counts = Counts(checked=0, settled=0)
    states = (
        [ChargeAttempt.State.CREATED, ChargeAttempt.State.PENDING]
        if pending
        else [ChargeAttempt.State.CREATED]
    )
    doubtful = ChargeAttempt.objects.filter(state__in=states, created_at__lt=now - older_than).select_related(
        "payment"
    )
    for attempt in doubtful.iterator():
        counts["checked"] += 1
        try:
            result = _ask_provider(attempt, close_if_older_than=now - HOSTED_PAGE_LIFETIME)
        except Exception:  # one provider down must not stop the others being reconciled
            logger.exception("reconciling attempt %s with %s failed", attempt.pk, attempt.provider)
            continue
        still_waiting = result.status == ChargeStatus.PENDING and attempt.state == ChargeAttempt.State.PENDING
        if result.status == ChargeStatus.OPEN or still_waiting:
            continue
        apply_charge_result(attempt=attempt, result=result, actor=actor)
        counts["settled"] += 1
    refunds = RefundAttempt.objects.filter(
        state=RefundAttempt.State.CREATED, created_at__lt=now - older_than
    ).select_related("payment")
    for refund_attempt in refunds.iterator():
        counts["checked"] += 1
        if _settle_refund(refund_attempt, actor=actor):
            counts["settled"] += 1
    return counts


def _ask_provider(attempt: ChargeAttempt, *, close_if_older_than: datetime.datetime) -> ChargeResult:
    client = provider_client(name=attempt.provider, organisation_id=attempt.organisation_id)
    saved_method = attempt.payment.payment_method_id is not None
    if not client.hosted or (saved_method and not attempt.provider_reference):
        return client.fetch_status(idempotency_key=attempt.idempotency_key)
    if not attempt.provider_reference:
        return ChargeResult(status=ChargeStatus.UNKNOWN)
    result = client.payment_status(reference=attempt.provider_reference)
    if result.status == ChargeStatus.OPEN and attempt.created_at < close_if_older_than:
        result = client.cancel_hosted_payment(reference=attempt.provider_reference)
    return result


def _settle_refund(attempt: RefundAttempt, *, actor: System) -> bool:
    """Ask the provider about one refund in doubt and apply the answer; False if it cannot say."""
    payment = attempt.payment
    try:
        client = provider_client(name=payment.provider, organisation_id=attempt.organisation_id)
        result = client.refund_status(
            reference=payment.provider_reference, idempotency_key=attempt.idempotency_key
        )
    except Exception:  # one provider down must not stop the others being reconciled
        logger.exception("reconciling refund %s with %s failed", attempt.pk, payment.provider)
        return False
    if result.status == ChargeStatus.OPEN:
        return False
    apply_refund_result(attempt=attempt, result=result, actor=actor)
    return True
