"""PayPal accounts as saved methods (issue 12, item 3): vaulted through setup and payment tokens (Vault
v3), charged without the payer by an order paid with the vaulted token. The real SDK runs against the
local fake of PayPal's API."""

import json
from decimal import Decimal

import pytest
import requests

from acquitte.payments.providers import paypal as paypal_module
from acquitte.payments.providers.base import (
    ChargeResult,
    ChargeStatus,
    HostedSetup,
    MethodEvent,
    MethodStatus,
    SavedMethod,
    SetupResult,
    WebhookRejected,
)
from acquitte.payments.providers.paypal import PayPalProvider
from tests.payments.fake_paypal import ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, FakePayPal

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID}
SETUP_KEY = "setup-acme-42-1"
CHARGE_KEY = "charge-acme-inv-0007-1"
RETURN_URL = "https://acquitte.example/portail/moyens/retour/7f3a"
CANCEL_URL = "https://acquitte.example/portail/moyens/annule/7f3a"
SIGNED_HEADERS = {
    "Paypal-Transmission-Id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
    "Paypal-Transmission-Time": "2026-02-18T20:01:35Z",
    "Paypal-Transmission-Sig": "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz",
    "Paypal-Cert-Url": "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
    "Paypal-Auth-Algo": "SHA256withRSA",
}


@pytest.fixture
def fake(settings):
    with FakePayPal() as server:
        settings.PAYPAL_API_BASES = {"test": server.url, "live": server.url}
        yield server


@pytest.fixture
def provider(fake):
    return PayPalProvider(credentials=CREDENTIALS, mode="test")


def start(provider, *, key=SETUP_KEY, customer_reference="") -> HostedSetup:
    return provider.start_setup(
        kind="paypal",
        customer_reference=customer_reference,
        customer_email="marie@client.example",
        customer_name="Marie Curie",
        currency="EUR",
        idempotency_key=key,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
    )


@pytest.fixture
def vaulted(provider, fake) -> str:
    """The payment token of a PayPal account the payer saved."""
    setup = start(provider)
    fake.approve_setup(setup.reference)
    return provider.setup_result(reference=setup.reference).method.token


def charge(provider, token, *, key=CHARGE_KEY, amount="49.9") -> ChargeResult:
    return provider.charge(token=token, amount=Decimal(amount), currency="EUR", idempotency_key=key)


class TestSetup:
    def test_a_setup_token_for_merchant_charges_with_our_key_and_the_way_back(self, provider, fake):
        setup = start(provider)

        [sent] = fake.seen("POST", "/v3/vault/setup-tokens")
        assert sent.headers["PayPal-Request-Id"] == SETUP_KEY
        assert sent.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        wallet = sent.json()["payment_source"]["paypal"]
        assert wallet["usage_type"] == "MERCHANT"
        assert wallet["experience_context"]["return_url"] == RETURN_URL
        assert wallet["experience_context"]["cancel_url"] == CANCEL_URL
        assert "customer" not in sent.json()
        assert setup == HostedSetup(
            url=f"{fake.url}/agreements/approve?approval_session_id={setup.reference}",
            reference=setup.reference,
        )

    def test_a_vault_customer_paypal_already_knows_is_named(self, provider, fake):
        start(provider, customer_reference="cus_KNOWN42")
        [sent] = fake.seen("POST", "/v3/vault/setup-tokens")
        assert sent.json()["customer"] == {"id": "cus_KNOWN42"}

    def test_a_retry_with_the_same_key_gets_the_same_setup_token(self, provider, fake):
        assert start(provider) == start(provider)
        assert len(fake.setup_tokens) == 1

    def test_no_customer_is_made_beforehand(self, provider, fake):
        assert provider.ensure_customer(idempotency_key="customer-1-2", email="a@b.example", name="A") == ""
        assert fake.requests == []

    def test_a_setup_the_payer_has_not_approved_is_open_and_makes_no_token(self, provider, fake):
        setup = start(provider)

        assert provider.setup_result(reference=setup.reference) == SetupResult(status=ChargeStatus.OPEN)
        assert fake.seen("POST", "/v3/vault/payment-tokens") == []

    def test_an_approved_setup_becomes_a_payment_token_shown_by_the_payers_name(self, provider, fake):
        setup = start(provider)
        fake.approve_setup(setup.reference, given_name="Marie", surname="Curie")

        result = provider.setup_result(reference=setup.reference)

        [sent] = fake.seen("POST", "/v3/vault/payment-tokens")
        assert sent.json() == {"payment_source": {"token": {"id": setup.reference, "type": "SETUP_TOKEN"}}}
        assert sent.headers["PayPal-Request-Id"] == f"payment-token-{setup.reference}"
        [token] = fake.payment_tokens.values()
        assert result == SetupResult(
            status=ChargeStatus.SUCCEEDED,
            method=SavedMethod(
                token=token["id"],
                scheme="paypal",
                last4="",
                kind="paypal",
                holder="Marie Curie",
                customer_reference=fake.setup_tokens[setup.reference]["customer"]["id"],
            ),
        )

    def test_asking_twice_makes_one_payment_token(self, provider, fake):
        setup = start(provider)
        fake.approve_setup(setup.reference)

        first = provider.setup_result(reference=setup.reference)
        again = provider.setup_result(reference=setup.reference)

        assert again == first
        assert len(fake.payment_tokens) == 1

    def test_only_paypal_accounts_are_saved(self, provider, fake):
        with pytest.raises(ValueError):
            provider.start_setup(
                kind="card",
                customer_reference="",
                customer_email="",
                customer_name="",
                currency="EUR",
                idempotency_key=SETUP_KEY,
                return_url=RETURN_URL,
                cancel_url=CANCEL_URL,
            )
        assert fake.requests == []

    def test_a_setup_token_paypal_no_longer_knows_was_abandoned(self, provider):
        assert provider.setup_result(reference="5C991763VB2781612").status == ChargeStatus.UNKNOWN


class TestCharge:
    def test_an_order_paid_with_the_vaulted_token_completes_in_one_call(self, provider, fake, vaulted):
        result = charge(provider, vaulted)

        [sent] = fake.seen("POST", "/v2/checkout/orders")
        assert sent.headers["PayPal-Request-Id"] == CHARGE_KEY
        body = sent.json()
        assert body["intent"] == "CAPTURE"
        assert body["payment_source"] == {"paypal": {"vault_id": vaulted}}
        [unit] = body["purchase_units"]
        assert unit["amount"] == {"currency_code": "EUR", "value": "49.90"}
        assert unit["custom_id"] == CHARGE_KEY
        [order_id] = fake.orders
        assert result == ChargeResult(status=ChargeStatus.SUCCEEDED, reference=order_id)
        assert fake.seen("POST", f"/v2/checkout/orders/{order_id}/capture") == []

    def test_the_same_key_twice_makes_one_order(self, provider, fake, vaulted):
        assert charge(provider, vaulted) == charge(provider, vaulted)
        assert len(fake.orders) == 1

    def test_a_declined_capture_is_a_failed_charge(self, provider, fake, vaulted):
        fake.capture_status = "DECLINED"

        result = charge(provider, vaulted)

        [order_id] = fake.orders
        assert result == ChargeResult(
            status=ChargeStatus.FAILED, reference=order_id, failure_code="declined_by_risk_fraud_filters"
        )

    def test_a_refused_instrument_is_a_failed_charge(self, provider, fake, vaulted):
        fake.vault_issue = "INSTRUMENT_DECLINED"

        assert charge(provider, vaulted) == ChargeResult(
            status=ChargeStatus.FAILED, failure_code="instrument_declined"
        )
        assert fake.orders == {}

    def test_a_token_paypal_does_not_know_is_a_failed_charge(self, provider, fake):
        assert charge(provider, "8KX95730RB7213301").status == ChargeStatus.FAILED

    def test_a_timeout_after_paypal_took_the_order_is_retried_with_the_same_id_not_charged_twice(
        self, provider, fake, vaulted, monkeypatch
    ):
        monkeypatch.setattr(paypal_module, "TIMEOUT_SECONDS", 0.3)
        provider = PayPalProvider(credentials=CREDENTIALS, mode="test")
        fake.stall_orders = 1.0

        result = charge(provider, vaulted)

        [order_id] = fake.orders
        assert result == ChargeResult(status=ChargeStatus.SUCCEEDED, reference=order_id)
        assert [s.headers["PayPal-Request-Id"] for s in fake.seen("POST", "/v2/checkout/orders")] == [
            CHARGE_KEY,
            CHARGE_KEY,
        ]

    def test_a_charge_paypal_never_answers_is_raised_and_left_in_doubt(
        self, provider, fake, vaulted, monkeypatch
    ):
        monkeypatch.setattr(paypal_module, "TIMEOUT_SECONDS", 0.3)
        provider = PayPalProvider(credentials=CREDENTIALS, mode="test")
        fake.stall_orders, fake.stall_repeats = 1.0, True

        with pytest.raises(requests.Timeout):
            charge(provider, vaulted)

        assert len(fake.orders) == 1
        assert provider.fetch_status(idempotency_key=CHARGE_KEY) == ChargeResult(status=ChargeStatus.OPEN)

    def test_a_vaulted_order_is_refunded_like_any_other(self, provider, fake, vaulted):
        reference = charge(provider, vaulted).reference
        assert provider.refund(reference=reference, amount=Decimal("10")).status == ChargeStatus.SUCCEEDED


def token_event(event_type: str, resource: dict) -> dict:
    return {
        "id": "WH-1VN82718KP7791112-5YM46592GB034542J",
        "event_version": "1.0",
        "create_time": "2026-02-18T20:01:30.000Z",
        "resource_type": "payment_token",
        "event_type": event_type,
        "summary": "A payment token was changed",
        "resource": resource,
    }


class TestWebhook:
    def parse(self, provider, event):
        return provider.parse_webhook(body=json.dumps(event).encode(), headers=SIGNED_HEADERS, secret="")

    def test_a_deleted_payment_token_revokes_the_method(self, provider, fake):
        event = token_event("VAULT.PAYMENT-TOKEN.DELETED", {"id": "8KX95730RB7213301"})

        assert self.parse(provider, event) == [
            MethodEvent(
                event_id=event["id"],
                event_type="VAULT.PAYMENT-TOKEN.DELETED",
                token="8KX95730RB7213301",
                status=MethodStatus.REVOKED,
            )
        ]
        assert fake.verified[0]["webhook_event"] == event

    def test_a_stored_deletion_parses_to_the_same_method_event(self, provider):
        event = token_event("VAULT.PAYMENT-TOKEN.DELETED", {"id": "8KX95730RB7213301"})
        [parsed] = self.parse(provider, event)
        assert PayPalProvider(credentials=CREDENTIALS).parse_payload(json.loads(json.dumps(event))) == parsed

    def test_a_created_token_naming_its_setup_token_completes_the_setup(self, provider):
        event = token_event(
            "VAULT.PAYMENT-TOKEN.CREATED",
            {
                "id": "8KX95730RB7213301",
                "customer": {"id": "cus_1"},
                "payment_source": {"token": {"id": "5C991763VB2781612", "type": "SETUP_TOKEN"}},
            },
        )

        [parsed] = self.parse(provider, event)

        assert (parsed.event_type, parsed.reference, parsed.status) == (
            "setup.completed",
            "5C991763VB2781612",
            ChargeStatus.SUCCEEDED,
        )

    def test_a_created_token_that_names_no_setup_token_is_left_out(self, provider):
        event = token_event(
            "VAULT.PAYMENT-TOKEN.CREATED",
            {"id": "8KX95730RB7213301", "payment_source": {"paypal": {"email_address": "m@c.example"}}},
        )
        assert self.parse(provider, event) == []

    def test_a_forged_deletion_is_refused(self, provider, fake):
        fake.verification = "FAILURE"
        with pytest.raises(WebhookRejected) as rejected:
            self.parse(provider, token_event("VAULT.PAYMENT-TOKEN.DELETED", {"id": "8KX95730RB7213301"}))
        assert rejected.value.status == 401

    def test_a_deletion_without_its_token_is_malformed(self, provider):
        with pytest.raises(WebhookRejected):
            self.parse(provider, token_event("VAULT.PAYMENT-TOKEN.DELETED", {}))
