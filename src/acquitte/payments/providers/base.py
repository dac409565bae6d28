"""The interface every payment provider implements, in the provider-neutral terms the app uses."""

from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class SavedMethod:
    token: str
    scheme: str
    last4: str


@dataclass(frozen=True)
class ChargeResult:
    """``status`` is succeeded, pending (settles later by webhook), failed or unknown (not found)."""

    status: str
    reference: str = ""
    failure_code: str = ""


@dataclass(frozen=True)
class ProviderEvent:
    """A webhook event, normalised: which charge it concerns and what it now is."""

    event_id: str
    event_type: str
    reference: str
    status: str
    payload: dict = field(default_factory=dict)


class WebhookRejected(Exception):
    """The request is not a genuine, fresh event from the provider; ``status`` is the HTTP answer."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.status = status


class Provider:
    name = ""

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

    def refund(self, *, reference: str, amount: Decimal) -> ChargeResult:
        raise NotImplementedError

    def parse_webhook(self, *, body: bytes, headers, secret: str) -> list[ProviderEvent]:
        """Verify the signature and freshness, then normalise; raise WebhookRejected otherwise."""
        raise NotImplementedError

    def parse_payload(self, payload: dict) -> ProviderEvent:
        """Normalise a stored event's payload (already verified when it was received)."""
        raise NotImplementedError
