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
from .setup import request_authentication

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
        kind=payment_kind(payment_method),
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
        kind=payment_kind(payment_method),
        method=payment_method,
        provider=payment_method.provider,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def _check_method(method: PaymentMethod, customer: "Customer") -> None:
    connected = ProviderAccount.objects.filter(
        organisation_id=customer.organisation_id, provider=method.provider
    ).values_list("provider", flat=True)
    check_method_usable(method, customer.pk, set(connected))


def check_method_usable(method: PaymentMethod, customer_id: int, connected: set[str]) -> None:
    """The method is the customer's, valid, and its provider one of the organisation's ``connected``."""
    if method.customer_id != customer_id or method.status != PaymentMethod.Status.VALID:
        raise BusinessError(
            _("Ce moyen de paiement n'est pas utilisable."), code=ErrorCode.PAYMENT_METHOD_INVALID
        )
    if method.provider not in connected:
        raise BusinessError(
            _("Ce moyen de paiement n'est plus accepté ; payez la facture en ligne."),
            code=ErrorCode.PROVIDER_NOT_CONNECTED,
        )


def payment_kind(method: PaymentMethod) -> Payment.Method:
    if method.kind == PaymentMethod.Kind.PAYPAL:
        return Payment.Method.PAYPAL
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
        customer_reference=method.provider_customer if method is not None else "",
    )
    payment = apply_charge_result(attempt=attempt, result=result, actor=actor)
    request_authentication(attempt=attempt, result=result, actor=actor)
    return payment


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
    check_key(idempotency_key)
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
            payment = new_payment(
                organisation_id=customer.organisation_id,
                customer_id=customer.pk,
                currency=customer.organisation.currency,
                amount=amount,
                kind=kind,
                invoice_id=invoice.pk if invoice is not None else None,
                method_id=method.pk if method is not None else None,
                provider=provider,
                actor=actor,
            )
            payment.save()
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


def check_key(idempotency_key: str) -> None:
    """An idempotency key is given, and short enough for the provider (and our unique column)."""
    if not idempotency_key or len(idempotency_key) > 80:
        raise BusinessError(_("Clé d'idempotence manquante ou trop longue."), code=ErrorCode.INVALID_INPUT)


def _attempt_with_key(idempotency_key: str, customer: "Customer") -> ChargeAttempt | None:
    """The attempt already made with this key, if it is this customer's (another's looks missing)."""
    existing = ChargeAttempt.objects.select_related("payment").filter(idempotency_key=idempotency_key).first()
    if existing is not None and existing.payment.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    return existing


def new_payment(
    *,
    organisation_id: int,
    customer_id: int,
    currency: str,
    amount: "Decimal",
    kind: Payment.Method,
    invoice_id: int | None,
    method_id: int | None,
    provider: str,
    actor: Actor,
) -> Payment:
    """The (unsaved) payment of a charge about to be sent, in flight until the provider answers."""
    return Payment(
        organisation_id=organisation_id,
        customer_id=customer_id,
        amount=amount,
        currency=currency,
        method=kind,
        status=Payment.Status.PROCESSING,
        invoice_id=invoice_id,
        payment_method_id=method_id,
        provider=provider,
        received_on=timezone.localdate(),
        recorded_by=user_of(actor),
    )


def _amount_due(invoice: Invoice, customer: "Customer") -> "Decimal":
    """What the (locked) invoice still owes, once it is known to be payable online now."""
    return amount_payable(invoice, customer.pk, in_flight=attempts_in_flight(invoice).exists())


def amount_payable(invoice: Invoice, customer_id: int, *, in_flight: bool) -> "Decimal":
    """What the (locked) invoice still owes, if it may be charged now: the customer's, open, offered
    for online payment, and no charge of it still in flight (``in_flight``)."""
    if invoice.customer_id != customer_id:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    if invoice.kind not in ONLINE_PAYABLE_KINDS or invoice.status != Invoice.Status.OPEN:
        raise BusinessError(_("Cette facture n'est pas à payer."), code=ErrorCode.NOT_PAYABLE)
    if not invoice.online_payment:
        raise BusinessError(
            _("Cette facture ne se règle pas en ligne : payez-la selon les modalités indiquées."),
            code=ErrorCode.ONLINE_PAYMENT_OFF,
        )
    if in_flight:
        raise BusinessError(
            _("Un paiement de cette facture est déjà en cours."), code=ErrorCode.PAYMENT_IN_PROGRESS
        )
    due = invoice.total - invoice.amount_paid
    if due <= 0:
        raise BusinessError(_("Cette facture n'est pas à payer."), code=ErrorCode.NOT_PAYABLE)
    return due
