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
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.urls import reverse

from ..models import SandboxCharge, SandboxRefund, SandboxSetup, SandboxToken
from .base import (
    ChargeResult,
    ChargeStatus,
    HostedSetup,
    MethodEvent,
    Provider,
    ProviderEvent,
    SavedMethod,
    SetupResult,
    WebhookRejected,
    load_json,
)

SIGNATURE_HEADER = "Sandbox-Signature"
TOLERANCE_SECONDS = 300

# Test numbers and what they do; any other valid number succeeds.
TEST_CARDS = {
    "4000000000000002": "declined",
    "4000000000009995": "insufficient_funds",
    "4000000000000341": "fail_charges",
}

#: What each step of a direct debit's life means for the charge.
DEBIT_OUTCOMES = {
    "confirmed": ChargeStatus.PENDING,
    "paid_out": ChargeStatus.SUCCEEDED,
    "failed": ChargeStatus.FAILED,
}


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


class SandboxProvider(Provider):
    name = "sandbox"

    def checkout_url(self, *, session: str, kind: str) -> str:
        return reverse(f"payments:sandbox_{kind}", args=[session])

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
        """The sandbox's setup page is ours: a card or bank form that tokenises like ``save_method``."""
        setup, _created = SandboxSetup.objects.get_or_create(
            reference=f"sbx_seti_{idempotency_key[:24]}",
            defaults={"kind": kind, "return_url": return_url, "cancel_url": cancel_url},
        )
        return HostedSetup(
            url=reverse("payments:sandbox_setup", args=[setup.reference]), reference=setup.reference
        )

    def setup_result(self, *, reference: str) -> SetupResult:
        setup = SandboxSetup.objects.filter(reference=reference).first()
        if setup is None or setup.status == "cancelled":
            return SetupResult(status=ChargeStatus.UNKNOWN)
        if not setup.token:
            return SetupResult(status=ChargeStatus.OPEN)
        return SetupResult(
            status=ChargeStatus.SUCCEEDED,
            method=SavedMethod(
                token=setup.token,
                scheme=setup.scheme,
                last4=setup.last4,
                kind="bank_debit" if setup.kind == "debit" else setup.kind,
                holder=setup.holder,
                exp_month=setup.exp_month,
                exp_year=setup.exp_year,
                bank_name=setup.bank_name,
            ),
        )

    def fill_setup(
        self,
        *,
        reference: str,
        number: str,
        scheme: str,
        holder: str,
        bank_name: str = "",
        expiry: tuple[int | None, int | None] = (None, None),
    ) -> str:
        """The customer submitted the sandbox's setup page (numbers already checked): tokenise, and
        return where the provider sends them back."""
        setup = SandboxSetup.objects.get(reference=reference, status="open")
        kind = "bank_debit" if setup.kind == "debit" else setup.kind
        saved = self.save_method(kind=kind, number=number, scheme=scheme)
        setup.token, setup.scheme, setup.last4, setup.holder = saved.token, scheme, saved.last4, holder
        setup.exp_month, setup.exp_year = expiry
        setup.bank_name, setup.status = bank_name, "succeeded"
        setup.save()
        return setup.return_url

    def save_method(self, *, kind: str, number: str, scheme: str) -> SavedMethod:
        behaviour = {"card": TEST_CARDS.get(number, "succeed"), "paypal": "succeed"}.get(kind, "debit")
        token = f"sbx_pm_{secrets.token_hex(12)}"
        SandboxToken.objects.create(token=token, behaviour=behaviour, kind=kind)
        return SavedMethod(token=token, scheme=scheme, last4=number[-4:])

    def charge(
        self,
        *,
        token: str,
        amount: Decimal,
        currency: str,
        idempotency_key: str,
        customer_reference: str = "",
    ) -> ChargeResult:
        latency = settings.PAYMENTS_SANDBOX_LATENCY_MS
        if latency > 0:  # the round trip of a real provider; callers never hold a transaction here
            time.sleep(latency / 1000)
        # A key seen before finds its charge (the insert below refuses it): one statement less on
        # the common path, a new key, which the collection run takes a hundred times a second.
        saved = SandboxToken.objects.filter(token=token).values_list("behaviour", flat=True).first()
        behaviour = saved or "declined"
        status, code = {
            "succeed": (ChargeStatus.SUCCEEDED, ""),
            "debit": (ChargeStatus.PENDING, ""),
            "declined": (ChargeStatus.FAILED, "card_declined"),
            "insufficient_funds": (ChargeStatus.FAILED, "insufficient_funds"),
            "fail_charges": (ChargeStatus.FAILED, "card_declined"),
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
        return self._result(charge) if charge else ChargeResult(status=ChargeStatus.UNKNOWN)

    def refund(
        self, *, reference: str, amount: Decimal, currency: str = "", idempotency_key: str = ""
    ) -> ChargeResult:
        """Refunds at once; the same key again finds the same refund."""
        charge = SandboxCharge.objects.get(reference=reference)
        key = idempotency_key or f"sbx_{secrets.token_hex(10)}"
        try:
            with transaction.atomic():
                refund, _created = SandboxRefund.objects.get_or_create(
                    idempotency_key=key,
                    defaults={
                        "reference": f"sbx_re_{secrets.token_hex(10)}",
                        "charge": charge,
                        "amount": amount,
                    },
                )
        except IntegrityError:
            refund = SandboxRefund.objects.get(idempotency_key=key)
        return ChargeResult(status=ChargeStatus.SUCCEEDED, reference=refund.reference)

    def refund_status(self, *, reference: str, idempotency_key: str) -> ChargeResult:
        refund = SandboxRefund.objects.filter(idempotency_key=idempotency_key).first()
        if refund is None:
            return ChargeResult(status=ChargeStatus.UNKNOWN)
        return ChargeResult(status=ChargeStatus.SUCCEEDED, reference=refund.reference)

    def settle_debit(self, *, reference: str, outcome: str) -> dict[str, Any]:
        """Move a pending direct debit on (confirmed, paid_out or failed); return the event to post."""
        SandboxCharge.objects.filter(reference=reference).update(status=DEBIT_OUTCOMES[outcome])
        return {
            "id": f"sbx_evt_{secrets.token_hex(10)}",
            "type": f"payment.{outcome}",
            "created": int(time.time()),
            "data": {"reference": reference},
        }

    @staticmethod
    def event_body(event: dict[str, Any]) -> bytes:
        return json.dumps(event).encode()

    def parse_webhook(
        self, *, body: bytes, headers: Mapping[str, str], secret: str
    ) -> list[ProviderEvent | MethodEvent]:
        if not secret:
            raise WebhookRejected("no webhook secret", 401)
        header = headers.get(SIGNATURE_HEADER, "")
        try:
            parts = dict(item.split("=", 1) for item in header.split(","))
            if not (parts["t"].isascii() and parts["t"].isdigit() and len(parts["t"]) <= 12):
                raise ValueError("timestamp out of range")
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
            return [self.parse_payload(load_json(body))]
        except ValueError as exc:
            raise WebhookRejected("malformed body", 400) from exc

    def parse_payload(self, payload: dict[str, Any]) -> ProviderEvent | MethodEvent:
        try:
            outcome = payload["type"].removeprefix("payment.")
            return ProviderEvent(
                event_id=str(payload["id"]),
                event_type=payload["type"],
                reference=str(payload["data"]["reference"]),
                status=DEBIT_OUTCOMES[outcome],
                payload=payload,
            )
        except (KeyError, TypeError, AttributeError) as exc:
            raise WebhookRejected("malformed body", 400) from exc

    @staticmethod
    def _result(charge: SandboxCharge) -> ChargeResult:
        return ChargeResult(
            status=ChargeStatus(charge.status), reference=charge.reference, failure_code=charge.failure_code
        )
