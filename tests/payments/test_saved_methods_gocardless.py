"""Mandates saved at GoCardless and debited without the payer, end to end through the app's URLs,
with the real SDK against the local fake: setup, return, webhooks, payment events, a mandate
cancelled at the bank, a chargeback, and a timeout reconciled without a second debit."""

import datetime

import pytest
from django.test import TestCase

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import Invoice, LedgerEntry
from acquitte.notifications.models import Notification
from acquitte.payments import selectors, services
from acquitte.payments.models import ChargeAttempt, MethodSetup, Payment, PaymentMethod
from acquitte.payments.providers import gocardless
from tests import factories
from tests.payments.fake_gocardless import FakeGoCardless, event, signed_webhook
from tests.payments.fake_providers import GOCARDLESS_TOKENS
from tests.payments.test_hosted_payments import connect
from tests.payments.test_saved_methods_stripe import local

SECRET = "gc-merchant-webhook-secret"


@pytest.fixture
def fake(settings, org_fr):
    with FakeGoCardless("test") as server:
        settings.GOCARDLESS_API_BASES = {"test": server.url, "live": server.url}
        connect(org_fr, "gocardless", {"access_token": GOCARDLESS_TOKENS["test"], "webhook_secret": SECRET})
        yield server


@pytest.fixture
def portal(client, customer_fr):
    return factories.logged_in(client, customer_fr, "compta@martin.test")


def post_events(client, org, *events, secret=SECRET):
    body, headers = signed_webhook(list(events), secret)
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/webhooks/gocardless/{org.slug}/",
            body,
            content_type="application/json",
            HTTP_WEBHOOK_SIGNATURE=headers["Webhook-Signature"],
        )


def open_setup(portal, fake):
    response = portal.post("/facturation/", {"action": "setup_bank"})
    assert response.status_code == 302
    [flow] = fake.flows.values()
    assert response["Location"] == flow["authorisation_url"]
    return flow


def saved(portal, fake, **account):
    flow = open_setup(portal, fake)
    mandate = fake.fulfil(flow["links"]["billing_request"], **account)
    portal.get(local(flow["redirect_uri"]))
    return PaymentMethod.objects.get(provider="gocardless", token=mandate)


def test_a_mandate_set_up_on_gocardless_becomes_the_default(portal, org_fr, customer_fr, fake):
    assert "Ajouter un prélèvement automatique" in portal.get("/facturation/").content.decode()
    flow = open_setup(portal, fake)
    [created] = fake.seen("POST", "/billing_requests")
    setup = MethodSetup.objects.get()
    assert created.headers["Idempotency-Key"] == setup.idempotency_key
    [billing_request] = fake.billing_requests.values()
    assert billing_request["payment_request"] is None  # a mandate alone, no payment
    assert flow["redirect_uri"].endswith(f"/facturation/moyens/ajout/{setup.idempotency_key}/")
    mandate = fake.fulfil(billing_request["id"], holder="Paul Martin", account_ending="89")
    back = portal.get(local(flow["redirect_uri"]), follow=True)
    assert "Moyen de paiement ajouté" in back.content.decode()
    method = PaymentMethod.objects.get(provider="gocardless")
    assert (method.token, method.kind, method.scheme, method.last4, method.holder, method.bank_name) == (
        mandate,
        PaymentMethod.Kind.BANK_DEBIT,
        PaymentMethod.Scheme.SEPA,
        "89",
        "Paul Martin",
        "BNP PARIBAS",
    )
    assert method.is_default and method in selectors.valid_methods(customer_fr)
    # The webhook after the return, and a second return, save nothing more.
    fulfilled = event("billing_requests", "fulfilled", billing_request=billing_request["id"])
    assert post_events(portal, org_fr, fulfilled).status_code == 200
    portal.get(local(flow["redirect_uri"]))
    assert PaymentMethod.objects.filter(provider="gocardless").count() == 1
    assert MethodSetup.objects.get().status == MethodSetup.Status.COMPLETED


def test_the_webhook_alone_saves_the_mandate(portal, org_fr, fake):
    flow = open_setup(portal, fake)
    billing_request = flow["links"]["billing_request"]
    fake.fulfil(billing_request)
    post_events(portal, org_fr, event("billing_requests", "fulfilled", billing_request=billing_request))
    assert PaymentMethod.objects.get(provider="gocardless").is_default


def test_leaving_the_flow_saves_nothing(portal, fake):
    flow = open_setup(portal, fake)
    back = portal.get(local(flow["exit_uri"]), follow=True)
    assert "Enregistrement annulé" in back.content.decode()
    assert MethodSetup.objects.get().status == MethodSetup.Status.FAILED
    assert not PaymentMethod.objects.exists()


def test_a_debit_carries_our_key_and_is_paid_once_gocardless_pays_it_out(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr, prices=("100.00",))
    payment = factories.pay_saved(invoice, method)
    [sent] = fake.seen("POST", "/payments")
    assert sent.headers["Idempotency-Key"] == "collect-2026-03-22-1"
    charged = fake.payments[payment.provider_reference]
    assert charged["links"]["mandate"] == method.token and charged["amount"] == 12000
    assert charged["charge_date"]  # GoCardless chose the earliest date the mandate allows
    assert payment.status == Payment.Status.PROCESSING
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    assert "Prélèvement en cours" in portal.get(f"/factures/{invoice.pk}/").content.decode()
    assert (
        factories.pay_saved(invoice, method).pk == payment.pk
    )  # the same key: the same payment, no second debit
    assert len(fake.payments) == 1
    reference = payment.provider_reference
    post_events(portal, org_fr, event("payments", "confirmed", payment=reference))
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.PROCESSING
    post_events(portal, org_fr, event("payments", "paid_out", payment=reference))
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.SUCCEEDED
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID


def test_a_failed_debit_is_a_failed_charge_and_the_invoice_stays_open(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr)
    payment = factories.pay_saved(invoice, method)
    post_events(portal, org_fr, event("payments", "failed", payment=payment.provider_reference))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.FAILED
    assert ChargeAttempt.objects.get(payment=payment).state == ChargeAttempt.State.FAILED
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.OPEN
    assert Notification.objects.filter(kind="payment_failed").exists()
    # A late "paid_out" for the same payment does not bring it back.
    post_events(portal, org_fr, event("payments", "paid_out", payment=payment.provider_reference))
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED


def test_a_chargeback_after_payout_reopens_the_invoice_once(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr)
    payment = factories.pay_saved(invoice, method)
    reference = payment.provider_reference
    post_events(portal, org_fr, event("payments", "paid_out", payment=reference))
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    chargeback = event("payments", "charged_back", payment=reference)
    for _ in range(2):  # GoCardless retries a delivery: applied once
        post_events(portal, org_fr, chargeback)
    payment.refresh_from_db()
    assert payment.status == Payment.Status.CHARGED_BACK
    invoice = Invoice.objects.get(pk=invoice.pk)
    assert invoice.status == Invoice.Status.OPEN and invoice.amount_paid == 0
    [entry] = LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGEBACK)
    assert entry.amount == payment.amount
    assert Notification.objects.filter(kind="payment_charged_back").count() == 1
    post_events(portal, org_fr, event("payments", "late_failure_settled", payment=reference))
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGEBACK).count() == 1


def test_a_chargeback_before_we_heard_of_the_payout_is_a_failed_charge(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr)
    payment = factories.pay_saved(invoice, method)
    post_events(portal, org_fr, event("payments", "charged_back", payment=payment.provider_reference))
    assert Payment.objects.get(pk=payment.pk).status == Payment.Status.FAILED
    assert not LedgerEntry.objects.filter(kind=LedgerEntry.Kind.CHARGEBACK).exists()


def test_a_mandate_cancelled_at_the_bank_is_never_debited_again(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    fake.set_mandate_status(method.token, "cancelled")
    post_events(portal, org_fr, event("mandates", "cancelled", mandate=method.token))
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.REVOKED and not method.is_default
    assert method not in selectors.valid_methods(customer_fr)
    with pytest.raises(BusinessError) as refused:
        factories.pay_saved(factories.invoice(org_fr, customer_fr), method)
    assert refused.value.error_code == ErrorCode.PAYMENT_METHOD_INVALID
    assert not fake.seen("POST", "/payments")


def test_an_expired_mandate_is_not_debited(portal, org_fr, customer_fr, fake):
    method = saved(portal, fake)
    post_events(portal, org_fr, event("mandates", "expired", mandate=method.token))
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.EXPIRED
    assert method not in selectors.valid_methods(customer_fr)


def test_a_timeout_after_gocardless_took_the_debit_is_reconciled_without_a_second_one(
    portal, org_fr, customer_fr, fake, monkeypatch
):
    method = saved(portal, fake)
    invoice = factories.invoice(org_fr, customer_fr)
    monkeypatch.setattr(gocardless, "TIMEOUT_SECONDS", 0.3)
    fake.stall_payments = 1.0
    with pytest.raises(Exception):  # noqa: B017 - the SDK's timeout, whatever its class
        factories.pay_saved(invoice, method)
    fake.stall_payments = 0.0
    attempt = ChargeAttempt.objects.get(payment__invoice=invoice)
    assert attempt.state == ChargeAttempt.State.CREATED and not attempt.provider_reference
    services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))
    attempt.refresh_from_db()
    [taken] = fake.payments
    assert attempt.state == ChargeAttempt.State.PENDING and attempt.provider_reference == taken
    assert len(fake.seen("POST", "/payments")) == 1
    post_events(portal, org_fr, event("payments", "paid_out", payment=taken))
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID


def test_forged_and_replayed_deliveries_change_nothing(portal, org_fr, fake):
    method = saved(portal, fake)
    cancelled = event("mandates", "cancelled", mandate=method.token)
    assert post_events(portal, org_fr, cancelled, secret="not-the-secret").status_code == 498
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.VALID
    assert post_events(portal, org_fr, cancelled).status_code == 200
    assert post_events(portal, org_fr, cancelled).status_code == 200
    method.refresh_from_db()
    assert method.status == PaymentMethod.Status.REVOKED
