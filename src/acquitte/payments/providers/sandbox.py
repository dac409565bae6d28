"""The built-in sandbox provider: offline, deterministic test cards, signed webhooks.

It behaves like a real provider where it matters to us: its own ledger keyed by idempotency key,
direct debits that settle later through webhooks signed like Stripe's
(``Sandbox-Signature: t=<unix time>,v1=<HMAC-SHA256 of "t.body">``).
"""

import hashlib
import hmac
import json
import secrets
import time
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.urls import reverse

from ..models import SandboxCharge, SandboxToken
from .base import ChargeResult, Provider, ProviderEvent, SavedMethod, WebhookRejected

SIGNATURE_HEADER = "Sandbox-Signature"
TOLERANCE_SECONDS = 300

# Test numbers and what they do; any other valid number succeeds.
TEST_CARDS = {
    "4000000000000002": "declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000341": "fail_charges",
}


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class SandboxProvider(Provider):
    name = "sandbox"

    def checkout_url(self, *, session: str, kind: str) -> str:
        return reverse(f"payments:sandbox_{kind}", args=[session])

    def save_method(self, *, kind: str, number: str, scheme: str) -> SavedMethod:
        behaviour = {"card": TEST_CARDS.get(number, "succeed"), "paypal": "succeed"}.get(kind, "debit")
        token = f"sbx_pm_{secrets.token_hex(12)}"
        SandboxToken.objects.create(token=token, behaviour=behaviour, kind=kind)
        return SavedMethod(token=token, scheme=scheme, last4=number[-4:])

    def charge(self, *, token: str, amount: Decimal, currency: str, idempotency_key: str) -> ChargeResult:
        existing = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        if existing:
            return self._result(existing)
        saved = SandboxToken.objects.filter(token=token).first()
        behaviour = saved.behaviour if saved else "declined"
        status, code = {
            "succeed": ("succeeded", ""),
            "debit": ("pending", ""),
            "declined": ("failed", "card_declined"),
            "insufficient_funds": ("failed", "insufficient_funds"),
            "fail_charges": ("failed", "card_declined"),
        }[behaviour]
        try:
            with transaction.atomic():
                charge = SandboxCharge.objects.create(
                    idempotency_key=idempotency_key,
                    reference=f"sbx_ch_{secrets.token_hex(10)}",
                    token=token,
                    amount=amount,
                    currency=currency,
                    status=status,
                    failure_code=code,
                )
        except IntegrityError:
            charge = SandboxCharge.objects.get(idempotency_key=idempotency_key)
        return self._result(charge)

    def fetch_status(self, *, idempotency_key: str) -> ChargeResult:
        charge = SandboxCharge.objects.filter(idempotency_key=idempotency_key).first()
        return self._result(charge) if charge else ChargeResult(status="unknown")

    def refund(
        self, *, reference: str, amount: Decimal, currency: str = "", idempotency_key: str = ""
    ) -> ChargeResult:
        charge = SandboxCharge.objects.get(reference=reference)
        return ChargeResult(status="succeeded", reference=charge.reference)

    def settle_debit(self, *, reference: str, outcome: str) -> dict:
        """Move a pending direct debit on (confirmed, paid_out or failed); return the event to post."""
        SandboxCharge.objects.filter(reference=reference).update(
            status={"confirmed": "pending", "paid_out": "succeeded", "failed": "failed"}[outcome]
        )
        return {
            "id": f"sbx_evt_{secrets.token_hex(10)}",
            "type": f"payment.{outcome}",
            "created": int(time.time()),
            "data": {"reference": reference},
        }

    @staticmethod
    def event_body(event: dict) -> bytes:
        return json.dumps(event).encode()

    def parse_webhook(self, *, body: bytes, headers, secret: str) -> list[ProviderEvent]:
        header = headers.get(SIGNATURE_HEADER, "")
        try:
            parts = dict(item.split("=", 1) for item in header.split(","))
            timestamp = int(parts["t"])
            given = parts["v1"]
        except (KeyError, ValueError) as exc:
            raise WebhookRejected("missing or malformed signature", 401) from exc
        if abs(time.time() - timestamp) > TOLERANCE_SECONDS:
            raise WebhookRejected("stale timestamp", 401)
        expected = sign(body, secret, timestamp).split("v1=", 1)[1]
        if not hmac.compare_digest(expected, given):
            raise WebhookRejected("bad signature", 401)
        try:
            return [self.parse_payload(json.loads(body))]
        except ValueError as exc:
            raise WebhookRejected("malformed body", 400) from exc

    def parse_payload(self, payload: dict) -> ProviderEvent:
        try:
            outcome = payload["type"].removeprefix("payment.")
            return ProviderEvent(
                event_id=str(payload["id"]),
                event_type=payload["type"],
                reference=str(payload["data"]["reference"]),
                status={"confirmed": "pending", "paid_out": "succeeded", "failed": "failed"}[outcome],
                payload=payload,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise WebhookRejected("malformed body", 400) from exc

    @staticmethod
    def _result(charge: SandboxCharge) -> ChargeResult:
        return ChargeResult(
            status=charge.status, reference=charge.reference, failure_code=charge.failure_code
        )
