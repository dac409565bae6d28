"""The GoCardless provider, running the real SDK against a local fake of GoCardless's API."""

import hashlib
import hmac
import json
from decimal import Decimal

import pytest

from acquitte.core.errors import BusinessError
from acquitte.payments.providers.base import ChargeResult, HostedPayment, WebhookRejected
from acquitte.payments.providers.gocardless import GoCardlessProvider
from tests.payments.fake_gocardless import FakeGoCardless, event, signed_webhook
from tests.payments.fake_providers import GOCARDLESS_TOKENS

SECRET = "gc-webhook-secret"
RETURN_URL = "https://acquitte.example/paiements/retour/abc"
CANCEL_URL = RETURN_URL + "?annule=1"


@pytest.fixture
def fake():
    with FakeGoCardless("test") as server:
        yield server


@pytest.fixture
def live():
    with FakeGoCardless("live") as server:
        yield server


@pytest.fixture(autouse=True)
def gocardless_hosts(settings, fake, live):
    settings.GOCARDLESS_API_BASES = {"test": fake.url, "live": live.url}


@pytest.fixture
def provider():
    return GoCardlessProvider(
        credentials={"access_token": GOCARDLESS_TOKENS["test"], "webhook_secret": SECRET}, mode="test"
    )


def start(provider, key="attempt-key-1", amount="123.45", currency="eur", **extra):
    return provider.start_hosted_payment(
        kind="debit",
        amount=Decimal(amount),
        currency=currency,
        description="Facture F-2026-0001 — Boulangerie Martin",
        idempotency_key=key,
        return_url=RETURN_URL,
        cancel_url=CANCEL_URL,
        **extra,
    )


def sent(seen) -> dict:
    return json.loads(seen.body)


class TestOpening:
    def test_opens_a_billing_request_for_the_amount_in_cents_and_a_flow_back_to_us(self, provider, fake):
        hosted = start(
            provider, customer_email="marie@client.example", customer_name="Marie Curie Sklodowska"
        )

        [created] = fake.seen("POST", "/billing_requests")
        assert created.headers["Idempotency-Key"] == "attempt-key-1"
        assert created.headers["Authorization"] == f"Bearer {GOCARDLESS_TOKENS['test']}"
        assert sent(created) == {
            "billing_requests": {
                "payment_request": {
                    "amount": 12345,
                    "currency": "EUR",
                    "description": "Facture F-2026-0001 — Boulangerie Martin",
                },
                "mandate_request": {"currency": "EUR"},
                "metadata": {"idempotency_key": "attempt-key-1"},
            }
        }
        [billing_request_id] = fake.billing_requests
        assert billing_request_id.startswith("BRQ")
        [flow_request] = fake.seen("POST", "/billing_request_flows")
        assert sent(flow_request) == {
            "billing_request_flows": {
                "redirect_uri": RETURN_URL,
                "exit_uri": CANCEL_URL,
                "links": {"billing_request": billing_request_id},
                "prefilled_customer": {
                    "email": "marie@client.example",
                    "given_name": "Marie",
                    "family_name": "Curie Sklodowska",
                },
            }
        }
        [flow] = fake.flows.values()
        assert hosted == HostedPayment(url=flow["authorisation_url"], reference=billing_request_id)

    def test_nothing_is_prefilled_when_the_customer_is_unknown(self, provider, fake):
        start(provider)
        [flow_request] = fake.seen("POST", "/billing_request_flows")
        assert "prefilled_customer" not in sent(flow_request)["billing_request_flows"]

    def test_a_retry_with_the_same_key_gets_the_same_billing_request(self, provider, fake):
        first = start(provider)
        again = start(provider)

        assert again.reference == first.reference
        assert len(fake.billing_requests) == 1
        assert len(fake.seen("POST", "/billing_requests")) == 2

    def test_other_currencies_are_passed_as_given(self, provider, fake):
        start(provider, amount="80", currency="CAD")
        [created] = fake.seen("POST", "/billing_requests")
        assert sent(created)["billing_requests"]["payment_request"]["amount"] == 8000
        assert sent(created)["billing_requests"]["mandate_request"] == {"currency": "CAD"}

    def test_a_fraction_of_a_cent_is_refused_before_anything_is_sent(self, provider, fake):
        with pytest.raises(ValueError):
            start(provider, amount="10.005")
        assert fake.requests == []

    def test_live_mode_uses_the_live_host(self, fake, live):
        provider = GoCardlessProvider(credentials={"access_token": GOCARDLESS_TOKENS["live"]}, mode="live")
        start(provider)
        assert len(live.billing_requests) == 1
        assert fake.requests == []


class TestStatus:
    def test_a_billing_request_the_payer_has_not_finished_is_open(self, provider):
        hosted = start(provider)
        assert provider.payment_status(reference=hosted.reference) == ChargeResult(status="open")

    def test_a_fulfilled_billing_request_is_pending_under_its_payment(self, provider, fake):
        hosted = start(provider)
        payment_id = fake.fulfil(hosted.reference)

        result = provider.payment_status(reference=hosted.reference)

        assert payment_id.startswith("PM")
        assert result == ChargeResult(status="pending", reference=payment_id)

    def test_a_cancelled_billing_request_is_unknown(self, provider, fake):
        hosted = start(provider)
        fake.billing_requests[hosted.reference]["status"] = "cancelled"
        assert provider.payment_status(reference=hosted.reference) == ChargeResult(status="unknown")

    @pytest.mark.parametrize(
        ("status", "expected"),
        [
            ("pending_submission", ChargeResult(status="pending")),
            ("submitted", ChargeResult(status="pending")),
            ("confirmed", ChargeResult(status="pending")),
            ("paid_out", ChargeResult(status="succeeded")),
            ("failed", ChargeResult(status="failed", failure_code="failed")),
            ("cancelled", ChargeResult(status="failed", failure_code="cancelled")),
            ("charged_back", ChargeResult(status="reversed", failure_code="charged_back")),
        ],
    )
    def test_a_payment_by_its_status(self, provider, fake, status, expected):
        payment_id = fake.fulfil(start(provider).reference)
        fake.set_payment_status(payment_id, status)

        result = provider.payment_status(reference=payment_id)

        assert result == ChargeResult(
            status=expected.status, reference=payment_id, failure_code=expected.failure_code
        )

    def test_a_reference_gocardless_does_not_know_is_unknown(self, provider):
        assert provider.payment_status(reference="PM000NOTFOUND") == ChargeResult(status="unknown")
        assert provider.payment_status(reference="BRQ000NOTFOUND") == ChargeResult(status="unknown")

    def test_fetch_status_knows_nothing_by_key(self, provider, fake):
        start(provider)
        assert provider.fetch_status(idempotency_key="attempt-key-1") == ChargeResult(status="unknown")


class TestCancel:
    def test_an_open_billing_request_is_cancelled(self, provider, fake):
        hosted = start(provider)

        assert provider.cancel_hosted_payment(reference=hosted.reference) == ChargeResult(status="unknown")

        assert fake.billing_requests[hosted.reference]["status"] == "cancelled"
        assert fake.seen("POST", f"/billing_requests/{hosted.reference}/actions/cancel")

    def test_a_billing_request_fulfilled_before_the_cancel_link_stays_a_payment(self, provider, fake):
        hosted = start(provider)
        payment_id = fake.fulfil(hosted.reference)

        result = provider.cancel_hosted_payment(reference=hosted.reference)

        assert result == ChargeResult(status="pending", reference=payment_id)
        assert fake.billing_requests[hosted.reference]["status"] == "fulfilled"

    def test_a_payment_reference_is_never_cancelled(self, provider, fake):
        payment_id = fake.fulfil(start(provider).reference)
        fake.set_payment_status(payment_id, "paid_out")

        result = provider.cancel_hosted_payment(reference=payment_id)

        assert result == ChargeResult(status="succeeded", reference=payment_id)
        assert not [r for r in fake.requests if r.path.endswith("/actions/cancel")]


class TestRefund:
    @pytest.fixture
    def payment_id(self, provider, fake):
        payment_id = fake.fulfil(start(provider, amount="100.00").reference)
        fake.set_payment_status(payment_id, "paid_out")
        return payment_id

    def test_refund_sends_cents_with_the_total_confirmation(self, provider, fake, payment_id):
        result = provider.refund(reference=payment_id, amount=Decimal("40.50"), currency="EUR")

        [request] = fake.seen("POST", "/refunds")
        assert sent(request) == {
            "refunds": {"amount": 4050, "total_amount_confirmation": 4050, "links": {"payment": payment_id}}
        }
        [refund_id] = fake.refunds
        assert result == ChargeResult(status="pending", reference=refund_id)

    def test_a_second_partial_refund_confirms_the_running_total(self, provider, fake, payment_id):
        provider.refund(reference=payment_id, amount=Decimal("40.50"))
        provider.refund(reference=payment_id, amount=Decimal("9.50"))

        assert [sent(r)["refunds"]["total_amount_confirmation"] for r in fake.seen("POST", "/refunds")] == [
            4050,
            5000,
        ]
        assert fake.payments[payment_id]["amount_refunded"] == 5000

    def test_a_refusal_becomes_a_business_error(self, provider, fake, payment_id):
        with pytest.raises(BusinessError, match="GoCardless a refusé ce remboursement"):
            provider.refund(reference=payment_id, amount=Decimal("100.01"))
        assert fake.refunds == {}

    def test_an_unknown_payment_becomes_a_business_error(self, provider):
        with pytest.raises(BusinessError):
            provider.refund(reference="PM000NOTFOUND", amount=Decimal("1"))

    def test_a_refund_is_found_again_by_its_key(self, provider, fake, payment_id):
        made = provider.refund(reference=payment_id, amount=Decimal("10"), idempotency_key="refund-7-0-10")
        provider.refund(reference=payment_id, amount=Decimal("5"), idempotency_key="refund-7-10-5")

        found = provider.refund_status(reference=payment_id, idempotency_key="refund-7-0-10")
        assert found == ChargeResult(status="pending", reference=made.reference)
        missing = provider.refund_status(reference=payment_id, idempotency_key="refund-7-0-99")
        assert missing.status == "unknown"

    def test_a_refund_in_another_currency_is_refused_before_sending(self, provider, fake, payment_id):
        with pytest.raises(BusinessError):
            provider.refund(reference=payment_id, amount=Decimal("10"), currency="GBP")
        assert fake.seen("POST", "/refunds") == []

    def test_a_wrong_token_becomes_a_business_error(self, fake, payment_id):
        stranger = GoCardlessProvider(credentials={"access_token": "sandbox_NotOurs"}, mode="test")
        with pytest.raises(BusinessError):
            stranger.refund(reference=payment_id, amount=Decimal("1"))


class TestWebhook:
    def batch(self):
        return [
            event(
                "billing_requests", "fulfilled", billing_request="BRQ0001", payment_request_payment="PM0001"
            ),
            event("billing_requests", "cancelled", billing_request="BRQ0002"),
            event("payments", "confirmed", payment="PM0001"),
            event("payments", "paid_out", payment="PM0001"),
            event("payments", "failed", cause="insufficient_funds", payment="PM0003"),
            event("payments", "late_failure_settled", payment="PM0004"),
            event("payments", "charged_back", payment="PM0005"),
            event("mandates", "active", mandate="MD0001"),
            event("billing_requests", "flow_visited", billing_request="BRQ0001"),
            event("payments", "submitted", payment="PM0001"),
        ]

    def test_a_genuine_batch_normalises_the_events_the_app_acts_on(self, provider):
        events = self.batch()
        body, headers = signed_webhook(events, SECRET)

        parsed = provider.parse_webhook(body=body, headers=headers, secret=SECRET)

        by_id = {e["id"]: e for e in events}
        assert [(p.event_type, p.reference, p.status, p.new_reference) for p in parsed] == [
            ("billing_requests.fulfilled", "BRQ0001", "pending", "PM0001"),
            ("billing_requests.cancelled", "BRQ0002", "unknown", ""),
            ("payments.confirmed", "PM0001", "pending", ""),
            ("payments.paid_out", "PM0001", "succeeded", ""),
            ("payments.failed", "PM0003", "failed", ""),
            ("payments.late_failure_settled", "PM0004", "reversed", ""),
            ("payments.charged_back", "PM0005", "reversed", ""),
        ]
        assert [p.event_id for p in parsed] == [e["id"] for e in events[:7]]
        assert all(p.payload == by_id[p.event_id] for p in parsed)

    def test_parse_payload_of_a_stored_event_equals_the_parsed_one(self, provider):
        body, headers = signed_webhook(self.batch(), SECRET)
        for parsed in provider.parse_webhook(body=body, headers=headers, secret=SECRET):
            stored = json.loads(json.dumps(parsed.payload))
            assert GoCardlessProvider().parse_payload(stored) == parsed

    def test_parse_payload_refuses_an_event_the_app_does_not_act_on(self):
        with pytest.raises(WebhookRejected):
            GoCardlessProvider().parse_payload(event("mandates", "active", mandate="MD0001"))

    def test_a_bad_signature_is_rejected_with_498(self, provider):
        body, headers = signed_webhook(self.batch(), "someone-elses-secret")
        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=body, headers=headers, secret=SECRET)
        assert rejected.value.status == 498

    def test_a_tampered_body_is_rejected_with_498(self, provider):
        body, headers = signed_webhook([event("payments", "failed", payment="PM0001")], SECRET)
        tampered = body.replace(b"failed", b"paid_out")
        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=tampered, headers=headers, secret=SECRET)
        assert rejected.value.status == 498

    @pytest.mark.parametrize("headers", [{}, {"Webhook-Signature": ""}, {"Webhook-Signature": "é"}])
    def test_a_missing_or_garbled_signature_is_rejected_with_498(self, provider, headers):
        body, _headers = signed_webhook(self.batch(), SECRET)
        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=body, headers=headers, secret=SECRET)
        assert rejected.value.status == 498

    def test_without_a_secret_nothing_is_accepted(self, provider):
        body, headers = signed_webhook(self.batch(), "")
        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=body, headers=headers, secret="")
        assert rejected.value.status == 498

    @pytest.mark.parametrize(
        "body",
        [
            b"not json",
            b"\xff\xfe",
            b"[]",
            b'{"events": {"id": "EV1"}}',
            b'{"no_events": []}',
            b'{"events": ["EV1"]}',
            b'{"events": [{"id": "EV1", "resource_type": "payments", "action": "paid_out", "links": {}}]}',
        ],
    )
    def test_a_malformed_body_is_rejected_with_400(self, provider, body):
        headers = {"Webhook-Signature": hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()}
        with pytest.raises(WebhookRejected) as rejected:
            provider.parse_webhook(body=body, headers=headers, secret=SECRET)
        assert rejected.value.status == 400

    def test_a_batch_of_nothing_interesting_is_empty(self, provider):
        body, headers = signed_webhook([event("mandates", "created", mandate="MD0001")], SECRET)
        assert provider.parse_webhook(body=body, headers=headers, secret=SECRET) == []
