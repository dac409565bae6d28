"""The Stripe provider, with the real SDK against a local fake of Stripe's Checkout API."""

import time
from decimal import Decimal
from types import SimpleNamespace

import pytest

from acquitte.core.errors import BusinessError
from acquitte.payments.providers import stripe as stripe_module
from acquitte.payments.providers.base import ChargeResult, WebhookRejected
from acquitte.payments.providers.stripe import StripeProvider
from tests.payments.fake_stripe import (
    SECRET_KEY,
    WEBHOOK_SECRET,
    FakeStripe,
    signature_headers,
    signed_event,
)


@pytest.fixture
def fake(settings):
    with FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        yield fake


@pytest.fixture
def provider():
    return StripeProvider(credentials={"secret_key": SECRET_KEY, "webhook_secret": WEBHOOK_SECRET})


def open_page(provider, key="attempt-1", amount="123.45", currency="CAD", email="paie@client.example"):
    return provider.start_hosted_payment(
        kind="card",
        amount=Decimal(amount),
        currency=currency,
        description="Facture F-2026-0042 — Boulangerie Martin",
        idempotency_key=key,
        return_url="https://acquitte.example/pay/return/abc",
        cancel_url="https://acquitte.example/pay/cancel/abc",
        customer_email=email,
        customer_name="Client Dupont",
    )


def message(error: BusinessError) -> str:
    return " ".join(error.messages)


# Opening a page ---------------------------------------------------------------------------------


def test_opening_a_page_sends_the_amount_in_cents_the_urls_and_the_key(fake, provider):
    page = open_page(provider)

    (seen,) = fake.requests
    assert (seen.method, seen.path) == ("POST", "/v1/checkout/sessions")
    assert seen.headers["Authorization"] == f"Bearer {SECRET_KEY}"
    assert seen.headers["Idempotency-Key"] == "attempt-1"
    sent = seen.params
    assert sent["mode"] == "payment"
    assert sent["line_items"] == [
        {
            "quantity": "1",
            "price_data": {
                "currency": "cad",
                "unit_amount": "12345",
                "product_data": {"name": "Facture F-2026-0042 — Boulangerie Martin"},
            },
        }
    ]
    assert sent["success_url"] == "https://acquitte.example/pay/return/abc"
    assert sent["cancel_url"] == "https://acquitte.example/pay/cancel/abc"
    assert sent["customer_email"] == "paie@client.example"
    assert sent["metadata"] == {"idempotency_key": "attempt-1"}
    assert sent["payment_intent_data"] == {"metadata": {"idempotency_key": "attempt-1"}}
    assert 30 * 60 <= int(sent["expires_at"]) - time.time() <= 45 * 60
    assert page.reference.startswith("cs_test_")
    assert page.url == f"{fake.url}/pay/{page.reference}"
    assert fake.sessions[page.reference]["amount_total"] == 12345


def test_no_email_is_sent_when_the_customer_has_none(fake, provider):
    open_page(provider, email="")

    assert "customer_email" not in fake.requests[0].params


def test_a_retry_with_the_same_key_minutes_later_returns_the_same_session(fake, provider, monkeypatch):
    """Stripe replays a key only for identical parameters, so the expiry must not move with the clock."""
    start = int(time.time()) // 600 * 600
    monkeypatch.setattr(stripe_module, "time", SimpleNamespace(time=lambda: start))
    first = open_page(provider)
    monkeypatch.setattr(stripe_module, "time", SimpleNamespace(time=lambda: start + 120))
    again = open_page(provider)

    assert again == first
    assert len(fake.sessions) == 1
    assert open_page(provider, key="attempt-2").reference != first.reference


def test_a_key_reused_for_another_amount_is_refused(fake, provider):
    open_page(provider)

    with pytest.raises(BusinessError) as refused:
        open_page(provider, amount="99.00")

    assert "Stripe n'a pas pu ouvrir la page de paiement" in message(refused.value)
    assert len(fake.sessions) == 1


@pytest.mark.parametrize(("amount", "currency"), [("10.00", "GBP"), ("10.005", "EUR")])
def test_other_currencies_and_fractions_of_a_cent_are_refused(fake, provider, amount, currency):
    with pytest.raises(ValueError):
        open_page(provider, amount=amount, currency=currency)

    assert fake.requests == []


def test_a_wrong_secret_key_is_a_business_error(fake):
    provider = StripeProvider(credentials={"secret_key": "sk_test_NotTheRightOne", "webhook_secret": ""})

    with pytest.raises(BusinessError):
        open_page(provider)


def test_an_unreachable_stripe_is_a_business_error(settings, provider):
    with FakeStripe() as gone:
        settings.STRIPE_API_BASE = gone.url

    with pytest.raises(BusinessError) as refused:
        open_page(provider)

    assert "Impossible de joindre Stripe" in message(refused.value)


# Status on the payer's return -------------------------------------------------------------------


def test_status_follows_the_session(fake, provider):
    open_one, paid, pending, expired = (open_page(provider, key=f"k{i}").reference for i in range(4))
    fake.mark_paid(paid)
    fake.mark_pending(pending)
    fake.mark_expired(expired)

    assert provider.payment_status(reference=open_one) == ChargeResult(status="open")
    assert provider.payment_status(reference=paid) == ChargeResult(status="succeeded", reference=paid)
    assert provider.payment_status(reference=pending) == ChargeResult(status="pending", reference=pending)
    assert provider.payment_status(reference=expired) == ChargeResult(status="unknown")


def test_cancelling_expires_an_open_page(fake, provider):
    reference = open_page(provider).reference

    assert provider.cancel_hosted_payment(reference=reference) == ChargeResult(status="unknown")
    assert fake.sessions[reference]["status"] == "expired"
    assert ("POST", f"/v1/checkout/sessions/{reference}/expire") in [
        (r.method, r.path) for r in fake.requests
    ]


def test_cancelling_a_page_paid_meanwhile_says_it_succeeded(fake, provider):
    reference = open_page(provider).reference
    fake.mark_paid(reference)

    assert provider.cancel_hosted_payment(reference=reference) == ChargeResult(
        status="succeeded", reference=reference
    )
    assert not [r for r in fake.requests if r.path.endswith("/expire")]


def test_fetch_status_searches_payment_intents_by_our_key(fake, provider):
    assert provider.fetch_status(idempotency_key="attempt-1") == ChargeResult(status="unknown")
    (seen,) = fake.requests
    assert (seen.method, seen.path) == ("GET", "/v1/payment_intents/search")


# Refunds ----------------------------------------------------------------------------------------


def test_a_refund_goes_to_the_sessions_payment_intent_in_cents(fake, provider):
    reference = open_page(provider).reference
    intent = fake.mark_paid(reference)["payment_intent"]

    result = provider.refund(reference=reference, amount=Decimal("23.45"), currency="CAD")

    seen = fake.requests[-1]
    assert (seen.method, seen.path) == ("POST", "/v1/refunds")
    assert seen.params == {"payment_intent": intent, "amount": "2345"}
    assert result.status == "succeeded"
    assert fake.refunds[result.reference]["amount"] == 2345


@pytest.mark.parametrize(
    ("outcome", "status", "code"),
    [
        (("pending", ""), "pending", ""),
        (("failed", "expired_or_canceled_card"), "failed", "expired_or_canceled_card"),
    ],
)
def test_a_refund_stripe_has_not_finished_or_failed_says_so(fake, provider, outcome, status, code):
    reference = open_page(provider).reference
    fake.mark_paid(reference)
    fake.refund_outcome = outcome

    result = provider.refund(reference=reference, amount=Decimal("10.00"))

    assert (result.status, result.failure_code) == (status, code)
    assert result.reference.startswith("re_")


def test_a_refund_stripe_refuses_is_a_business_error(fake, provider):
    reference = open_page(provider).reference
    fake.mark_paid(reference)

    with pytest.raises(BusinessError) as refused:
        provider.refund(reference=reference, amount=Decimal("123.46"))

    assert "Stripe a refusé le remboursement" in message(refused.value)
    assert "greater than unrefunded amount" in message(refused.value)
    assert fake.refunds == {}


def test_an_unpaid_page_has_nothing_to_refund(fake, provider):
    reference = open_page(provider).reference

    with pytest.raises(BusinessError):
        provider.refund(reference=reference, amount=Decimal("1.00"))

    assert not [r for r in fake.requests if r.path == "/v1/refunds"]


# Webhooks ---------------------------------------------------------------------------------------


def test_a_genuine_completed_event_names_the_session(fake, provider):
    reference = open_page(provider).reference
    fake.mark_paid(reference)
    event = fake.event("checkout.session.completed", reference)
    body, headers = signed_event(event, WEBHOOK_SECRET)

    (parsed,) = provider.parse_webhook(body=body, headers=headers, secret=WEBHOOK_SECRET)

    assert parsed.event_id == event["id"]
    assert parsed.event_type == "checkout.session.completed"
    assert parsed.reference == reference
    assert parsed.status == "succeeded"
    assert parsed.payload == event
    assert provider.parse_payload(parsed.payload) == parsed


@pytest.mark.parametrize(
    ("mark", "event_type", "status"),
    [
        ("mark_pending", "checkout.session.completed", "pending"),
        ("mark_paid", "checkout.session.async_payment_succeeded", "succeeded"),
        ("mark_pending", "checkout.session.async_payment_failed", "failed"),
        ("mark_expired", "checkout.session.expired", "unknown"),
    ],
)
def test_each_checkout_event_the_app_acts_on(fake, provider, mark, event_type, status):
    reference = open_page(provider).reference
    getattr(fake, mark)(reference)
    body, headers = signed_event(fake.event(event_type, reference), WEBHOOK_SECRET)

    (parsed,) = provider.parse_webhook(body=body, headers=headers, secret=WEBHOOK_SECRET)

    assert (parsed.reference, parsed.status) == (reference, status)


def test_an_event_signed_with_another_secret_is_refused(fake, provider):
    reference = open_page(provider).reference
    body, headers = signed_event(fake.event("checkout.session.completed", reference), "whsec_SomeoneElse")

    with pytest.raises(WebhookRejected) as rejected:
        provider.parse_webhook(body=body, headers=headers, secret=WEBHOOK_SECRET)

    assert rejected.value.status == 401


def test_an_unsigned_event_is_refused(fake, provider):
    body, _headers = signed_event(
        fake.event("checkout.session.expired", open_page(provider).reference), WEBHOOK_SECRET
    )

    with pytest.raises(WebhookRejected) as rejected:
        provider.parse_webhook(body=body, headers={}, secret=WEBHOOK_SECRET)

    assert rejected.value.status == 401


def test_a_stale_event_is_refused(fake, provider):
    reference = open_page(provider).reference
    event = fake.event("checkout.session.completed", reference)
    body, headers = signed_event(event, WEBHOOK_SECRET, timestamp=int(time.time()) - 301)

    with pytest.raises(WebhookRejected) as rejected:
        provider.parse_webhook(body=body, headers=headers, secret=WEBHOOK_SECRET)

    assert rejected.value.status == 401


@pytest.mark.parametrize("raw", [b"{not json", b'{"type": "checkout.session.completed"}', b"\xff\xfe"])
def test_a_malformed_body_is_refused(provider, raw):
    with pytest.raises(WebhookRejected) as rejected:
        provider.parse_webhook(
            body=raw, headers=signature_headers(raw, WEBHOOK_SECRET), secret=WEBHOOK_SECRET
        )

    assert rejected.value.status == 400


def test_events_the_app_does_not_act_on_are_left_out(fake, provider):
    event = fake.event("checkout.session.completed", open_page(provider).reference)
    event["type"] = "payment_intent.created"
    body, headers = signed_event(event, WEBHOOK_SECRET)

    assert provider.parse_webhook(body=body, headers=headers, secret=WEBHOOK_SECRET) == []
    with pytest.raises(WebhookRejected):
        provider.parse_payload(event)
