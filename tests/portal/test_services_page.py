"""The customer's "Mes services", the order shown in the first-login terms flow, and the next
automatic debit on the home page (seed 001, issue 18 item 10)."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from acquitte.catalog.models import Product
from acquitte.customers.models import TermsVersion, User
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice
from acquitte.portal import selectors
from acquitte.subscriptions.models import (
    Adjustment,
    BilledPeriod,
    BillingSettings,
    Order,
    OrderLine,
    Subscription,
)
from acquitte.subscriptions.selectors import billing_settings
from acquitte.subscriptions.services import run_billing
from tests import factories
from tests.subscriptions import builders

PASSWORD = "un-mot-de-passe-solide-42"
CLOCK = datetime.date(2026, 11, 10)


@pytest.fixture
def account(org_qc):
    """A customer on two sites with a monthly and a yearly service, the clock on 10 November."""
    BillingSettings.objects.filter(pk=billing_settings(org_qc).pk).update(test_clock=CLOCK)
    customer = builders.customer_with_card(org_qc)
    plateau, port = customer.sites.order_by("name")
    web = builders.monthly_product(org_qc, sku="WEB", price="30.00", name="Hébergement Web")
    ssl = factories.product(org_qc, sku="SSL", price="89.00", kind=Product.Kind.YEARLY, name="Certificat SSL")
    subs = {
        "web": builders.subscription(customer, web, started_on=CLOCK, site=plateau, quantity="2"),
        "ssl": builders.subscription(
            customer, ssl, started_on=datetime.date(2026, 3, 15), site=port, period=Subscription.Period.YEARLY
        ),
        "paused": builders.subscription(
            customer, web, started_on=datetime.date(2026, 9, 1), site=port, status=Subscription.Status.PAUSED
        ),
    }
    user = User.objects.create_user("client@cafe.test", PASSWORD, customer=customer)
    return customer, user, subs


@pytest.fixture
def signed_in(client, account):
    client.force_login(account[1], backend="django.contrib.auth.backends.ModelBackend")
    return client


def test_services_are_grouped_by_site_with_their_next_invoice(signed_in):
    page = signed_in.get("/services/").content.decode()
    assert page.index("Site 1") < page.index("Hébergement Web") < page.index("Site 2")
    assert page.index("Site 2") < page.index("Certificat SSL")
    assert "60,00 CAD / mois" in page and "89,00 CAD / an" in page
    assert "Actif" in page and "En pause" in page
    assert "02/12/2026" in page  # started on the 10th, after the bill day: first billed on 2 December
    assert "15/03/2027" in page  # the yearly one on its anniversary
    assert 'href="/services/"' in page  # the menu


def test_the_estimate_is_the_prorated_first_invoice_before_tax(account):
    customer, _, subs = account
    overview = selectors.customer_services(customer=customer)
    assert overview.next_bill_on == datetime.date(2026, 12, 2)
    # 10-30 November (21 of 30 days: 21.00) and December in full (30.00), twice; the yearly one was
    # billed on 15 March and the paused one waits.
    ssl_billed = BilledPeriod.objects.create(
        organisation=customer.organisation,
        subscription=subs["ssl"],
        period_start=datetime.date(2026, 3, 15),
        period_end=datetime.date(2027, 3, 14),
        quantity=Decimal(1),
        unit_price=Decimal("89.00"),
        amount=Decimal("89.00"),
        invoice=factories.invoice(customer.organisation, customer),
    )
    assert selectors.customer_services(customer=customer).estimate == Decimal("102.00")
    # a change waiting for the run: a credit on the SSL invoice, issued as its credit note
    Adjustment.objects.create(
        organisation=customer.organisation,
        subscription=subs["ssl"],
        kind=Adjustment.Kind.CREDIT,
        description="Crédit",
        quantity=Decimal(1),
        unit_price=Decimal("2.50"),
        amount=Decimal("2.50"),
        period_start=CLOCK,
        period_end=CLOCK,
        corrects=ssl_billed,
        created_by="test",
    )
    assert selectors.customer_services(customer=customer).estimate == Decimal("99.50")
    # the estimate is what the run then bills, less what it credits
    run_billing(organisation=customer.organisation, as_of=datetime.date(2026, 12, 2), actor=factories.SYSTEM)
    made = Invoice.objects.filter(customer=customer).exclude(pk=ssl_billed.invoice_id)
    invoiced = sum(i.subtotal for i in made if i.kind == Invoice.Kind.INVOICE)
    credited = sum(i.subtotal for i in made if i.kind == Invoice.Kind.CREDIT_NOTE)
    assert (invoiced, credited) == (Decimal("102.00"), Decimal("2.50"))


def test_nothing_to_bill_shows_no_estimate(client, org_qc):
    customer = builders.customer_with_card(org_qc, sites=1)
    client.force_login(User.objects.create_user("seul@cafe.test", PASSWORD, customer=customer))
    assert "Aucun service pour le moment." in client.get("/services/").content.decode()
    assert selectors.customer_services(customer=customer).estimate is None


def test_another_customers_services_never_show(client, account, org_qc):
    _, _, subs = account
    other = builders.customer_with_card(org_qc, name="Voisin inc.", email="voisin@example.test", sites=1)
    mine = builders.subscription(other, subs["web"].product, started_on=CLOCK)
    Subscription.objects.filter(pk=mine.pk).update(description="Service du voisin")
    client.force_login(User.objects.create_user("voisin@cafe.test", PASSWORD, customer=other))
    page = client.get("/services/").content.decode()
    assert "Service du voisin" in page
    assert "Hébergement Web" not in page and "Certificat SSL" not in page and "Site 2" not in page


def test_staff_and_strangers_do_not_reach_it(client, account, org_qc):
    assert client.get("/services/")["Location"].startswith("/connexion/")
    client.force_login(factories.staff(org_qc))
    assert client.get("/services/")["Location"] == "/gestion/"


def test_in_english(signed_in):
    """English is the reader's choice; the catalogue of English strings is compiled by the lead."""
    signed_in.cookies["django_language"] = "en"
    response = signed_in.get("/services/")
    assert response.status_code == 200 and 'lang="en"' in response.content.decode()


def _order(customer, status=Order.Status.IN_PROGRESS, **fields):
    org = customer.organisation
    order = Order.objects.create(
        organisation=org, customer=customer, status=status, number="C-0001", **fields
    )
    plateau, port = customer.sites.order_by("name")
    lines = [
        (plateau, builders.monthly_product(org, sku="TEL", price="24.95", name="Téléphonie IP"), "3"),
        (
            port,
            factories.product(
                org, sku="INST", price="150.00", kind=Product.Kind.ONE_TIME, name="Installation"
            ),
            "1",
        ),
        (
            port,
            factories.product(
                org, sku="HW", price="239.00", kind=Product.Kind.HARDWARE, name="Téléphone T54W"
            ),
            "2",
        ),
    ]
    for n, (site, product, quantity) in enumerate(lines):
        OrderLine.objects.create(
            order=order,
            product=product,
            site=site,
            description=product.name,
            quantity=Decimal(quantity),
            unit_price=product.unit_price,
            position=n,
        )
    return order


def test_the_order_page_shows_lines_per_site_and_totals(signed_in, account):
    customer, _, _ = account
    order = _order(customer)
    page = signed_in.get(f"/commandes/{order.pk}/").content.decode()
    assert (
        page.index("Site 1") < page.index("Téléphonie IP") < page.index("Site 2") < page.index("Installation")
    )
    assert "74,85 CAD" in page  # 3 × 24.95 a month
    assert "628,00 CAD" in page  # 150.00 + 2 × 239.00 charged once
    assert "Frais mensuels" in page and "Frais non périodiques" in page


def test_another_customers_order_is_not_found(client, account, org_qc):
    customer, _, _ = account
    order = _order(customer)
    other = builders.customer_with_card(org_qc, name="Voisin inc.", email="voisin@example.test", sites=1)
    client.force_login(User.objects.create_user("voisin@cafe.test", PASSWORD, customer=other))
    assert client.get(f"/commandes/{order.pk}/").status_code == 404
    assert client.get("/commandes/999999/").status_code == 404


def test_the_terms_flow_offers_the_pending_order(signed_in, account, org_qc):
    customer, _, _ = account
    TermsVersion.objects.create(
        organisation=org_qc, version="2026-11", body_fr="Conditions…", published_at=timezone.now()
    )
    assert "Afficher la commande" not in signed_in.get("/conditions/").content.decode()
    Order.objects.create(organisation=org_qc, customer=customer, status=Order.Status.CANCELLED)
    assert "Afficher la commande" not in signed_in.get("/conditions/").content.decode()
    order = _order(customer, status=Order.Status.DRAFT)
    page = signed_in.get("/conditions/").content.decode()
    assert "Afficher la commande" in page and f'href="/commandes/{order.pk}/"' in page
    detail = signed_in.get(f"/commandes/{order.pk}/").content.decode()
    assert "Cliquez ici pour accepter les conditions générales" in detail and 'href="/conditions/"' in detail


def test_home_shows_the_next_automatic_debit(signed_in, account):
    customer, _, subs = account
    page = signed_in.get("/").content.decode()
    assert "Prochain prélèvement automatique" not in page  # nothing to collect yet
    draft = factories.invoice(customer.organisation, customer, prices=("30.00",), finalise=False)
    invoice = invoicing.finalise_invoice(
        invoice=draft, actor=factories.SYSTEM, issue_date=datetime.date(2026, 11, 2)
    )
    BilledPeriod.objects.create(
        organisation=customer.organisation,
        subscription=subs["web"],
        period_start=datetime.date(2026, 11, 1),
        period_end=datetime.date(2026, 11, 30),
        quantity=Decimal(1),
        unit_price=Decimal("30.00"),
        amount=Decimal("30.00"),
        invoice=invoice,
    )
    page = signed_in.get("/").content.decode()
    assert (
        f"Prochain prélèvement automatique le 22 novembre 2026 : {invoice.total:.2f} CAD".replace(".", ",")
        in page
    )
