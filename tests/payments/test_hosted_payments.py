"""Payments taken on a connected provider's own page, end to end through the app's URLs:
Stripe for cards, GoCardless for direct debit, PayPal — each SDK against its local fake."""

import datetime
import urllib.parse

import pytest
from django.test import TestCase

from acquitte.core.errors import BusinessError
from acquitte.invoicing.models import Invoice
from acquitte.payments import secrets, selectors, services
from acquitte.payments.models import ChargeAttempt, Payment, ProviderAccount
from tests import factories
from tests.payments import fake_gocardless, fake_paypal, fake_stripe
from tests.payments.fake_providers import GOCARDLESS_TOKENS

GC_SECRET = "gc-webhook-secret"


def connect(org, provider, credentials, mode="test"):
    """An account as connect_provider stores it (the check with the provider is tested apart)."""
    return ProviderAccount.objects.create(
        organisation=org, provider=provider, mode=mode, credentials_encrypted=secrets.encrypt(credentials)
    )


@pytest.fixture
def invoice(org_qc):
    return factories.invoice(org_qc, factories.customer(org_qc), prices=("100.00",))


@pytest.fixture
def stripe(settings, org_qc):
    with fake_stripe.FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        connect(
            org_qc,
            "stripe",
            {"secret_key": fake_stripe.SECRET_KEY, "webhook_secret": fake_stripe.WEBHOOK_SECRET},
        )
        yield fake


def open_card_page(client, invoice):
    response = client.post(f"/i/{invoice.public_token}/payer/card/")
    assert response.status_code == 302
    return response["Location"]


def session_of(stripe, url):
    return stripe.sessions[url.rsplit("/", 1)[1]]


def local(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def test_card_payment_on_stripe_page_then_return(client, org_qc, invoice, stripe):
    assert selectors.provider_for(organisation=org_qc, kind="card") == "stripe"
    url = open_card_page(client, invoice)
    session = session_of(stripe, url)
    assert url.startswith(stripe.url) and session["amount_total"] == 11498 and session["currency"] == "cad"
    attempt = ChargeAttempt.objects.get(provider="stripe")
    assert attempt.provider_reference == session["id"] and attempt.state == "created"
    assert session["metadata"]["idempotency_key"] == attempt.idempotency_key
    stripe.mark_paid(session["id"])
    back = client.get(local(session["success_url"]))
    assert back["Location"] == f"/i/{invoice.public_token}/"
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert "Paiement accepté" in client.get(back["Location"]).content.decode()
    client.get(local(session["success_url"]))  # a second return changes nothing
    assert Payment.objects.filter(status="succeeded").count() == 1


def test_stripe_webhook_settles_a_payer_who_never_came_back(client, org_qc, invoice, stripe):
    session = session_of(stripe, open_card_page(client, invoice))
    stripe.mark_paid(session["id"])
    body, headers = fake_stripe.signed_event(
        stripe.event("checkout.session.completed", session["id"]), fake_stripe.WEBHOOK_SECRET
    )
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    with TestCase.captureOnCommitCallbacks(execute=True):
        answer = client.post(
            f"/webhooks/stripe/{org_qc.slug}/", body, content_type="application/json", **extra
        )
    assert answer.status_code == 200
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    forged = client.post(
        f"/webhooks/stripe/{org_qc.slug}/",
        body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE="t=1,v1=00",
    )
    assert forged.status_code == 401


def test_cancel_link_closes_the_page_and_the_invoice_can_be_paid_again(client, invoice, stripe):
    session = session_of(stripe, open_card_page(client, invoice))
    client.get(local(session["cancel_url"]))
    assert stripe.sessions[session["id"]]["status"] == "expired"
    assert Payment.objects.get().status == "canceled" and Invoice.objects.get(pk=invoice.pk).status == "open"
    second = session_of(stripe, open_card_page(client, invoice))
    assert second["id"] != session["id"]


def test_a_second_page_closes_the_first(client, invoice, stripe):
    first = session_of(stripe, open_card_page(client, invoice))
    open_card_page(client, invoice)
    assert stripe.sessions[first["id"]]["status"] == "expired"
    assert list(Payment.objects.order_by("pk").values_list("status", flat=True)) == ["canceled", "processing"]


def test_reconciliation_settles_from_stripe_and_never_charges(invoice, stripe, client):
    session = session_of(stripe, open_card_page(client, invoice))
    stripe.mark_paid(session["id"])
    opened = [r for r in stripe.requests if r.method == "POST"]
    assert (
        services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))["settled"] == 1
    )
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert [r for r in stripe.requests if r.method == "POST"] == opened  # asked, never charged


def test_stripe_down_leaves_nothing_in_flight(client, invoice, stripe, settings):
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"
    response = client.post(f"/i/{invoice.public_token}/payer/card/", follow=True)
    assert "ne répond pas" in response.content.decode()
    assert Payment.objects.get().status == "canceled"
    settings.STRIPE_API_BASE = stripe.url
    open_card_page(client, invoice)


def test_refund_goes_to_stripe_and_a_refusal_changes_nothing(client, org_qc, invoice, stripe):
    session = session_of(stripe, open_card_page(client, invoice))
    stripe.mark_paid(session["id"])
    client.get(local(session["success_url"]))
    payment = Payment.objects.get(status="succeeded")
    owner = factories.staff(org_qc)
    stripe.refund_outcome = ("failed", "expired_or_canceled_card")
    with pytest.raises(BusinessError):
        services.refund(payment=payment, amount="10.00", actor=owner)
    assert Payment.objects.get(pk=payment.pk).amount_refunded == 0
    stripe.refund_outcome = ("succeeded", "")
    services.refund(payment=payment, amount="12.00", actor=owner)
    assert [r["amount"] for r in stripe.refunds.values() if r["status"] == "succeeded"] == [1200]
    assert Payment.objects.get(pk=payment.pk).status == "partly_refunded"
    keys = [r.headers["Idempotency-Key"] for r in stripe.requests if r.path == "/v1/refunds"]
    assert keys == [f"refund-{payment.pk}-0.00-10.00", f"refund-{payment.pk}-0.00-12.00"]


def test_a_stripe_refund_whose_answer_was_lost_is_found_by_its_key(
    client, org_qc, invoice, stripe, monkeypatch
):
    from acquitte.payments.providers.stripe import StripeProvider

    session = session_of(stripe, open_card_page(client, invoice))
    stripe.mark_paid(session["id"])
    client.get(local(session["success_url"]))
    payment = Payment.objects.get(status="succeeded")
    real = StripeProvider.refund

    def refund_then_time_out(self, **kwargs):
        real(self, **kwargs)
        raise TimeoutError("read timed out")

    monkeypatch.setattr(StripeProvider, "refund", refund_then_time_out)
    with pytest.raises(BusinessError):
        services.refund(payment=payment, amount="25.00", actor=factories.staff(org_qc))
    monkeypatch.undo()
    assert Payment.objects.get(pk=payment.pk).amount_refunded == 0
    assert (
        services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))["settled"] == 1
    )
    assert [r["amount"] for r in stripe.refunds.values()] == [2500]
    payment.refresh_from_db()
    assert payment.amount_refunded == 25 and payment.status == "partly_refunded"


def test_direct_debit_through_gocardless_settles_by_webhooks(client, org_qc, invoice, settings):
    with fake_gocardless.FakeGoCardless("test") as gc:
        settings.GOCARDLESS_API_BASES = {"test": gc.url, "live": gc.url}
        connect(
            org_qc, "gocardless", {"access_token": GOCARDLESS_TOKENS["test"], "webhook_secret": GC_SECRET}
        )
        url = client.post(f"/i/{invoice.public_token}/payer/debit/")["Location"]
        billing_request = next(iter(gc.billing_requests))
        assert billing_request in ChargeAttempt.objects.get().provider_reference
        flow = next(iter(gc.flows.values()))
        assert url == flow["authorisation_url"]
        payment_id = gc.fulfil(billing_request)

        def deliver(*events):
            body, headers = fake_gocardless.signed_webhook(list(events), GC_SECRET)
            with TestCase.captureOnCommitCallbacks(execute=True):
                return client.post(
                    f"/webhooks/gocardless/{org_qc.slug}/",
                    body,
                    content_type="application/json",
                    HTTP_WEBHOOK_SIGNATURE=headers["Webhook-Signature"],
                )

        # The payer's return and the "fulfilled" event race; either way the charge is found.
        deliver(
            fake_gocardless.event(
                "billing_requests",
                "fulfilled",
                billing_request=billing_request,
                payment_request_payment=payment_id,
            )
        )
        attempt = ChargeAttempt.objects.get()
        assert attempt.provider_reference == payment_id and attempt.state == "pending"
        back = client.get(local(flow["redirect_uri"]))
        assert "sera marquée payée" in client.get(back["Location"]).content.decode()
        deliver(fake_gocardless.event("payments", "confirmed", payment=payment_id))
        assert Invoice.objects.get(pk=invoice.pk).status == "open"
        deliver(fake_gocardless.event("payments", "paid_out", payment=payment_id))
        assert Invoice.objects.get(pk=invoice.pk).status == "paid"
        deliver(fake_gocardless.event("payments", "failed", payment=payment_id))  # late, out of order
        assert Invoice.objects.get(pk=invoice.pk).status == "paid"
        bad = client.post(
            f"/webhooks/gocardless/{org_qc.slug}/",
            b"{}",
            content_type="application/json",
            HTTP_WEBHOOK_SIGNATURE="00",
        )
        assert bad.status_code == 498


def test_paypal_order_captured_once_on_return(client, org_qc, invoice, settings):
    with fake_paypal.FakePayPal() as paypal:
        settings.PAYPAL_API_BASES = {"test": paypal.url, "live": paypal.url}
        connect(
            org_qc,
            "paypal",
            {
                "client_id": fake_paypal.CLIENT_ID,
                "client_secret": fake_paypal.CLIENT_SECRET,
                "webhook_id": fake_paypal.WEBHOOK_ID,
            },
        )
        url = client.post(f"/i/{invoice.public_token}/payer/paypal/")["Location"]
        order_id = ChargeAttempt.objects.get().provider_reference
        assert url.startswith(paypal.url) and order_id in paypal.orders
        paypal.approve(order_id)
        return_url = _return_url_of(paypal)
        client.get(local(return_url))
        client.get(local(return_url))  # back twice (a reload): captured once
        assert Invoice.objects.get(pk=invoice.pk).status == "paid"
        assert len(paypal.captures) == 1


def _return_url_of(paypal):
    created = [r for r in paypal.requests if r.method == "POST" and r.path == "/v2/checkout/orders"][-1]
    return created.json()["payment_source"]["paypal"]["experience_context"]["return_url"]


def test_routing_prefers_the_connected_provider_and_falls_back_to_the_sandbox(org_qc, settings):
    assert selectors.online_kinds(org_qc) == ["card", "debit", "paypal"]
    assert selectors.provider_for(organisation=org_qc, kind="debit") == "sandbox"
    ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").delete()
    assert selectors.online_kinds(org_qc) == []
    connect(org_qc, "gocardless", {"access_token": GOCARDLESS_TOKENS["test"], "webhook_secret": GC_SECRET})
    assert selectors.online_kinds(org_qc) == ["debit"]
    assert selectors.provider_for(organisation=org_qc, kind="card") is None
    invoice = factories.invoice(org_qc, factories.customer(org_qc))
    from acquitte.payments.services import checkout

    with pytest.raises(BusinessError, match="pas proposé"):
        checkout.start_checkout(actor=factories.SYSTEM, invoice=invoice, kind="card", return_path="/")


def test_without_the_sandbox_nothing_is_saved_or_charged_through_it(org_qc):
    from acquitte.payments.models import PaymentMethod

    customer = factories.customer(org_qc)
    card = services.add_card(
        actor=factories.SYSTEM,
        customer=customer,
        holder="I. Côté",
        number="4242424242424242",
        cvv="123",
        expiry="12/40",
    )
    ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").delete()
    with pytest.raises(BusinessError, match="pas proposé"):
        services.add_card(
            actor=factories.SYSTEM,
            customer=customer,
            holder="I. Côté",
            number="4242424242424242",
            cvv="123",
            expiry="12/40",
        )
    invoice = factories.invoice(org_qc, customer)
    with pytest.raises(BusinessError, match="plus accepté"):
        services.pay_invoice(
            actor=factories.SYSTEM, invoice=invoice, payment_method=card, idempotency_key="k-1"
        )
    assert PaymentMethod.objects.count() == 1 and not Payment.objects.exists()
