import datetime
import uuid

from acquitte.customers.services import create_staff_user
from acquitte.payments import services
from acquitte.payments.models import Payment
from tests import factories


def _paid(org, customer):
    inv = factories.invoice(org, customer)
    method = services.add_card(
        actor=factories.SYSTEM,
        customer=customer,
        holder="A B",
        number="4242424242424242",
        cvv="123",
        expiry=f"12/{(datetime.date.today().year + 1) % 100:02d}",
    )
    return services.pay_invoice(
        actor=factories.SYSTEM, invoice=inv, payment_method=method, idempotency_key=uuid.uuid4().hex
    )


def test_staff_see_their_payments_only_and_refund_by_role(client, org_qc, customer_qc, org_fr, customer_fr):
    mine, theirs = _paid(org_qc, customer_qc), _paid(org_fr, customer_fr)
    reader = create_staff_user(
        actor=factories.SYSTEM,
        organisation=org_qc,
        email="r@qc.test",
        password="x-long-pass-1",
        role="read_only",
    )
    owner = create_staff_user(
        actor=factories.SYSTEM, organisation=org_qc, email="o@qc.test", password="x-long-pass-1", role="owner"
    )
    client.force_login(reader, backend="django.contrib.auth.backends.ModelBackend")
    page = client.get("/admin/payments/payment/").content.decode()
    assert customer_qc.name in page and customer_fr.name not in page
    client.post("/admin/payments/payment/", {"action": "refund_selected", "_selected_action": [mine.pk]})
    assert Payment.objects.get(pk=mine.pk).status == "succeeded"
    client.force_login(owner, backend="django.contrib.auth.backends.ModelBackend")
    client.post(
        "/admin/payments/payment/", {"action": "refund_selected", "_selected_action": [mine.pk, theirs.pk]}
    )
    assert Payment.objects.get(pk=mine.pk).status == "refunded"
    assert Payment.objects.get(pk=theirs.pk).status == "succeeded"
    assert (
        "4242424242424242"
        not in client.get(f"/admin/payments/paymentmethod/{mine.payment_method_id}/change/").content.decode()
    )
