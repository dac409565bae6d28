"""A card whose bank wants the cardholder to authenticate an off-session charge (SCA, issue 12): the
Stripe page the customer is sent to brings them back to the invoice's portal page, with a message,
whether they authenticated or gave up; the real SDK against the local fake."""

import urllib.parse

import pytest
import requests
from django.test import TestCase

from acquitte.customers.models import User
from acquitte.invoicing.models import Invoice
from acquitte.payments import services
from acquitte.payments.models import ChargeAttempt, Payment, PaymentMethod, ProviderAccount
from tests import factories
from tests.payments import fake_stripe
from tests.payments.test_hosted_payments import connect

PASSWORD = "un-mot-de-passe-solide-42"
SCA_CARD = "4000002760003184"


@pytest.fixture
def stripe(settings, org_qc):
    with fake_stripe.FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        connect(
            org_qc,
            "stripe",
            {"secret_key": fake_stripe.SECRET_KEY, "webhook_secret": fake_stripe.WEBHOOK_SECRET},
        )
        ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").delete()
        yield fake


@pytest.fixture
def portal(client, customer_qc):
    return factories.logged_in(client, customer_qc, "client@cafe.test")


def local(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def saved_card(portal, stripe, number):
    opened = portal.post("/facturation/", {"action": "setup_card"})
    session_id = opened["Location"].rsplit("/", 1)[1]
    stripe.complete_setup(session_id, number=number)
    portal.get(local(stripe.sessions[session_id]["success_url"]))
    return PaymentMethod.objects.get(provider="stripe", last4=number[-4:])


def charge_needing_authentication(portal, org, customer, stripe):
    method = saved_card(portal, stripe, SCA_CARD)
    invoice = factories.invoice(org, customer, prices=("100.00",))
    payment = services.pay_invoice(
        invoice=invoice, payment_method=method, idempotency_key="collect-sca-1", actor=factories.SYSTEM
    )
    attempt = ChargeAttempt.objects.get(payment=payment)
    assert payment.status == Payment.Status.PROCESSING and attempt.action_url.startswith(stripe.url)
    return invoice, payment, stripe.sessions[attempt.provider_reference]


def test_authenticating_brings_the_customer_back_to_the_paid_invoice(portal, org_qc, customer_qc, stripe):
    invoice, payment, session = charge_needing_authentication(portal, org_qc, customer_qc, stripe)
    assert local(session["success_url"]) == "/facturation/confirmation/collect-sca-1/"
    assert local(session["cancel_url"]) == "/facturation/confirmation/collect-sca-1/?annule=1"
    # The customer confirms on Stripe's page, which sends them to the success URL.
    done = requests.post(
        session["url"],
        data={"number": SCA_CARD, "expiry": "12 / 40", "cvc": "123", "holder": "Marie Roy"},
        allow_redirects=False,
        timeout=5,
    )
    assert done.status_code == 303 and done.headers["Location"] == session["success_url"]
    back = portal.get(local(done.headers["Location"]), follow=True)
    assert back.redirect_chain[-1][0] == f"/factures/{invoice.pk}/"
    page = back.content.decode()
    assert "Paiement accepté" in page and "PAYÉE" in page
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    # The webhook that follows changes nothing: one payment, paid once.
    event = stripe.event("checkout.session.completed", session["id"])
    body, headers = fake_stripe.signed_event(event, fake_stripe.WEBHOOK_SECRET)
    with TestCase.captureOnCommitCallbacks(execute=True):
        portal.post(
            f"/webhooks/stripe/{org_qc.slug}/",
            body,
            content_type="application/json",
            HTTP_STRIPE_SIGNATURE=headers["Stripe-Signature"],
        )
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Payment.objects.filter(invoice=invoice).count() == 1
    assert "Paiement accepté" in portal.get(local(session["success_url"]), follow=True).content.decode()


def test_giving_up_leaves_the_invoice_open_and_the_link_usable(portal, org_qc, customer_qc, stripe):
    invoice, payment, session = charge_needing_authentication(portal, org_qc, customer_qc, stripe)
    back = portal.get(local(session["cancel_url"]), follow=True)
    assert back.redirect_chain[-1][0] == f"/factures/{invoice.pk}/"
    assert "Paiement non confirmé" in back.content.decode()
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PROCESSING
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    assert "Confirmer le paiement" in portal.get("/facturation/").content.decode()


def test_another_customers_return_is_not_found(portal, client, org_qc, customer_qc, stripe):
    _invoice, payment, session = charge_needing_authentication(portal, org_qc, customer_qc, stripe)
    neighbour = User.objects.create_user(
        "voisin@cafe.test", PASSWORD, customer=factories.customer(org_qc, name="Voisin")
    )
    portal.force_login(neighbour, backend="django.contrib.auth.backends.ModelBackend")
    assert portal.get(local(session["success_url"])).status_code == 404
    assert portal.get("/facturation/confirmation/pas-une-cle/").status_code == 404
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PROCESSING
