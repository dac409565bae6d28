"""PayPal Checkout through the Orders v2 API: the payer approves an order on PayPal's page, we capture it.

The order is created with intent CAPTURE, so PayPal takes no money until we capture; we capture when
the payer comes back (or when reconciliation asks), never for an order we have given up on. The
stored reference is always the order id: capture webhooks carry it in their related ids.
"""

import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import requests
from apimatic_core.exceptions.auth_validation_exception import (  # type: ignore[import-untyped]  # apimatic_core ships no types
    AuthValidationException,
)
from django.conf import settings
from django.utils.translation import gettext as _
from paypalserversdk.configuration import Environment
from paypalserversdk.exceptions.api_exception import ApiException
from paypalserversdk.exceptions.error_exception import ErrorException
from paypalserversdk.http.auth.o_auth_2 import ClientCredentialsAuthCredentials
from paypalserversdk.models.amount_with_breakdown import AmountWithBreakdown
from paypalserversdk.models.checkout_payment_intent import CheckoutPaymentIntent
from paypalserversdk.models.money import Money
from paypalserversdk.models.order_request import OrderRequest
from paypalserversdk.models.payment_source import PaymentSource
from paypalserversdk.models.paypal_wallet import PaypalWallet
from paypalserversdk.models.paypal_wallet_experience_context import PaypalWalletExperienceContext
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from acquitte.core.errors import BusinessError, ErrorCode

from ..models import ProviderAccount
from .base import (
    ChargeResult,
    ChargeStatus,
    HostedPayment,
    Provider,
    ProviderEvent,
    WebhookRejected,
    load_json,
)
from .verify import DEFAULT_PAYPAL_API_BASES, _PayPalConfiguration

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
VERIFY_PATH = "/v1/notifications/verify-webhook-signature"
# PayPal refuses decimals for these currencies.
ZERO_DECIMAL_CURRENCIES = {"HUF", "JPY", "TWD"}
TRANSMISSION_HEADERS = {
    "transmission_id": "paypal-transmission-id",
    "transmission_time": "paypal-transmission-time",
    "transmission_sig": "paypal-transmission-sig",
    "cert_url": "paypal-cert-url",
    "auth_algo": "paypal-auth-algo",
}
CAPTURE_STATUSES = {
    "COMPLETED": ChargeStatus.SUCCEEDED,
    "PARTIALLY_REFUNDED": ChargeStatus.SUCCEEDED,
    "REFUNDED": ChargeStatus.SUCCEEDED,
    "PENDING": ChargeStatus.PENDING,
    "DECLINED": ChargeStatus.FAILED,
    "FAILED": ChargeStatus.FAILED,
}
# Approval is left out: the capture happens when the payer returns, and its event follows.
EVENT_STATUSES = {
    "PAYMENT.CAPTURE.COMPLETED": ChargeStatus.SUCCEEDED,
    "PAYMENT.CAPTURE.PENDING": ChargeStatus.PENDING,
    "PAYMENT.CAPTURE.DENIED": ChargeStatus.FAILED,
    "PAYMENT.CAPTURE.DECLINED": ChargeStatus.FAILED,
}
# An order's end states, as PayPal names them; a completed order's outcome is in its capture.
ORDER_COMPLETED = "COMPLETED"
ORDER_STATUSES = {"COMPLETED": ChargeStatus.SUCCEEDED, "VOIDED": ChargeStatus.UNKNOWN}
REFUND_STATUSES = {"COMPLETED": ChargeStatus.SUCCEEDED, "PENDING": ChargeStatus.PENDING}
CALL_ERRORS = (ApiException, AuthValidationException, requests.RequestException)


def _value(amount: Decimal, currency: str) -> str:
    return f"{amount:.0f}" if currency.upper() in ZERO_DECIMAL_CURRENCIES else f"{amount:.2f}"


def _captures(order: dict[str, Any]) -> list[dict[str, Any]]:
    units = order.get("purchase_units") or []
    return [capture for unit in units for capture in (unit.get("payments") or {}).get("captures") or []]


class PayPalProvider(Provider):
    """Credentials: ``client_id`` and ``client_secret`` of the REST app, ``webhook_id`` of its webhook.

    Answers are read as plain JSON (``response.text``): the SDK's models leave absent fields unset
    rather than None, which would make every lookup a guard.
    """

    name = "paypal"
    hosted = True

    def __init__(self, *, credentials: dict[str, str] | None = None, mode: str = "test"):
        super().__init__(credentials=credentials, mode=mode)
        self.base_url = getattr(settings, "PAYPAL_API_BASES", DEFAULT_PAYPAL_API_BASES)[mode]
        self.client = PaypalServersdkClient(
            config=_PayPalConfiguration(
                base_uri=self.base_url,
                timeout=TIMEOUT_SECONDS,
                environment=Environment.SANDBOX
                if mode == ProviderAccount.Mode.TEST
                else Environment.PRODUCTION,
                client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                    self.credentials.get("client_id", ""), self.credentials.get("client_secret", "")
                ),
            )
        )

    def start_hosted_payment(
        self,
        *,
        kind: str,
        amount: Decimal,
        currency: str,
        description: str,
        idempotency_key: str,
        return_url: str,
        cancel_url: str,
        customer_email: str = "",
        customer_name: str = "",
    ) -> HostedPayment:
        """The idempotency key is the PayPal-Request-Id, so a retry gets the same order back."""
        body = OrderRequest(
            intent=CheckoutPaymentIntent.CAPTURE,
            purchase_units=[
                PurchaseUnitRequest(
                    amount=AmountWithBreakdown(currency_code=currency, value=_value(amount, currency)),
                    description=description[:127],
                    custom_id=idempotency_key[:127],
                )
            ],
            payment_source=PaymentSource(
                paypal=PaypalWallet(
                    experience_context=PaypalWalletExperienceContext(
                        return_url=return_url,
                        cancel_url=cancel_url,
                        shipping_preference="NO_SHIPPING",
                        user_action="PAY_NOW",
                    )
                )
            ),
        )
        order = self._call(
            self.client.orders.create_order, {"body": body, "paypal_request_id": idempotency_key}
        )
        links = {link.get("rel"): link.get("href") for link in order.get("links") or []}
        url = links.get("payer-action") or links.get("approve")
        if not url:
            raise ValueError(f"PayPal order {order.get('id')} has no approval link")
        return HostedPayment(url=url, reference=order["id"])

    def payment_status(self, *, reference: str) -> ChargeResult:
        """An approved order is captured now: PayPal-Request-Id "capture-<order id>" makes a second
        ask (the payer's return racing reconciliation, a retry after a timeout) get the same capture.
        Network and server errors are raised: only PayPal can say whether the payer paid."""
        order = self._get_order(reference)
        if order.get("status") == "APPROVED":
            try:
                order = self._call(
                    self.client.orders.capture_order,
                    {
                        "id": reference,
                        "paypal_request_id": f"capture-{reference}",
                        "prefer": "return=representation",
                    },
                )
            except ErrorException as err:
                if err.response.status_code != 422:
                    raise
                if _issue(err) != "ORDER_ALREADY_CAPTURED":
                    return ChargeResult(
                        status=ChargeStatus.FAILED, reference=reference, failure_code=_issue(err).lower()
                    )
                order = self._get_order(reference)
        return self._order_result(order, reference)

    def cancel_hosted_payment(self, *, reference: str) -> ChargeResult:
        """Orders v2 gives the merchant no call to void an order, so it stays open at PayPal; since
        it has intent CAPTURE and we never capture an order we closed, no money can move. Only one
        already captured (the payer paid, then followed the cancel link) is reported as paid."""
        order = self._get_order(reference)
        if order.get("status") == "COMPLETED":
            return self._order_result(order, reference)
        return ChargeResult(status=ChargeStatus.UNKNOWN, reference=reference)

    def fetch_status(self, *, idempotency_key: str) -> ChargeResult:
        """Orders cannot be searched by PayPal-Request-Id; hosted payments are reconciled by reference."""
        return ChargeResult(status=ChargeStatus.UNKNOWN)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str = "", idempotency_key: str = ""
    ) -> ChargeResult:
        """Refunds the order's capture; ``reference`` of the result is PayPal's refund id."""
        try:
            order = self._get_order(reference)
            capture = next(iter(_captures(order)), None)
            if capture is None:
                raise BusinessError(
                    _("Ce paiement PayPal n'a pas été encaissé : il n'y a rien à rembourser."),
                    code=ErrorCode.REFUND_REFUSED,
                )
            currency = currency or capture["amount"]["currency_code"]
            refund = self._call(
                self.client.payments.refund_captured_payment,
                {
                    "capture_id": capture["id"],
                    "body": RefundRequest(
                        amount=Money(currency_code=currency, value=_value(amount, currency))
                    ),
                    "prefer": "return=representation",
                    **({"paypal_request_id": idempotency_key} if idempotency_key else {}),
                },
            )
        except ErrorException as err:
            logger.warning("PayPal refused a refund of order %s: %s", reference, _issue(err))
            raise BusinessError(
                _("PayPal a refusé le remboursement (%(reason)s).") % {"reason": _issue(err) or err.reason},
                code=ErrorCode.REFUND_REFUSED,
            ) from err
        except CALL_ERRORS as err:
            logger.warning("PayPal refund of order %s failed", reference, exc_info=True)
            raise BusinessError(
                _("PayPal ne répond pas ; le remboursement n'a pas été fait. Réessayez."),
                code=ErrorCode.PROVIDER_UNAVAILABLE,
            ) from err
        status = REFUND_STATUSES.get(refund.get("status") or "")
        if status is None:
            raise BusinessError(
                _("PayPal a refusé le remboursement (%(reason)s).") % {"reason": refund.get("status")},
                code=ErrorCode.REFUND_REFUSED,
            )
        return ChargeResult(status=status, reference=refund["id"])

    def refund_status(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        """PayPal keeps a refund's PayPal-Request-Id to itself and offers no search by it: the
        refund stays in doubt (``open``) until staff retry it, which the same key makes safe."""
        return ChargeResult(status=ChargeStatus.OPEN)

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str], secret: str) -> list[ProviderEvent]:
        """PayPal signs with a certificate, not a shared secret (``secret`` is unused): the SDK has no
        call for it, so the documented verify-webhook-signature endpoint is called with ``requests``
        and the SDK's OAuth token. The raw body is embedded as is, since PayPal checks the signature
        over its own bytes and a re-serialised event may differ."""
        lowered = {key.lower(): value for key, value in headers.items()}
        fields = {name: lowered.get(header, "") for name, header in TRANSMISSION_HEADERS.items()}
        if not all(fields.values()):
            raise WebhookRejected("missing PayPal transmission headers", 401)
        webhook_id = self.credentials.get("webhook_id", "")
        if not webhook_id:
            raise WebhookRejected("no PayPal webhook id configured", 401)
        try:
            event = load_json(body)
            text = body.decode()
        except ValueError as exc:
            raise WebhookRejected("malformed body", 400) from exc
        if not isinstance(event, dict):
            raise WebhookRejected("malformed body", 400)
        request = json.dumps({**fields, "webhook_id": webhook_id})
        try:
            token = self.client.oauth_2.fetch_token().access_token
            response = requests.post(
                self.base_url + VERIFY_PATH,
                data=f'{request[:-1]}, "webhook_event": {text}}}'.encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                timeout=TIMEOUT_SECONDS,
            )
        except (ApiException, requests.RequestException) as exc:
            logger.warning("PayPal webhook verification unreachable", exc_info=True)
            raise WebhookRejected("PayPal unreachable, retry later", 503) from exc
        if response.status_code >= 500:
            raise WebhookRejected("PayPal unavailable, retry later", 503)
        try:
            verdict = response.json().get("verification_status") if response.ok else None
        except ValueError:
            verdict = None
        if verdict != "SUCCESS":
            raise WebhookRejected("bad signature", 401)
        if event.get("event_type") not in EVENT_STATUSES:
            return []
        return [self.parse_payload(event)]

    def parse_payload(self, payload: dict[str, Any]) -> ProviderEvent:
        try:
            status = EVENT_STATUSES[payload["event_type"]]
            order_id = payload["resource"]["supplementary_data"]["related_ids"]["order_id"]
            return ProviderEvent(
                event_id=str(payload["id"]),
                event_type=payload["event_type"],
                reference=str(order_id),
                status=status,
                payload=payload,
            )
        except (KeyError, TypeError) as exc:
            raise WebhookRejected("malformed or unhandled event", 400) from exc

    def _get_order(self, order_id: str) -> dict[str, Any]:
        return self._call(self.client.orders.get_order, {"id": order_id})

    @staticmethod
    def _call(endpoint: Callable[[dict[str, Any]], Any], options: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = json.loads(endpoint(options).text)
        return answer

    @staticmethod
    def _order_result(order: dict[str, Any], reference: str) -> ChargeResult:
        status = order.get("status")
        captures = _captures(order)
        if status == ORDER_COMPLETED and captures:
            capture = captures[0]
            result = CAPTURE_STATUSES.get(capture.get("status") or "", ChargeStatus.PENDING)
            code = ((capture.get("status_details") or {}).get("reason") or "").lower()
            failed = result == ChargeStatus.FAILED
            return ChargeResult(status=result, reference=reference, failure_code=code if failed else "")
        return ChargeResult(status=ORDER_STATUSES.get(status or "", ChargeStatus.OPEN), reference=reference)


def _issue(err: ErrorException) -> str:
    """PayPal's machine-readable reason (INSTRUMENT_DECLINED, ORDER_ALREADY_CAPTURED…), else its name."""
    details = getattr(err, "details", None) or []
    return (getattr(details[0], "issue", None) if details else None) or getattr(err, "name", None) or ""
