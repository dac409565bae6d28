"""Stripe, through Checkout Sessions: the payer pays on Stripe's page, we never see the card.

A session's id is the reference we store: the payer's return, webhooks and refunds all start from
it (a refund goes to the session's payment intent, which only exists once the payer has paid).

Saved cards: a Checkout Session in ``setup`` mode saves a PaymentMethod on a Stripe Customer, and
``charge`` confirms an off-session PaymentIntent on it. When the bank wants the cardholder to
authenticate (``authentication_required``), Stripe's advice for off-session payments is to bring
the customer back on-session to pay; without Stripe.js on our pages, the on-session page is a
Checkout Session for the same amount and customer, whose completion webhook settles the charge.
"""

import logging
import math
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import stripe
from django.conf import settings
from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext as _

from ...core.errors import BusinessError, ErrorCode
from .base import (
    ChargeResult,
    ChargeStatus,
    HostedPayment,
    HostedSetup,
    MethodEvent,
    MethodStatus,
    Provider,
    ProviderEvent,
    SavedMethod,
    SetupResult,
    WebhookRejected,
    load_json,
)
from .names import OnlineKind

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

logger = logging.getLogger(__name__)

DEFAULT_API_BASE = "https://api.stripe.com"
# A payer is waiting on each call: better a quick "try again" than a hung page.
TIMEOUT_SECONDS = 10
SIGNATURE_HEADER = "Stripe-Signature"
TOLERANCE_SECONDS = 300
CURRENCIES = {"CAD", "EUR", "USD"}

# Stripe refuses an expiry under 30 minutes after it receives the request, so we ask for a minute
# more; rounding up to the next step keeps a retry within the step byte-identical, which Stripe
# requires of a request repeated with the same idempotency key.
PAGE_LIFETIME_SECONDS = 31 * 60
EXPIRY_STEP_SECONDS = 10 * 60

# Checkout events the app acts on, and what each says of the payment; "completed" depends on
# whether the money is there yet (it is not for payment methods that settle later).
EVENT_STATUSES = {
    "checkout.session.async_payment_succeeded": ChargeStatus.SUCCEEDED,
    "checkout.session.async_payment_failed": ChargeStatus.FAILED,
    "checkout.session.expired": ChargeStatus.UNKNOWN,
}
COMPLETED = "checkout.session.completed"

# A Checkout Session's own states, as Stripe names them; "paid" is its payment_status.
SESSION_OPEN = "open"
SESSION_PAID = "paid"
SESSION_STATUSES = {"complete": ChargeStatus.PENDING, "expired": ChargeStatus.UNKNOWN}

#: A PaymentIntent's status, as the charge's outcome.
INTENT_STATUSES = {
    "succeeded": ChargeStatus.SUCCEEDED,
    "processing": ChargeStatus.PENDING,
    "requires_capture": ChargeStatus.PENDING,
    "requires_action": ChargeStatus.ACTION_REQUIRED,
    "requires_payment_method": ChargeStatus.FAILED,
    "canceled": ChargeStatus.FAILED,
}
INTENT_EVENTS = {
    "payment_intent.succeeded": ChargeStatus.SUCCEEDED,
    "payment_intent.payment_failed": ChargeStatus.FAILED,
}
METHOD_EVENTS = {
    "payment_method.automatically_updated": MethodStatus.VALID,
    "payment_method.detached": MethodStatus.REVOKED,
}
SETUP_MODE = "setup"
SETUP_SUCCEEDED = "setup_intent.succeeded"
#: The decline code Stripe gives an off-session charge the bank wants authenticated (SCA).
AUTHENTICATION_REQUIRED = "authentication_required"
#: Stripe's card brands that are not already ``PaymentMethod.Scheme`` values.
CARD_SCHEMES = {"visa", "mastercard", "amex", "discover", "jcb", "diners", "unionpay"}

REFUND_STATUSES = {
    "succeeded": ChargeStatus.SUCCEEDED,
    "pending": ChargeStatus.PENDING,
    "requires_action": ChargeStatus.PENDING,
    "failed": ChargeStatus.FAILED,
    "canceled": ChargeStatus.FAILED,
}


def _expires_at(now: float) -> int:
    return math.ceil((now + PAGE_LIFETIME_SECONDS) / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS


def _cents(amount: Decimal) -> int:
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {amount} has more than two decimal places")
    return int(cents)


@contextmanager
def _stripe_errors(message: str, code: ErrorCode = ErrorCode.PROVIDER_UNAVAILABLE) -> Iterator[None]:
    """Turn Stripe's failures into a message for the person waiting; ``message`` takes Stripe's own,
    ``code`` says what a refusal means to the caller."""
    try:
        yield
    except stripe.APIConnectionError as err:
        logger.warning("Stripe could not be reached", exc_info=True)
        raise BusinessError(
            _("Impossible de joindre Stripe ; réessayez dans un instant."),
            code=ErrorCode.PROVIDER_UNAVAILABLE,
        ) from err
    except stripe.StripeError as err:
        logger.warning("Stripe refused a request", exc_info=True)
        raise BusinessError(message % {"message": err.user_message or str(err)}, code=code) from err


class StripeProvider(Provider):
    name = "stripe"
    hosted = True

    @property
    def client(self) -> stripe.StripeClient:
        return stripe.StripeClient(
            self.credentials.get("secret_key", ""),
            base_addresses={"api": getattr(settings, "STRIPE_API_BASE", DEFAULT_API_BASE)},
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
            max_network_retries=0,
        )

    def start_hosted_payment(
        self,
        *,
        kind: str = "card",
        amount: Decimal,
        currency: str,
        description: str,
        idempotency_key: str,
        return_url: str,
        cancel_url: str,
        customer_email: str = "",
        customer_name: str = "",
    ) -> HostedPayment:
        """Checkout takes no payer name without a Stripe customer, so ``customer_name`` is unused."""
        if kind != OnlineKind.CARD:
            raise ValueError(f"Stripe takes card payments here, not {kind!r}")
        if currency.upper() not in CURRENCIES:
            raise ValueError(f"currency {currency!r} is not taken through Stripe")
        metadata = {"idempotency_key": idempotency_key}
        params: dict[str, Any] = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": _cents(amount),
                        "product_data": {"name": description},
                    },
                }
            ],
            "success_url": return_url,
            "cancel_url": cancel_url,
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "expires_at": _expires_at(time.time()),
        }
        if customer_email:
            params["customer_email"] = customer_email
        with _stripe_errors(_("Stripe n'a pas pu ouvrir la page de paiement : %(message)s")):
            session = self.client.v1.checkout.sessions.create(
                # payment_method_types is still accepted, but no longer in the SDK's TypedDict
                params=cast("SessionCreateParams", params),
                options={"idempotency_key": idempotency_key},
            )
        if not session.url:
            raise ValueError(f"Stripe session {session.id} has no payment page")
        return HostedPayment(url=session.url, reference=session.id)

    def payment_status(self, *, reference: str) -> ChargeResult:
        if reference.startswith("pi_"):  # an off-session charge, not a page
            with _stripe_errors(_("Stripe n'a pas pu donner l'état du paiement : %(message)s")):
                intent = self.client.v1.payment_intents.retrieve(reference)
            status = INTENT_STATUSES.get(intent.status, ChargeStatus.PENDING)
            return ChargeResult(
                status=ChargeStatus.OPEN if status == ChargeStatus.ACTION_REQUIRED else status
            )
        with _stripe_errors(_("Stripe n'a pas pu donner l'état du paiement : %(message)s")):
            session = self.client.v1.checkout.sessions.retrieve(reference)
        return self._session_result(session)

    def cancel_hosted_payment(self, *, reference: str) -> ChargeResult:
        """Expire the page so it cannot be paid later; if the payer paid meanwhile, say so."""
        with _stripe_errors(_("Stripe n'a pas pu fermer la page de paiement : %(message)s")):
            sessions = self.client.v1.checkout.sessions
            session = sessions.retrieve(reference)
            if session.status == SESSION_OPEN:
                try:
                    session = sessions.expire(reference)
                except stripe.InvalidRequestError:
                    # Completed between our two calls: what it is now is the answer.
                    session = sessions.retrieve(reference)
        result = self._session_result(session)
        return ChargeResult(status=ChargeStatus.UNKNOWN) if result.status == ChargeStatus.OPEN else result

    def ensure_customer(self, *, idempotency_key: str, email: str, name: str) -> str:
        """A Stripe Customer made with our key: a retry within Stripe's key lifetime finds it again."""
        params: dict[str, Any] = {"metadata": {"idempotency_key": idempotency_key}}
        if email:
            params["email"] = email
        if name:
            params["name"] = name
        with _stripe_errors(_("Stripe n'a pas pu enregistrer le client : %(message)s")):
            customer = self.client.v1.customers.create(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            )
        return customer.id

    def start_setup(
        self,
        *,
        kind: str,
        customer_reference: str,
        customer_email: str,
        customer_name: str,
        currency: str,
        idempotency_key: str,
        return_url: str,
        cancel_url: str,
    ) -> HostedSetup:
        """A Checkout Session in setup mode: the card is saved on the customer for off-session use."""
        if kind != OnlineKind.CARD:
            raise ValueError(f"Stripe saves cards here, not {kind!r}")
        metadata = {"idempotency_key": idempotency_key}
        params: dict[str, Any] = {
            "mode": SETUP_MODE,
            "payment_method_types": ["card"],
            "currency": currency.lower(),
            "customer": customer_reference,
            "setup_intent_data": {"metadata": metadata},
            "success_url": return_url,
            "cancel_url": cancel_url,
            "metadata": metadata,
        }
        with _stripe_errors(_("Stripe n'a pas pu ouvrir la page d'enregistrement : %(message)s")):
            session = self.client.v1.checkout.sessions.create(
                params=cast("SessionCreateParams", params), options={"idempotency_key": idempotency_key}
            )
        if not session.url:
            raise ValueError(f"Stripe session {session.id} has no page")
        return HostedSetup(url=session.url, reference=session.id)

    def setup_result(self, *, reference: str) -> SetupResult:
        """The session's SetupIntent and the PaymentMethod it saved, once the customer is done."""
        with _stripe_errors(_("Stripe n'a pas pu donner l'état de l'enregistrement : %(message)s")):
            session = self.client.v1.checkout.sessions.retrieve(
                reference, params={"expand": ["setup_intent.payment_method"]}
            )
        if session.status == "expired":
            return SetupResult(status=ChargeStatus.UNKNOWN)
        intent = session.setup_intent
        if session.status != "complete" or intent is None or isinstance(intent, str):
            return SetupResult(status=ChargeStatus.OPEN)
        if intent.status != "succeeded":
            return SetupResult(
                status=ChargeStatus.OPEN if intent.status == "processing" else ChargeStatus.FAILED
            )
        method = intent.payment_method
        if method is None or isinstance(method, str) or method.card is None:
            return SetupResult(status=ChargeStatus.FAILED)
        card = method.card
        customer = session.customer
        return SetupResult(
            status=ChargeStatus.SUCCEEDED,
            method=SavedMethod(
                token=method.id,
                scheme=card.brand if card.brand in CARD_SCHEMES else "card",
                last4=card.last4,
                kind="card",
                holder=(method.billing_details.name or "") if method.billing_details else "",
                exp_month=card.exp_month,
                exp_year=card.exp_year,
                customer_reference=(customer if isinstance(customer, str) else customer.id)
                if customer
                else "",
            ),
        )

    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        customer_reference: str = "",
    ) -> ChargeResult:
        """An off-session PaymentIntent, confirmed at once. A card the bank wants authenticated gets
        a Checkout page for the same amount, where the customer authenticates (ACTION_REQUIRED)."""
        params: dict[str, Any] = {
            "amount": _cents(amount),
            "currency": currency.lower(),
            "payment_method": token,
            "payment_method_types": ["card"],
            "off_session": True,
            "confirm": True,
            "metadata": {"idempotency_key": idempotency_key},
        }
        if customer_reference:
            params["customer"] = customer_reference
        try:
            intent = self.client.v1.payment_intents.create(
                params=cast(Any, params), options={"idempotency_key": idempotency_key}
            )
        except stripe.CardError as err:
            failed = err.error.payment_intent if err.error else None
            reference = failed.id if failed is not None else ""
            if err.code == AUTHENTICATION_REQUIRED:
                return self._authentication_page(
                    amount=amount,
                    currency=currency,
                    idempotency_key=idempotency_key,
                    customer=customer_reference,
                )
            decline = (err.error.decline_code if err.error else None) or err.code or ""
            return ChargeResult(status=ChargeStatus.FAILED, reference=reference, failure_code=decline)
        status = INTENT_STATUSES.get(intent.status, ChargeStatus.PENDING)
        if status == ChargeStatus.ACTION_REQUIRED:
            return self._authentication_page(
                amount=amount, currency=currency, idempotency_key=idempotency_key, customer=customer_reference
            )
        return ChargeResult(status=status, reference=intent.id)

    def _authentication_page(
        self, *, amount: Decimal, currency: str, idempotency_key: str, customer: str
    ) -> ChargeResult:
        """A Checkout page for the charge the bank wants authenticated; its session is the reference
        the completion webhook names, and it carries our key like the charge did."""
        back = _authentication_return_url(idempotency_key)
        metadata = {"idempotency_key": idempotency_key}
        params: dict[str, Any] = {
            "mode": "payment",
            "payment_method_types": ["card"],
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": currency.lower(),
                        "unit_amount": _cents(amount),
                        "product_data": {"name": _("Paiement à confirmer auprès de votre banque")},
                    },
                }
            ],
            "success_url": back,
            "cancel_url": back + "?annule=1",
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
        }
        if customer:
            params["customer"] = customer
        with _stripe_errors(_("Stripe n'a pas pu ouvrir la page d'authentification : %(message)s")):
            session = self.client.v1.checkout.sessions.create(
                params=cast("SessionCreateParams", params),
                options={"idempotency_key": f"{idempotency_key}-auth"},
            )
        return ChargeResult(
            status=ChargeStatus.ACTION_REQUIRED,
            reference=session.id,
            failure_code=AUTHENTICATION_REQUIRED,
            action_url=session.url or "",
        )

    def fetch_status(self, *, idempotency_key: str) -> ChargeResult:
        """The off-session PaymentIntent carrying our key in its metadata, found by Stripe's search
        (a hosted payment is reconciled by its reference through ``payment_status`` instead)."""
        key = idempotency_key.replace("\\", "").replace("'", "")
        with _stripe_errors(_("Stripe n'a pas pu donner l'état du paiement : %(message)s")):
            found = self.client.v1.payment_intents.search(
                params={"query": f"metadata['idempotency_key']:'{key}'", "limit": 10}
            )
        intents = list(found.data)
        if not intents:
            return ChargeResult(status=ChargeStatus.UNKNOWN)
        best = min(
            intents,
            key=lambda i: list(INTENT_STATUSES).index(i.status) if i.status in INTENT_STATUSES else 99,
        )
        status = INTENT_STATUSES.get(best.status, ChargeStatus.PENDING)
        if status == ChargeStatus.ACTION_REQUIRED:
            status = ChargeStatus.OPEN  # the customer has a page to authenticate on: nothing to apply yet
        return ChargeResult(status=status, reference=best.id)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str = "", idempotency_key: str = ""
    ) -> ChargeResult:
        """``reference`` is the Checkout Session: the refund goes to the payment intent it created.
        Our key goes in the refund's metadata too, so that ``refund_status`` can find it."""
        with _stripe_errors(_("Stripe a refusé le remboursement : %(message)s"), ErrorCode.REFUND_REFUSED):
            intent = self._payment_intent(reference, currency)
            refund = self.client.v1.refunds.create(
                params={
                    "payment_intent": intent,
                    "amount": _cents(amount),
                    **({"metadata": {"idempotency_key": idempotency_key}} if idempotency_key else {}),
                },
                options={"idempotency_key": idempotency_key} if idempotency_key else {},
            )
        return _refund_result(refund)

    def refund_status(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        """The refunds of the payment intent, searched for the one carrying our key."""
        with _stripe_errors(_("Stripe n'a pas pu donner l'état du remboursement : %(message)s")):
            intent = self._payment_intent(reference, "")
            refunds = self.client.v1.refunds.list(params={"payment_intent": intent, "limit": 100})
        for refund in refunds.data:
            metadata = refund.metadata
            if (
                metadata is not None
                and "idempotency_key" in metadata
                and metadata["idempotency_key"] == idempotency_key
            ):
                return _refund_result(refund)
        return ChargeResult(status=ChargeStatus.UNKNOWN)

    def _payment_intent(self, reference: str, currency: str) -> str:
        session = self.client.v1.checkout.sessions.retrieve(reference)
        if not session.payment_intent:
            raise BusinessError(
                _("Ce paiement Stripe n'a pas été encaissé : il n'y a rien à rembourser."),
                code=ErrorCode.REFUND_REFUSED,
            )
        if currency and currency.lower() != session.currency:
            raise ValueError(f"refund in {currency}, payment in {session.currency}")
        intent = session.payment_intent
        return intent if isinstance(intent, str) else intent.id

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str
    ) -> list[ProviderEvent | MethodEvent]:
        try:
            text = body.decode()
        except UnicodeDecodeError as exc:
            raise WebhookRejected("malformed body", 400) from exc
        try:
            stripe.WebhookSignature.verify_header(
                text, headers.get(SIGNATURE_HEADER), secret, TOLERANCE_SECONDS
            )
        except stripe.SignatureVerificationError as exc:
            raise WebhookRejected(str(exc), 401) from exc
        try:
            payload = load_json(text)
        except ValueError as exc:
            raise WebhookRejected("malformed body", 400) from exc
        event = self._normalise(payload)
        return [event] if event else []

    def parse_payload(self, payload: dict[str, Any]) -> ProviderEvent | MethodEvent:
        event = self._normalise(payload)
        if event is None:
            raise WebhookRejected(f"not an event the app acts on: {payload.get('type')!r}", 400)
        return event

    @staticmethod
    def _normalise(payload: dict[str, Any]) -> ProviderEvent | MethodEvent | None:
        """The event in the app's terms, or None for an event type it does not act on."""
        try:
            event_type = payload["type"]
            session = payload["data"]["object"]
            if event_type in METHOD_EVENTS:
                card = session.get("card") or {}
                return MethodEvent(
                    event_id=str(payload["id"]),
                    event_type=event_type,
                    token=str(session["id"]),
                    status=METHOD_EVENTS[event_type],
                    exp_month=card.get("exp_month"),
                    exp_year=card.get("exp_year"),
                    last4=str(card.get("last4") or ""),
                    payload=payload,
                )
            setup_reference = _setup_reference(event_type, session)
            if setup_reference:
                return ProviderEvent(
                    event_id=str(payload["id"]),
                    event_type=f"setup.{event_type}",
                    reference=setup_reference,
                    status=ChargeStatus.SUCCEEDED,
                    payload=payload,
                )
            if event_type in INTENT_EVENTS:
                status = INTENT_EVENTS[event_type]
            elif event_type == COMPLETED:
                paid = session["payment_status"] == SESSION_PAID
                status = ChargeStatus.SUCCEEDED if paid else ChargeStatus.PENDING
            elif event_type in EVENT_STATUSES:
                status = EVENT_STATUSES[event_type]
            else:
                return None
            return ProviderEvent(
                event_id=str(payload["id"]),
                event_type=event_type,
                reference=str(session["id"]),
                status=status,
                payload=payload,
            )
        except (KeyError, TypeError) as exc:
            raise WebhookRejected("malformed body", 400) from exc

    @staticmethod
    def _session_result(session: stripe.checkout.Session) -> ChargeResult:
        if session.payment_status == SESSION_PAID:
            return ChargeResult(status=ChargeStatus.SUCCEEDED, reference=session.id)
        status = SESSION_STATUSES.get(session.status or "", ChargeStatus.OPEN)
        return ChargeResult(status=status, reference=session.id if status == ChargeStatus.PENDING else "")


def _authentication_return_url(idempotency_key: str) -> str:
    """Where the customer comes back from authenticating a charge: the portal page that settles it
    and shows its invoice (the billing page for a key no URL can carry)."""
    try:
        path = reverse("portal:payment_authenticated", args=[idempotency_key])
    except NoReverseMatch:
        path = reverse("portal:billing")
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _setup_reference(event_type: str, obj: dict[str, Any]) -> str:
    """The setup an event completes: the Checkout Session in setup mode, or, for a SetupIntent,
    our key from its metadata (the app finds the setup by either); "" for any other event."""
    if event_type == COMPLETED and obj.get("mode") == SETUP_MODE:
        return str(obj["id"])
    if event_type == SETUP_SUCCEEDED:
        return str((obj.get("metadata") or {}).get("idempotency_key") or "")
    return ""


def _refund_result(refund: stripe.Refund) -> ChargeResult:
    status = REFUND_STATUSES.get(refund.status or "", ChargeStatus.PENDING)
    failure = (getattr(refund, "failure_reason", None) or "") if status == ChargeStatus.FAILED else ""
    return ChargeResult(status=status, reference=refund.id, failure_code=failure)
