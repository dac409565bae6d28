"""Foreign-actor cases for the collection run (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import services
from acquitte.subscriptions.models import BillingRun
from tests import factories

NOV_22 = datetime.date(2026, 11, 22)


def set_up(w: Any) -> None:
    w.extra["collection_run"] = services.open_run(
        organisation=w.org,
        kind=BillingRun.Kind.COLLECTION,
        run_date=NOV_22,
        chunks_total=1,
        actor=factories.SYSTEM,
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.run_collection": (
        lambda w, a: services.run_collection(organisation=w.org, as_of=NOV_22, actor=a),
        False,
    ),
    "subscriptions.collect_customers": (
        lambda w, a: services.collect_customers(
            organisation=w.org,
            customer_ids=[w.customer.pk],
            collection_date=NOV_22,
            actor=a,
            run=w.extra["collection_run"],
        ),
        False,
    ),
}

NO_ACTOR = {"subscriptions.collection_key"}
