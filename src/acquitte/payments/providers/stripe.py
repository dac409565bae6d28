"""Stripe, through Checkout Sessions: the payer pays on Stripe's page, we never see the card.

A session's id is the reference we store: the payer's return, webhooks and refunds all start from
it (a refund goes to the session's payment intent, which only exists once the payer has paid).
"""

import json
import logging
import math
import time
from contextlib import contextmanager
from decimal import Decimal

import stripe
from django.conf import settings
from django.utils.translation import gettext as _

from ...core.errors import BusinessError
from .base import ChargeResult, HostedPayment, Provider, ProviderEvent, WebhookRejected

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
    "checkout.session.async_payment_succeeded": "succeeded",
    "checkout.session.async_payment_failed": "failed",
    "checkout.session.expired": "unknown",
}
COMPLETED = "checkout.session.completed"

REFUND_STATUSES = {
    "succeeded": "succeeded",
    "pending": "pending",
    "requires_action": "pending",
    "failed": "failed",
    "canceled": "failed",
}


def _expires_at(now: float) -> int:
    return math.ceil((now + PAGE_LIFETIME_SECONDS) / EXPIRY_STEP_SECONDS) * EXPIRY_STEP_SECONDS


def _cents(amount: Decimal) -> int:
    cents = Decimal(amount) * 100
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {amount} has more than two decimal places")
    return int(cents)


@contextmanager
def _stripe_errors(message: str):
    """Turn Stripe's failures into a message for the person waiting; ``message`` takes Stripe's own."""
    try:
        yield
    except stripe.APIConnectionError as err:
        logger.warning("Stripe could not be reached", exc_info=True)
        raise BusinessError(_("Impossible de joindre Stripe ; réessayez dans un instant.")) from err
    except stripe.StripeError as err:
        logger.warning("Stripe refused a request", exc_info=True)
        raise BusinessError(message % {"message": err.user_message or str(err)}) from err


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
        if kind != "card":
            raise ValueError(f"Stripe takes card payments here, not {kind!r}")
        if currency.upper() not in CURRENCIES:
            raise ValueError(f"currency {currency!r} is not taken through Stripe")
        metadata = {"idempotency_key": idempotency_key}
        params = {
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
                params=params, options={"idempotency_key": idempotency_key}
            )
        return HostedPayment(url=session.url, reference=session.id)

    def payment_status(self, *, reference: str) -> ChargeResult:
        with _stripe_errors(_("Stripe n'a pas pu donner l'état du paiement : %(message)s")):
            session = self.client.v1.checkout.sessions.retrieve(reference)
        return self._session_result(session)

    def cancel_hosted_payment(self, *, reference: str) -> ChargeResult:
        """Expire the page so it cannot be paid later; if the payer paid meanwhile, say so."""
        with _stripe_errors(_("Stripe n'a pas pu fermer la page de paiement : %(message)s")):
            sessions = self.client.v1.checkout.sessions
            session = sessions.retrieve(reference)
            if session.status == "open":
                try:
                    session = sessions.expire(reference)
                except stripe.InvalidRequestError:
                    # Completed between our two calls: what it is now is the answer.
                    session = sessions.retrieve(reference)
        result = self._session_result(session)
        return ChargeResult(status="unknown") if result.status == "open" else result

    def fetch_status(self, *, idempotency_key: str) -> ChargeResult:
        """Stripe cannot look a session up by our key; hosted payments are reconciled by their
        reference through ``payment_status`` instead."""
        return ChargeResult(status="unknown")

    def refund(
        self, *, reference: str, amount: Decimal, currency: str = "", idempotency_key: str = ""
    ) -> ChargeResult:
        """``reference`` is the Checkout Session: the refund goes to the payment intent it created."""
        with _stripe_errors(_("Stripe a refusé le remboursement : %(message)s")):
            session = self.client.v1.checkout.sessions.retrieve(reference)
            if not session.payment_intent:
                raise BusinessError(
                    _("Ce paiement Stripe n'a pas été encaissé : il n'y a rien à rembourser.")
                )
            if currency and currency.lower() != session.currency:
                raise ValueError(f"refund in {currency}, payment in {session.currency}")
            refund = self.client.v1.refunds.create(
                params={"payment_intent": session.payment_intent, "amount": _cents(amount)},
                options={"idempotency_key": idempotency_key} if idempotency_key else {},
            )
        status = REFUND_STATUSES.get(refund.status, "pending")
        failure = (getattr(refund, "failure_reason", None) or "") if status == "failed" else ""
        return ChargeResult(status=status, reference=refund.id, failure_code=failure)

    def parse_webhook(self, *, body: bytes, headers, secret: str) -> list[ProviderEvent]:
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
            payload = json.loads(text)
        except ValueError as exc:
            raise WebhookRejected("malformed body", 400) from exc
        event = self._normalise(payload)
        return [event] if event else []

    def parse_payload(self, payload: dict) -> ProviderEvent:
        event = self._normalise(payload)
        if event is None:
            raise WebhookRejected(f"not an event the app acts on: {payload.get('type')!r}", 400)
        return event

    @staticmethod
    def _normalise(payload) -> ProviderEvent | None:
        """The event in the app's terms, or None for an event type it does not act on."""
        try:
            event_type = payload["type"]
            session = payload["data"]["object"]
            if event_type == COMPLETED:
                status = "succeeded" if session["payment_status"] == "paid" else "pending"
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
    def _session_result(session) -> ChargeResult:
        if session.payment_status == "paid":
            return ChargeResult(status="succeeded", reference=session.id)
        if session.status == "complete":
            return ChargeResult(status="pending", reference=session.id)
        if session.status == "expired":
            return ChargeResult(status="unknown")
        return ChargeResult(status="open")
