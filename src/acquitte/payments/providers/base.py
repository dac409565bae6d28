"""The interface every payment provider implements, in the provider-neutral terms the app uses."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson


class ChargeStatus(StrEnum):
    """What a provider says of a charge or a refund."""

    #: The money moved.
    SUCCEEDED = "succeeded"
    #: Accepted, settles later (a direct debit, a refund on its way); webhooks tell the rest.
    PENDING = "pending"
    #: Refused.
    FAILED = "failed"
    #: Not found, or a hosted payment the payer abandoned or that expired: no money moved.
    UNKNOWN = "unknown"
    #: A hosted payment the payer has not finished, or a refund the provider cannot tell us about:
    #: nothing to apply yet.
    OPEN = "open"
    #: SCA: the customer must authenticate at the result's ``action_url`` before the money moves.
    ACTION_REQUIRED = "action_required"
    #: The money moved, then went back to the payer: a chargeback, or a direct debit that failed
    #: after it was paid out.
    REVERSED = "reversed"


class MethodStatus(StrEnum):
    """What a provider says of a saved method."""

    VALID = "valid"
    EXPIRED = "expired"
    REVOKED = "revoked"


@dataclass(frozen=True)
class SavedMethod:
    """A method saved at the provider: its token, and display fields only (never the number)."""

    #: Stripe PaymentMethod id, GoCardless mandate id, PayPal vault payment token id, sandbox token.
    token: str
    #: A ``PaymentMethod.Scheme`` value: visa/mastercard/amex/... or sepa/ach/pad/bacs..., "paypal".
    scheme: str
    last4: str
    #: A ``PaymentMethod.Kind`` value (card / bank_debit / paypal).
    kind: str = ""
    holder: str = ""
    exp_month: int | None = None
    exp_year: int | None = None
    bank_name: str = ""
    #: The provider's customer id (Stripe Customer, GoCardless customer, PayPal customer id).
    customer_reference: str = ""


@dataclass(frozen=True)
class HostedSetup:
    """A hosted page where the customer saves a method."""

    #: Where to send the customer.
    url: str
    #: The provider's id of the setup (Stripe Checkout Session id in setup mode, GoCardless billing
    #: request id, PayPal setup token id).
    reference: str


@dataclass(frozen=True)
class SetupResult:
    """What the provider says of a setup now: SUCCEEDED, the method is ready; OPEN, not finished;
    FAILED/UNKNOWN, abandoned."""

    status: ChargeStatus
    method: SavedMethod | None = None


@dataclass(frozen=True)
class MethodEvent:
    """A webhook event about a saved method, normalised."""

    event_id: str
    event_type: str
    #: Which saved method (``SavedMethod.token``).
    token: str
    status: MethodStatus
    exp_month: int | None = None
    exp_year: int | None = None
    last4: str = ""
    #: The provider's own event, stored for ``parse_payload`` (the whole body when left empty).
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ChargeResult:
    """``reference`` replaces the stored provider reference when given; ``action_url`` is where the
    customer authenticates when the status is ACTION_REQUIRED."""

    status: ChargeStatus
    reference: str = ""
    failure_code: str = ""
    action_url: str = ""


@dataclass(frozen=True)
class HostedPayment:
    """A payment page opened at the provider: where to send the payer, and the provider's id for it."""

    url: str
    reference: str


@dataclass(frozen=True)
class ProviderEvent:
    """A webhook event, normalised: which charge it concerns and what it now is."""

    event_id: str
    event_type: str
    reference: str
    status: ChargeStatus
    payload: dict[str, Any] = field(default_factory=dict)
    #: The id later events will carry instead of ``reference`` (a GoCardless billing request becomes
    #: a payment), so that both find the same charge.
    new_reference: str = ""
    #: Our idempotency key, when the event carries it (a PayPal capture's ``custom_id``): it finds a
    #: charge whose answer never reached us, so that has no reference yet.
    idempotency_key: str = ""


class WebhookRejected(Exception):
    """The request is not a genuine, fresh event from the provider; ``status`` is the HTTP answer."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


def load_json(body: bytes | str) -> Any:
    """A webhook body, parsed strictly: at most 1 024 levels of nesting, no NaN or Infinity, no
    number beyond a double's range (orjson, RFC 8259). Raises ValueError, never RecursionError."""
    return orjson.loads(body)


class Provider:
    """One provider, for one organisation's account: ``credentials`` are the decrypted ones stored
    by ``connect_provider``, ``mode`` is "test" or "live". The sandbox needs neither.

    Two ways to take a payment: the sandbox collects card or account numbers on our own pages and
    tokenises them (``checkout_url``, ``save_method``, ``charge``); a hosted provider (``hosted``)
    takes the payment on its own page (``start_hosted_payment``) and tells us the outcome on the
    payer's return (``payment_status``) and by webhook.
    """

    name = ""
    hosted = False

    @classmethod
    def saves_methods(cls) -> bool:
        """The provider can save a method on its own page (it implements ``start_setup``)."""
        return cls.start_setup is not Provider.start_setup

    def __init__(self, *, credentials: dict[str, str] | None = None, mode: str = "test"):
        self.credentials = credentials or {}
        self.mode = mode

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
        """Open a one-off payment of ``amount`` on the provider's page. ``idempotency_key`` goes to
        the provider (header or metadata) so that a retry opens nothing twice."""
        raise NotImplementedError

    def payment_status(self, *, reference: str) -> ChargeResult:
        """What the provider says now of the hosted payment ``reference``."""
        raise NotImplementedError

    def cancel_hosted_payment(self, *, reference: str) -> ChargeResult:
        """The payer came back through the cancel link: close the page at the provider if it can be
        (so it cannot be paid later), and say what it now is."""
        raise NotImplementedError

    def checkout_url(self, *, session: str, kind: str) -> str:
        """Where to send the payer to pay (card, PayPal) or sign a mandate (debit); they come back
        to the return path carried by the session."""
        raise NotImplementedError

    def save_method(self, *, kind: str, number: str, scheme: str) -> SavedMethod:
        """Tokenise a card or account number; the number itself never reaches our database."""
        raise NotImplementedError

    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        customer_reference: str = "",
    ) -> ChargeResult:
        """Charge a saved method off-session (at the provider's customer ``customer_reference`` when
        it has one); the same key must return the same charge."""
        raise NotImplementedError

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
        """Open the provider's page where the customer saves a method of ``kind`` for later
        off-session charges; ``idempotency_key`` makes a retry open nothing twice."""
        raise NotImplementedError

    def setup_result(self, *, reference: str) -> SetupResult:
        """What the provider says now of the setup ``reference``, with the saved method once done."""
        raise NotImplementedError

    def ensure_customer(self, *, idempotency_key: str, email: str, name: str) -> str:
        """The provider's customer for ours, made once (idempotent by key); '' when the provider has none."""
        return ""

    def fetch_status(self, *, idempotency_key: str) -> ChargeResult:
        """What the provider knows of the charge made with this key (``unknown`` if none)."""
        raise NotImplementedError

    def refund(
        self, *, reference: str, amount: Decimal, currency: str = "", idempotency_key: str = ""
    ) -> ChargeResult:
        """Give back ``amount`` of the payment ``reference`` (the reference stored on the payment).
        The same ``idempotency_key`` again (a retry after a timeout) must not refund twice."""
        raise NotImplementedError

    def refund_status(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        """What the provider knows of the refund asked with this key, for reconciliation: ``unknown``
        when it is sure there is none, ``open`` when it cannot tell (the refund stays in doubt)."""
        return ChargeResult(status=ChargeStatus.OPEN)

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str
    ) -> list[ProviderEvent | MethodEvent]:
        """Verify the signature and freshness, then normalise; raise WebhookRejected otherwise.
        ``secret`` is the account's webhook secret; events the app does not act on are left out.
        A setup completion is a ProviderEvent on the setup reference whose type starts "setup."."""
        raise NotImplementedError

    def parse_payload(self, payload: dict[str, Any]) -> ProviderEvent | MethodEvent:
        """Normalise a stored event's payload (already verified when it was received)."""
        raise NotImplementedError
