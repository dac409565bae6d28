"""Money and tax rules (DESIGN: per-rate tax on the sum of line nets, rounded half-up)."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from acquitte.core.errors import BusinessError
from acquitte.core.money import check_currency, round_money, to_decimal
from acquitte.core.taxes import TaxableLine, tax_breakdown
from acquitte.invoicing import services
from tests import factories

prices = st.decimals(min_value=Decimal("0"), max_value=Decimal("99999.99"), places=2)
quantities = st.decimals(min_value=Decimal("0.001"), max_value=Decimal("999.999"), places=3)
discounts = st.decimals(min_value=Decimal("0"), max_value=Decimal("100"), places=2)


class Rate:
    def __init__(self, code, rate):
        self.code, self.rate = code, Decimal(rate)


@given(st.lists(st.tuples(prices, st.sampled_from(["20", "10", "5.5", "2.1"])), min_size=1, max_size=20))
def test_tax_is_computed_per_rate_on_the_sum_of_nets(lines):
    rates = {r: Rate(f"FR-{r}", r) for r in ["20", "10", "5.5", "2.1"]}
    result = tax_breakdown(TaxableLine(net=net, rates=(rates[r],)) for net, r in lines)
    for tax in result:
        base = sum((net for net, r in lines if rates[r] is tax.rate), Decimal(0))
        assert tax.base == base
        assert tax.amount == (base * tax.rate.rate / 100).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")


def test_rounding_is_half_up_not_bankers():
    assert round_money(Decimal("0.125")) == Decimal("0.13")
    assert round_money(Decimal("2.675")) == Decimal("2.68")
    assert round_money(Decimal("-0.125")) == Decimal("-0.13")


def test_floats_and_garbage_are_refused():
    with pytest.raises(TypeError):
        to_decimal(0.1)
    for bad in ["abc", "NaN", "Infinity", None]:
        with pytest.raises(BusinessError):
            to_decimal(bad)
    with pytest.raises(BusinessError):
        check_currency("XYZ")
    assert check_currency("cad") == "CAD"


class TestInvoiceTotals(TestCase):
    """Totals of real invoices built through the services, on a real database."""

    @classmethod
    def setUpTestData(cls):
        cls.qc = factories.quebec_organisation()
        cls.fr = factories.french_organisation()
        cls.cust_qc = factories.customer(cls.qc)
        cls.cust_fr = factories.customer(cls.fr)

    def test_quebec_100_dollars(self):
        inv = factories.invoice(self.qc, self.cust_qc)
        taxes = {t.code: t.amount for t in inv.taxes.all()}
        assert taxes == {"CA-GST": Decimal("5.00"), "CA-QC-QST": Decimal("9.98")}
        assert inv.total == Decimal("114.98")

    def test_french_examples_per_rate(self):
        expected = {"20": "20.00", "10": "10.00", "5.5": "5.50", "2.1": "2.10"}
        for rate, tax in expected.items():
            inv = services.create_invoice(
                actor=factories.SYSTEM,
                organisation=self.fr,
                customer=self.cust_fr,
                lines=[factories.line(self.fr, price="100.00", category_code=f"tva-{rate}")],
            )
            assert inv.tax_total == Decimal(tax)
            assert inv.total == Decimal("100.00") + Decimal(tax)

    def test_lines_of_one_rate_are_summed_before_rounding(self):
        # Three lines of 0.05 at 20 %: per line 0.01 each (0.03), on the sum 0.15 * 20 % = 0.03;
        # 0.33 x3 at 5.5 %: per line 0.02 each = 0.06, on the sum 0.99 * 5.5 % = 0.05.
        inv = services.create_invoice(
            actor=factories.SYSTEM,
            organisation=self.fr,
            customer=self.cust_fr,
            lines=[factories.line(self.fr, price="0.33", category_code="tva-5.5") for _ in range(3)],
        )
        assert inv.tax_total == Decimal("0.05")

    def test_exempt_and_reverse_charge_keep_their_legal_mention(self):
        for code, mention in [("exempt", "293 B"), ("reverse", "Autoliquidation")]:
            inv = factories.invoice(self.fr, self.cust_fr, finalise=False)
            inv = services.replace_draft_lines(
                actor=factories.SYSTEM,
                invoice=inv,
                lines=[factories.line(self.fr, price="250.00", category_code=code)],
            )
            inv = services.finalise_invoice(actor=factories.SYSTEM, invoice=inv)
            tax = inv.taxes.get()
            assert tax.amount == 0 and inv.total == Decimal("250.00")
            assert mention in tax.legal_mention_fr

    @settings(max_examples=40, deadline=None)
    @given(st.lists(st.tuples(prices, quantities, discounts), min_size=1, max_size=6))
    def test_total_is_lines_plus_taxes(self, lines):
        inv = services.create_invoice(
            actor=factories.SYSTEM,
            organisation=self.qc,
            customer=self.cust_qc,
            lines=[
                factories.line(self.qc, price=str(p), quantity=str(q), discount_percent=d)
                for p, q, d in lines
            ],
        )
        if inv.total > Decimal("999999999.99"):
            return
        inv = services.finalise_invoice(actor=factories.SYSTEM, invoice=inv)
        nets = [line.net_amount for line in inv.lines.all()]
        assert inv.subtotal == sum(nets)
        assert inv.total == sum(nets) + sum(t.amount for t in inv.taxes.all())
        for line in inv.lines.all():
            assert line.net_amount == line.net_amount.quantize(Decimal("0.01"))
