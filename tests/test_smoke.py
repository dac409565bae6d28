from decimal import Decimal

from tests import factories


def test_quebec_example(org_qc, customer_qc):
    inv = factories.invoice(org_qc, customer_qc)
    assert [(t.code, t.amount) for t in inv.taxes.all()] == [
        ("CA-GST", Decimal("5.00")),
        ("CA-QC-QST", Decimal("9.98")),
    ]
    assert inv.total == Decimal("114.98")
    assert inv.number.startswith("F-")
