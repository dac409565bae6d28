"""Builders shared by the subscriptions tests: real services, real database."""

import datetime
from decimal import Decimal

from acquitte.catalog.models import Product
from acquitte.customers import services as customer_services
from acquitte.payments import services as payments
from acquitte.subscriptions.models import Subscription
from tests import factories

SYSTEM = factories.SYSTEM
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


def monthly_product(organisation, sku="TEL-1", price="30.00", **fields) -> Product:
    return factories.product(organisation, sku=sku, price=price, kind=Product.Kind.MONTHLY, **fields)


def customer_with_card(
    organisation, *, sites=2, name="Café Bonjour", email="compta@cafebonjour.example", card="4242424242424242"
):
    """A customer with ``sites`` sites and a default card (the sandbox is connected by default)."""
    customer = factories.customer(organisation, name=name, email=email)
    for n in range(sites):
        customer_services.add_site(
            customer=customer,
            actor=SYSTEM,
            name=f"Site {n + 1}",
            line1=f"{n + 1} rue Principale",
            city="Montréal",
            region="QC",
            postal_code="H2X 2T3",
            country=organisation.country,
        )
    payments.add_card(
        customer=customer, holder="Marie Roy", number=card, cvv="123", expiry=NEXT_YEAR, actor=SYSTEM
    )
    return customer


def subscription(
    customer, product, *, started_on, site=None, quantity="1", period=Subscription.Period.MONTHLY, **fields
) -> Subscription:
    """A subscription as a completed order leaves it, written directly (for tests of the runs)."""
    return Subscription.objects.create(
        organisation_id=customer.organisation_id,
        customer=customer,
        site=site or customer.sites.first(),
        product=product,
        description=product.name,
        quantity=Decimal(quantity),
        unit_price=product.unit_price,
        period=period,
        started_on=started_on,
        **fields,
    )
