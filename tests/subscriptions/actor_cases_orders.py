"""Foreign-actor cases for orders (``tests/test_actors.py`` loads them): staff move orders, no one else."""

from collections.abc import Callable
from typing import Any

from acquitte.catalog.models import Product
from acquitte.core.actors import Actor
from acquitte.customers import services as customers
from acquitte.subscriptions import services
from tests import factories

SYSTEM = factories.SYSTEM


def _order(w: Any, *products: Product) -> Any:
    order = services.create_order(organisation=w.org, customer=w.customer, actor=SYSTEM)
    for product in products:
        services.add_order_line(
            order=order, product=product, site=w.extra["site"], quantity="1", actor=SYSTEM
        )
    return order


def set_up(w: Any) -> None:
    w.extra["site"] = customers.add_site(
        customer=w.customer,
        actor=SYSTEM,
        name="Site des cas",
        line1="1 rue Principale",
        city="Montréal",
        region="QC",
        postal_code="H2X 2T3",
        country="CA",
    )
    hardware = factories.product(w.org, sku="HW-CAS", price="80.00", kind=Product.Kind.HARDWARE)
    w.extra["draft_order"] = _order(w, w.product)
    w.extra["placed_order"] = services.place_order(order=_order(w, hardware), actor=SYSTEM)
    shipped = services.place_order(order=_order(w, hardware), actor=SYSTEM)
    w.extra["shipped_order"] = services.ship_order(order=shipped, actor=SYSTEM)


def _line(w: Any) -> Any:
    return w.extra["draft_order"].lines.first()


CASES: dict[str, tuple[Callable[[Any, Actor], Any], bool]] = {
    "subscriptions.create_order": (
        lambda w, a: services.create_order(organisation=w.org, customer=w.customer, actor=a),
        False,
    ),
    "subscriptions.add_order_line": (
        lambda w, a: services.add_order_line(
            order=w.extra["draft_order"], product=w.product, site=w.extra["site"], quantity="1", actor=a
        ),
        False,
    ),
    "subscriptions.update_order_line": (
        lambda w, a: services.update_order_line(line=_line(w), quantity="2", actor=a),
        False,
    ),
    "subscriptions.remove_order_line": (
        lambda w, a: services.remove_order_line(line=_line(w), actor=a),
        False,
    ),
    "subscriptions.place_order": (
        lambda w, a: services.place_order(order=w.extra["draft_order"], actor=a),
        False,
    ),
    "subscriptions.ship_order": (
        lambda w, a: services.ship_order(order=w.extra["placed_order"], actor=a),
        False,
    ),
    "subscriptions.complete_order": (
        lambda w, a: services.complete_order(order=w.extra["shipped_order"], actor=a),
        False,
    ),
    "subscriptions.cancel_order": (
        lambda w, a: services.cancel_order(order=w.extra["draft_order"], actor=a),
        False,
    ),
}
