"""Seed 002 in real Chromium, as the customer: with no card the recurring options are hidden; once a
card is added, "Paiement récurrent tout" with a sub-contact who is not the card holder shows
"Attention !", and confirming turns recurring on for every domain; "Renouveler tout" gives
pro-formas, and paying one by card moves its domain's expiry date on by a year."""

import datetime
import re

import pytest
from playwright.sync_api import expect

from acquitte.customers.models import User
from acquitte.invoicing.models import Invoice
from acquitte.subscriptions.models import Service
from acquitte.subscriptions.periods import anniversary
from tests import factories
from tests.subscriptions.domain_builders import billing_contact, domain_product, service

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "un-mot-de-passe-solide-42"
TODAY = datetime.date.today()
NEXT_YEAR = f"12/{(TODAY.year + 1) % 100:02d}"


@pytest.fixture
def account():
    org = factories.quebec_organisation("e2e-domaines")
    customer = factories.customer(org)
    User.objects.create_user("client@e2e.test", PASSWORD, customer=customer)
    product = domain_product(org)
    domains = [
        service(customer, product, name="cafebonjour.ca", expires_on=TODAY + datetime.timedelta(days=20)),
        service(customer, product, name="cafe-bonjour.com", expires_on=TODAY + datetime.timedelta(days=150)),
        service(customer, product, name="bonjour.quebec", expires_on=TODAY + datetime.timedelta(days=300)),
    ]
    billing_contact(customer, name="Jean Tremblay", company="Gestion JT inc.")
    return customer, domains


def sign_in(page, base):
    page.goto(f"{base}/connexion/")
    page.fill("#id_username", "client@e2e.test")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Connexion").click()


def open_domains(page):
    """ "Domaines" (seed 002) sits under the Services menu, beside "Mes services"."""
    page.locator("nav.tabs summary", has_text="Services").click()
    page.get_by_role("link", name="Domaines", exact=True).click()


def choose(page, action):
    page.locator("details.actions-menu > summary").click()
    page.get_by_role("menuitem", name=action, exact=True).click()


def test_recurring_for_every_domain_then_renew_and_pay(live_server, page, account):
    _customer, domains = account
    sign_in(page, live_server.url)
    open_domains(page)
    expect(page.locator("table.domains tbody tr")).to_have_count(3)

    # No card yet: only the renewals are offered, and the page says where to add a card.
    page.locator("details.actions-menu > summary").click()
    items = page.get_by_role("menuitem").all_text_contents()
    assert [i.strip() for i in items] == ["Renouveler", "Renouveler tout"]
    assert "carte valide" in page.text_content("p.no-card")
    page.locator("p.no-card").get_by_role("link", name=re.compile("Ajouter une carte")).click()
    page.wait_for_url(re.compile(r"/facturation/$"))
    page.fill("#id_card-holder", "Marie Roy")
    page.fill("#id_card-number", "4242 4242 4242 4242")
    page.fill("#id_card-expiry", NEXT_YEAR)
    page.fill("#id_card-cvv", "123")
    page.locator("form[aria-labelledby=add-card]").get_by_role("button", name="Ajouter").click()
    assert "Carte ajoutée" in page.text_content(".message")

    # "Paiement récurrent tout": every domain checked, the card and a sub-contact who is not its holder.
    open_domains(page)
    choose(page, "Paiement récurrent tout")
    boxes = page.locator("input[name=service]")
    expect(boxes).to_have_count(3)
    assert all(boxes.nth(n).is_checked() for n in range(3))
    assert page.locator("input[name=card]").first.is_checked()
    page.select_option("#contact", label="Jean Tremblay (Gestion JT inc.)")
    page.get_by_role("button", name="Confirmer").click()
    warning = page.text_content(".attention")
    assert "Attention !" in warning and "Marie Roy" in warning
    assert not Service.objects.filter(recurring=True).exists()

    page.get_by_label("J'ai vérifié").check()
    page.get_by_role("button", name="Confirmer").click()
    assert "Paiement récurrent activé pour 3 domaines" in page.text_content(".message.success")
    assert Service.objects.filter(recurring=True).count() == 3
    expect(page.locator("table.domains .recurring-on")).to_have_count(3)

    # "Renouveler tout": one pro-forma a domain, each with its link to pay.
    choose(page, "Renouveler tout")
    expect(page.locator("ul.proformas li")).to_have_count(3)
    assert Invoice.objects.filter(kind=Invoice.Kind.PROFORMA, status=Invoice.Status.OPEN).count() == 3
    page.locator("ul.proformas li").filter(has_text="cafebonjour.ca").get_by_role(
        "link", name="Payer"
    ).click()
    page.get_by_role("button", name=re.compile(r"^Payer ")).click()
    assert "Paiement accepté" in page.text_content(".message")

    first = Service.objects.get(pk=domains[0].pk)
    assert first.expires_on == anniversary(domains[0].expires_on, 1)
    page.goto(f"{live_server.url}/domaines/{first.pk}/")
    assert str(first.expires_on.year) in page.text_content(".expires-on")
    assert "Renouvelé" in page.text_content("table")
