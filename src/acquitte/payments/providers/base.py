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


@dataclass(frozen=True)
class SavedMethod:
    token: str
    scheme: str
    last4: str


@dataclass(frozen=True)
class ChargeResult:
    """``reference`` replaces the stored provider reference when given."""

    status: ChargeStatus
    reference: str = ""
    failure_code: str = ""


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

    def charge(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str) -> ChargeResult:
        """Charge a saved method off-session; the same key must return the same charge."""
        raise NotImplementedError

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

    def parse_webhook(self, *, body: bytes, headers: Mapping[str, str], secret: str) -> list[ProviderEvent]:
        """Verify the signature and freshness, then normalise; raise WebhookRejected otherwise.
        ``secret`` is the account's webhook secret; events the app does not act on are left out."""
        raise NotImplementedError

    def parse_payload(self, payload: dict[str, Any]) -> ProviderEvent:
        """Normalise a stored event's payload (already verified when it was received)."""
        raise NotImplementedError
