"""Refunds follow the charge rule: committed first, the provider called outside every lock, the
answer applied once, and a refund left in doubt settled by asking the provider."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.db import transaction

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import LedgerEntry
from acquitte.payments import services
from acquitte.payments.models import Payment, RefundAttempt, SandboxRefund
from acquitte.payments.providers.sandbox import SandboxProvider
from tests import factories

NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


def paid(org, customer) -> Payment:
    invoice = factories.invoice(org, customer)
    method = services.add_card(
        customer=customer,
        holder="A B",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
        actor=factories.SYSTEM,
    )
    return services.pay_invoice(
        invoice=invoice, payment_method=method, idempotency_key=uuid.uuid4().hex, actor=factories.SYSTEM
    )


def reconcile():
    return services.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))


def timeout_after_refunding(monkeypatch):
    """The provider makes the refund, then the answer is lost on the way back."""
    real = SandboxProvider.refund

    def refund_then_time_out(self, **kwargs):
        real(self, **kwargs)
        raise TimeoutError("read timed out")

    monkeypatch.setattr(SandboxProvider, "refund", refund_then_time_out)


def test_a_timeout_after_the_provider_refunded_ends_in_one_single_refund(org_qc, customer_qc, monkeypatch):
    payment = paid(org_qc, customer_qc)
    owner = factories.staff(org_qc)
    timeout_after_refunding(monkeypatch)
    with pytest.raises(BusinessError) as refused:
        services.refund(payment=payment, amount="30.00", actor=owner)
    assert refused.value.error_code == ErrorCode.PROVIDER_UNAVAILABLE
    monkeypatch.undo()
    payment.refresh_from_db()
    assert SandboxRefund.objects.count() == 1  # the provider gave the money back
    assert payment.amount_refunded == 0 and payment.status == Payment.Status.SUCCEEDED
    assert RefundAttempt.objects.get().state == RefundAttempt.State.CREATED
    with pytest.raises(BusinessError) as busy:
        services.refund(payment=payment, amount="5.00", actor=owner)
    assert busy.value.error_code == ErrorCode.PAYMENT_IN_PROGRESS
    assert reconcile() == {"checked": 1, "settled": 1}
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("30.00") and payment.status == Payment.Status.PARTLY_REFUNDED
    assert SandboxRefund.objects.count() == 1
    assert LedgerEntry.objects.filter(payment=payment, kind=LedgerEntry.Kind.REFUND).count() == 1
    assert RefundAttempt.objects.get().state == RefundAttempt.State.SUCCEEDED
    assert reconcile() == {"checked": 0, "settled": 0}


def test_asking_again_while_in_doubt_reuses_the_key_and_refunds_once(org_qc, customer_qc, monkeypatch):
    payment = paid(org_qc, customer_qc)
    owner = factories.staff(org_qc)
    timeout_after_refunding(monkeypatch)
    with pytest.raises(BusinessError):
        services.refund(payment=payment, amount="30.00", actor=owner)
    monkeypatch.undo()
    services.refund(payment=payment, amount="30.00", actor=owner)
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("30.00")
    assert SandboxRefund.objects.count() == 1 and RefundAttempt.objects.count() == 1
    assert reconcile()["checked"] == 0


def test_a_refund_the_provider_never_made_is_closed_and_can_be_asked_again(org_qc, customer_qc, monkeypatch):
    payment = paid(org_qc, customer_qc)
    owner = factories.staff(org_qc)
    monkeypatch.setattr(
        SandboxProvider, "refund", lambda self, **kw: (_ for _ in ()).throw(ConnectionError())
    )
    with pytest.raises(BusinessError):
        services.refund(payment=payment, amount="30.00", actor=owner)
    monkeypatch.undo()
    assert reconcile() == {"checked": 1, "settled": 1}
    assert RefundAttempt.objects.get().state == RefundAttempt.State.FAILED
    payment.refresh_from_db()
    assert payment.amount_refunded == 0 and SandboxRefund.objects.count() == 0
    services.refund(payment=payment, amount="5.00", actor=owner)
    payment.refresh_from_db()
    assert payment.amount_refunded == Decimal("5.00")


@pytest.mark.django_db(transaction=True)
def test_the_provider_is_called_outside_any_transaction(monkeypatch):
    org = factories.quebec_organisation("refund-tx")
    payment = paid(org, factories.customer(org))
    seen = []
    real = SandboxProvider.refund

    def watch(self, **kwargs):
        seen.append(transaction.get_connection().in_atomic_block)
        return real(self, **kwargs)

    monkeypatch.setattr(SandboxProvider, "refund", watch)
    services.refund(payment=payment, amount="10.00", actor=factories.staff(org))
    assert seen == [False]
    assert Payment.objects.get(pk=payment.pk).amount_refunded == Decimal("10.00")


def test_refunds_are_for_the_staff_of_the_payments_organisation(org_qc, customer_qc, org_fr):
    payment = paid(org_qc, customer_qc)
    with pytest.raises(PermissionDenied):
        services.refund(
            payment=payment, amount="1.00", actor=factories.staff(org_fr, email="fr@example.test")
        )
    assert not RefundAttempt.objects.exists()
