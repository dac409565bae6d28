"""Foreign-actor cases for the run records (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import services
from acquitte.subscriptions.models import BillingRun
from tests import factories


def set_up(w: Any) -> None:
    w.extra["run"] = services.open_run(
        organisation=w.org,
        kind=BillingRun.Kind.BILLING,
        run_date=datetime.date(2026, 11, 2),
        chunks_total=2,
        actor=factories.SYSTEM,
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.open_run": (
        lambda w, a: services.open_run(
            organisation=w.org,
            kind=BillingRun.Kind.BILLING,
            run_date=datetime.date(2026, 11, 2),
            chunks_total=1,
            actor=a,
        ),
        False,
    ),
    "subscriptions.close_stalled_runs": (
        lambda w, a: services.close_stalled_runs(organisation=w.org, actor=a),
        False,
    ),
    "subscriptions.count_chunk": (
        lambda w, a: services.count_chunk(run=w.extra["run"], invoices=1, actor=a),
        False,
    ),
}
