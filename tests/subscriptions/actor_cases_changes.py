"""Foreign-actor cases for the changes to a subscription (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import services
from acquitte.subscriptions.models import Subscription
from tests.subscriptions.builders import monthly_product, subscription

STARTED = datetime.date(2025, 12, 15)


def set_up(w: Any) -> None:
    phone = monthly_product(w.org, sku="TEL-CAS", price="31.00", name="Téléphonie IP")
    w.extra["phone"] = phone
    w.extra["phone_pro"] = monthly_product(w.org, sku="TEL-CAS-PRO", price="56.00", name="Téléphonie Pro")
    w.extra["subscription"] = subscription(w.customer, phone, started_on=STARTED)
    w.extra["paused"] = subscription(w.customer, phone, started_on=STARTED, status=Subscription.Status.PAUSED)
    phone.unit_price = Decimal("35.00")  # a new catalogue price the subscriptions could follow
    phone.save(update_fields=["unit_price"])


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.change_quantity": (
        lambda w, a: services.change_quantity(subscription=w.extra["subscription"], quantity="2", actor=a),
        False,
    ),
    "subscriptions.change_product": (
        lambda w, a: services.change_product(
            subscription=w.extra["subscription"], product=w.extra["phone_pro"], actor=a
        ),
        False,
    ),
    "subscriptions.cancel_subscription": (
        lambda w, a: services.cancel_subscription(
            subscription=w.extra["subscription"], at_period_end=False, actor=a
        ),
        False,
    ),
    "subscriptions.pause_subscription": (
        lambda w, a: services.pause_subscription(subscription=w.extra["subscription"], actor=a),
        False,
    ),
    "subscriptions.resume_subscription": (
        lambda w, a: services.resume_subscription(subscription=w.extra["paused"], actor=a),
        False,
    ),
    "subscriptions.follow_catalogue_price": (
        lambda w, a: services.follow_catalogue_price(product=w.extra["phone"], actor=a),
        False,
    ),
}
