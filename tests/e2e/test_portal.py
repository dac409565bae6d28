"""Customer journeys of seeds 000 and 001 in real Chromium."""

import datetime
import re
from decimal import Decimal

import pytest
from django.core import mail

from acquitte.customers.models import TermsAcceptance, TermsVersion, User
from acquitte.invoicing import services as invoicing
from tests import factories
from tests.factories import SYSTEM

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "un-mot-de-passe-solide-42"
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


@pytest.fixture
def account():
    org = factories.quebec_organisation("e2e-portal")
    customer = factories.customer(org)
    User.objects.create_user("client@e2e.test", PASSWORD, customer=customer)
    invoices = []
    for day in (1, 2, 3):
        inv = factories.invoice(org, customer, finalise=False)
        invoices.append(
            invoicing.finalise_invoice(invoice=inv, actor=SYSTEM, issue_date=datetime.date(2026, 2, day))
        )
    return org, customer, invoices


def sign_in(page, base, password=PASSWORD):
    page.goto(f"{base}/connexion/")
    page.fill("#id_username", "client@e2e.test")
    page.fill("#id_password", password)
    page.get_by_role("button", name="Connexion").click()


def test_sign_in_list_open_and_pay(live_server, page, account):
    _, _, invoices = account
    sign_in(page, live_server.url, "mauvais")
    assert "Courriel ou mot de passe incorrect" in page.text_content("[role=alert]")
    sign_in(page, live_server.url)
    page.get_by_role("link", name="FACTURES", exact=True).click()
    numbers = [n.strip().split()[-1] for n in page.locator("a.rowlink").all_text_contents()]
    assert numbers == sorted(inv.number for inv in invoices)  # unpaid, oldest first
    row = page.locator("tr.clickable").nth(0)
    box = row.bounding_box()
    row.click(
        position={"x": box["width"] - 20, "y": box["height"] / 2}
    )  # far from the number: anywhere on the row
    assert page.url.endswith(f"/factures/{min(invoices, key=lambda i: i.number).pk}/")
    page.get_by_role("button", name="Nouvelle carte de crédit").click()
    page.fill("#id_holder", "Isabelle Côté")
    page.fill("#id_number", "4242 4242 4242 4242")
    page.fill("#id_expiry", NEXT_YEAR)
    page.fill("#id_cvv", "123")
    page.get_by_role("button", name="Payer").click()
    assert "Paiement accepté" in page.text_content(".message")
    assert page.text_content(".status").strip() == "PAYÉE"


def test_password_reset_through_the_outbox(live_server, page, account, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    page.goto(f"{live_server.url}/connexion/")
    page.get_by_role("link", name="Mot de passe oublié ?").click()
    page.fill("#id_email", "client@e2e.test")
    page.get_by_role("button", name="Envoyer le lien").click()
    assert "Courriel envoyé" in page.content()
    link = re.search(r"http://[^/]+(/mot-de-passe/\S+/)", mail.outbox[-1].body).group(1)
    page.goto(live_server.url + link)
    page.fill("#id_new_password1", "Tout-nouveau-secret-77")
    page.fill("#id_new_password2", "Tout-nouveau-secret-77")
    page.get_by_role("button", name="Enregistrer").click()
    assert "Mot de passe modifié" in page.content()
    sign_in(page, live_server.url, "Tout-nouveau-secret-77")
    assert "Mon compte" in page.content()


def test_first_login_terms_then_bank_account(live_server, page, account, settings):
    settings.PUBLIC_BASE_URL = live_server.url  # where the sandbox's setup page sends the customer back
    org, customer, _ = account
    TermsVersion.objects.create(
        organisation=org, version="2026-02", body_fr="Texte des conditions.", published_at="2026-01-01T00:00Z"
    )
    sign_in(page, live_server.url)
    page.get_by_role("link", name="Les conditions générales n'ont pas été acceptées.").click()
    # The new-address fields show only when a new address is chosen.
    page.get_by_label("Créer une adresse de facturation").check()
    assert page.locator("#id_line1").is_visible()
    page.locator("input[name=address]").first.check()
    assert not page.locator("#id_line1").is_visible()
    page.get_by_label("Nom du contact principal").fill("Isabelle Côté")
    page.get_by_label("J'ai lu et j'accepte les conditions générales").check()
    page.get_by_role("button", name="J'accepte").click()
    assert page.url.endswith("/conditions/paiement/")
    assert TermsAcceptance.objects.filter(customer=customer).exists()
    # Seed 001: "choose credit card or direct debit and click Autoriser"; the sandbox's form opens.
    page.get_by_label("Prélèvement automatique").check()
    page.get_by_role("button", name="Autoriser").click()
    page.fill("#id_holder", "Isabelle Côté")
    page.select_option("#id_scheme", "pad")
    page.fill("#id_institution", "006")
    page.fill("#id_transit", "00123")
    page.fill("#id_account", "1234567")
    page.get_by_role("button", name="Autoriser").click()
    assert page.url.endswith("/facturation/")
    assert "Moyen de paiement ajouté" in page.text_content(".message")
    assert "(par défaut)" in page.text_content(".methods")


def test_declare_a_transfer_and_pay_an_amount(live_server, page, account):
    from acquitte.notifications.models import Notification
    from acquitte.payments.services import add_card

    org, customer, invoices = account
    add_card(
        customer=customer,
        holder="Isabelle Côté",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
        actor=SYSTEM,
    )
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/factures/{invoices[2].pk}/")
    page.get_by_label("Référence du virement ou numéro du chèque").fill("Virement 8812")
    page.get_by_label("Envoyé le").fill(datetime.date.today().isoformat())
    page.get_by_role("button", name="Déclarer mon paiement").click()
    assert "restera non payée" in page.text_content(".message")
    assert Notification.objects.filter(organisation=org, kind="transfer_declared").exists()
    page.goto(f"{live_server.url}/facturation/")
    page.get_by_label("Montant du paiement").fill("150.00")
    page.get_by_role("button", name="Effectuer un paiement").last.click()
    assert "Paiement accepté" in page.text_content(".message")
    invoices[0].refresh_from_db()
    invoices[1].refresh_from_db()
    assert invoices[0].status == "paid" and invoices[1].amount_paid == Decimal("35.02")
