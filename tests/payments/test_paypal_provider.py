"""The PayPal provider runs the real SDK against a local fake of PayPal's Orders v2 and webhook APIs."""

import json
import socket
from decimal import Decimal

import pytest

from acquitte.core.errors import BusinessError
from acquitte.payments.providers.base import ChargeResult, HostedPayment, WebhookRejected
from acquitte.payments.providers.paypal import PayPalProvider
from tests.payments.fake_paypal import ACCESS_TOKEN, CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, FakePayPal

CREDENTIALS = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID}
KEY = "5f0c8e2a9b7d4c1e8a3f6b2d9c0e7a14"
RETURN_URL = "https://acquitte.example/paiement/retour/5f0c"
CANCEL_URL = "https://acquitte.example/paiement/annule/5f0c"
SIGNED_HEADERS = {
    "Paypal-Transmission-Id": "69cd13f0-d67a-11e5-baa3-778b53f4ae55",
    "Paypal-Transmission-Time": "2026-02-18T20:01:35Z",
    "Paypal-Transmission-Sig": "lmI95Jx3Y9nhR5SJWlHVIWpg4AgFk7n9bCHSRxbrd8A9zrhdu2rMyFrmz",
    "Paypal-Cert-Url": "https://api.paypal.com/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77",
    "Paypal-Auth-Algo": "SHA256withRSA",
}


@pytest.fixture
def paypal(settings):
    with FakePayPal() as fake:
        settings.PAYPAL_API_BASES = {"test": fake.url, "live": fake.url}
        yield fake


@pytest.fixture
def closed_url():
    """A local port nobody listens on: connecting fails at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def provider(paypal):
    return PayPalProvider(credentials=CREDENTIALS, mode="test")


def start(provider, *, amount=Decimal("12.3"), currency="EUR", key=KEY) -> HostedPayment:
    return provider.start_hosted_payment(
        kind="paypal",
        amount=amount,
        currency=currency,
        description="Facture F-2026-0042 — Boulangerie Martin",
        idempotency_key=key,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
        customer_email="client@example.com",
        customer_name="Client Exemple",
    )


def paid_order(provider, paypal) -> str:
    order_id = start(provider).reference
    paypal.approve(order_id)
    assert provider.payment_status(reference=order_id).status == "succeeded"
    return order_id


def capture_event(order_id: str, event_type: str = "PAYMENT.CAPTURE.COMPLETED") -> dict:
    return {
        "id": "WH-2WR32451HC0233532-67976317FL4543714",
        "event_version": "1.0",
        "create_time": "2026-02-18T20:01:30.000Z",
        "resource_type": "capture",
        "event_type": event_type,
        "summary": "Payment completed for EUR 12.30 EUR",
        "resource": {
            "id": "42311647XV020574X",
            "status": "COMPLETED",
            "amount": {"currency_code": "EUR", "value": "12.30"},
            "custom_id": KEY,
            "supplementary_data": {"related_ids": {"order_id": order_id}},
        },
    }


class TestStartHostedPayment:
    def test_an_order_is_created_for_the_amount_with_the_return_addresses_and_the_request_id(
        self, provider, paypal
    ):
        hosted = start(provider)

        [sent] = paypal.seen("POST", "/v2/checkout/orders")
        body = sent.json()
        assert sent.headers["PayPal-Request-Id"] == KEY
        assert sent.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
        assert body["intent"] == "CAPTURE"
        [unit] = body["purchase_units"]
        assert unit["amount"] == {"currency_code": "EUR", "value": "12.30"}
        assert unit["custom_id"] == KEY
        assert unit["description"] == "Facture F-2026-0042 — Boulangerie Martin"
        experience = body["payment_source"]["paypal"]["experience_context"]
        assert experience["return_url"] == RETURN_URL
        assert experience["cancel_url"] == CANCEL_URL
        assert hosted == HostedPayment(
            url=f"{paypal.url}/checkoutnow?token={hosted.reference}", reference=hosted.reference
        )
        assert hosted.reference in paypal.orders

    def test_a_retry_with_the_same_key_gets_the_same_order(self, provider, paypal):
        first = start(provider)
        again = start(provider)

        assert again == first
        assert len(paypal.orders) == 1

    def test_a_currency_without_decimals_is_sent_as_a_whole_number(self, provider, paypal):
        start(provider, amount=Decimal("1250"), currency="JPY")

        [sent] = paypal.seen("POST", "/v2/checkout/orders")
        assert sent.json()["purchase_units"][0]["amount"] == {"currency_code": "JPY", "value": "1250"}

    def test_live_mode_talks_to_the_live_host(self, paypal, settings, closed_url):
        settings.PAYPAL_API_BASES = {"test": closed_url, "live": paypal.url}

        hosted = start(PayPalProvider(credentials=CREDENTIALS, mode="live"))

        assert hosted.reference in paypal.orders


class TestPaymentStatus:
    def test_an_order_the_payer_has_not_approved_is_open_and_not_captured(self, provider, paypal):
        order_id = start(provider).reference

        assert provider.payment_status(reference=order_id) == ChargeResult(status="open", reference=order_id)
        assert paypal.seen("POST", f"/v2/checkout/orders/{order_id}/capture") == []

    def test_a_created_order_is_open(self, provider, paypal):
        order_id = start(provider).reference
        paypal.set_status(order_id, "CREATED")

        assert provider.payment_status(reference=order_id).status == "open"

    def test_an_approved_order_is_captured_once_even_when_asked_twice(self, provider, paypal):
        order_id = start(provider).reference
        paypal.approve(order_id)

        first = provider.payment_status(reference=order_id)
        second = provider.payment_status(reference=order_id)

        assert first == second == ChargeResult(status="succeeded", reference=order_id)
        captures = paypal.seen("POST", f"/v2/checkout/orders/{order_id}/capture")
        assert [c.headers["PayPal-Request-Id"] for c in captures] == [f"capture-{order_id}"]
        assert len(paypal.captures) == 1

    def test_a_capture_asked_again_on_a_stale_approved_order_is_not_taken_twice(self, provider, paypal):
        """Two asks racing both see APPROVED: the shared PayPal-Request-Id gets them one capture."""
        order_id = paid_order(provider, paypal)
        paypal.set_status(order_id, "APPROVED")

        assert provider.payment_status(reference=order_id).status == "succeeded"
        assert len(paypal.seen("POST", f"/v2/checkout/orders/{order_id}/capture")) == 2
        assert len(paypal.captures) == 1

    def test_a_completed_order_has_succeeded(self, provider, paypal):
        order_id = paid_order(provider, paypal)

        assert PayPalProvider(credentials=CREDENTIALS).payment_status(reference=order_id) == ChargeResult(
            status="succeeded", reference=order_id
        )

    def test_a_pending_capture_is_pending(self, provider, paypal):
        paypal.capture_status = "PENDING"
        order_id = start(provider).reference
        paypal.approve(order_id)

        assert provider.payment_status(reference=order_id) == ChargeResult(
            status="pending", reference=order_id
        )

    def test_a_declined_capture_has_failed(self, provider, paypal):
        paypal.capture_status = "DECLINED"
        order_id = start(provider).reference
        paypal.approve(order_id)

        assert provider.payment_status(reference=order_id).status == "failed"

    def test_a_capture_refused_by_paypal_has_failed_with_its_reason(self, provider, paypal):
        paypal.capture_issue = "INSTRUMENT_DECLINED"
        order_id = start(provider).reference
        paypal.approve(order_id)

        assert provider.payment_status(reference=order_id) == ChargeResult(
            status="failed", reference=order_id, failure_code="instrument_declined"
        )

    def test_a_voided_order_is_unknown(self, provider, paypal):
        order_id = start(provider).reference
        paypal.set_status(order_id, "VOIDED")

        assert provider.payment_status(reference=order_id) == ChargeResult(
            status="unknown", reference=order_id
        )

    def test_fetch_status_leaves_hosted_payments_to_their_reference(self, provider):
        """Open, not unknown: a key alone cannot tell PayPal's orders apart (issue 12)."""
        assert provider.fetch_status(idempotency_key=KEY) == ChargeResult(status="open")


class TestCancel:
    def test_an_order_not_paid_is_given_up_without_capture(self, provider, paypal):
        order_id = start(provider).reference
        paypal.approve(order_id)

        assert provider.cancel_hosted_payment(reference=order_id) == ChargeResult(
            status="unknown", reference=order_id
        )
        assert paypal.captures == {}

    def test_an_order_already_captured_is_reported_paid(self, provider, paypal):
        order_id = paid_order(provider, paypal)

        assert provider.cancel_hosted_payment(reference=order_id).status == "succeeded"


class TestRefund:
    def test_the_capture_of_the_order_is_refunded(self, provider, paypal):
        order_id = paid_order(provider, paypal)
        [capture_id] = paypal.captures

        result = provider.refund(reference=order_id, amount=Decimal("5"), currency="EUR")

        [sent] = paypal.seen("POST", f"/v2/payments/captures/{capture_id}/refund")
        assert sent.json()["amount"] == {"value": "5.00", "currency_code": "EUR"}
        assert result.status == "succeeded"
        assert result.reference and result.reference not in (order_id, capture_id)

    def test_the_currency_defaults_to_the_captured_one(self, provider, paypal):
        order_id = paid_order(provider, paypal)
        [capture_id] = paypal.captures

        provider.refund(reference=order_id, amount=Decimal("12.30"))

        [sent] = paypal.seen("POST", f"/v2/payments/captures/{capture_id}/refund")
        assert sent.json()["amount"] == {"value": "12.30", "currency_code": "EUR"}

    def test_a_refund_paypal_refuses_is_a_business_error(self, provider, paypal):
        order_id = paid_order(provider, paypal)

        with pytest.raises(BusinessError, match="REFUND_AMOUNT_EXCEEDED"):
            provider.refund(reference=order_id, amount=Decimal("50"), currency="EUR")

    def test_an_order_never_captured_has_nothing_to_refund(self, provider, paypal):
        order_id = start(provider).reference

        with pytest.raises(BusinessError):
            provider.refund(reference=order_id, amount=Decimal("5"), currency="EUR")
        assert paypal.captures == {}

    def test_an_unreachable_paypal_is_a_business_error(self, settings, closed_url):
        settings.PAYPAL_API_BASES = {"test": closed_url, "live": closed_url}

        with pytest.raises(BusinessError):
            PayPalProvider(credentials=CREDENTIALS).refund(
                reference="5O190127TN364715T", amount=Decimal("5"), currency="EUR"
            )


class TestWebhooks:
    def test_a_verified_capture_event_is_normalised_to_its_order(self, provider, paypal):
        event = capture_event("5O190127TN364715T")
        body = json.dumps(event).encode()

        [parsed] = provider.parse_webhook(body=body, headers=SIGNED_HEADERS, secret="")

        assert parsed.event_id == event["id"]
        assert parsed.event_type == "PAYMENT.CAPTURE.COMPLETED"
        assert parsed.reference == "5O190127TN364715T"
        assert parsed.status == "succeeded"
        assert parsed.payload == event
        [asked] = paypal.verified
        assert asked["webhook_id"] == WEBHOOK_ID
        assert asked["webhook_event"] == event
        assert asked["transmission_id"] == SIGNED_HEADERS["Paypal-Transmission-Id"]
        assert asked["transmission_sig"] == SIGNED_HEADERS["Paypal-Transmission-Sig"]
        assert asked["cert_url"] == SIGNED_HEADERS["Paypal-Cert-Url"]
        assert asked["auth_algo"] == "SHA256withRSA"
        assert asked["transmission_time"] == SIGNED_HEADERS["Paypal-Transmission-Time"]

    def test_the_body_is_sent_to_paypal_byte_for_byte(self, provider, paypal):
        """Re-serialised, the event would differ (escaped "ç", other spacing) and fail PayPal's check."""
        event = {**capture_event("5O190127TN364715T"), "summary": "Paiement reçu"}
        body = json.dumps(event, indent=1, ensure_ascii=False).encode()

        provider.parse_webhook(body=body, headers=SIGNED_HEADERS, secret="")

        [sent] = paypal.seen("POST", "/v1/notifications/verify-webhook-signature")
        assert body in sent.body

    @pytest.mark.parametrize(
        ("event_type", "status"),
        [
            ("PAYMENT.CAPTURE.PENDING", "pending"),
            ("PAYMENT.CAPTURE.DENIED", "failed"),
            ("PAYMENT.CAPTURE.DECLINED", "failed"),
        ],
    )
    def test_capture_outcomes(self, provider, paypal, event_type, status):
        body = json.dumps(capture_event("5O190127TN364715T", event_type)).encode()

        [parsed] = provider.parse_webhook(body=body, headers=SIGNED_HEADERS, secret="")

        assert parsed.status == status

    def test_events_the_app_does_not_act_on_are_left_out(self, provider, paypal):
        event = {
            "id": "WH-9",
            "event_type": "CHECKOUT.ORDER.APPROVED",
            "resource": {"id": "5O190127TN364715T"},
        }

        assert (
            provider.parse_webhook(body=json.dumps(event).encode(), headers=SIGNED_HEADERS, secret="") == []
        )

    def test_a_signature_paypal_does_not_confirm_is_rejected(self, provider, paypal):
        paypal.verification = "FAILURE"
        body = json.dumps(capture_event("5O190127TN364715T")).encode()

        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=body, headers=SIGNED_HEADERS, secret="")
        assert rejected.value.status == 401

    def test_an_event_for_another_webhook_is_rejected(self, paypal):
        other = PayPalProvider(credentials={**CREDENTIALS, "webhook_id": "8PT597110X687430L"})
        body = json.dumps(capture_event("5O190127TN364715T")).encode()

        with pytest.raises(WebhookRejected) as rejected:
            other.parse_webhook(body=body, headers=SIGNED_HEADERS, secret="")
        assert rejected.value.status == 401

    @pytest.mark.parametrize("missing", list(SIGNED_HEADERS))
    def test_missing_transmission_headers_are_rejected_without_asking_paypal(self, provider, paypal, missing):
        headers = {name: value for name, value in SIGNED_HEADERS.items() if name != missing}
        body = json.dumps(capture_event("5O190127TN364715T")).encode()

        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=body, headers=headers, secret="")
        assert rejected.value.status == 401
        assert paypal.requests == []

    def test_an_unreachable_paypal_asks_for_a_later_retry(self, settings, closed_url):
        settings.PAYPAL_API_BASES = {"test": closed_url, "live": closed_url}
        body = json.dumps(capture_event("5O190127TN364715T")).encode()

        with pytest.raises(WebhookRejected) as rejected:
            PayPalProvider(credentials=CREDENTIALS).parse_webhook(
                body=body, headers=SIGNED_HEADERS, secret=""
            )
        assert rejected.value.status == 503

    def test_a_malformed_body_is_rejected(self, provider, paypal):
        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=b'{"id": "WH-1", ', headers=SIGNED_HEADERS, secret="")
        assert rejected.value.status == 400

    def test_a_stored_payload_normalises_like_the_webhook(self, provider, paypal):
        event = capture_event("5O190127TN364715T")

        [received] = provider.parse_webhook(
            body=json.dumps(event).encode(), headers=SIGNED_HEADERS, secret=""
        )

        assert provider.parse_payload(received.payload) == received
