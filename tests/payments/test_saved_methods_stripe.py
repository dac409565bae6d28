"""Cards saved at Stripe and charged off-session, end to end through the app's URLs, with the real
SDK against the local fake: setup, return, webhooks, SCA, network updates, reconciliation."""

import datetime
import io
import urllib.parse

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import TestCase

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.customers.models import User
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage
from acquitte.payments import selectors, services
from acquitte.payments.models import ChargeAttempt, MethodSetup, Payment, PaymentMethod, WebhookEvent
from tests import factories
from tests.payments import fake_stripe
from tests.payments.test_hosted_payments import connect

PASSWORD = "un-mot-de-passe-solide-42"


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


@pytest.fixture
def customer(org_qc):
    return factories.customer(org_qc)


@pytest.fixture
def portal(client, customer):
    return factories.logged_in(client, customer, "client@cafe.test")


def local(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def post_event(client, org, event):
    body, headers = fake_stripe.signed_event(event, fake_stripe.WEBHOOK_SECRET)
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(f"/webhooks/stripe/{org.slug}/", body, content_type="application/json", **extra)


def open_setup(portal, stripe):
    response = portal.post("/facturation/", {"action": "setup_card"})
    assert response.status_code == 302 and response["Location"].startswith(stripe.url)
    return response["Location"].rsplit("/", 1)[1]


def test_saving_a_card_on_stripe_setup_page_makes_it_the_default(portal, org_qc, customer, stripe):
    old = (
        services.add_card(
            customer=customer,
            holder="Marie Roy",
            number="4242424242424242",
            cvv="123",
            expiry="12/40",
            actor=factories.SYSTEM,
        )
        if selectors.sandbox_saves_methods(org_qc.pk)
        else None
    )
    assert "Ajouter une carte" in portal.get("/facturation/").content.decode()
    session_id = open_setup(portal, stripe)
    session = stripe.sessions[session_id]
    assert session["mode"] == "setup" and session["customer"] in stripe.customers
    created = [r for r in stripe.requests if r.path == "/v1/customers"]
    assert created[0].headers["Idempotency-Key"] == f"customer-{org_qc.pk}-{customer.pk}"
    setup = MethodSetup.objects.get()
    assert (
        session["metadata"]["idempotency_key"]
        == setup.idempotency_key
        == stripe.requests[-1].headers["Idempotency-Key"]
    )
    stripe.complete_setup(session_id, holder="Marie Roy", exp=(11, 2031))
    back = portal.get(local(session["success_url"]), follow=True)
    assert "Moyen de paiement ajouté" in back.content.decode()
    method = PaymentMethod.objects.get(provider="stripe")
    assert (method.scheme, method.last4, method.exp_month, method.exp_year, method.holder) == (
        "visa",
        "4242",
        11,
        2031,
        "Marie Roy",
    )
    assert method.is_default and method.provider_customer == session["customer"]
    if old is not None:
        old.refresh_from_db()
        assert not old.is_default
    # The webhooks and a second return change nothing: one method.
    assert (
        post_event(portal, org_qc, stripe.event("checkout.session.completed", session_id)).status_code == 200
    )
    assert post_event(portal, org_qc, stripe.setup_intent_event(session_id)).status_code == 200
    portal.get(local(session["success_url"]))
    assert PaymentMethod.objects.filter(provider="stripe").count() == 1
    assert MethodSetup.objects.get().status == MethodSetup.Status.COMPLETED
    # A second card reuses the Stripe customer.
    open_setup(portal, stripe)
    assert len(stripe.customers) == 1


def test_the_webhook_alone_saves_the_card(portal, org_qc, stripe):
    session_id = open_setup(portal, stripe)
    stripe.complete_setup(session_id)
    post_event(portal, org_qc, stripe.event("checkout.session.completed", session_id))
    assert PaymentMethod.objects.get(provider="stripe").is_default


def test_a_cancelled_setup_saves_nothing(portal, stripe):
    session_id = open_setup(portal, stripe)
    back = portal.get(local(stripe.sessions[session_id]["cancel_url"]), follow=True)
    assert "Enregistrement annulé" in back.content.decode()
    assert MethodSetup.objects.get().status == MethodSetup.Status.FAILED
    assert not PaymentMethod.objects.filter(provider="stripe").exists()


def test_another_customers_setup_is_not_found(portal, org_qc, stripe):
    open_setup(portal, stripe)
    setup = MethodSetup.objects.get()
    other_org = factories.french_organisation()
    stranger = User.objects.create_user(
        "autre@martin.test", PASSWORD, customer=factories.customer(other_org, name="Boulangerie")
    )
    portal.force_login(stranger, backend="django.contrib.auth.backends.ModelBackend")
    assert portal.get(f"/facturation/moyens/ajout/{setup.idempotency_key}/").status_code == 404
    neighbour = User.objects.create_user(
        "voisin@cafe.test", PASSWORD, customer=factories.customer(org_qc, name="Voisin")
    )
    portal.force_login(neighbour, backend="django.contrib.auth.backends.ModelBackend")
    assert portal.get(f"/facturation/moyens/ajout/{setup.idempotency_key}/").status_code == 404


def saved(portal, stripe, number="4242424242424242"):
    session_id = open_setup(portal, stripe)
    stripe.complete_setup(session_id, number=number)
    portal.get(local(stripe.sessions[session_id]["success_url"]))
    return PaymentMethod.objects.get(provider="stripe", last4=number[-4:])


def charge(invoice, method, key="collect-2026-01-22-1"):
    return services.pay_invoice(
        invoice=invoice, payment_method=method, idempotency_key=key, actor=factories.SYSTEM
    )


def test_off_session_charge_carries_our_key_and_the_customer(portal, org_qc, customer, stripe):
    method = saved(portal, stripe)
    invoice = factories.invoice(org_qc, customer, prices=("100.00",))
    payment = charge(invoice, method)
    assert payment.status == Payment.Status.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    (sent,) = [r for r in stripe.requests if r.path == "/v1/payment_intents"]
    assert sent.headers["Idempotency-Key"] == "collect-2026-01-22-1"
    assert sent.params["off_session"] == "true" and sent.params["confirm"] == "true"
    assert (
        sent.params["customer"] == method.provider_customer and sent.params["payment_method"] == method.token
    )
    assert sent.params["amount"] == "11498" and sent.params["metadata"] == {
        "idempotency_key": "collect-2026-01-22-1"
    }
    assert charge(invoice, method).pk == payment.pk  # the same key again: the same payment, no new call
    assert len([r for r in stripe.requests if r.path == "/v1/payment_intents"]) == 1


def test_a_declined_card_leaves_the_invoice_open(portal, org_qc, customer, stripe):
    method = saved(portal, stripe, number="4000000000009995")
    invoice = factories.invoice(org_qc, customer)
    payment = charge(invoice, method)
    assert payment.status == Payment.Status.FAILED and payment.failure_message == "Fonds insuffisants."
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN


def test_a_card_needing_authentication_completes_after_the_customer_authenticates(
    portal, org_qc, customer, stripe
):
    method = saved(portal, stripe, number="4000002760003184")
    invoice = factories.invoice(org_qc, customer)
    payment = charge(invoice, method)
    attempt = ChargeAttempt.objects.get(payment=payment)
    assert payment.status == Payment.Status.PROCESSING and attempt.state == ChargeAttempt.State.CREATED
    assert attempt.action_url.startswith(stripe.url) and attempt.provider_reference.startswith("cs_")
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    mail = OutboundMessage.objects.get(kind="payment_action_required")
    assert mail.to == customer.email and attempt.action_url in mail.body
    page = portal.get("/facturation/").content.decode()
    assert "Confirmer le paiement" in page and attempt.action_url in page
    stripe.authenticate(attempt.provider_reference)
    assert (
        post_event(
            portal, org_qc, stripe.event("checkout.session.completed", attempt.provider_reference)
        ).status_code
        == 200
    )
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert "Confirmer le paiement" not in portal.get("/facturation/").content.decode()


def test_a_card_updated_by_the_network_keeps_our_record_true(portal, org_qc, stripe):
    method = saved(portal, stripe)
    stripe.update_card(method.token, last4="1881", exp=(3, 2034))
    post_event(portal, org_qc, stripe.method_event("payment_method.automatically_updated", method.token))
    method.refresh_from_db()
    assert (method.last4, method.exp_month, method.exp_year, method.status) == ("1881", 3, 2034, "valid")


def test_a_detached_card_is_revoked_and_never_charged_again(portal, org_qc, customer, stripe):
    method = saved(portal, stripe)
    stripe.detach(method.token)
    event = stripe.method_event("payment_method.detached", method.token)
    post_event(portal, org_qc, event)
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.REVOKED and not method.is_default
    assert method not in selectors.valid_methods(customer)
    # A late "updated" event does not bring it back.
    post_event(portal, org_qc, stripe.method_event("payment_method.automatically_updated", method.token))
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.REVOKED
    with pytest.raises(BusinessError) as refused:
        charge(factories.invoice(org_qc, customer), method)
    assert refused.value.error_code == ErrorCode.PAYMENT_METHOD_INVALID
    assert not [r for r in stripe.requests if r.path == "/v1/payment_intents"]


def test_a_timeout_after_stripe_took_the_charge_is_reconciled_without_a_second_charge(
    portal, org_qc, customer, stripe
):
    method = saved(portal, stripe)
    invoice = factories.invoice(org_qc, customer)
    stripe.drop_next_charge_answer = True
    with pytest.raises(Exception):  # noqa: B017 - the SDK's connection error, whatever its class
        charge(invoice, method)
    attempt = ChargeAttempt.objects.get(payment__invoice=invoice)
    assert attempt.state == ChargeAttempt.State.CREATED and not attempt.provider_reference
    counts = services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))
    assert counts["settled"] == 1
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    assert len([r for r in stripe.requests if r.path == "/v1/payment_intents"]) == 1


def test_replayed_and_forged_webhooks_are_refused(portal, org_qc, stripe):
    method = saved(portal, stripe)
    body, headers = fake_stripe.signed_event(
        stripe.method_event("payment_method.detached", method.token), fake_stripe.WEBHOOK_SECRET
    )
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    url = f"/webhooks/stripe/{org_qc.slug}/"
    for _ in range(2):
        assert portal.post(url, body, content_type="application/json", **extra).status_code == 200
    assert WebhookEvent.objects.filter(event_type="payment_method.detached").count() == 1
    forged = portal.post(url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    assert forged.status_code == 401
    stale_body, stale = fake_stripe.signed_event(
        stripe.method_event("payment_method.detached", method.token), fake_stripe.WEBHOOK_SECRET, timestamp=1
    )
    assert (
        portal.post(
            url, stale_body, content_type="application/json", HTTP_STRIPE_SIGNATURE=stale["Stripe-Signature"]
        ).status_code
        == 401
    )


def test_start_setup_refuses_another_customer(org_qc, customer, stripe):
    other = factories.customer(org_qc, name="Voisin", email="v@example.test")
    user = User.objects.create_user("v@cafe.test", PASSWORD, customer=other)
    with pytest.raises(PermissionDenied):
        services.start_method_setup(customer=customer, kind="card", actor=user)
    assert not MethodSetup.objects.exists() and not stripe.requests


def week_old(setup):
    MethodSetup.objects.filter(pk=setup.pk).update(
        created_at=setup.created_at - services.setup.SETUP_ABANDONED_AFTER - datetime.timedelta(minutes=1)
    )


def test_the_sweep_closes_setups_left_on_the_providers_page(portal, org_qc, stripe):
    session_id = open_setup(portal, stripe)
    setup = MethodSetup.objects.get()
    assert services.sweep_abandoned_setups(actor=factories.SYSTEM) == {"saved": 0, "closed": 0}  # too young
    week_old(setup)
    assert services.sweep_abandoned_setups(actor=factories.SYSTEM) == {"saved": 0, "closed": 1}
    assert MethodSetup.objects.get().status == MethodSetup.Status.FAILED
    # Finished at Stripe after all: the closed setup saves nothing.
    stripe.complete_setup(session_id)
    portal.get(local(stripe.sessions[session_id]["success_url"]))
    assert not PaymentMethod.objects.filter(provider="stripe").exists()
    assert services.sweep_abandoned_setups(actor=factories.SYSTEM) == {"saved": 0, "closed": 0}


def test_the_sweep_saves_a_card_whose_return_and_webhook_were_lost(portal, org_qc, stripe):
    session_id = open_setup(portal, stripe)
    stripe.complete_setup(session_id)
    week_old(MethodSetup.objects.get())
    assert services.sweep_abandoned_setups(actor=factories.SYSTEM) == {"saved": 1, "closed": 0}
    assert PaymentMethod.objects.get(provider="stripe").is_default


def test_the_sweep_leaves_a_setup_stripe_cannot_answer_for(portal, org_qc, stripe, settings):
    open_setup(portal, stripe)
    week_old(MethodSetup.objects.get())
    settings.STRIPE_API_BASE = "http://127.0.0.1:9"  # nothing listens there
    assert services.sweep_abandoned_setups(actor=factories.SYSTEM) == {"saved": 0, "closed": 0}
    assert MethodSetup.objects.get().status == MethodSetup.Status.OPEN


def test_reconcile_payments_command_sweeps_setups_too(portal, org_qc, stripe):
    open_setup(portal, stripe)
    out = io.StringIO()
    call_command("reconcile_payments", "--setups-older-than", "0", stdout=out)
    assert "enregistrements abandonnés : 1 clos, 0 moyens retrouvés" in out.getvalue()
    assert MethodSetup.objects.get().status == MethodSetup.Status.FAILED
