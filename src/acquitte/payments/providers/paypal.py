"""PayPal Checkout through the Orders v2 API: the payer approves an order on PayPal's page, we capture it.

The order is created with intent CAPTURE, so PayPal takes no money until we capture; we capture when
the payer comes back (or when reconciliation asks), never for an order we have given up on. The
stored reference is always the order id: capture webhooks carry it in their related ids.

A PayPal account is saved through the Vault v3 API: the payer approves a setup token on PayPal's
page, we turn it into a payment token, and orders paid with that token (``vault_id``) complete in
one call, without the payer.
"""

import base64
import json
import logging
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import requests
from apimatic_core.exceptions.auth_validation_exception import (  # type: ignore[import-untyped]  # apimatic_core ships no types
    AuthValidationException,
)
from apimatic_core.http.http_callback import (  # type: ignore[import-untyped]  # apimatic_core ships no types
    HttpCallBack,
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
from paypalserversdk.models.payment_token_request import PaymentTokenRequest
from paypalserversdk.models.payment_token_request_payment_source import PaymentTokenRequestPaymentSource
from paypalserversdk.models.paypal_payment_token_usage_type import PaypalPaymentTokenUsageType
from paypalserversdk.models.paypal_wallet import PaypalWallet
from paypalserversdk.models.paypal_wallet_experience_context import PaypalWalletExperienceContext
from paypalserversdk.models.purchase_unit_request import PurchaseUnitRequest
from paypalserversdk.models.refund_request import RefundRequest
from paypalserversdk.models.setup_token_request import SetupTokenRequest
from paypalserversdk.models.setup_token_request_payment_source import SetupTokenRequestPaymentSource
from paypalserversdk.models.vault_customer import VaultCustomer
from paypalserversdk.models.vault_experience_context import VaultExperienceContext
from paypalserversdk.models.vault_paypal_wallet_request import VaultPaypalWalletRequest
from paypalserversdk.models.vault_token_request import VaultTokenRequest
from paypalserversdk.models.vault_token_request_type import VaultTokenRequestType
from paypalserversdk.paypal_serversdk_client import PaypalServersdkClient

from acquitte.core.errors import BusinessError, ErrorCode

from ..models import ProviderAccount
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
from .verify import DEFAULT_PAYPAL_API_BASES, _PayPalConfiguration

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
VERIFY_PATH = "/v1/notifications/verify-webhook-signature"
TOKEN_PATH = "/v1/oauth2/token"
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
# A setup token's states, as PayPal names them: the payer has approved it once APPROVED (VAULTED once
# a payment token was made from it); before, they have not finished.
SETUP_APPROVED = {"APPROVED", "VAULTED"}
SETUP_VAULTED = "VAULTED"
# Vault events the app acts on; a created payment token is ours already (we made it in
# ``setup_result``) unless the event names the setup token it came from.
TOKEN_CREATED = "VAULT.PAYMENT-TOKEN.CREATED"
TOKEN_DELETED = "VAULT.PAYMENT-TOKEN.DELETED"
VAULT_EVENTS = {TOKEN_CREATED, TOKEN_DELETED}


def _value(amount: Decimal, currency: str) -> str:
    return f"{amount:.0f}" if currency.upper() in ZERO_DECIMAL_CURRENCIES else f"{amount:.2f}"


def _captures(order: dict[str, Any]) -> list[dict[str, Any]]:
    units = order.get("purchase_units") or []
    return [capture for unit in units for capture in (unit.get("payments") or {}).get("captures") or []]


def auth_assertion(*, client_id: str, merchant_id: str) -> str:
    """The PayPal-Auth-Assertion naming the seller a partner acts for: an unsigned JWT (``alg`` none,
    empty signature) whose issuer is the partner's client id and ``payer_id`` the seller's merchant
    id, as PayPal's reference builds it."""

    def part(data: dict[str, str]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    return f"{part({'alg': 'none'})}.{part({'iss': client_id, 'payer_id': merchant_id})}."


class _ActForMerchant(HttpCallBack):  # type: ignore[misc]  # its base comes from untyped apimatic_core
    """Every call but the token request carries the assertion, so the order, the vault token or the
    refund belongs to the seller, not to the platform."""

    def __init__(self, assertion: str):
        self.assertion = assertion

    def on_before_request(self, request: Any) -> None:
        if not str(request.query_url).endswith(TOKEN_PATH):
            request.add_header("PayPal-Auth-Assertion", self.assertion)

    def on_after_response(self, http_response: Any) -> None:
        return None


class PayPalProvider(Provider):
    """Credentials: ``client_id`` and ``client_secret`` of the REST app, ``webhook_id`` of its webhook;
    or, for a seller connected through partner onboarding, only its ``merchant_id``: the platform's
    partner app then calls PayPal on the seller's behalf, and its webhook brings the events.

    Answers are read as plain JSON (``response.text``): the SDK's models leave absent fields unset
    rather than None, which would make every lookup a guard.
    """

    name = "paypal"
    hosted = True

    def __init__(self, *, credentials: dict[str, str] | None = None, mode: str = "test"):
        super().__init__(credentials=credentials, mode=mode)
        self.base_url = getattr(settings, "PAYPAL_API_BASES", DEFAULT_PAYPAL_API_BASES)[mode]
        client_id, client_secret = (
            self.credentials.get("client_id", ""),
            self.credentials.get("client_secret", ""),
        )
        self.webhook_id = self.credentials.get("webhook_id", "")
        callback = None
        merchant_id = self.credentials.get("merchant_id", "")
        if merchant_id and not client_id:
            client_id, client_secret = (
                settings.PAYPAL_PARTNER_CLIENT_ID,
                settings.PAYPAL_PARTNER_CLIENT_SECRET,
            )
            self.webhook_id = settings.PAYPAL_PARTNER_WEBHOOK_ID
            callback = _ActForMerchant(auth_assertion(client_id=client_id, merchant_id=merchant_id))
        self.client = PaypalServersdkClient(
            config=_PayPalConfiguration(
                base_uri=self.base_url,
                timeout=TIMEOUT_SECONDS,
                http_call_back=callback,
                environment=Environment.SANDBOX
                if mode == ProviderAccount.Mode.TEST
                else Environment.PRODUCTION,
                client_credentials_auth_credentials=ClientCredentialsAuthCredentials(
                    client_id, client_secret
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

    def ensure_customer(self, *, idempotency_key: str, email: str, name: str) -> str:
        """None to make: PayPal creates the vault customer with the first payment token, and the
        setup's answer gives back its id for the next setups."""
        return ""

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
        """A setup token for a PayPal wallet the merchant charges later (usage MERCHANT); the key is
        its PayPal-Request-Id, so a retry gets the same setup token back. The reference is the setup
        token id; the payer approves it at the ``approve`` link."""
        if kind != OnlineKind.PAYPAL:
            raise ValueError(f"PayPal only saves PayPal accounts, not {kind!r}")
        body = SetupTokenRequest(
            payment_source=SetupTokenRequestPaymentSource(
                paypal=VaultPaypalWalletRequest(
                    usage_type=PaypalPaymentTokenUsageType.MERCHANT,
                    experience_context=VaultExperienceContext(
                        return_url=return_url, cancel_url=cancel_url, shipping_preference="NO_SHIPPING"
                    ),
                )
            ),
            **({"customer": VaultCustomer(id=customer_reference)} if customer_reference else {}),
        )
        setup = self._call(
            self.client.vault.create_setup_token, {"body": body, "paypal_request_id": idempotency_key}
        )
        links = {link.get("rel"): link.get("href") for link in setup.get("links") or []}
        if not links.get("approve"):
            raise ValueError(f"PayPal setup token {setup.get('id')} has no approval link")
        return HostedSetup(url=links["approve"], reference=setup["id"])

    def setup_result(self, *, reference: str) -> SetupResult:
        """Once the payer approved the setup token, the payment token made from it. Its
        PayPal-Request-Id "payment-token-<setup token>" makes a second ask (the return racing the
        webhook) get the same payment token, not a second one. A setup token PayPal no longer
        knows (they expire unapproved) was abandoned."""
        try:
            setup = json.loads(self.client.vault.get_setup_token(reference).text)
        except ErrorException as err:
            if err.response.status_code == 404:
                return SetupResult(status=ChargeStatus.UNKNOWN)
            raise
        if setup.get("status") not in SETUP_APPROVED:
            return SetupResult(status=ChargeStatus.OPEN)
        body = PaymentTokenRequest(
            payment_source=PaymentTokenRequestPaymentSource(
                token=VaultTokenRequest(id=reference, mtype=VaultTokenRequestType.SETUP_TOKEN)
            )
        )
        try:
            token = self._call(
                self.client.vault.create_payment_token,
                {"body": body, "paypal_request_id": f"payment-token-{reference}"},
            )
        except ErrorException as err:
            if err.response.status_code != 422:
                raise
            logger.warning("PayPal refused a payment token for setup %s: %s", reference, _issue(err))
            return SetupResult(status=ChargeStatus.FAILED)
        return SetupResult(status=ChargeStatus.SUCCEEDED, method=_saved_wallet(token))

    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        customer_reference: str = "",
    ) -> ChargeResult:
        """An order paid with the vaulted token ``token``: PayPal completes it in the same call
        (intent CAPTURE), so its capture says at once whether the money moved.

        The key is the PayPal-Request-Id and the purchase unit's custom_id (which the capture and
        its webhooks carry). PayPal documents that a request repeated with the same
        PayPal-Request-Id after a timeout or a 5xx returns the first one's latest status, so one
        such failure is retried at once; a second is raised, leaving the charge in doubt. A
        refusal (422: declined instrument, revoked token) is a failed charge.
        """
        body = OrderRequest(
            intent=CheckoutPaymentIntent.CAPTURE,
            purchase_units=[
                PurchaseUnitRequest(
                    amount=AmountWithBreakdown(currency_code=currency, value=_value(amount, currency)),
                    custom_id=idempotency_key[:127],
                )
            ],
            payment_source=PaymentSource(paypal=PaypalWallet(vault_id=token)),
        )
        options = {"body": body, "paypal_request_id": idempotency_key, "prefer": "return=representation"}
        try:
            order = self._create_order_retrying_once(options)
        except ErrorException as err:
            if err.response.status_code >= 500:
                raise
            return ChargeResult(status=ChargeStatus.FAILED, failure_code=(_issue(err) or "refused").lower())
        result = self._order_result(order, order["id"])
        if result.status == ChargeStatus.OPEN:  # an order that did not complete took no money
            return ChargeResult(
                status=ChargeStatus.FAILED, reference=order["id"], failure_code="not_completed"
            )
        return result

    def fetch_status(self, *, idempotency_key: str) -> ChargeResult:
        """Open: PayPal cannot be searched by PayPal-Request-Id or custom_id, and repeating the
        create would need the token and amount, and would charge again once PayPal has forgotten the
        id (it keeps it for hours). The charge stays in doubt until its capture webhook, which
        carries our key as ``custom_id`` and settles it by that key. Hosted payments are
        reconciled by reference instead."""
        return ChargeResult(status=ChargeStatus.OPEN)

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

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str
    ) -> list[ProviderEvent | MethodEvent]:
        """PayPal signs with a certificate, not a shared secret (``secret`` is unused): the SDK has no
        call for it, so the documented verify-webhook-signature endpoint is called with ``requests``
        and the SDK's OAuth token. The raw body is embedded as is, since PayPal checks the signature
        over its own bytes and a re-serialised event may differ."""
        lowered = {key.lower(): value for key, value in headers.items()}
        fields = {name: lowered.get(header, "") for name, header in TRANSMISSION_HEADERS.items()}
        if not all(fields.values()):
            raise WebhookRejected("missing PayPal transmission headers", 401)
        webhook_id = self.webhook_id
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
        if event.get("event_type") in VAULT_EVENTS:
            parsed = _vault_event(event)
            return [parsed] if parsed else []
        if event.get("event_type") not in EVENT_STATUSES:
            return []
        return [self.parse_payload(event)]

    def parse_payload(self, payload: dict[str, Any]) -> ProviderEvent | MethodEvent:
        if isinstance(payload, dict) and payload.get("event_type") in VAULT_EVENTS:
            parsed = _vault_event(payload)
            if parsed is None:
                raise WebhookRejected("event not handled", 400)
            return parsed
        try:
            status = EVENT_STATUSES[payload["event_type"]]
            order_id = payload["resource"]["supplementary_data"]["related_ids"]["order_id"]
            return ProviderEvent(
                event_id=str(payload["id"]),
                event_type=payload["event_type"],
                reference=str(order_id),
                status=status,
                payload=payload,
                idempotency_key=str(payload["resource"].get("custom_id") or ""),
            )
        except (KeyError, TypeError) as exc:
            raise WebhookRejected("malformed or unhandled event", 400) from exc

    def _create_order_retrying_once(self, options: dict[str, Any]) -> dict[str, Any]:
        """The same request again after a timeout or a 5xx: with the same PayPal-Request-Id, PayPal
        answers with the order the first one made, if it made one."""
        try:
            return self._call(self.client.orders.create_order, options)
        except ErrorException as err:
            if err.response.status_code < 500:
                raise
        except requests.RequestException:
            logger.warning("PayPal did not answer an order; asking again with the same request id")
        return self._call(self.client.orders.create_order, options)

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


def _saved_wallet(token: dict[str, Any]) -> SavedMethod:
    """A payment token in our display terms: the payer's name, no digits (a wallet has none)."""
    wallet = (token.get("payment_source") or {}).get("paypal") or {}
    name = wallet.get("name") or {}
    holder = " ".join(part for part in (name.get("given_name"), name.get("surname")) if part)
    return SavedMethod(
        token=str(token["id"]),
        scheme="paypal",
        last4="",
        kind="paypal",
        holder=holder or name.get("full_name") or wallet.get("email_address") or "",
        customer_reference=str((token.get("customer") or {}).get("id") or ""),
    )


def _vault_event(event: dict[str, Any]) -> ProviderEvent | MethodEvent | None:
    """A deleted token revokes the method; a created one completes a setup only when the event
    names the setup token (PayPal's payload is the payment token, which usually does not)."""
    try:
        resource = event["resource"]
        if event["event_type"] == TOKEN_DELETED:
            return MethodEvent(
                event_id=str(event["id"]),
                event_type=event["event_type"],
                token=str(resource["id"]),
                status=MethodStatus.REVOKED,
            )
        source = (resource.get("payment_source") or {}).get("token") or {}
        setup_token = source.get("id") if source.get("type") == VaultTokenRequestType.SETUP_TOKEN else None
        if not setup_token:
            return None
        return ProviderEvent(
            event_id=str(event["id"]),
            event_type="setup.completed",
            reference=str(setup_token),
            status=ChargeStatus.SUCCEEDED,
            payload=event,
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise WebhookRejected("malformed event", 400) from exc
