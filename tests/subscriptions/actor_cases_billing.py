"""Foreign-actor cases for the billing run (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import services
from acquitte.subscriptions.models import BillingRun
from tests import factories
from tests.subscriptions.builders import subscription

AS_OF = datetime.date(2026, 2, 2)


def set_up(w: Any) -> None:
    w.extra["billing_subscription"] = subscription(
        w.customer, w.product, started_on=datetime.date(2026, 1, 15)
    )
    w.extra["billing_run"] = services.open_run(
        organisation=w.org,
        kind=BillingRun.Kind.BILLING,
        run_date=AS_OF,
        chunks_total=1,
        actor=factories.SYSTEM,
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.run_billing": (
        lambda w, a: services.run_billing(organisation=w.org, as_of=AS_OF, actor=a),
        True,
    ),
    "subscriptions.bill_customers": (
        lambda w, a: services.bill_customers(
            organisation=w.org, customer_ids=[w.customer.pk], as_of=AS_OF, actor=a
        ),
        True,
    ),
    "subscriptions.bill_run_chunk": (
        lambda w, a: services.bill_run_chunk(
            run=w.extra["billing_run"],
            first_customer_id=w.customer.pk,
            last_customer_id=w.customer.pk,
            actor=a,
        ),
        True,
    ),
}
