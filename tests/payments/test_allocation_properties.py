"""Hypothesis: allocations never exceed the payment, paid iff fully allocated, balances equal the ledger.

Sums are taken in Python: SQLite adds decimals as floats, which would blur the cent.
"""

import datetime
import uuid
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from acquitte.invoicing.models import Allocation, Invoice
from acquitte.invoicing.selectors import receivables
from acquitte.payments import services
from acquitte.payments.models import Payment
from tests import factories

EXPIRY = f"12/{(datetime.date.today().year + 1) % 100:02d}"
cents = st.integers(min_value=1, max_value=40_000).map(lambda c: Decimal(c) / 100)
operation = st.one_of(
    st.tuples(st.just("pay"), cents),
    st.tuples(st.just("refund"), st.integers(min_value=1, max_value=100)),
)


class TestAllocationInvariants(TestCase):
    @classmethod
    def setUpTestData(cls):
        cls.org = factories.quebec_organisation()

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(prices=st.lists(cents, min_size=1, max_size=4), operations=st.lists(operation, max_size=6))
    def test_invariants_hold_after_any_payments_and_refunds(self, prices, operations):
        customer = factories.customer(self.org, email=f"{uuid.uuid4().hex}@example.com")
        for price in prices:
            factories.invoice(self.org, customer, prices=(str(price),))
        method = services.add_card(
            actor=factories.SYSTEM,
            customer=customer,
            holder="Isabelle Côté",
            number="4242424242424242",
            cvv="123",
            expiry=EXPIRY,
        )
        for kind, value in operations:
            if kind == "pay":
                services.make_payment(
                    actor=factories.SYSTEM,
                    customer=customer,
                    amount=value,
                    payment_method=method,
                    idempotency_key=uuid.uuid4().hex,
                )
                continue
            payment = Payment.objects.filter(customer=customer, status=Payment.Status.SUCCEEDED).first()
            if payment is not None:
                amount = (payment.amount * value / 100).quantize(Decimal("0.01")) or Decimal("0.01")
                services.refund(actor=factories.SYSTEM, payment=payment, amount=amount)

        payments = list(Payment.objects.filter(customer=customer))
        for payment in payments:
            allocated = sum((a.amount for a in payment.allocations.all()), Decimal("0"))
            assert allocated <= payment.amount - payment.amount_refunded
        for invoice in Invoice.objects.filter(customer=customer):
            allocated = sum((a.amount for a in Allocation.objects.filter(invoice=invoice)), Decimal("0"))
            assert invoice.amount_paid == allocated <= invoice.total
            assert (invoice.status == Invoice.Status.PAID) == (allocated == invoice.total)
        owed = sum(Invoice.objects.filter(customer=customer).values_list("total", flat=True))
        paid = sum(p.amount for p in payments if p.status != Payment.Status.FAILED)
        refunded = sum(p.amount_refunded for p in payments)
        account = receivables(customer)
        assert account.balance == owed - paid + refunded
        assert account.amount_due == sum(
            i.total - i.amount_paid for i in Invoice.objects.filter(customer=customer, status="open")
        )
