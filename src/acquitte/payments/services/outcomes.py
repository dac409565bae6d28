"""How a payment's state moves, and what a provider's answer does to it.

Transitions are monotonic and an outcome is applied once under the attempt's row lock, so a retry,
a duplicate webhook or a late answer never moves money twice.
"""

import logging
from dataclasses import dataclass
from decimal import Decimal

from babel.numbers import format_currency
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import MAX_AMOUNT, Amount, to_decimal
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_act_for
from acquitte.customers.models import User
from acquitte.invoicing.models import Invoice, LedgerEntry
from acquitte.invoicing.services import convert_proforma, reverse_allocations, settle_oldest_first
from acquitte.notifications.services import StaffNotice, notify_staff

from ..models import ChargeAttempt, Payment
from ..providers import ChargeResult, ChargeStatus

logger = logging.getLogger(__name__)

_S = Payment.Status
TRANSITIONS: dict[Payment.Status, frozenset[Payment.Status]] = {
    _S.PENDING: frozenset({_S.PROCESSING, _S.SUCCEEDED, _S.FAILED, _S.CANCELED}),
    _S.PROCESSING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CANCELED}),
    _S.SUCCEEDED: frozenset({_S.REFUNDED, _S.PARTLY_REFUNDED, _S.CHARGED_BACK}),
    _S.PARTLY_REFUNDED: frozenset({_S.REFUNDED, _S.PARTLY_REFUNDED, _S.CHARGED_BACK}),
    _S.FAILED: frozenset(),
    _S.CANCELED: frozenset(),
    _S.REFUNDED: frozenset(),
    _S.CHARGED_BACK: frozenset(),
}

FAILURE_MESSAGES = {
    "card_declined": gettext_noop("Carte refusée par la banque."),
    "insufficient_funds": gettext_noop("Fonds insuffisants."),
    "charged_back": gettext_noop("Prélèvement rejeté ou contesté par le payeur."),
    "": gettext_noop("Paiement refusé."),
}


def positive_amount(value: Amount) -> Decimal:
    """An amount of money to move: positive, within bounds, to the cent."""
    amount = to_decimal(value)
    if amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise BusinessError(_("Le montant doit être positif, au cent près."), code=ErrorCode.INVALID_AMOUNT)
    return amount


def user_of(actor: Actor) -> User | None:
    """The user to name on a row (``recorded_by``), when a person acts."""
    return actor if isinstance(actor, User) else None


def check_transition(payment: Payment, to: Payment.Status) -> bool:
    """Whether moving ``payment`` to ``to`` changes anything (a repeat does not); an illegal move is
    refused. The one rule for a payment moved alone (``transition``) or in a batch."""
    current = Payment.Status(payment.status)
    if current == to and to != Payment.Status.PARTLY_REFUNDED:
        return False
    if to not in TRANSITIONS[current]:
        logger.warning("refused payment transition %s: %s -> %s", payment.pk, current, to)
        raise BusinessError(
            _("Transition de paiement impossible : %(a)s → %(b)s.") % {"a": current, "b": to},
            code=ErrorCode.INVALID_STATE,
        )
    return True


def transition(
    *, payment: Payment, to: Payment.Status, actor: Actor, detail: dict[str, str] | None = None
) -> bool:
    """Move a payment to ``to``; a repeat changes nothing (False), an illegal move is refused."""
    check_can_act_for(actor, payment.customer)
    current = Payment.Status(payment.status)
    if not check_transition(payment, to):
        return False
    payment.status = to
    payment.save(update_fields=["status", "failure_message", "provider_reference", "amount_refunded"])
    record_transition(
        obj=payment,
        organisation=payment.organisation,
        actor=actor,
        action=AuditAction.TRANSITION,
        from_state=current,
        to_state=to,
        detail=detail,
    )
    return True


@dataclass(frozen=True)
class Answer:
    """What a provider's answer does to a charge: nothing (``applies`` False: the attempt is
    terminal, or the payer is still on the provider's page), or fills in the attempt, and moves the
    payment to ``to`` unless it stays in flight (``to`` None: a direct debit settling)."""

    applies: bool
    to: Payment.Status | None = None


def read_answer(attempt: ChargeAttempt, payment: Payment, result: ChargeResult) -> Answer:
    """Fill the (locked) attempt and its payment in from the provider's answer, without saving:
    the one rule for a charge answered alone (``apply_charge_result``) or in a batch."""
    done = attempt.state in (ChargeAttempt.State.SUCCEEDED, ChargeAttempt.State.FAILED)
    if done or result.status == ChargeStatus.OPEN:
        return Answer(applies=False)
    if result.reference:
        attempt.provider_reference = payment.provider_reference = result.reference
    if result.status == ChargeStatus.PENDING:
        attempt.state = ChargeAttempt.State.PENDING
        return Answer(applies=True)
    if result.status == ChargeStatus.ACTION_REQUIRED:  # SCA: the customer's page is open, like a hosted one
        return Answer(applies=True)
    attempt.completed_at = timezone.now()
    if result.status == ChargeStatus.SUCCEEDED:
        attempt.state = ChargeAttempt.State.SUCCEEDED
        return Answer(applies=True, to=Payment.Status.SUCCEEDED)
    attempt.state = ChargeAttempt.State.FAILED
    payment.failure_message = _(FAILURE_MESSAGES.get(result.failure_code, FAILURE_MESSAGES[""]))
    abandoned = result.status == ChargeStatus.UNKNOWN
    return Answer(applies=True, to=Payment.Status.CANCELED if abandoned else Payment.Status.FAILED)


@transaction.atomic
def apply_charge_result(*, attempt: ChargeAttempt, result: ChargeResult, actor: Actor) -> Payment:
    """Apply what the provider says of a charge; terminal states never move again."""
    attempt = (
        ChargeAttempt.objects.select_for_update(of=("self",))
        .select_related("payment__organisation")
        .get(pk=attempt.pk)
    )
    payment = attempt.payment
    check_can_act_for(actor, payment.customer)
    if result.status == ChargeStatus.REVERSED:
        if attempt.state == ChargeAttempt.State.SUCCEEDED:
            return charge_back(payment=payment, actor=actor)
        # Reversed before we heard it was paid: it never stayed paid, so it failed.
        result = ChargeResult(
            status=ChargeStatus.FAILED, reference=result.reference, failure_code="charged_back"
        )
    answer = read_answer(attempt, payment, result)
    if not answer.applies:
        return payment
    attempt.save(update_fields=["state", "provider_reference", "completed_at"])
    if answer.to is None:
        payment.save(update_fields=["provider_reference"])
        return payment
    transition(payment=payment, to=answer.to, actor=actor)
    if answer.to == Payment.Status.SUCCEEDED:
        settle(payment, actor)
    else:
        notice = failed_notice(payment)
        notify_staff(
            organisation=payment.organisation,
            actor=actor,
            kind=notice.kind,
            subject=notice.subject,
            body=notice.body,
            link=notice.link,
        )
    return payment


def take_back(*, payment: Payment, amount: Decimal, kind: LedgerEntry.Kind, actor: Actor) -> None:
    """``amount`` of a (locked) payment went back to the payer: reopen what it settled, as far as
    it goes, and owe the amount again in the ledger (a refund, a chargeback)."""
    reverse_allocations(
        payment=payment,
        amount=min(amount, sum((a.amount for a in payment.allocations.all()), Decimal(0))),
        actor=actor,
    )
    LedgerEntry.objects.create(
        organisation_id=payment.organisation_id,
        customer_id=payment.customer_id,
        kind=kind,
        amount=amount,
        payment=payment,
        occurred_on=timezone.localdate(),
    )


def charge_back(*, payment: Payment, actor: Actor) -> Payment:
    """The payer's bank took a paid charge back: what it had settled is owed again, the ledger
    says so, and staff are told. Once: a charged-back payment never moves again."""
    payment = (
        Payment.objects.select_for_update(of=("self",))
        .select_related("organisation", "customer")
        .get(pk=payment.pk)
    )
    if Payment.Status(payment.status) not in (Payment.Status.SUCCEEDED, Payment.Status.PARTLY_REFUNDED):
        return payment
    amount = payment.amount - payment.amount_refunded
    take_back(payment=payment, amount=amount, kind=LedgerEntry.Kind.CHARGEBACK, actor=actor)
    payment.failure_message = _(FAILURE_MESSAGES["charged_back"])
    transition(payment=payment, to=Payment.Status.CHARGED_BACK, actor=actor)
    notify_staff(
        organisation=payment.organisation,
        actor=actor,
        kind="payment_charged_back",
        subject=_("Paiement contesté : %(amount)s, %(customer)s")
        % {"amount": money(amount, payment), "customer": payment.customer.name},
        body=payment.failure_message,
        link=staff_link(payment),
    )
    return payment


def settle(payment: Payment, actor: Actor) -> None:
    """Post a succeeded payment to the ledger, apply it to invoices and tell staff."""
    ledger_entry(payment).save()
    settle_invoices(payment, actor)
    notice = received_notice(payment)
    notify_staff(
        organisation=payment.organisation,
        actor=actor,
        kind=notice.kind,
        subject=notice.subject,
        body=notice.body,
        link=notice.link,
    )


def ledger_entry(payment: Payment) -> LedgerEntry:
    """The (unsaved) entry crediting the customer's account with a succeeded payment."""
    return LedgerEntry(
        organisation_id=payment.organisation_id,
        customer_id=payment.customer_id,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=-payment.amount,
        payment=payment,
        occurred_on=payment.received_on,
    )


def settle_invoices(payment: Payment, actor: Actor) -> None:
    """Apply a succeeded payment to its invoice first (a pro-forma becomes one), then to the
    customer's other open invoices oldest first; the rest stays as credit."""
    first = payment.invoice
    if first is not None and first.kind == Invoice.Kind.PROFORMA:
        first = convert_proforma(proforma=first, actor=actor)
    settle_oldest_first(
        customer=payment.customer, amount=payment.amount, payment=payment, actor=actor, first=first
    )


def received_notice(payment: Payment) -> StaffNotice:
    """What staff are told of a payment received (seed 004: every payment)."""
    return StaffNotice(
        kind="payment_received",
        subject=_("Paiement reçu : %(amount)s, %(customer)s")
        % {"amount": money(payment.amount, payment), "customer": payment.customer.name},
        body=_("Mode : %(method)s. Référence : %(ref)s.")
        % {
            "method": payment.get_method_display(),
            "ref": payment.provider_reference or payment.reference or "—",
        },
        link=staff_link(payment),
    )


def failed_notice(payment: Payment) -> StaffNotice:
    """What staff are told of a charge refused or abandoned."""
    return StaffNotice(
        kind="payment_failed",
        subject=_("Paiement échoué : %(amount)s, %(customer)s")
        % {"amount": money(payment.amount, payment), "customer": payment.customer.name},
        body=payment.failure_message,
        link=staff_link(payment),
    )


def money(amount: Decimal, payment: Payment) -> str:
    """``amount`` in the payment's currency, written the organisation's way."""
    return format_currency(amount, payment.currency, locale=payment.organisation.babel_locale)


def staff_link(payment: Payment) -> str:
    """Where staff see the payment: its invoice, else its customer."""
    if payment.invoice_id:
        return reverse("backoffice:invoice_detail", args=[payment.invoice_id])
    return reverse("backoffice:customer_detail", args=[payment.customer_id])
