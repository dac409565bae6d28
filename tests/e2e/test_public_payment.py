"""In real Chromium: a customer opens the public link, is declined, then pays by card."""

import datetime

import pytest

from acquitte.invoicing.models import Invoice
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


def fill_card(page, number):
    page.fill("#id_holder", "Isabelle Côté")
    page.fill("#id_number", number)
    page.fill("#id_expiry", NEXT_YEAR)
    page.fill("#id_cvv", "123")
    page.get_by_role("button", name="Payer").click()


def test_public_link_declined_then_paid(live_server, page):
    org = factories.quebec_organisation("e2e")
    invoice = factories.invoice(org, factories.customer(org))
    page.goto(f"{live_server.url}/i/{invoice.public_token}/")
    assert "NON PAYÉE" in page.text_content(".status")
    page.get_by_role("button", name="Carte de crédit").click()
    assert "MODE TEST" in page.text_content(".test-mode")
    fill_card(page, "4000 0000 0000 0002")
    assert "Carte refusée" in page.text_content(".message")
    assert Invoice.objects.get(pk=invoice.pk).status == "open"
    page.get_by_role("button", name="Carte de crédit").click()
    fill_card(page, "4242 4242 4242 4242")
    assert "Paiement accepté" in page.text_content(".message")
    assert page.text_content(".status").strip() == "PAYÉE"
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"


def test_language_switch_to_english(live_server, page):
    org = factories.quebec_organisation("e2e-en")
    invoice = factories.invoice(org, factories.customer(org))
    page.goto(f"{live_server.url}/i/{invoice.public_token}/")
    page.select_option("#language", "en")
    page.wait_for_selector("text=Pay the invoice")
    assert page.text_content(".status").strip() == "UNPAID"
