"""Foreign-actor cases for the customer's domain actions (``tests/test_actors.py`` loads them)."""

import datetime
from collections.abc import Callable
from typing import Any

from acquitte.core.actors import Actor
from acquitte.subscriptions import services
from tests.subscriptions.domain_builders import billing_contact, domain_product, service

EXPIRES = datetime.date.today() + datetime.timedelta(days=30)


def set_up(w: Any) -> None:
    product = domain_product(w.org, sku="DOM-CAS")
    w.extra["domain"] = service(w.customer, product, name="cas-acteurs.ca", expires_on=EXPIRES)
    w.extra["recurring_domain"] = service(
        w.customer,
        product,
        name="recurrent.ca",
        expires_on=EXPIRES,
        recurring=True,
        payment_method=w.card,
    )
    w.extra["contact"] = billing_contact(w.customer, name="Marie Roy")


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.request_renewals": (
        lambda w, a: services.request_renewals(customer=w.customer, services=[w.extra["domain"]], actor=a),
        True,
    ),
    "subscriptions.set_recurring": (
        lambda w, a: services.set_recurring(
            customer=w.customer,
            services=[w.extra["domain"]],
            payment_method=w.card,
            billing_contact=w.extra["contact"],
            actor=a,
        ),
        True,
    ),
    "subscriptions.stop_recurring": (
        lambda w, a: services.stop_recurring(service=w.extra["recurring_domain"], actor=a),
        True,
    ),
    "subscriptions.change_recurring": (
        lambda w, a: services.change_recurring(
            service=w.extra["recurring_domain"], billing_contact=w.extra["contact"], actor=a
        ),
        True,
    ),
}
