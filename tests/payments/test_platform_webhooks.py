"""Webhooks of the platform's GoCardless partner app: one URL and one secret for every merchant it
connected by OAuth, each event stored for the organisation whose account it names."""

import uuid

import pytest
from django.test import TestCase

from acquitte.payments import secrets, services
from acquitte.payments.models import Payment, PaymentMethod, ProviderAccount, WebhookEvent
from acquitte.payments.providers.gocardless import GoCardlessProvider
from tests import factories
from tests.payments.fake_gocardless import FakeGoCardless, event, signed_webhook
from tests.payments.fake_providers import GOCARDLESS_TOKENS

PLATFORM_SECRET = "gc-partner-app-webhook-secret"
MERCHANT = "OR000MERCHANT1"
URL = "/webhooks/platform/gocardless/"


@pytest.fixture
def fake(settings):
    with FakeGoCardless("test") as server:
        settings.GOCARDLESS_API_BASES = {"test": server.url, "live": server.url}
        settings.GOCARDLESS_WEBHOOK_SECRET = PLATFORM_SECRET
        yield server


def connect_by_oauth(org, merchant=MERCHANT):
    """An account as ``finish_connect`` stores it: the merchant's token, no webhook secret."""
    return ProviderAccount.objects.create(
        organisation=org,
        provider="gocardless",
        mode="test",
        credentials_encrypted=secrets.encrypt({"access_token": GOCARDLESS_TOKENS["test"]}),
        connected_by_oauth=True,
        external_account_id=merchant,
    )


@pytest.fixture
def pending(fake, org_fr, customer_fr):
    """An invoice debited on a mandate, the payment waiting for GoCardless's word."""
    connect_by_oauth(org_fr)
    setup = GoCardlessProvider(
        credentials={"access_token": GOCARDLESS_TOKENS["test"]}, mode="test"
    ).start_setup(
        kind="debit",
        customer_reference="",
        customer_email="marie@client.example",
        customer_name="Marie Curie",
        currency="EUR",
        idempotency_key="setup-platform-1",
        return_url="https://acquitte.example/retour",
        cancel_url="https://acquitte.example/annule",
    )
    mandate = fake.fulfil(setup.reference)
    method = PaymentMethod.objects.create(
        organisation=org_fr,
        customer=customer_fr,
        kind=PaymentMethod.Kind.BANK_DEBIT,
        scheme=PaymentMethod.Scheme.SEPA,
        provider="gocardless",
        token=mandate,
        holder="Marie Curie",
        last4="11",
        is_default=True,
    )
    invoice = factories.invoice(org_fr, customer_fr, prices=("49.90",))
    payment = services.pay_invoice(
        actor=factories.SYSTEM, invoice=invoice, payment_method=method, idempotency_key=uuid.uuid4().hex
    )
    assert payment.status == Payment.Status.PROCESSING and payment.provider_reference
    return invoice, payment


def post(client, events, secret=PLATFORM_SECRET):
    body, headers = signed_webhook(events, secret)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            URL,
            body,
            content_type="application/json",
            headers={"Webhook-Signature": headers["Webhook-Signature"]},
        )


def test_a_connected_merchants_debit_is_settled_by_the_platform_webhook(client, org_fr, pending):
    invoice, payment = pending
    paid_out = event("payments", "paid_out", payment=payment.provider_reference, organisation=MERCHANT)
    assert post(client, [paid_out]).status_code == 200
    assert post(client, [paid_out]).status_code == 200  # a replay is stored once
    payment.refresh_from_db()
    invoice.refresh_from_db()
    assert payment.status == Payment.Status.SUCCEEDED and invoice.status == "paid"
    assert WebhookEvent.objects.get().organisation_id == org_fr.pk


def test_an_event_names_its_merchant_not_whoever_holds_the_reference(client, org_fr, org_qc, pending):
    _invoice, payment = pending
    connect_by_oauth(org_qc, merchant="OR000OTHER")
    failed = event("payments", "failed", payment=payment.provider_reference, organisation="OR000OTHER")
    stranger = event("payments", "failed", payment=payment.provider_reference, organisation="OR000NOBODY")
    assert post(client, [failed, stranger]).status_code == 200
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PROCESSING  # another organisation's event finds no charge here
    assert list(WebhookEvent.objects.values_list("organisation_id", "status")) == [
        (org_qc.pk, WebhookEvent.Status.UNMATCHED)
    ]


def test_a_forged_or_unconfigured_platform_webhook_is_refused(client, settings, pending):
    _invoice, payment = pending
    confirmed = event("payments", "confirmed", payment=payment.provider_reference, organisation=MERCHANT)
    assert post(client, [confirmed], secret="not-the-platform-secret").status_code == 498
    settings.GOCARDLESS_WEBHOOK_SECRET = ""
    assert post(client, [confirmed]).status_code == 404
    assert (
        client.post("/webhooks/platform/stripe/", b"{}", content_type="application/json").status_code == 404
    )
    assert client.get(URL).status_code == 405
    assert not WebhookEvent.objects.exists()


def test_a_mandate_cancelled_at_the_bank_revokes_the_method(client, org_fr, pending):
    _invoice, payment = pending
    method = payment.payment_method
    cancelled = event("mandates", "cancelled", mandate=method.token, organisation=MERCHANT)
    assert post(client, [cancelled]).status_code == 200
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.REVOKED
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
