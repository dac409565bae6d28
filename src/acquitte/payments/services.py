"""The money path: saved methods, charges, webhooks, reconciliation, manual money received.

A charge is committed (with its idempotency key) before the provider is called, and the key
goes to the provider; the outcome is applied by monotonic transitions, so a retry, a duplicate
webhook or a crash between the two never charges twice or loses a payment.
"""

import datetime
import hashlib
import hmac
import logging
import uuid
from contextlib import nullcontext
from decimal import Decimal

from babel.numbers import format_currency
from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from acquitte.core.errors import BusinessError
from acquitte.core.money import MAX_AMOUNT, to_decimal
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_write, check_same_organisation
from acquitte.customers.models import Organisation
from acquitte.invoicing.models import Invoice, LedgerEntry
from acquitte.invoicing.services import convert_proforma, reverse_allocations, settle_oldest_first
from acquitte.notifications.services import notify_staff

from . import secrets, validation
from .models import ChargeAttempt, Payment, PaymentMethod, ProviderAccount, TransferDeclaration, WebhookEvent
from .providers import get_provider
from .providers.base import ChargeResult, WebhookRejected
from .providers.verify import CredentialsRejected, Verified, verify_credentials

logger = logging.getLogger(__name__)

MANUAL_METHODS = {
    Payment.Method.BANK_TRANSFER,
    Payment.Method.CHEQUE,
    Payment.Method.CASH,
    Payment.Method.OTHER,
}

TRANSITIONS = {
    "pending": {"processing", "succeeded", "failed", "canceled"},
    "processing": {"succeeded", "failed", "canceled"},
    "succeeded": {"refunded", "partly_refunded", "charged_back"},
    "partly_refunded": {"refunded", "partly_refunded", "charged_back"},
    "failed": set(),
    "canceled": set(),
    "refunded": set(),
    "charged_back": set(),
}


def _amount(value) -> Decimal:
    amount = to_decimal(value)
    if amount <= 0 or amount > MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise BusinessError(_("Le montant doit être positif, au cent près."))
    return amount


def transition(*, payment: Payment, to: str, actor=None, detail=None) -> bool:
    """Move a payment to ``to``; a repeat changes nothing (False), an illegal move is refused."""
    if payment.status == to and to != "partly_refunded":
        return False
    if to not in TRANSITIONS.get(payment.status, set()):
        logger.warning("refused payment transition %s: %s -> %s", payment.pk, payment.status, to)
        raise BusinessError(
            _("Transition de paiement impossible : %(a)s → %(b)s.") % {"a": payment.status, "b": to}
        )
    previous, payment.status = payment.status, to
    payment.save(update_fields=["status", "failure_message", "provider_reference", "amount_refunded"])
    record_transition(
        obj=payment,
        organisation=payment.organisation,
        actor=actor,
        action="transition",
        from_state=previous,
        to_state=to,
        detail=detail,
    )
    return True


# Saved payment methods ---------------------------------------------------------------------------


def _save_method(*, customer, actor, kind, scheme, number, holder, contact=None, **display) -> PaymentMethod:
    if actor is not None and actor.customer_id is None:
        check_can_write(actor, customer.organisation)
    elif actor is not None and actor.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."))
    if contact is not None and contact.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."))
    holder = (holder or "").strip()
    if not holder:
        raise BusinessError(_("Le nom du titulaire est obligatoire."))
    _require_saved_methods(customer.organisation_id)
    saved = get_provider("sandbox").save_method(kind=kind, number=number, scheme=scheme)
    PaymentMethod.objects.filter(customer=customer, is_default=True).update(is_default=False)
    method = PaymentMethod.objects.create(
        organisation_id=customer.organisation_id,
        customer=customer,
        contact=contact,
        kind=kind,
        scheme=scheme,
        provider="sandbox",
        token=saved.token,
        holder=holder[:120],
        last4=saved.last4,
        is_default=True,
        **display,
    )
    record_transition(
        obj=method, organisation=customer.organisation, actor=actor, action="add_method", to_state="valid"
    )
    return method


@transaction.atomic
def add_card(
    *, customer, holder: str, number: str, cvv: str, expiry: str, contact=None, actor=None
) -> PaymentMethod:
    """Save a card: checked here, tokenised by the provider; it becomes the default."""
    clean, scheme, month, year = validation.check_card(
        number=number, cvv=cvv, expiry=expiry, today=timezone.localdate()
    )
    return _save_method(
        customer=customer,
        actor=actor,
        kind="card",
        scheme=scheme,
        number=clean,
        holder=holder,
        contact=contact,
        exp_month=month,
        exp_year=year,
    )


@transaction.atomic
def add_bank_account(
    *,
    customer,
    holder: str,
    scheme: str,
    bank_name: str = "",
    routing: str = "",
    account: str = "",
    institution: str = "",
    transit: str = "",
    iban: str = "",
    bic: str = "",
    contact=None,
    actor=None,
) -> PaymentMethod:
    """Save a bank account for direct debit (US ACH, Canadian PAD or SEPA); it becomes the default."""
    number = bank_account_number(
        scheme=scheme,
        routing=routing,
        account=account,
        institution=institution,
        transit=transit,
        iban=iban,
        bic=bic,
    )
    return _save_method(
        customer=customer,
        actor=actor,
        kind="bank_debit",
        scheme=scheme,
        number=number,
        holder=holder,
        contact=contact,
        bank_name=(bank_name or "")[:120],
    )


def bank_account_number(
    *, scheme: str, routing="", account="", institution="", transit="", iban="", bic="", bank_name=""
) -> str:
    """The account number to hand to the provider, checked for its scheme (ACH, PAD or SEPA)."""
    if scheme == "ach":
        return validation.check_ach_routing(routing) + validation.check_account_number(account)
    if scheme == "pad":
        return validation.check_pad(institution=institution, transit=transit, account=account)
    if scheme == "sepa":
        return validation.check_sepa(iban=iban, bic=bic)
    raise BusinessError(_("Type de prélèvement inconnu."))


@transaction.atomic
def set_default_method(*, method: PaymentMethod) -> PaymentMethod:
    if method.status != PaymentMethod.Status.VALID:
        raise BusinessError(_("Ce moyen de paiement n'est plus utilisable."))
    PaymentMethod.objects.filter(customer_id=method.customer_id, is_default=True).update(is_default=False)
    method.is_default = True
    method.save(update_fields=["is_default"])
    return method


@transaction.atomic
def remove_method(*, method: PaymentMethod) -> PaymentMethod:
    method.status, method.is_default = PaymentMethod.Status.REVOKED, False
    method.save(update_fields=["status", "is_default"])
    return method


# Charges ----------------------------------------------------------------------------------------


def pay_invoice(
    *, invoice: Invoice, payment_method: PaymentMethod, idempotency_key: str, actor=None
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


def pay_invoice_once(*, invoice: Invoice, token: str, kind: str, idempotency_key: str) -> Payment:
    """Charge an invoice with a one-time provider token (a hosted checkout; nothing is saved)."""
    return _charge(
        customer=invoice.customer,
        invoice=invoice,
        amount=None,
        token=token,
        kind=kind,
        method=None,
        provider="sandbox",
        idempotency_key=idempotency_key,
        actor=None,
    )


def make_payment(
    *, customer, amount, payment_method: PaymentMethod, idempotency_key: str, actor=None
) -> Payment:
    """Pay an amount of the customer's choosing (seed 001): oldest invoices first, the rest is credit."""
    _check_method(payment_method, customer)
    return _charge(
        customer=customer,
        invoice=None,
        amount=_amount(amount),
        token=payment_method.token,
        kind=_payment_kind(payment_method),
        method=payment_method,
        provider=payment_method.provider,
        idempotency_key=idempotency_key,
        actor=actor,
    )


def _check_method(method: PaymentMethod, customer) -> None:
    if method.customer_id != customer.pk or method.status != PaymentMethod.Status.VALID:
        raise BusinessError(_("Ce moyen de paiement n'est pas utilisable."))
    if not ProviderAccount.objects.filter(
        organisation_id=customer.organisation_id, provider=method.provider
    ).exists():
        raise BusinessError(_("Ce moyen de paiement n'est plus accepté ; payez la facture en ligne."))


def saved_methods_available(organisation_id: int) -> bool:
    """Saved cards and bank accounts are tokenised by the sandbox only: a real provider takes each
    payment on its own page, so without the sandbox there is nothing to save them with."""
    return ProviderAccount.objects.filter(organisation_id=organisation_id, provider="sandbox").exists()


def _require_saved_methods(organisation_id: int) -> None:
    if not saved_methods_available(organisation_id):
        raise BusinessError(
            _(
                "L'enregistrement d'une carte ou d'un compte n'est pas proposé : payez chaque facture en ligne."
            )
        )


def _payment_kind(method: PaymentMethod) -> str:
    return Payment.Method.CARD if method.kind == "card" else Payment.Method.DIRECT_DEBIT


def _charge(*, customer, invoice, amount, token, kind, method, provider, idempotency_key, actor) -> Payment:
    attempt, created = _open_attempt(
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
    return apply_charge_result(attempt=attempt, result=result)


@transaction.atomic
def _open_attempt(*, customer, invoice, amount, kind, method, provider, idempotency_key, actor):
    """Commit the payment and its attempt before any provider call; reuse them for a known key."""
    if not idempotency_key or len(idempotency_key) > 80:
        raise BusinessError(_("Clé d'idempotence manquante ou trop longue."))
    if invoice is not None:
        invoice = Invoice.objects.select_for_update().get(pk=invoice.pk)
    existing = ChargeAttempt.objects.select_related("payment").filter(idempotency_key=idempotency_key).first()
    if existing:
        if existing.payment.customer_id != customer.pk:
            raise BusinessError(_("Objet introuvable."))
        return existing, False
    if invoice is not None:
        if invoice.customer_id != customer.pk:
            raise BusinessError(_("Objet introuvable."))
        payable = invoice.kind in (Invoice.Kind.INVOICE, Invoice.Kind.PROFORMA)
        if not payable or invoice.status != Invoice.Status.OPEN:
            raise BusinessError(_("Cette facture n'est pas à payer."))
        in_flight = ChargeAttempt.objects.filter(
            payment__invoice=invoice, state__in=[ChargeAttempt.State.CREATED, ChargeAttempt.State.PENDING]
        ).exists()
        if in_flight:
            raise BusinessError(_("Un paiement de cette facture est déjà en cours."))
        amount = invoice.total - invoice.amount_paid
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
        recorded_by=actor if getattr(actor, "pk", None) else None,
    )
    attempt = ChargeAttempt.objects.create(
        organisation_id=customer.organisation_id,
        payment=payment,
        idempotency_key=idempotency_key,
        provider=provider,
    )
    return attempt, True


FAILURE_MESSAGES = {
    "card_declined": gettext_noop("Carte refusée par la banque."),
    "insufficient_funds": gettext_noop("Fonds insuffisants."),
    "": gettext_noop("Paiement refusé."),
}


@transaction.atomic
def apply_charge_result(*, attempt: ChargeAttempt, result: ChargeResult) -> Payment:
    """Apply what the provider says of a charge; terminal states never move again."""
    attempt = (
        ChargeAttempt.objects.select_for_update().select_related("payment__organisation").get(pk=attempt.pk)
    )
    payment = attempt.payment
    if (
        attempt.state in (ChargeAttempt.State.SUCCEEDED, ChargeAttempt.State.FAILED)
        or result.status == "open"
    ):
        return payment
    if result.reference:
        attempt.provider_reference = payment.provider_reference = result.reference
    if result.status == "pending":
        attempt.state = ChargeAttempt.State.PENDING
        attempt.save(update_fields=["state", "provider_reference"])
        payment.save(update_fields=["provider_reference"])
        return payment
    attempt.completed_at = timezone.now()
    if result.status == "succeeded":
        attempt.state = ChargeAttempt.State.SUCCEEDED
        attempt.save(update_fields=["state", "provider_reference", "completed_at"])
        transition(payment=payment, to=Payment.Status.SUCCEEDED)
        _settle(payment)
        return payment
    attempt.state = ChargeAttempt.State.FAILED
    attempt.save(update_fields=["state", "provider_reference", "completed_at"])
    payment.failure_message = _(FAILURE_MESSAGES.get(result.failure_code, FAILURE_MESSAGES[""]))
    transition(
        payment=payment, to=Payment.Status.CANCELED if result.status == "unknown" else Payment.Status.FAILED
    )
    notify_staff(
        organisation=payment.organisation,
        kind="payment_failed",
        subject=_("Paiement échoué : %(amount)s, %(customer)s")
        % {"amount": _money(payment), "customer": payment.customer.name},
        body=payment.failure_message,
        link=_staff_link(payment),
    )
    return payment


def _settle(payment: Payment, actor=None) -> None:
    """Post a succeeded payment to the ledger, apply it to invoices and tell staff."""
    LedgerEntry.objects.create(
        organisation_id=payment.organisation_id,
        customer_id=payment.customer_id,
        kind=LedgerEntry.Kind.PAYMENT,
        amount=-payment.amount,
        payment=payment,
        occurred_on=payment.received_on,
    )
    first = payment.invoice
    if first is not None and first.kind == Invoice.Kind.PROFORMA:
        first = convert_proforma(proforma=first, actor=actor)
    settle_oldest_first(
        customer=payment.customer, amount=payment.amount, payment=payment, actor=actor, first=first
    )
    notify_staff(
        organisation=payment.organisation,
        kind="payment_received",
        subject=_("Paiement reçu : %(amount)s, %(customer)s")
        % {"amount": _money(payment), "customer": payment.customer.name},
        body=_("Mode : %(method)s. Référence : %(ref)s.")
        % {
            "method": payment.get_method_display(),
            "ref": payment.provider_reference or payment.reference or "—",
        },
        link=_staff_link(payment),
    )


def _money(payment: Payment) -> str:
    return format_currency(payment.amount, payment.currency, locale=payment.organisation.babel_locale)


def _staff_link(payment: Payment) -> str:
    """Where staff see the payment: its invoice, else its customer."""
    if payment.invoice_id:
        return reverse("backoffice:invoice_detail", args=[payment.invoice_id])
    return reverse("backoffice:customer_detail", args=[payment.customer_id])


def reconcile_payments(*, older_than: datetime.timedelta = datetime.timedelta(minutes=2)) -> dict:
    """Settle attempts left in doubt by asking the provider — never by charging again.

    A hosted payment is asked about by its reference; one the payer left open for a day is closed
    at the provider, and one that never got a reference (a crash before the provider answered) never
    reached a payer, so it is cancelled.
    """
    now = timezone.now()
    counts = {"checked": 0, "settled": 0}
    doubtful = ChargeAttempt.objects.filter(
        state__in=[ChargeAttempt.State.CREATED, ChargeAttempt.State.PENDING], created_at__lt=now - older_than
    )
    for attempt in doubtful.iterator():
        counts["checked"] += 1
        try:
            result = _ask_provider(attempt, close_if_older_than=now - HOSTED_PAGE_LIFETIME)
        except Exception:  # one provider down must not stop the others being reconciled
            logger.exception("reconciling attempt %s with %s failed", attempt.pk, attempt.provider)
            continue
        if result.status in ("open", "pending") and attempt.state == ChargeAttempt.State.PENDING:
            continue
        if result.status == "open":
            continue
        apply_charge_result(attempt=attempt, result=result)
        counts["settled"] += 1
    return counts


def _ask_provider(attempt: ChargeAttempt, *, close_if_older_than) -> ChargeResult:
    client = provider_client(name=attempt.provider, organisation_id=attempt.organisation_id)
    if not client.hosted:
        return client.fetch_status(idempotency_key=attempt.idempotency_key)
    if not attempt.provider_reference:
        return ChargeResult(status="unknown")
    result = client.payment_status(reference=attempt.provider_reference)
    if result.status == "open" and attempt.created_at < close_if_older_than:
        result = client.cancel_hosted_payment(reference=attempt.provider_reference)
    return result


# Webhooks ---------------------------------------------------------------------------------------


def webhook_secret(*, provider: str, organisation: Organisation) -> str:
    """Per-organisation signing secret of the sandbox, derived from the server's secret key."""
    message = f"webhook:{provider}:{organisation.slug}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def receive_webhook(*, provider: str, organisation_slug: str, body: bytes, headers) -> list[WebhookEvent]:
    """Verify and store each event once; processing happens in a task. Raises WebhookRejected."""
    if provider not in PROVIDER_FIELDS:
        raise WebhookRejected("unknown provider", 404)
    # One query: the busiest endpoint of the app reads only what it needs.
    account = (
        ProviderAccount.objects.filter(organisation__slug=organisation_slug, provider=provider)
        .select_related("organisation")
        .only("mode", "credentials_encrypted", "organisation__slug")
        .first()
    )
    if account is None:
        raise WebhookRejected("unknown organisation, or provider not connected", 404)
    organisation = account.organisation
    if provider == "sandbox":
        handler, secret = get_provider(provider), webhook_secret(provider=provider, organisation=organisation)
    else:
        handler = get_provider(provider, account=account)
        secret = handler.credentials.get("webhook_secret", "")
    events = handler.parse_webhook(body=body, headers=headers, secret=secret)
    stored = []
    for event in events:
        # The unique constraint, not a lookup, makes a replay a no-op. Outside a transaction the
        # insert commits on its own; inside one it needs a savepoint to survive the conflict.
        guard = transaction.atomic() if transaction.get_connection().in_atomic_block else nullcontext()
        try:
            with guard:
                stored.append(
                    WebhookEvent.objects.create(
                        organisation=organisation,
                        provider=provider,
                        event_id=event.event_id,
                        event_type=event.event_type,
                        payload=event.payload,
                    )
                )
        except IntegrityError:
            logger.info("duplicate webhook event %s %s ignored", provider, event.event_id)
    return stored


@transaction.atomic
def process_webhook_event(*, event_id: int) -> None:
    """Apply one stored event to the charge it names; replays and late arrivals change nothing."""
    event = WebhookEvent.objects.select_for_update().get(pk=event_id)
    if event.processed_at:
        return
    parsed = get_provider(event.provider).parse_payload(event.payload)
    attempt = ChargeAttempt.objects.filter(
        organisation_id=event.organisation_id,
        provider=event.provider,
        provider_reference__in=[r for r in (parsed.reference, parsed.new_reference) if r],
    ).first()
    if attempt is None:
        event.error = "unknown charge"
    else:
        apply_charge_result(
            attempt=attempt,
            result=ChargeResult(status=parsed.status, reference=parsed.new_reference or parsed.reference),
        )
    event.processed_at = timezone.now()
    event.save(update_fields=["processed_at", "error"])


# Refunds and manual money -------------------------------------------------------------------------


@transaction.atomic
def refund(*, payment: Payment, amount, actor=None) -> Payment:
    """Give money back: the provider refunds, the invoices it settled reopen, the ledger owes again."""
    payment = Payment.objects.select_for_update().select_related("organisation").get(pk=payment.pk)
    check_can_write(actor, payment.organisation)
    amount = _amount(amount)
    if amount > payment.amount - payment.amount_refunded:
        raise BusinessError(_("Le remboursement dépasse le montant encore remboursable."))
    if payment.status not in (Payment.Status.SUCCEEDED, Payment.Status.PARTLY_REFUNDED):
        raise BusinessError(_("Seul un paiement réussi peut être remboursé."))
    if payment.provider:
        # The same refund asked again after a timeout carries the same key: the provider refunds once.
        outcome = provider_client(name=payment.provider, organisation_id=payment.organisation_id).refund(
            reference=payment.provider_reference,
            amount=amount,
            currency=payment.currency,
            idempotency_key=f"refund-{payment.pk}-{payment.amount_refunded}-{amount}",
        )
        if outcome.status == "failed":
            raise BusinessError(
                _("Le prestataire a refusé le remboursement (%(code)s).")
                % {"code": outcome.failure_code or "—"}
            )
    payment.amount_refunded += amount
    reverse_allocations(
        payment=payment, amount=min(amount, sum(a.amount for a in payment.allocations.all())), actor=actor
    )
    LedgerEntry.objects.create(
        organisation_id=payment.organisation_id,
        customer_id=payment.customer_id,
        kind=LedgerEntry.Kind.REFUND,
        amount=amount,
        payment=payment,
        occurred_on=timezone.localdate(),
    )
    full = payment.amount_refunded == payment.amount
    transition(
        payment=payment, to=Payment.Status.REFUNDED if full else Payment.Status.PARTLY_REFUNDED, actor=actor
    )
    return payment


@transaction.atomic
def declare_transfer(
    *, invoice: Invoice, kind: str, reference: str, sent_on: datetime.date, amount
) -> TransferDeclaration:
    """The customer says a transfer or cheque is on its way; the invoice stays unpaid, staff are told."""
    if kind not in TransferDeclaration.Kind.values:
        raise BusinessError(_("Mode de paiement inconnu."))
    invoice = Invoice.objects.select_for_update().select_related("organisation").get(pk=invoice.pk)
    if invoice.kind != Invoice.Kind.INVOICE or invoice.status != Invoice.Status.OPEN:
        raise BusinessError(_("Cette facture n'est pas à payer."))
    reference = (reference or "").strip()
    if not reference:
        raise BusinessError(_("Indiquez la référence du virement ou le numéro du chèque."))
    if sent_on > timezone.localdate():
        raise BusinessError(_("La date d'envoi ne peut pas être dans le futur."))
    declaration = TransferDeclaration.objects.create(
        organisation_id=invoice.organisation_id,
        invoice=invoice,
        kind=kind,
        reference=reference[:120],
        sent_on=sent_on,
        amount=_amount(amount),
    )
    notify_staff(
        organisation=invoice.organisation,
        kind="transfer_declared",
        subject=_("%(kind)s déclaré pour la facture %(number)s")
        % {"kind": declaration.get_kind_display(), "number": invoice.number},
        body=_("Référence : %(ref)s, montant : %(amount)s, envoyé le %(date)s.")
        % {
            "ref": reference,
            "amount": format_currency(
                declaration.amount, invoice.currency, locale=invoice.organisation.babel_locale
            ),
            "date": sent_on.isoformat(),
        },
        link=reverse("backoffice:invoice_detail", args=[invoice.pk]),
    )
    return declaration


def suspension_allowed(*, invoice: Invoice, today: datetime.date | None = None) -> bool:
    """False while a declared transfer or cheque is within the organisation's grace period."""
    today = today or timezone.localdate()
    grace = datetime.timedelta(days=invoice.organisation.transfer_grace_days)
    return not invoice.transfer_declarations.filter(
        status=TransferDeclaration.Status.DECLARED, declared_at__date__gte=today - grace
    ).exists()


@transaction.atomic
def record_payment(
    *,
    organisation,
    customer,
    amount,
    method: str,
    actor=None,
    received_on: datetime.date | None = None,
    reference: str = "",
    invoice: Invoice | None = None,
) -> Payment:
    """Record money received (transfer, cheque, cash) and settle invoices with it.

    The named invoice is settled first (a pro-forma is turned into its invoice), then the oldest
    unpaid ones; whatever is left stays on the account as credit. A pending declaration of that
    invoice is marked received.
    """
    check_can_write(actor, organisation)
    check_same_organisation(organisation, customer, invoice)
    amount = _amount(amount)
    if method not in Payment.Method.values:
        raise BusinessError(_("Mode de paiement inconnu."))
    if invoice is not None and invoice.customer_id != customer.pk:
        raise BusinessError(_("Objet introuvable."))
    received_on = received_on or timezone.localdate()
    if received_on > timezone.localdate():
        raise BusinessError(_("La date de réception ne peut pas être dans le futur."))
    payment = Payment.objects.create(
        organisation=organisation,
        customer=customer,
        amount=amount,
        currency=organisation.currency,
        method=method,
        status=Payment.Status.SUCCEEDED,
        reference=reference[:120],
        invoice=invoice,
        received_on=received_on,
        recorded_by=actor,
    )
    record_transition(
        obj=payment, organisation=organisation, actor=actor, action="record", to_state=payment.status
    )
    _settle(payment, actor)
    if invoice is not None:
        TransferDeclaration.objects.filter(
            invoice=invoice, status=TransferDeclaration.Status.DECLARED
        ).update(status=TransferDeclaration.Status.RECEIVED, payment=payment)
    return payment


# Provider accounts ------------------------------------------------------------------------------

PROVIDER_FIELDS = {
    "sandbox": (),
    "stripe": ("secret_key", "webhook_secret"),
    "paypal": ("client_id", "client_secret", "webhook_id"),
    "gocardless": ("access_token", "webhook_secret"),
}
#: The provider that takes each kind of online payment once connected; the sandbox stands in otherwise.
PROVIDER_FOR_KIND = {"card": "stripe", "debit": "gocardless", "paypal": "paypal"}
PAYMENT_METHOD_FOR_KIND = {"card": "card", "debit": "direct_debit", "paypal": "paypal"}
#: How long a payer may leave a provider's payment page open before it is closed.
HOSTED_PAGE_LIFETIME = datetime.timedelta(days=1)


def _check_settings_access(actor, organisation) -> None:
    check_can_write(actor, organisation)
    if actor is not None and not actor.can_manage_settings:
        raise BusinessError(_("Seul un propriétaire peut modifier les réglages de paiement."))


def connect_provider(
    *, organisation, provider: str, credentials: dict, mode: str = "", actor=None
) -> ProviderAccount:
    """Check credentials with the provider, then store (or replace) them encrypted.

    The mode comes from the credentials themselves (sk_test_/sk_live_, sandbox_/live_) except for
    PayPal, whose credentials do not say it. The provider is asked before anything is written.
    """
    _check_settings_access(actor, organisation)
    if provider not in PROVIDER_FIELDS:
        raise BusinessError(_("Prestataire inconnu."))
    clean = {f: str(credentials.get(f, "")).strip() for f in PROVIDER_FIELDS[provider]}
    missing = [f for f, value in clean.items() if not value]
    if missing:
        raise BusinessError(_("Champs manquants : %(fields)s.") % {"fields": ", ".join(missing)})
    if provider == "sandbox":
        verified = Verified(mode=ProviderAccount.Mode.TEST, account_name=_("Bac à sable Acquitte"))
    else:
        if provider == "paypal" and mode not in ProviderAccount.Mode.values:
            raise BusinessError(_("Mode inconnu."))
        try:
            verified = verify_credentials(provider=provider, credentials=clean, mode=mode)
        except CredentialsRejected as exc:
            raise BusinessError(exc.message) from exc
    with transaction.atomic():
        account, _created = ProviderAccount.objects.update_or_create(
            organisation=organisation,
            provider=provider,
            defaults={
                "mode": verified.mode,
                "account_name": verified.account_name[:200],
                "credentials_encrypted": secrets.encrypt(clean),
            },
        )
        record_transition(
            obj=account, organisation=organisation, actor=actor, action="connect", to_state=verified.mode
        )
    return account


@transaction.atomic
def disconnect_provider(*, organisation, provider: str, actor=None) -> None:
    _check_settings_access(actor, organisation)
    account = ProviderAccount.objects.filter(organisation=organisation, provider=provider).first()
    if account is None:
        raise BusinessError(_("Ce prestataire n'est pas connecté."))
    record_transition(
        obj=account, organisation=organisation, actor=actor, action="disconnect", from_state=account.mode
    )
    account.delete()


@transaction.atomic
def set_online_payment_default(*, organisation, offered: bool, actor=None) -> Organisation:
    """Offer online payment on every new invoice by default (seed 004); each invoice can differ."""
    _check_settings_access(actor, organisation)
    organisation.online_payment_default = offered
    organisation.save(update_fields=["online_payment_default"])
    record_transition(
        obj=organisation,
        organisation=organisation,
        actor=actor,
        action="online_payment_default",
        to_state="on" if offered else "off",
    )
    return organisation


def provider_accounts(organisation) -> dict:
    return {a.provider: a for a in ProviderAccount.objects.filter(organisation=organisation)}


def provider_client(*, name: str, organisation_id: int):
    """The provider ``name`` set up with the organisation's own credentials."""
    if name == "sandbox":
        return get_provider(name)
    account = ProviderAccount.objects.filter(organisation_id=organisation_id, provider=name).first()
    if account is None:
        raise BusinessError(_("Ce prestataire n'est pas connecté."))
    return get_provider(name, account=account)


def provider_for(*, organisation, kind: str) -> str | None:
    """Who takes a ``kind`` payment (card, debit, paypal) for this organisation, if anyone."""
    accounts = provider_accounts(organisation)
    if PROVIDER_FOR_KIND.get(kind) in accounts:
        return PROVIDER_FOR_KIND[kind]
    return "sandbox" if "sandbox" in accounts else None


def online_kinds(organisation) -> list[str]:
    """The kinds of online payment the organisation can take, for the payment buttons."""
    accounts = provider_accounts(organisation)
    return [k for k, name in PROVIDER_FOR_KIND.items() if name in accounts or "sandbox" in accounts]


def start_hosted_payment(*, invoice: Invoice, kind: str, provider: str, urls) -> str:
    """Open a payment page at the provider for what the invoice still owes; return its address.

    The payment and its attempt are committed first, with the idempotency key the provider receives.
    A page left open earlier for the same invoice is closed first, so only one can be paid.
    ``urls(key)`` gives the return and cancel addresses for that key.
    """
    client = provider_client(name=provider, organisation_id=invoice.organisation_id)
    _close_open_pages(invoice)
    key = uuid.uuid4().hex
    attempt, _created = _open_attempt(
        customer=invoice.customer,
        invoice=invoice,
        amount=None,
        kind=PAYMENT_METHOD_FOR_KIND[kind],
        method=None,
        provider=provider,
        idempotency_key=key,
        actor=None,
    )
    return_url, cancel_url = urls(key)
    try:
        hosted = client.start_hosted_payment(
            kind=kind,
            amount=attempt.payment.amount,
            currency=attempt.payment.currency,
            description=_("Facture %(number)s — %(org)s")
            % {"number": invoice.number, "org": invoice.organisation.name},
            idempotency_key=key,
            return_url=return_url,
            cancel_url=cancel_url,
            customer_email=invoice.customer.email,
            customer_name=invoice.customer.name,
        )
    except Exception as exc:  # any failure of the provider call: the payer saw no page, nothing was charged
        logger.exception("opening a %s payment page failed", provider)
        apply_charge_result(attempt=attempt, result=ChargeResult(status="unknown"))
        raise BusinessError(
            _("Le prestataire de paiement ne répond pas ; réessayez dans un instant.")
        ) from exc
    ChargeAttempt.objects.filter(pk=attempt.pk).update(provider_reference=hosted.reference)
    Payment.objects.filter(pk=attempt.payment_id).update(provider_reference=hosted.reference)
    return hosted.url


def _close_open_pages(invoice: Invoice) -> None:
    """Close the provider pages still open for this invoice; one that was paid meanwhile counts."""
    still_open = ChargeAttempt.objects.filter(
        payment__invoice=invoice, state=ChargeAttempt.State.CREATED
    ).exclude(provider="sandbox")
    for attempt in still_open:
        result = ChargeResult(status="unknown")
        if attempt.provider_reference:
            client = provider_client(name=attempt.provider, organisation_id=attempt.organisation_id)
            try:
                result = client.cancel_hosted_payment(reference=attempt.provider_reference)
            except BusinessError:
                raise
            except Exception as exc:  # the earlier page may have been paid: do not open a second one
                logger.exception("closing a %s payment page failed", attempt.provider)
                raise BusinessError(
                    _("Le prestataire de paiement ne répond pas ; réessayez dans un instant.")
                ) from exc
        apply_charge_result(attempt=attempt, result=result)


def finish_hosted_payment(*, idempotency_key: str, cancelled: bool) -> Payment:
    """The payer is back from the provider's page: ask the provider what happened and apply it."""
    attempt = ChargeAttempt.objects.select_related("payment").filter(idempotency_key=idempotency_key).first()
    if attempt is None or attempt.provider == "sandbox" or not attempt.provider_reference:
        raise BusinessError(_("Cette session de paiement est invalide ou expirée."))
    client = provider_client(name=attempt.provider, organisation_id=attempt.organisation_id)
    reference = attempt.provider_reference
    try:
        if cancelled:
            result = client.cancel_hosted_payment(reference=reference)
        else:
            result = client.payment_status(reference=reference)
    except BusinessError:
        raise
    except Exception as exc:  # reconciliation will ask again; the payer is told to check later
        logger.exception("asking %s about %s failed", attempt.provider, reference)
        raise BusinessError(
            _("Le prestataire de paiement ne répond pas : l'état de votre paiement sera vérifié sous peu.")
        ) from exc
    return apply_charge_result(attempt=attempt, result=result)


def masked_credentials(account: ProviderAccount) -> dict:
    return {
        name: secrets.masked(value) for name, value in secrets.decrypt(account.credentials_encrypted).items()
    }
