"""In real Chromium (issue 12): a customer of an organisation with Stripe connected, the sandbox
disconnected, ends the first login with « Autoriser » on Stripe's hosted setup page (served by the
local fake, driven by the real SDK), adds a second card from « Facturation », sees it as the
default, and the collection run's off-session charge of that card pays the next invoice."""

import copy
import datetime
import os
import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from acquitte.customers.models import TermsVersion, User
from acquitte.invoicing.models import Invoice
from acquitte.payments.models import PaymentMethod, ProviderAccount
from acquitte.subscriptions.services import collection_key, run_collection
from tests import factories
from tests.payments import fake_stripe
from tests.payments.test_hosted_payments import connect
from tests.subscriptions.test_collection_run import recurring_invoice

pytestmark = pytest.mark.django_db(transaction=True)

PASSWORD = "un-mot-de-passe-solide-42"
SHOTS = os.environ.get("ACQUITTE_SHOTS", "")


def shots(page, name):
    """The page at desktop and phone widths, for a person to look at, when ACQUITTE_SHOTS names a folder."""
    if not SHOTS:
        return
    size = page.viewport_size
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=f"{SHOTS}/{name}-{width}.png", full_page=True)
    page.set_viewport_size(size)


@pytest.fixture
def stripe(live_server, settings):
    """Stripe's API and hosted pages on a local port, which the portal's forms may redirect to."""
    with fake_stripe.FakeStripe() as fake:
        settings.STRIPE_API_BASE = fake.url
        settings.PUBLIC_BASE_URL = live_server.url
        policy = copy.deepcopy(settings.CONTENT_SECURITY_POLICY)
        policy["DIRECTIVES"]["form-action"].append(fake.url)
        settings.CONTENT_SECURITY_POLICY = policy
        yield fake


def fill_stripe_page(page, stripe, number, holder="Isabelle Côté"):
    page.wait_for_url(f"{stripe.url}/setup/*")
    page.get_by_label("Numéro de carte").fill(number)
    page.get_by_label("Date d'expiration").fill("11 / 31")
    page.get_by_label("CVC").fill("123")
    page.get_by_label("Nom du titulaire de la carte").fill(holder)
    page.get_by_role("button", name="Enregistrer").click()


def test_card_saved_on_stripe_page_is_the_default_and_pays_the_next_invoice(live_server, page, stripe):
    org = factories.quebec_organisation("e2e-stripe")
    connect(
        org, "stripe", {"secret_key": fake_stripe.SECRET_KEY, "webhook_secret": fake_stripe.WEBHOOK_SECRET}
    )
    ProviderAccount.objects.filter(organisation=org, provider="sandbox").delete()
    TermsVersion.objects.create(
        organisation=org, version="2026-01", body_fr="Texte des conditions.", published_at=timezone.now()
    )
    customer = factories.customer(org)
    User.objects.create_user("client@stripe.test", PASSWORD, customer=customer)

    # First login (seed 001): the terms, then « Autoriser » opens Stripe's page for a card.
    page.goto(f"{live_server.url}/connexion/")
    page.fill("#id_username", "client@stripe.test")
    page.fill("#id_password", PASSWORD)
    page.get_by_role("button", name="Connexion").click()
    page.get_by_role("link", name="Les conditions générales n'ont pas été acceptées.").click()
    page.get_by_label("Nom du contact principal").fill("Isabelle Côté")
    page.get_by_label("J'ai lu et j'accepte les conditions générales").check()
    page.get_by_role("button", name="J'accepte").click()
    page.wait_for_url(re.compile(r"/conditions/paiement/$"))
    expect(page.get_by_role("radio")).to_have_count(1)  # Stripe saves cards; nothing else is connected
    assert page.get_by_label("Carte de crédit").is_checked()
    shots(page, "first-login-payment-fr")
    if SHOTS:
        page.select_option("#language", "en")
        page.wait_for_selector("text=Credit card")
        shots(page, "first-login-payment-en")
        page.select_option("#language", "fr")
        page.wait_for_selector("text=Carte de crédit")
    page.get_by_role("button", name="Autoriser").click()
    fill_stripe_page(page, stripe, "4242 4242 4242 4242")
    page.wait_for_url(re.compile(r"/facturation/$"))
    assert "Moyen de paiement ajouté" in page.text_content(".message")
    assert re.search(
        r"VISA •••• 4242 \(11/31\) — Isabelle Côté\s+\(par défaut\)", page.text_content(".methods")
    )

    # From « Facturation », another card: it becomes the default.
    page.get_by_role("link", name="Facturation").click()
    page.get_by_role("button", name="Ajouter une carte").click()
    fill_stripe_page(page, stripe, "5555 5555 5555 4444", holder="Marc Tremblay")
    page.wait_for_url(re.compile(r"/facturation/$"))
    assert "Moyen de paiement ajouté" in page.text_content(".message")
    rows = page.locator(".methods li").all_text_contents()
    assert len(rows) == 2
    assert re.search(r"MasterCard •••• 4444 \(11/31\) — Marc Tremblay\s+\(par défaut\)", rows[1] + rows[0])
    (visa,) = [row for row in rows if "VISA" in row]
    assert "(par défaut)" not in visa and "Définir par défaut" in visa
    card = PaymentMethod.objects.get(customer=customer, is_default=True)
    assert (card.provider, card.last4) == ("stripe", "4444")

    # The next invoice: the collection run charges the default card off-session, and it is paid.
    today = datetime.date.today()
    issued = (today.replace(day=1) - datetime.timedelta(days=1)).replace(day=2)
    invoice = recurring_invoice(org, customer, issued=issued)
    summary = run_collection(organisation=org, as_of=issued.replace(day=22), actor=factories.SYSTEM)
    assert (summary.charges, summary.failures) == (1, 0)
    (sent,) = [r for r in stripe.requests if r.path == "/v1/payment_intents"]
    assert sent.headers["Idempotency-Key"] == collection_key(invoice.pk, issued.replace(day=22))
    assert sent.params["off_session"] == "true" and sent.params["payment_method"] == card.token
    assert Invoice.objects.get(pk=invoice.pk).status == Invoice.Status.PAID
    page.goto(f"{live_server.url}/factures/")
    page.locator("a.rowlink").first.click()
    assert page.text_content(".status").strip() == "PAYÉE"
