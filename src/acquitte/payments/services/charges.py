"""Charges: committed with their idempotency key before the provider is called, applied after.

The key goes to the provider too, so a retry, a double click or a crash between the call and its
outcome finds the same charge instead of making a second one.
"""

from typing import TYPE_CHECKING

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.money import Amount
from acquitte.core.tenancy import check_can_act_for
from acquitte.invoicing.models import Invoice

from ..models import ChargeAttempt, Payment, PaymentMethod, ProviderAccount
from ..providers import ProviderName
from ..selectors import (
    ONLINE_PAYABLE_KINDS,
    attempts_in_flight,
    check_terms_accepted,
    has_open_invoice_offline,
    provider_client,
)
from .outcomes import apply_charge_result, positive_amount, user_of

if TYPE_CHECKING:
    from decimal import Decimal

    from acquitte.customers.models import Customer


def pay_invoice(
    *, invoice: Invoice, payment_method: PaymentMethod, idempotency_key: str, actor: Actor
) -> Payment:
    """Charge the amount due of an invoice to a saved method, once whatever happens."""
    _check_method(payment_method, invoice.customer)
    return _charge(
        customer=invoice.customer,
        invoice=invoice,
        amount=None,
        token=payment_method.token,
        kind=_payment_kind(payment_method),
        method=payment_method,
        provider=payment_method.provider,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def pay_invoice_once(
    *, invoice: Invoice, token: str, kind: Payment.Method, idempotency_key: str, actor: Actor
) -> Payment:
    """Charge an invoice with a one-time provider token (a hosted checkout; nothing is saved)."""
    return _charge(
        customer=invoice.customer,
        invoice=invoice,
        amount=None,
        token=token,
        kind=kind,
        method=None,
        provider=ProviderName.SANDBOX,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def make_payment(
    *, customer: "Customer", amount: Amount, payment_method: PaymentMethod, idempotency_key: str, actor: Actor
) -> Payment:
    """Pay an amount of the customer's choosing (seed 001): oldest invoices first, the rest is credit.

    Refused while one of the customer's open invoices is not offered for online payment: the
    amount would settle it oldest first, against the merchant's choice for that invoice.
    """
    _check_method(payment_method, customer)
    if has_open_invoice_offline(customer):
        raise BusinessError(
            _("Une facture en attente ne se règle pas en ligne : payez-la selon les modalités indiquées."),
            code=ErrorCode.ONLINE_PAYMENT_OFF,
        )
    return _charge(
        customer=customer,
        invoice=None,
        amount=positive_amount(amount),
        token=payment_method.token,
        kind=_payment_kind(payment_method),
        method=payment_method,
        provider=payment_method.provider,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def _check_method(method: PaymentMethod, customer: "Customer") -> None:
    if method.customer_id != customer.pk or method.status != PaymentMethod.Status.VALID:
        raise BusinessError(
            _("Ce moyen de paiement n'est pas utilisable."), code=ErrorCode.PAYMENT_METHOD_INVALID
        )
    if not ProviderAccount.objects.filter(
        organisation_id=customer.organisation_id, provider=method.provider
    ).exists():
        raise BusinessError(
            _("Ce moyen de paiement n'est plus accepté ; payez la facture en ligne."),
            code=ErrorCode.PROVIDER_NOT_CONNECTED,
        )


def _payment_kind(method: PaymentMethod) -> Payment.Method:
    return Payment.Method.CARD if method.kind == PaymentMethod.Kind.CARD else Payment.Method.DIRECT_DEBIT


def _charge(
    *,
    customer: "Customer",
    invoice: Invoice | None,
    amount: "Decimal | None",
    token: str,
    kind: Payment.Method,
    method: PaymentMethod | None,
    provider: str,
    idempotency_key: str,
    actor: Actor,
) -> Payment:
    attempt, created = open_attempt(
        customer=customer,
        invoice=invoice,
        amount=amount,
        kind=kind,
        method=method,
        provider=provider,
        idempotency_key=idempotency_key,
        actor=actor,
    )
    if not created:
        return attempt.payment
    result = provider_client(name=attempt.provider, organisation_id=attempt.organisation_id).charge(
        token=token,
        amount=attempt.payment.amount,
        currency=attempt.payment.currency,
        idempotency_key=attempt.idempotency_key,
    )
    return apply_charge_result(attempt=attempt, result=result, actor=actor)


@transaction.atomic
def open_attempt(
    *,
    customer: "Customer",
    invoice: Invoice | None,
    amount: "Decimal | None",
    kind: Payment.Method,
    method: PaymentMethod | None,
    provider: str,
    idempotency_key: str,
    actor: Actor,
) -> tuple[ChargeAttempt, bool]:
    """Commit the payment and its attempt before any provider call; reuse them for a known key.

    Without an invoice, ``amount`` is what to charge; with one, what the invoice still owes.
    """
    check_can_act_for(actor, customer)
    if not idempotency_key or len(idempotency_key) > 80:
        raise BusinessError(_("Clé d'idempotence manquante ou trop longue."), code=ErrorCode.INVALID_INPUT)
    if invoice is not None:
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    existing = _attempt_with_key(idempotency_key, customer)
    if existing:
        return existing, False
    check_terms_accepted(customer, actor)  # a new charge only: a repeat gets the first one's outcome
    if invoice is not None:
        amount = _amount_due(invoice, customer)
    if amount is None:
        raise BusinessError(_("Le montant doit être positif, au cent près."), code=ErrorCode.INVALID_AMOUNT)
    try:
        # Two requests with one key can both get past the lookup above; the unique key lets one
        # insert through, and the other, once the first has committed, gets the first's attempt.
        with transaction.atomic():
            payment = Payment.objects.create(
                organisation_id=customer.organisation_id,
                customer=customer,
                amount=amount,
                currency=customer.organisation.currency,
                method=kind,
                status=Payment.Status.PROCESSING,
                invoice=invoice,
                payment_method=method,
                provider=provider,
                received_on=timezone.localdate(),
                recorded_by=user_of(actor),
            )
            attempt = ChargeAttempt.objects.create(
                organisation_id=customer.organisation_id,
                payment=payment,
                idempotency_key=idempotency_key,
                provider=provider,
            )
    except IntegrityError:
        existing = _attempt_with_key(idempotency_key, customer)
        if existing is None:
            raise
        return existing, False
    return attempt, True


def _attempt_with_key(idempotency_key: str, customer: "Customer") -> ChargeAttempt | None:
    """The attempt already made with this key, if it is this customer's (another's looks missing)."""
    existing = ChargeAttempt.objects.select_related("payment").filter(idempotency_key=idempotency_key).first()
    if existing is not None and existing.payment.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    return existing


def _amount_due(invoice: Invoice, customer: "Customer") -> "Decimal":
    """What the (locked) invoice still owes, once it is known to be payable online now."""
    if invoice.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    if invoice.kind not in ONLINE_PAYABLE_KINDS or invoice.status != Invoice.Status.OPEN:
        raise BusinessError(_("Cette facture n'est pas à payer."), code=ErrorCode.NOT_PAYABLE)
    if not invoice.online_payment:
        raise BusinessError(
            _("Cette facture ne se règle pas en ligne : payez-la selon les modalités indiquées."),
            code=ErrorCode.ONLINE_PAYMENT_OFF,
        )
    if attempts_in_flight(invoice).exists():
        raise BusinessError(
            _("Un paiement de cette facture est déjà en cours."), code=ErrorCode.PAYMENT_IN_PROGRESS
        )
    return invoice.total - invoice.amount_paid
