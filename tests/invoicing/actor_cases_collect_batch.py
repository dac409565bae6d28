"""Foreign-actor cases for the set-based settlement (``tests/test_actors.py`` loads them)."""

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from acquitte.core.actors import Actor
from acquitte.invoicing import services as invoicing

CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "invoicing.allocate_payments": (
        lambda w, a: invoicing.allocate_payments(
            organisation=w.org,
            shares=[
                invoicing.PaymentShare(
                    payment_id=w.payment.pk,
                    invoice_id=w.open_invoice.pk,
                    customer_id=w.customer.pk,
                    amount=Decimal("1.00"),
                )
            ],
            actor=a,
        ),
        False,
    ),
}
