"""Foreign-actor cases for the billing settings and the test clock (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import selectors, services

CLOCK = datetime.date(2026, 1, 10)


def set_up(w: Any) -> None:
    found = selectors.billing_settings(w.org)
    found.test_clock = CLOCK
    found.save(update_fields=["test_clock"])


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.update_billing_settings": (
        lambda w, a: services.update_billing_settings(
            organisation=w.org, actor=a, bill_day=5, collection_day=25, time_zone="Europe/Paris"
        ),
        False,
    ),
    "subscriptions.advance_test_clock": (
        lambda w, a: services.advance_test_clock(
            organisation=w.org, actor=a, to=CLOCK + datetime.timedelta(days=30)
        ),
        False,
    ),
    "subscriptions.reset_test_clock": (
        lambda w, a: services.reset_test_clock(organisation=w.org, actor=a),
        False,
    ),
}
