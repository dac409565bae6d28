"""Foreign-actor cases for the batch charge path (``tests/test_actors.py`` loads them)."""

from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.payments import services as payments
from acquitte.payments.providers import ChargeResult, ChargeStatus

CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "payments.open_charges": (
        lambda w, a: payments.open_charges(
            organisation=w.org,
            requests=[
                payments.ChargeRequest(invoice_id=w.open_invoice.pk, method=w.card, idempotency_key="batch-k")
            ],
            actor=a,
        ),
        False,
    ),
    "payments.apply_charge_results": (
        lambda w, a: payments.apply_charge_results(
            organisation=w.org, results={w.attempt.pk: ChargeResult(status=ChargeStatus.FAILED)}, actor=a
        ),
        False,
    ),
}
