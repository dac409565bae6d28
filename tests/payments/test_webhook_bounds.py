"""The webhook endpoint bounds what it parses (issue 11, items 5 and 7): headers, timestamps, JSON
depth and numbers, before or after the signature; and event ids are unique per organisation."""

import json
import time
import uuid

import pytest
from django.test import TestCase

from acquitte.payments import services
from acquitte.payments.models import Payment, WebhookEvent
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


def pending_debit(org, customer):
    inv = factories.invoice(org, customer)
    payment = services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=debit(customer), idempotency_key=uuid.uuid4().hex
    )
    assert payment.status == Payment.Status.PROCESSING
    return inv, payment


def post_raw(client, org, body: bytes, header: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/webhooks/sandbox/{org.slug}/",
            data=body,
            content_type="application/json",
            headers={SIGNATURE_HEADER: header},
        )


def signed(client, org, body: bytes):
    secret = services.webhook_secret(provider="sandbox", organisation=org)
    return post_raw(client, org, body, sign(body, secret))


def test_a_400_digit_timestamp_is_refused_before_the_signature(client, org_qc):
    client.raise_request_exception = False
    response = post_raw(client, org_qc, b"{}", f"t={'9' * 400},v1=00")
    assert response.status_code == 401
    assert not WebhookEvent.objects.exists()


def test_an_overlong_header_is_refused(client, org_qc):
    client.raise_request_exception = False
    response = post_raw(client, org_qc, b"{}", "t=1," + "v1=a," * 5000)
    assert response.status_code == 400


@pytest.mark.parametrize(
    "body",
    [
        b'{"id": "e1", "type": "payment.paid_out", "data": {"reference": NaN}}',
        b'{"id": Infinity, "type": "payment.paid_out", "data": {"reference": "r"}}',
        b'{"id": 1e400, "type": "payment.paid_out", "data": {"reference": "r"}}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
        b"\xff\xfe",
    ],
    ids=["nan", "infinity", "huge-float", "deep-list", "deep-object", "not-utf8"],
)
def test_signed_but_hostile_bodies_are_refused_and_stored_nowhere(client, org_qc, body):
    client.raise_request_exception = False
    response = signed(client, org_qc, body)
    assert response.status_code in (400, 413)
    assert not WebhookEvent.objects.exists()


def test_the_same_event_id_in_two_organisations_is_stored_and_applied_for_both(client, org_qc, org_fr):
    """Before: unique per (provider, event id), so the second organisation's event was dropped
    (200, not stored, its debit left pending)."""
    settled = []
    for org, name in ((org_qc, "Café Bonjour"), (org_fr, "Boulangerie Martin")):
        customer = factories.customer(org, name=name, email=f"compta@{org.slug}.example")
        inv, payment = pending_debit(org, customer)
        SandboxProvider().settle_debit(reference=payment.provider_reference, outcome="paid_out")
        event = {
            "id": "sbx_evt_same_id_in_both",
            "type": "payment.paid_out",
            "created": int(time.time()),
            "data": {"reference": payment.provider_reference},
        }
        assert signed(client, org, json.dumps(event).encode()).status_code == 200
        settled.append((org, inv, payment))
    assert WebhookEvent.objects.filter(event_id="sbx_evt_same_id_in_both").count() == 2
    for org, inv, payment in settled:
        payment.refresh_from_db()
        inv.refresh_from_db()
        assert payment.status == Payment.Status.SUCCEEDED, org.slug
        assert inv.status == inv.Status.PAID, org.slug
        assert WebhookEvent.objects.get(organisation=org).status == WebhookEvent.Status.PROCESSED
    # A replay within one organisation is still stored once.
    org, _inv, payment = settled[0]
    event = {"id": "sbx_evt_same_id_in_both", "type": "payment.paid_out", "data": {"reference": "x"}}
    assert signed(client, org, json.dumps(event).encode()).status_code == 200
    assert WebhookEvent.objects.filter(organisation=org).count() == 1
