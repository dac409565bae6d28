"""Foreign-actor cases for notifying staff in bulk (``tests/test_actors.py`` loads them)."""

from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.notifications import services as notifications

CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "notifications.notify_staff_many": (
        lambda w, a: notifications.notify_staff_many(
            organisation=w.org, notices=[notifications.StaffNotice(kind="t", subject="s")], actor=a
        ),
        False,
    ),
}
