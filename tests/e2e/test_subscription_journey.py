"""In real Chromium, seed 001 from the order to the debit (issue 18): staff order two services for a
customer on two sites and complete the order in the back office; the test clock moves to the bill
day, and the customer sees one invoice covering both sites with the prorated line; the clock moves
to the collection day, and the invoice is paid by the default card; "Mes services" lists both."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from acquitte.customers.models import User
from acquitte.subscriptions.models import Subscription
from acquitte.subscriptions.periods import add_months
from acquitte.subscriptions.selectors import today_for
from tests import factories
from tests.subscriptions import builders

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "motdepasse-long-2026"


def sign_in(page, url, email):
    page.goto(f"{url}/connexion/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Connexion").click()


def completion_day(today: datetime.date) -> datetime.date:
    """A 15th after today: the subscriptions start mid-month, so the first invoice is prorated."""
    return today.replace(day=15) if today.day < 15 else add_months(today, 1).replace(day=15)


def test_order_on_two_sites_billed_prorated_then_debited(live_server, browser):
    org = factories.quebec_organisation("e2e-subscriptions")
    factories.staff(org, email="proprio@e2e.test", password=PASSWORD)
    customer = builders.customer_with_card(org, name="Café Bonjour", email="compta@cafe.test")
    User.objects.create_user("client@cafe.test", PASSWORD, customer=customer)
    builders.monthly_product(org, sku="WEB", price="30.00", name="Hébergement Web")
    builders.monthly_product(org, sku="TEL", price="24.95", name="Téléphonie IP")
    start = completion_day(today_for(org))
    context = browser.new_context(locale="fr-CA", viewport={"width": 1280, "height": 900})
    refused: list[str] = []
    staff = context.new_page()
    staff.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)

    # The test clock goes to a 15th, where the order completes.
    sign_in(staff, live_server.url, "proprio@e2e.test")
    staff.wait_for_url(re.compile(r"/gestion/$"))
    staff.goto(f"{live_server.url}/gestion/facturation/")
    staff.get_by_label("Aller à la date").fill(start.isoformat())
    staff.get_by_role("button", name="Avancer").click()
    assert "Horloge de test avancée" in staff.text_content(".message")

    # Staff order one service on each site and complete the order.
    staff.get_by_role("link", name="Commandes", exact=True).click()
    staff.get_by_role("link", name=re.compile("Nouvelle commande")).click()
    staff.get_by_role("button", name=re.compile("Café Bonjour")).click()
    staff.wait_for_url(re.compile(r"/gestion/commandes/\d+/$"))
    for product, site, quantity in (("Hébergement Web", "Site 1", "1"), ("Téléphonie IP", "Site 2", "3")):
        options = staff.locator("#order-lines select[name=product] option").all_text_contents()
        staff.select_option(
            "#order-lines select[name=product]", label=next(o for o in options if product in o)
        )
        staff.select_option("#order-lines select[name=site]", label=site)
        staff.fill("#order-lines input[name=quantity]", quantity)
        staff.locator("#order-lines").get_by_role("button", name="Ajouter").click()
        staff.wait_for_selector(f"#order-lines >> text={product}")
    staff.reload()  # the moves offered depend on the lines, which htmx added in place
    staff.get_by_role("button", name="Mettre en cours").click()
    staff.get_by_role("button", name="Terminer la commande").click()
    staff.wait_for_selector(".status.order-completed")
    subs = Subscription.objects.filter(customer=customer)
    assert subs.count() == 2 and {s.started_on for s in subs} == {start}

    # The clock moves to the bill day: one invoice for both sites, the part month prorated.
    staff.get_by_role("link", name="Facturation", exact=True).click()
    staff.get_by_role("button", name=re.compile("Aller au prochain jour de facturation")).click()
    assert "1 facture(s)" in staff.text_content(".message")

    client = context.browser.new_context(locale="fr-CA", viewport={"width": 390, "height": 844}).new_page()
    client.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in(client, live_server.url, "client@cafe.test")
    client.get_by_role("link", name="FACTURES", exact=True).click()
    expect(client.locator("a.rowlink")).to_have_count(1)
    client.locator("a.rowlink").first.click()
    lines = client.text_content("table")
    assert "Site 1" in lines and "Site 2" in lines
    assert len(re.findall(r"prorata", lines)) == 2  # one prorated line per service
    assert client.text_content(".status").strip() != "PAYÉE"
    client.goto(f"{live_server.url}/")
    assert "Prochain prélèvement automatique le 22" in client.text_content("main")

    # The clock moves to the collection day: the default card pays the invoice.
    staff.get_by_role("button", name=re.compile("Aller au prochain jour de prélèvement")).click()
    assert "1 prélèvement(s)" in staff.text_content(".message")
    client.locator(
        "nav.tabs summary", has_text="Factures"
    ).click()  # FACTURES, then "Mes factures" (seed 000)
    client.get_by_role("link", name="Mes factures", exact=True).click()
    client.locator("a.rowlink").first.click()
    assert client.text_content(".status").strip() == "PAYÉE"

    # "Mes services" lists both subscriptions, each under its site.
    client.locator("nav.tabs summary", has_text="Services").click()
    client.get_by_role("link", name="Mes services").click()
    page = client.text_content("main")
    assert (
        page.index("Site 1")
        < page.index("Hébergement Web")
        < page.index("Site 2")
        < page.index("Téléphonie IP")
    )
    assert "Prochaine facture" in page
    context.close()
    client.context.close()
    assert refused == [], refused
