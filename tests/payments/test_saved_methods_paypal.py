"""PayPal accounts vaulted and charged without the payer, end to end through the app's URLs, with the
real SDK against the local fake; for a merchant who pasted their own app's keys and for one connected
through the platform's partner onboarding, whose calls carry PayPal-Auth-Assertion and whose events
come to the platform's webhook."""

import datetime
import json

import pytest
from django.test import TestCase

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import Invoice
from acquitte.payments import secrets, selectors, services
from acquitte.payments.models import (
    ChargeAttempt,
    MethodSetup,
    Payment,
    PaymentMethod,
    ProviderAccount,
    WebhookEvent,
)
from acquitte.payments.providers import paypal
from tests import factories
from tests.payments.fake_paypal import CLIENT_ID, CLIENT_SECRET, WEBHOOK_ID, FakePayPal, seller_of
from tests.payments.test_hosted_payments import connect
from tests.payments.test_paypal_vault import SIGNED_HEADERS, token_event
from tests.payments.test_saved_methods_stripe import local

PARTNER = ("APartnerAppClientId", "EPartnerAppSecret")
PARTNER_WEBHOOK_ID = "8PT597110X687430LKGECATA"
SELLER = "SELLERFAKE0001"


@pytest.fixture(params=["keys", "partner"])
def fake(request, settings, org_fr):
    with FakePayPal() as server:
        settings.PAYPAL_API_BASES = {"test": server.url, "live": server.url}
        if request.param == "keys":
            connect(
                org_fr,
                "paypal",
                {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "webhook_id": WEBHOOK_ID},
            )
            server.webhook_url = f"/webhooks/paypal/{org_fr.slug}/"
            server.seller = ""
        else:
            settings.PAYPAL_PARTNER_CLIENT_ID, settings.PAYPAL_PARTNER_CLIENT_SECRET = PARTNER
            settings.PAYPAL_PARTNER_WEBHOOK_ID = PARTNER_WEBHOOK_ID
            settings.PAYPAL_PARTNER_MODE = "test"
            server.partner = PARTNER
            server.webhook_ids.add(PARTNER_WEBHOOK_ID)
            ProviderAccount.objects.create(
                organisation=org_fr,
                provider="paypal",
                mode="test",
                credentials_encrypted=secrets.encrypt({"merchant_id": SELLER}),
                connected_by_oauth=True,
                external_account_id=SELLER,
            )
            server.webhook_url = "/webhooks/platform/paypal/"
            server.seller = SELLER
        yield server


@pytest.fixture
def portal(client, customer_fr):
    return factories.logged_in(client, customer_fr, "compta@martin.test")


def post_event(client, fake, event):
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in SIGNED_HEADERS.items()}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(fake.webhook_url, json.dumps(event), content_type="application/json", **extra)


def capture_event(event_type, order_id, number=1):
    return {
        "id": f"WH-{number:04d}-{order_id}",
        "event_version": "1.0",
        "resource_type": "capture",
        "event_type": event_type,
        "resource": {"id": f"CAP{order_id}", "supplementary_data": {"related_ids": {"order_id": order_id}}},
    }


def open_setup(portal, fake):
    response = portal.post("/facturation/", {"action": "setup_paypal"})
    assert response.status_code == 302
    [setup_id] = fake.setup_tokens
    assert response["Location"].endswith(f"approval_session_id={setup_id}")
    return setup_id


def saved(portal, fake):
    setup_id = open_setup(portal, fake)
    fake.approve_setup(setup_id)
    portal.get(local(fake.setup_tokens[setup_id]["experience_context"]["return_url"]))
    return PaymentMethod.objects.get(provider="paypal")


def test_a_paypal_account_vaulted_on_paypal_becomes_the_default(portal, org_fr, customer_fr, fake):
    assert "Ajouter un compte PayPal" in portal.get("/facturation/").content.decode()
    setup_id = open_setup(portal, fake)
    [created] = fake.seen("POST", "/v3/vault/setup-tokens")
    assert created.headers["PayPal-Request-Id"] == MethodSetup.objects.get().idempotency_key
    fake.approve_setup(setup_id, given_name="Paul", surname="Martin", email="paul@martin.example")
    back = portal.get(local(fake.setup_tokens[setup_id]["experience_context"]["return_url"]), follow=True)
    assert "Moyen de paiement ajouté" in back.content.decode()
    method = PaymentMethod.objects.get(provider="paypal")
    assert (method.kind, method.holder, method.is_default) == (PaymentMethod.Kind.PAYPAL, "Paul Martin", True)
    assert method.token in fake.payment_tokens and fake.owners[method.token] == fake.seller
    assert method in selectors.valid_methods(customer_fr)
    # PayPal's own word that the token exists, after the return, saves nothing more.
    created_event = token_event(
        "VAULT.PAYMENT-TOKEN.CREATED",
        {"id": method.token, "payment_source": {"token": {"id": setup_id, "type": "SETUP_TOKEN"}}},
    )
    assert post_event(portal, fake, created_event).status_code == 200
    assert PaymentMethod.objects.filter(provider="paypal").count() == 1
    assert MethodSetup.objects.get().status == MethodSetup.Status.COMPLETED


def test_every_call_for_a_partner_connected_seller_names_the_seller(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    factories.pay_saved(factories.invoice(org_fr, customer_fr), method)
    calls = [r for r in fake.requests if r.path != "/v1/oauth2/token"]
    assert calls and {seller_of(r.headers.get("PayPal-Auth-Assertion", "")) for r in calls} == {fake.seller}
    [order] = fake.orders.values()
    assert order["purchase_units"][0].get("payee", {}).get("merchant_id", "") == fake.seller


def test_the_webhook_alone_saves_the_account(portal, org_fr, fake):
    setup_id = open_setup(portal, fake)
    fake.approve_setup(setup_id)
    event = token_event(
        "VAULT.PAYMENT-TOKEN.CREATED",
        {"id": "8KX95730RB7213301", "payment_source": {"token": {"id": setup_id, "type": "SETUP_TOKEN"}}},
    )
    assert post_event(portal, fake, event).status_code == 200
    assert PaymentMethod.objects.get(provider="paypal").is_default


def test_leaving_paypal_s_page_saves_nothing(portal, fake):
    setup_id = open_setup(portal, fake)
    back = portal.get(local(fake.setup_tokens[setup_id]["experience_context"]["cancel_url"]), follow=True)
    assert "Enregistrement annulé" in back.content.decode()
    assert MethodSetup.objects.get().status == MethodSetup.Status.FAILED
    assert not PaymentMethod.objects.exists()


def test_an_off_session_order_carries_our_key_and_pays_the_invoice(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr, prices=("100.00",))
    payment = factories.pay_saved(invoice, method)
    assert payment.status == Payment.Status.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    [sent] = fake.seen("POST", "/v2/checkout/orders")
    assert sent.headers["PayPal-Request-Id"] == "collect-2026-03-22-1"
    assert sent.json()["payment_source"]["paypal"]["vault_id"] == method.token
    assert sent.json()["purchase_units"][0]["amount"] == {"currency_code": "EUR", "value": "120.00"}
    assert factories.pay_saved(invoice, method).pk == payment.pk and len(fake.orders) == 1


def test_a_declined_order_leaves_the_invoice_open(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr)
    fake.capture_status = "DECLINED"
    payment = factories.pay_saved(invoice, method)
    assert payment.status == Payment.Status.FAILED
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN


def test_a_pending_capture_is_paid_by_its_webhook(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr)
    fake.capture_status = "PENDING"
    payment = factories.pay_saved(invoice, method)
    assert payment.status == Payment.Status.PROCESSING
    post_event(portal, fake, capture_event("PAYMENT.CAPTURE.COMPLETED", payment.provider_reference))
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID


def test_a_token_deleted_at_paypal_is_never_charged_again(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    post_event(portal, fake, token_event("VAULT.PAYMENT-TOKEN.DELETED", {"id": method.token}))
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.REVOKED and not method.is_default
    with pytest.raises(BusinessError) as refused:
        factories.pay_saved(factories.invoice(org_fr, customer_fr), method)
    assert refused.value.error_code == ErrorCode.PAYMENT_METHOD_INVALID
    assert not fake.seen("POST", "/v2/checkout/orders")


def test_a_timeout_after_paypal_took_the_order_is_reconciled_without_a_second_one(
    portal, org_fr, customer_fr, fake, monkeypatch
):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr)
    monkeypatch.setattr(paypal, "TIMEOUT_SECONDS", 0.3)
    fake.stall_orders, fake.stall_repeats = 1.0, True
    with pytest.raises(Exception):  # noqa: B017 - the SDK's timeout, whatever its class
        factories.pay_saved(invoice, method)
    fake.stall_orders = 0.0
    attempt = ChargeAttempt.objects.get(payment__invoice=invoice)
    assert attempt.state == ChargeAttempt.State.CREATED
    sent = fake.seen("POST", "/v2/checkout/orders")  # asked once again, with the same request id
    assert {r.headers["PayPal-Request-Id"] for r in sent} == {attempt.idempotency_key}
    # PayPal cannot be asked by key: reconciliation leaves the charge in doubt, and sends nothing.
    services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))
    attempt.refresh_from_db()
    assert attempt.state == ChargeAttempt.State.CREATED
    assert len(fake.seen("POST", "/v2/checkout/orders")) == len(sent)
    # Its capture's webhook names our key (custom_id) and settles it.
    [(order_id, order)] = fake.orders.items()
    event = capture_event("PAYMENT.CAPTURE.COMPLETED", order_id)
    event["resource"]["custom_id"] = order["purchase_units"][0]["custom_id"]
    post_event(portal, fake, event)
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert ChargeAttempt.objects.get(pk=attempt.pk).provider_reference == order_id
    assert len(fake.orders) == 1


def test_forged_events_change_nothing(portal, fake):
    method = saved(portal, fake)
    fake.verification = "FAILURE"
    deleted = token_event("VAULT.PAYMENT-TOKEN.DELETED", {"id": method.token})
    assert post_event(portal, fake, deleted).status_code == 401
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.VALID


def test_the_platform_drops_an_event_no_connected_seller_owns(portal, settings, fake):
    if not fake.seller:
        pytest.skip("the platform's webhook serves partner-connected sellers only")
    assert (
        post_event(portal, fake, capture_event("PAYMENT.CAPTURE.COMPLETED", "5O190127TN364715T")).status_code
        == 200
    )
    assert not WebhookEvent.objects.exists()
    settings.PAYPAL_PARTNER_CLIENT_ID = ""
    assert (
        post_event(portal, fake, capture_event("PAYMENT.CAPTURE.COMPLETED", "5O190127TN364715T")).status_code
        == 404
    )
