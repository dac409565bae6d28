"""Balances from the ledger: partial payments, overpayment, credit notes, void."""

import datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from acquitte.invoicing import services
from acquitte.invoicing.models import Allocation, Invoice
from acquitte.invoicing.selectors import receivables
from acquitte.payments.services import record_payment
from tests import factories
from tests.factories import SYSTEM


def test_partial_payments_overdue_and_credit(org_qc, customer_qc):
    old = factories.invoice(org_qc, customer_qc, finalise=False)
    services.finalise_invoice(actor=SYSTEM, invoice=old, issue_date=datetime.date(2026, 1, 5))  # due Feb 4
    new = factories.invoice(org_qc, customer_qc, prices=("200.00",))  # 229.95, due in 30 days
    today = datetime.date.today()
    r = receivables(customer_qc, today=today)
    assert r.amount_due == Decimal("344.93") == r.balance
    assert r.overdue_amount == Decimal("114.98")
    # the next date to come, not the past one: that invoice is the overdue amount
    assert r.next_due_date == new.due_date > today
    assert r.credit_balance == 0

    record_payment(
        actor=SYSTEM, organisation=org_qc, customer=customer_qc, amount="150.00", method="bank_transfer"
    )
    old.refresh_from_db()
    new.refresh_from_db()
    assert old.status == "paid"  # oldest first
    assert new.amount_paid == Decimal("35.02") and new.display_status() == "partly_paid"
    r = receivables(customer_qc, today=today)
    assert r.amount_due == Decimal("194.93") and r.overdue_amount == 0

    record_payment(actor=SYSTEM, organisation=org_qc, customer=customer_qc, amount="200.00", method="cheque")
    r = receivables(customer_qc, today=today)
    assert r.amount_due == 0 and r.credit_balance == Decimal("5.07") and r.balance == Decimal("-5.07")


def test_credit_note_on_a_paid_invoice_becomes_credit(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    record_payment(
        actor=SYSTEM,
        organisation=org_qc,
        customer=customer_qc,
        amount=inv.total,
        method="cheque",
        invoice=inv,
    )
    credit = services.finalise_invoice(
        actor=SYSTEM, invoice=services.create_credit_note(actor=SYSTEM, invoice=inv)
    )
    r = receivables(customer_qc)
    assert r.credit_balance == credit.total == Decimal("114.98")
    assert r.balance == -credit.total


class TestAllocationProperties(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.org = factories.quebec_organisation()

    @settings(max_examples=25, deadline=None)
    @given(
        invoices=st.lists(st.sampled_from(["10.00", "99.99", "250.00", "0.01"]), min_size=1, max_size=4),
        payments=st.lists(
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("500"), places=2), min_size=1, max_size=4
        ),
    )
    def test_allocations_match_payments_and_ledger(self, invoices, payments):
        customer = factories.customer(self.org)
        for price in invoices:
            factories.invoice(self.org, customer, prices=(price,))
        for amount in payments:
            payment = record_payment(
                actor=SYSTEM, organisation=self.org, customer=customer, amount=amount, method="cash"
            )
            allocated = sum(a.amount for a in Allocation.objects.filter(payment=payment))
            assert allocated <= payment.amount
        for inv in Invoice.objects.filter(customer=customer):
            assert inv.amount_paid == sum(a.amount for a in inv.allocations.all())
            assert (inv.status == "paid") == (inv.amount_paid == inv.total)
        r = receivables(customer)
        total_invoiced = sum(i.total for i in Invoice.objects.filter(customer=customer))
        assert r.balance == total_invoiced - sum(payments)
        assert r.amount_due - r.credit_balance == r.balance
