"""Plain builders for tests: real services, real database, no mocks."""

from decimal import Decimal

from acquitte.catalog.models import Product, TaxCategory
from acquitte.core.actors import System
from acquitte.core.models import TaxRate
from acquitte.customers import services as customer_services
from acquitte.customers.models import User
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.services import LineInput

#: The actor of test set-up: builders act as the system, tests that check rights pass a person.
SYSTEM = System(reason="test")
PORTAL_PASSWORD = "un-mot-de-passe-solide-42"


def tax_category(organisation, code: str, name: str, rate_codes: list[str]) -> TaxCategory:
    category, _ = TaxCategory.objects.get_or_create(
        organisation=organisation, code=code, defaults={"name": name}
    )
    category.rates.set(TaxRate.objects.filter(code__in=rate_codes))
    return category


def quebec_organisation(slug: str = "hebergement-qc"):
    org = customer_services.create_organisation(
        actor=SYSTEM,
        name="Hébergement Laurentides inc.",
        slug=slug,
        currency="CAD",
        locale="fr-CA",
        line1="1200 rue Sherbrooke O.",
        city="Montréal",
        region="QC",
        postal_code="H3A 1H6",
        country="CA",
        gst_number="123456782RT0001",
        qst_number="1234567890TQ0001",
        payment_terms_days=30,
        cheque_payee="Hébergement Laurentides inc.",
        support_email="support@laurentides.example",
    )
    tax_category(org, "qc", "Taxable Québec (TPS + TVQ)", ["CA-GST", "CA-QC-QST"])
    tax_category(org, "exempt", "Exonéré", ["CA-EXEMPT"])
    return org


def french_organisation(slug: str = "atelier-fr"):
    org = customer_services.create_organisation(
        actor=SYSTEM,
        name="Atelier Numérique SAS",
        slug=slug,
        currency="EUR",
        locale="fr-FR",
        line1="12 rue de la République",
        city="Lyon",
        postal_code="69002",
        country="FR",
        siren="732829320",
        siret="73282932000074",
        vat_number="FR44732829320",
        payment_terms_days=30,
        late_penalty_rate=Decimal("10.15"),
        iban="FR7630006000011234567890189",
        bic="AGRIFRPP",
        legal_form="SAS au capital de 10 000 €",
    )
    for rate in ("20", "10", "5.5", "2.1"):
        tax_category(org, f"tva-{rate}", f"TVA {rate} %", [f"FR-TVA-{rate}"])
    tax_category(org, "reverse", "Autoliquidation", ["EU-REVERSE"])
    tax_category(org, "exempt", "Franchise en base", ["FR-TVA-EXEMPT"])
    return org


def customer(organisation, name="Café Bonjour", email="compta@cafebonjour.example", **fields):
    c = customer_services.create_customer(
        organisation=organisation, actor=SYSTEM, name=name, email=email, **fields
    )
    customer_services.add_address(
        customer=c,
        actor=SYSTEM,
        line1="45 boul. Saint-Laurent",
        city="Montréal" if organisation.country == "CA" else "Paris",
        region="QC" if organisation.country == "CA" else "",
        postal_code="H2X 2T3" if organisation.country == "CA" else "75011",
        country=organisation.country,
    )
    return c


def product(organisation, sku="HEB-1", price="100.00", category_code=None, **fields):
    category = TaxCategory.objects.get(
        organisation=organisation,
        code=category_code or ("qc" if organisation.country == "CA" else "tva-20"),
    )
    return Product.objects.create(
        organisation=organisation,
        sku=sku,
        name=fields.pop("name", f"Produit {sku}"),
        unit_price=Decimal(price),
        currency=organisation.currency,
        tax_category=category,
        **fields,
    )


def line(organisation, price="100.00", quantity="1", category_code=None, **fields) -> LineInput:
    category = TaxCategory.objects.get(
        organisation=organisation,
        code=category_code or ("qc" if organisation.country == "CA" else "tva-20"),
    )
    return LineInput(
        description=fields.pop("description", "Hébergement"),
        quantity=Decimal(quantity),
        unit_price=Decimal(price),
        tax_category=category,
        **fields,
    )


def invoice(organisation, customer, prices=("100.00",), finalise=True, **fields):
    inv = invoicing.create_invoice(
        organisation=organisation,
        customer=customer,
        actor=SYSTEM,
        lines=[line(organisation, price=p) for p in prices],
        **fields,
    )
    if finalise:
        inv = invoicing.finalise_invoice(invoice=inv, actor=SYSTEM)
    return inv


def staff(organisation, email="proprio@example.test", role="owner", password="motdepasse-long-2026"):
    return customer_services.create_staff_user(
        organisation=organisation,
        actor=SYSTEM,
        email=email,
        password=password,
        role=role,
        full_name="Sophie Tremblay",
    )


def logged_in(client, customer, username="client@cafe.test"):
    """``client`` signed in to the portal as a new user of ``customer``."""
    user = User.objects.create_user(username, PORTAL_PASSWORD, customer=customer)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def pay_saved(invoice, method, key="collect-2026-03-22-1"):
    """The collection run's charge of ``invoice`` on a saved method, with its idempotency key."""
    from acquitte.payments import services as payment_services

    return payment_services.pay_invoice(
        invoice=invoice, payment_method=method, idempotency_key=key, actor=SYSTEM
    )
