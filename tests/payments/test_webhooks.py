"""Webhook inbox: verified, stored once per event, applied monotonically whatever the order."""

import datetime
import json
import time
import uuid

import pytest
from django.test import TestCase

from acquitte.payments import services
from acquitte.payments.models import ChargeAttempt, Payment, WebhookEvent
from acquitte.payments.providers.sandbox import SIGNATURE_HEADER, SandboxProvider, sign
from tests import factories


def debit(customer):
    return services.add_bank_account(
        actor=factories.SYSTEM,
        customer=customer,
        holder="Café Bonjour inc.",
        scheme="pad",
        institution="006",
        transit="00123",
        account="1234567",
    )


def post(client, org, event, secret=None, timestamp=None, slug=None):
    body = json.dumps(event).encode()
    secret = secret or services.webhook_secret(provider="sandbox", organisation=org)
    with TestCase.captureOnCommitCallbacks(execute=True):  # the task runs after the commit
        return client.post(
            f"/webhooks/sandbox/{slug or org.slug}/",
            data=body,
            content_type="application/json",
            headers={SIGNATURE_HEADER: sign(body, secret, timestamp)},
        )


@pytest.fixture
def pending_debit(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    payment = services.pay_invoice(
        actor=factories.SYSTEM,
        invoice=inv,
        payment_method=debit(customer_qc),
        idempotency_key=uuid.uuid4().hex,
    )
    assert payment.status == "processing" and payment.attempt.state == "pending"
    return inv, payment


def test_direct_debit_settles_through_signed_webhooks(client, org_qc, pending_debit):
    inv, payment = pending_debit
    sandbox = SandboxProvider()
    for outcome in ("confirmed", "paid_out"):
        assert (
            post(
                client, org_qc, sandbox.settle_debit(reference=payment.provider_reference, outcome=outcome)
            ).status_code
            == 200
        )
    inv.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == "succeeded" and inv.status == "paid"
    assert WebhookEvent.objects.filter(processed_at__isnull=False).count() == 2


def test_duplicate_delivery_changes_nothing(client, org_qc, pending_debit):
    inv, payment = pending_debit
    event = SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="paid_out")
    assert post(client, org_qc, event).status_code == 200
    assert post(client, org_qc, event).status_code == 200
    assert WebhookEvent.objects.count() == 1
    assert Payment.objects.filter(status="succeeded").count() == 1
    inv.refresh_from_db()
    assert inv.amount_paid == inv.total


def test_out_of_order_batch_ends_in_the_right_state(client, org_qc, pending_debit):
    inv, payment = pending_debit
    sandbox = SandboxProvider()
    paid = sandbox.settle_debit(reference=payment.provider_reference, outcome="paid_out")
    confirmed = sandbox.settle_debit(reference=payment.provider_reference, outcome="confirmed")
    failed_late = sandbox.settle_debit(reference=payment.provider_reference, outcome="failed")
    for event in (paid, confirmed, failed_late, paid):
        post(client, org_qc, event)
    payment.refresh_from_db()
    inv.refresh_from_db()
    assert payment.status == "succeeded" and inv.status == "paid"
    assert ChargeAttempt.objects.get().state == "succeeded"


def test_failed_debit_leaves_invoice_unpaid(client, org_qc, pending_debit):
    inv, payment = pending_debit
    post(
        client, org_qc, SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="failed")
    )
    payment.refresh_from_db()
    inv.refresh_from_db()
    assert payment.status == "failed" and inv.status == "open"


def test_rejected_requests_change_nothing(client, org_qc, pending_debit):
    _, payment = pending_debit
    event = SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="paid_out")
    assert post(client, org_qc, event, secret="wrong").status_code == 401
    assert post(client, org_qc, event, timestamp=int(time.time()) - 3600).status_code == 401
    assert post(client, org_qc, event, slug="inconnue").status_code == 404
    assert post(client, org_qc, {"id": "x", "type": "nonsense"}).status_code == 400
    assert (
        client.post(
            f"/webhooks/sandbox/{org_qc.slug}/", data=b"{}", content_type="application/json"
        ).status_code
        == 401
    )
    assert client.get(f"/webhooks/sandbox/{org_qc.slug}/").status_code == 405
    assert WebhookEvent.objects.count() == 0
    payment.refresh_from_db()
    assert payment.status == "processing"


def test_other_organisations_secret_is_refused(client, org_qc, org_fr, pending_debit):
    _, payment = pending_debit
    event = SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="paid_out")
    other_secret = services.webhook_secret(provider="sandbox", organisation=org_fr)
    assert post(client, org_qc, event, secret=other_secret).status_code == 401
    # Signed for org_fr but naming org_qc's charge: stored for org_fr, applied to nothing.
    assert post(client, org_fr, event).status_code == 200
    payment.refresh_from_db()
    assert payment.status == "processing"
    assert WebhookEvent.objects.get().error == "unknown charge"


def test_reconcile_settles_a_debit_whose_webhook_was_lost(org_qc, pending_debit):
    inv, payment = pending_debit
    SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="paid_out")
    services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))
    inv.refresh_from_db()
    assert inv.status == "paid"
