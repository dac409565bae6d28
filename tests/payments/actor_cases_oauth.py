"""Foreign-actor cases for connecting a provider by OAuth (``tests/test_actors.py`` loads them)."""

from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.payments import services as payments

NO_ACTOR = {"payments.oauth_providers"}

CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "payments.start_connect": (
        lambda w, a: payments.start_connect(
            organisation=w.org, provider="stripe", actor=a, return_url="https://app.example/retour/"
        ),
        False,
    ),
    "payments.finish_connect": (
        lambda w, a: payments.finish_connect(
            organisation=w.org, provider="stripe", state="s" * 43, params={"code": "ac_x"}, actor=a
        ),
        False,
    ),
}
