"""Builders for the domains tests: a customer's domains and yearly services, as a completed order leaves them."""

import datetime

from acquitte.catalog.models import Product
from acquitte.customers import services as customer_services
from acquitte.subscriptions.models import Service, Subscription
from tests import factories
from tests.subscriptions.builders import subscription

SYSTEM = factories.SYSTEM


def domain_product(organisation, sku="DOM-CA", price="25.00", name="Nom de domaine .ca") -> Product:
    return factories.product(organisation, sku=sku, price=price, kind=Product.Kind.DOMAIN, name=name)


def service(customer, product, *, name, expires_on, kind=Service.Kind.DOMAIN, **fields) -> Service:
    """A service on its yearly subscription, written directly (order completion makes them in production)."""
    sub = subscription(
        customer,
        product,
        started_on=expires_on - datetime.timedelta(days=365),
        period=Subscription.Period.YEARLY,
    )
    return Service.objects.create(
        organisation_id=customer.organisation_id,
        customer=customer,
        subscription=sub,
        kind=kind,
        name=name,
        expires_on=expires_on,
        **fields,
    )


def billing_contact(customer, name="Comptabilité Roy", company="", **fields):
    return customer_services.add_contact(
        customer=customer, actor=SYSTEM, name=name, company=company, is_billing=True, **fields
    )
