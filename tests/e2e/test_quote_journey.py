"""In real Chromium at phone width: the quote journey of seed 003, from the merchant's "+" to the
customer's payment, and the merchant seeing it paid."""

import datetime
import os
import re
from decimal import Decimal

import pytest

from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.quotes.models import Quote
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

PHONE = {"width": 390, "height": 844}
PASSWORD = "motdepasse-long-2026"
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"
SHOTS = os.environ.get("ACQUITTE_SHOTS", "")


def shot(page, name):
    """Screenshots for a person to look at, only when ACQUITTE_SHOTS names a folder."""
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.fixture
def phone(browser):
    contexts = []

    def open_page():
        context = browser.new_context(locale="fr-CA", viewport=PHONE, is_mobile=True, has_touch=True)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        return page

    yield open_page
    for context in contexts:
        context.close()


def sign_in(page, url, email):
    page.goto(f"{url}/connexion/")
    page.fill("#id_username", email)
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Connexion").click()


def test_quote_built_sent_approved_and_paid(live_server, phone):
    org = factories.quebec_organisation("e2e-quotes")
    factories.staff(org, email="proprio@e2e.test")
    factories.customer(org, name="Isabelle Côté", email="isabelle@example.test", phone="514 555 0199")
    factories.product(org, sku="INST-01", price="150.00", name="Installation et configuration")

    staff = phone()
    sign_in(staff, live_server.url, "proprio@e2e.test")
    staff.wait_for_url(re.compile(r"/gestion/$"))
    staff.get_by_role("link", name="Soumissions", exact=True).click()
    staff.get_by_role("link", name="Nouvelle soumission").click()
    staff.fill("#q", "Côté")
    staff.get_by_role("button", name=re.compile("Isabelle Côté")).click()
    staff.wait_for_url(re.compile(r"/gestion/soumissions/\d+/lignes/$"))

    # Search the catalogue, tap a product: it joins the quote.
    staff.fill("#q", "Install")
    staff.get_by_role("button", name=re.compile("Installation et configuration")).click()
    staff.wait_for_selector("#lines >> text=Installation et configuration")

    # "+": a new product from its sheet; it joins the catalogue and the quote.
    staff.get_by_role("link", name="Nouveau produit ou service").click()
    staff.fill("#id_name", "Pose de fenêtre")
    staff.fill("#id_unit_price", "350.00")
    staff.select_option("#id_tax_category", label="Taxable Québec (TPS + TVQ)")
    staff.get_by_role("button", name="Sauvegarder").click()
    staff.wait_for_selector("#lines >> text=Pose de fenêtre")
    assert org.products.filter(name="Pose de fenêtre").exists()
    shot(staff, "1-builder")

    # Tap a line to change its quantity.
    staff.get_by_role("link", name=re.compile("Pose de fenêtre")).click()
    staff.fill("#id_quantity", "3")
    staff.get_by_role("button", name="Modifier").click()
    staff.wait_for_selector("#lines >> text=1050,00")
    quote = Quote.objects.get(organisation=org)
    assert quote.subtotal == Decimal("1200.00") and quote.total == Decimal("1379.70")

    staff.get_by_role("link", name="Montant total").click()
    shot(staff, "2-review")
    staff.get_by_role("button", name="Enregistrer et envoyer par courriel").click()
    staff.wait_for_url(re.compile(rf"/gestion/soumissions/{quote.pk}/$"))
    assert "envoyée par courriel et par SMS" in staff.text_content(".message")
    shot(staff, "3-details")

    quote.refresh_from_db()
    link = f"/q/{quote.public_token}/"
    email = OutboundMessage.objects.get(organisation=org, channel="email", kind="quote_sent")
    sms = OutboundMessage.objects.get(organisation=org, channel="sms", kind="quote_sent")
    assert email.to == "isabelle@example.test" and sms.to == "+15145550199"
    assert link in email.body and link in email.html_body and link in sms.body
    assert email.status == "sent" and sms.status == "outbox_only"

    # The customer opens the link from the SMS, approves, lands on the invoice and pays.
    payer = phone()
    payer.goto(live_server.url + re.search(r"/q/\S+/", sms.body).group(0))
    shot(payer, "4-approval")
    payer.fill("#id_name", "Isabelle Côté")
    payer.check("#id_agree")
    payer.get_by_role("button", name="Approuver et passer au paiement").click()
    payer.wait_for_url(re.compile(r"/i/[\w-]+/$"))
    invoice = Invoice.objects.get(organisation=org, kind="invoice")
    assert invoice.number and invoice.total == quote.total
    assert "Payer la facture" in payer.content()
    shot(payer, "5-invoice")
    payer.get_by_role("button", name="Carte de crédit").click()
    payer.fill("#id_holder", "Isabelle Côté")
    payer.fill("#id_number", "4242 4242 4242 4242")
    payer.fill("#id_expiry", NEXT_YEAR)
    payer.fill("#id_cvv", "123")
    payer.get_by_role("button", name="Payer").click()
    assert "Paiement accepté" in payer.text_content(".message")

    quote.refresh_from_db()
    assert quote.status == "converted" and quote.invoice == invoice
    assert quote.approver_name == "Isabelle Côté" and quote.approver_ip == "127.0.0.1"

    # Staff see the invoice paid in the Invoices tab, and the notification.
    staff.get_by_role("link", name="Factures", exact=True).click()
    row = staff.locator("tr", has_text=invoice.number)
    assert "Payée" in row.text_content()
    row.click()
    assert staff.text_content(".status").strip() == "PAYÉE"
    shot(staff, "6-invoice-paid")
    assert Notification.objects.filter(organisation=org, kind="payment_received").exists()
    staff.get_by_role("link", name="Notifications").click()
    assert "Paiement reçu" in staff.content()
