"""Refunds, by the charge rule: commit the attempt with its key, call the provider outside every
transaction and lock, then apply the answer once. One left in doubt (a timeout, a crash after the
provider refunded) is settled by ``reconcile_payments`` asking the provider, never by refunding again.
"""

import logging
from decimal import Decimal

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.money import Amount
from acquitte.core.tenancy import check_can_write
from acquitte.invoicing.models import LedgerEntry

from ..models import Payment, RefundAttempt
from ..providers import ChargeResult, ChargeStatus
from ..selectors import provider_client
from .outcomes import positive_amount, take_back, transition, user_of

logger = logging.getLogger(__name__)

REFUNDABLE = (Payment.Status.SUCCEEDED, Payment.Status.PARTLY_REFUNDED)
#: What the provider says when a refund is on its way or done: the money is owed back either way.
ACCEPTED = (ChargeStatus.SUCCEEDED, ChargeStatus.PENDING)


def refund(*, payment: Payment, amount: Amount, actor: Actor) -> Payment:
    """Give money back: the provider refunds, the invoices it settled reopen, the ledger owes again."""
    client = (
        provider_client(name=payment.provider, organisation_id=payment.organisation_id)
        if payment.provider
        else None
    )
    attempt = _open_refund(payment=payment, amount=positive_amount(amount), actor=actor)
    if attempt is None or client is None:
        return Payment.objects.get(pk=payment.pk)
    try:
        result = client.refund(
            reference=attempt.payment.provider_reference,
            amount=attempt.amount,
            currency=attempt.payment.currency,
            idempotency_key=attempt.idempotency_key,
        )
    except BusinessError as exc:
        if exc.error_code != ErrorCode.PROVIDER_UNAVAILABLE:
            apply_refund_result(attempt=attempt, result=ChargeResult(status=ChargeStatus.FAILED), actor=actor)
        raise
    except Exception as exc:  # a timeout or a dropped connection: the provider may have refunded
        logger.exception("refund %s at %s left in doubt", attempt.idempotency_key, attempt.payment.provider)
        raise BusinessError(
            _("Le prestataire ne répond pas : le remboursement sera vérifié auprès de lui sous peu."),
            code=ErrorCode.PROVIDER_UNAVAILABLE,
        ) from exc
    refunded = apply_refund_result(attempt=attempt, result=result, actor=actor)
    if result.status == ChargeStatus.FAILED:
        raise BusinessError(
            _("Le prestataire a refusé le remboursement (%(code)s).") % {"code": result.failure_code or "—"},
            code=ErrorCode.REFUND_REFUSED,
        )
    return refunded


@transaction.atomic
def _open_refund(*, payment: Payment, amount: Decimal, actor: Actor) -> RefundAttempt | None:
    """Check and commit the refund before any provider call; a payment taken without a provider
    (transfer, cheque) is refunded at once and gives no attempt."""
    payment = (
        Payment.objects.select_for_update(of=("self",)).select_related("organisation").get(pk=payment.pk)
    )
    check_can_write(actor, payment.organisation)
    if amount > payment.amount - payment.amount_refunded:
        raise BusinessError(
            _("Le remboursement dépasse le montant encore remboursable."), code=ErrorCode.INVALID_AMOUNT
        )
    if payment.status not in REFUNDABLE:
        raise BusinessError(_("Seul un paiement réussi peut être remboursé."), code=ErrorCode.INVALID_STATE)
    if not payment.provider:
        _give_back(payment=payment, amount=amount, actor=actor)
        return None
    # The same refund asked again (after a timeout) carries the same key: the provider refunds once.
    key = f"refund-{payment.pk}-{payment.amount_refunded}-{amount}"
    if (
        payment.refund_attempts.filter(state=RefundAttempt.State.CREATED)
        .exclude(idempotency_key=key)
        .exists()
    ):
        raise BusinessError(
            _("Un remboursement de ce paiement est déjà en cours."), code=ErrorCode.PAYMENT_IN_PROGRESS
        )
    attempt, created = RefundAttempt.objects.get_or_create(
        idempotency_key=key,
        defaults={
            "organisation_id": payment.organisation_id,
            "payment": payment,
            "amount": amount,
            "requested_by": user_of(actor),
        },
    )
    if not created and attempt.state == RefundAttempt.State.FAILED:
        attempt.state, attempt.failure_code, attempt.completed_at = RefundAttempt.State.CREATED, "", None
        attempt.save(update_fields=["state", "failure_code", "completed_at"])
    attempt.payment = payment
    return attempt


@transaction.atomic
def apply_refund_result(*, attempt: RefundAttempt, result: ChargeResult, actor: Actor) -> Payment:
    """Apply what the provider says of a refund, once: a settled attempt never moves again.

    ``open`` leaves it in doubt; ``failed`` and ``unknown`` (the provider has no such refund) close
    it with nothing given back.
    """
    attempt = RefundAttempt.objects.select_for_update().get(pk=attempt.pk)
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("organisation")
        .get(pk=attempt.payment_id)
    )
    check_can_write(actor, payment.organisation)
    if attempt.state != RefundAttempt.State.CREATED or result.status == ChargeStatus.OPEN:
        return payment
    attempt.completed_at = timezone.now()
    attempt.provider_reference = result.reference or attempt.provider_reference
    if result.status not in ACCEPTED:
        attempt.state, attempt.failure_code = RefundAttempt.State.FAILED, result.failure_code[:80]
        attempt.save(update_fields=["state", "failure_code", "provider_reference", "completed_at"])
        return payment
    attempt.state = RefundAttempt.State.SUCCEEDED
    attempt.save(update_fields=["state", "provider_reference", "completed_at"])
    _give_back(payment=payment, amount=attempt.amount, actor=actor)
    return payment


def _give_back(*, payment: Payment, amount: Decimal, actor: Actor) -> None:
    """The refund is made: reopen what the payment settled and owe the amount again (locked payment)."""
    payment.amount_refunded += amount
    take_back(payment=payment, amount=amount, kind=LedgerEntry.Kind.REFUND, actor=actor)
    full = payment.amount_refunded == payment.amount
    transition(
        payment=payment, to=Payment.Status.REFUNDED if full else Payment.Status.PARTLY_REFUNDED, actor=actor
    )
