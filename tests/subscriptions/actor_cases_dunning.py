"""Foreign-actor cases for the dunning run, its settings and the suspensions (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import services
from acquitte.subscriptions.models import BillingRun, Service
from tests import factories
from tests.subscriptions.domain_builders import service

ON = datetime.date(2026, 11, 2)


def set_up(w: Any) -> None:
    w.extra["service"] = service(
        w.customer, w.product, name="voisin.ca", expires_on=datetime.date(2027, 3, 1)
    )
    held = service(w.customer, w.product, name="suspendu.ca", expires_on=datetime.date(2027, 3, 1))
    w.extra["suspended"] = services.suspend_service(
        service=held, reason=Service.SuspensionReason.MANUAL, note="Abus signalé", actor=factories.SYSTEM
    )
    w.extra["dunning_run"] = services.open_run(
        organisation=w.org, kind=BillingRun.Kind.DUNNING, run_date=ON, chunks_total=1, actor=factories.SYSTEM
    )


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.run_dunning": (
        lambda w, a: services.run_dunning(organisation=w.org, as_of=ON, actor=a),
        False,
    ),
    "subscriptions.dun_customers": (
        lambda w, a: services.dun_customers(
            organisation=w.org, customer_ids=[w.customer.pk], as_of=ON, actor=a, run=w.extra["dunning_run"]
        ),
        False,
    ),
    "subscriptions.update_dunning_settings": (
        lambda w, a: services.update_dunning_settings(organisation=w.org, actor=a, card_retry_days=[2, 5]),
        False,
    ),
    "subscriptions.suspend_service": (
        lambda w, a: services.suspend_service(
            service=w.extra["service"], reason=Service.SuspensionReason.MANUAL, note="Abus", actor=a
        ),
        False,
    ),
    "subscriptions.unsuspend_service": (
        lambda w, a: services.unsuspend_service(service=w.extra["suspended"], actor=a),
        False,
    ),
    "subscriptions.terminate_service": (
        lambda w, a: services.terminate_service(service=w.extra["service"], actor=a),
        False,
    ),
}
