"""Back-office pages through Django's test client: what staff do, and what bad input leaves behind."""

import datetime

import pytest
from django.test import TestCase

from acquitte.catalog.models import Product
from acquitte.customers.models import Customer
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage
from acquitte.payments.models import Payment, ProviderAccount
from acquitte.quotes.models import Quote
from tests import factories
from tests.payments.fake_providers import STRIPE_TEST_KEY, FakeProviders

# Money is received on or after the invoice date, and never in the future.
TODAY = datetime.date.today().isoformat()


@pytest.fixture
def owner(org_qc):
    return factories.staff(org_qc)


@pytest.fixture
def staff_client(client, owner):
    client.force_login(owner)
    return client


def test_customer_created_with_contacts_addresses_and_sites(staff_client, org_qc):
    response = staff_client.post(
        "/gestion/clients/nouveau/",
        {
            "kind": "person",
            "name": "Isabelle Côté",
            "email": "isabelle@example.test",
            "phone": "514 555 0199",
            "language": "fr",
        },
    )
    customer = Customer.objects.get(organisation=org_qc, name="Isabelle Côté")
    assert response["Location"] == f"/gestion/clients/{customer.pk}/"
    assert customer.phone == "+15145550199" and customer.number
    base = f"/gestion/clients/{customer.pk}/ajouter/"
    staff_client.post(
        base + "address/",
        {
            "address-line1": "1 rue A",
            "address-city": "Montréal",
            "address-postal_code": "H2X 1Y4",
            "address-country": "CA",
        },
    )
    staff_client.post(
        base + "contact/",
        {"contact-name": "Comptabilité", "contact-email": "compta@example.test", "contact-is_billing": "on"},
    )
    staff_client.post(
        base + "site/",
        {
            "site-name": "Entrepôt",
            "site-line1": "2 rue B",
            "site-city": "Laval",
            "site-postal_code": "H7N 1A1",
            "site-country": "CA",
        },
    )
    assert (
        customer.addresses.get().is_default and customer.contacts.get().is_billing and customer.sites.exists()
    )
    page = staff_client.get(f"/gestion/clients/{customer.pk}/").content.decode()
    assert "Comptabilité" in page and "Entrepôt" in page and "Solde" in page


def test_bad_customer_input_is_explained_and_saves_nothing(staff_client, org_qc):
    response = staff_client.post(
        "/gestion/clients/nouveau/",
        {"kind": "person", "name": "X", "email": "pas-un-courriel", "phone": "123", "language": "fr"},
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "Saisissez une adresse de courriel valide." in body and "Numéro de téléphone invalide" in body
    assert not Customer.objects.filter(organisation=org_qc).exists()
    customer = factories.customer(org_qc)
    response = staff_client.post(
        f"/gestion/clients/{customer.pk}/ajouter/address/", {"address-city": "Montréal"}
    )
    assert response.status_code == 400 and not customer.addresses.filter(city="Montréal", line1="").exists()


def test_catalogue_search_create_and_duplicate_sku(staff_client, org_qc):
    category = org_qc.tax_categories.get(code="qc")
    staff_client.post(
        "/gestion/catalogue/nouveau/",
        {
            "name": "Pose de fenêtre",
            "unit_price": "350.00",
            "tax_category": category.pk,
            "kind": "one_time",
            "active": "on",
        },
    )
    product = Product.objects.get(organisation=org_qc, name="Pose de fenêtre")
    assert product.sku == "POSE-DE-FENETRE" and product.currency == "CAD"
    response = staff_client.post(
        "/gestion/catalogue/nouveau/",
        {
            "name": "Autre",
            "sku": "POSE-DE-FENETRE",
            "unit_price": "1",
            "tax_category": category.pk,
            "kind": "one_time",
        },
    )
    assert "déjà utilisée" in response.content.decode()
    response = staff_client.post(
        "/gestion/catalogue/nouveau/",
        {"name": "Énorme", "unit_price": "1e20", "tax_category": category.pk, "kind": "one_time"},
    )
    assert response.status_code == 200 and not Product.objects.filter(name="Énorme").exists()
    assert "Pose de fenêtre" in staff_client.get("/gestion/catalogue/?q=fenêtre").content.decode()
    assert "Pose de fenêtre" not in staff_client.get("/gestion/catalogue/?q=zzz").content.decode()


def test_quote_builder_with_htmx_partials(staff_client, org_qc):
    customer = factories.customer(org_qc, phone="514 555 0199")
    product = factories.product(org_qc, sku="INST", price="150.00", name="Installation")
    quote_url = staff_client.post("/gestion/soumissions/nouvelle/", {"customer": customer.pk})["Location"]
    quote = Quote.objects.get(organisation=org_qc)
    assert quote_url == f"/gestion/soumissions/{quote.pk}/lignes/"
    results = staff_client.get(quote_url + "?q=Inst", HTTP_HX_REQUEST="true", HTTP_HX_TARGET="results")
    assert "Installation" in results.content.decode() and "<html" not in results.content.decode()
    lines = staff_client.post(quote_url + "ajouter/", {"product": product.pk}, HTTP_HX_REQUEST="true")
    assert "Montant total" in lines.content.decode() and "<html" not in lines.content.decode()
    line = quote.lines.get()
    staff_client.post(f"{quote_url}{line.pk}/", {"quantity": "4"}, HTTP_HX_REQUEST="true")
    refused = staff_client.post(f"{quote_url}{line.pk}/", {"quantity": "-2"})
    assert refused.status_code == 400
    quote.refresh_from_db()
    assert quote.subtotal == 600
    review = staff_client.get(f"/gestion/soumissions/{quote.pk}/revision/").content.decode()
    assert "Enregistrer et envoyer par courriel" in review and "Visualiser" in review
    with TestCase.captureOnCommitCallbacks(execute=True):
        sent = staff_client.post(
            f"/gestion/soumissions/{quote.pk}/revision/", {"action": "send", "notes": "Merci"}
        )
    assert sent["Location"] == f"/gestion/soumissions/{quote.pk}/"
    detail = staff_client.get(sent["Location"]).content.decode()
    assert "Détails de la soumission" in detail and "SMS" in detail and "/q/" in detail
    assert staff_client.get(f"/gestion/soumissions/{quote.pk}/pdf/")["Content-Type"] == "application/pdf"
    # Staff approve on the customer's behalf: the invoice appears in the Invoices tab.
    staff_client.post(f"/gestion/soumissions/{quote.pk}/approve/")
    invoice = Invoice.objects.get(organisation=org_qc)
    assert invoice.number in staff_client.get("/gestion/factures/").content.decode()


def test_pay_now_from_the_review_screen(staff_client, org_qc):
    customer = factories.customer(org_qc)
    quote_url = staff_client.post("/gestion/soumissions/nouvelle/", {"customer": customer.pk})["Location"]
    staff_client.post(quote_url + "ajouter/", {"product": factories.product(org_qc).pk})
    quote = Quote.objects.get()
    response = staff_client.post(f"/gestion/soumissions/{quote.pk}/revision/", {"action": "pay"})
    invoice = Invoice.objects.get()
    assert response["Location"] == f"/i/{invoice.public_token}/"
    assert Quote.objects.get().approved_via == "staff"


def test_one_off_invoice_from_catalogue_lines_to_payment(staff_client, org_qc):
    customer = factories.customer(org_qc, phone="514 555 0199")
    product = factories.product(org_qc, price="100.00")
    builder = staff_client.post("/gestion/factures/nouvelle/", {"customer": customer.pk})["Location"]
    invoice = Invoice.objects.get(organisation=org_qc)
    staff_client.post(builder + "ajouter/", {"product": product.pk})
    staff_client.post(builder + "ajouter/", {"product": product.pk})
    assert invoice.lines.get().quantity == 2
    base = f"/gestion/factures/{invoice.pk}/"
    staff_client.post(base + "finalise/")
    invoice.refresh_from_db()
    assert invoice.status == "open" and invoice.number
    with TestCase.captureOnCommitCallbacks(execute=True):
        staff_client.post(base + "send/")
    email = OutboundMessage.objects.get(channel="email", reference=invoice.number)
    assert f"/i/{invoice.public_token}/" in email.body and email.attachment_name.endswith(".pdf")
    assert OutboundMessage.objects.filter(channel="sms", reference=invoice.number).exists()
    staff_client.post(base + "online/", {"offered": "0"})
    assert Invoice.objects.get(pk=invoice.pk).online_payment is False
    bad = staff_client.post(base + "paiement/", {"method": "cheque", "amount": "-5", "received_on": TODAY})
    assert bad.status_code == 400 and not Payment.objects.exists()
    staff_client.post(
        base + "paiement/",
        {
            "method": "cheque",
            "amount": str(invoice.total),
            "received_on": TODAY,
            "reference": "Chèque 101",
        },
    )
    assert Invoice.objects.get(pk=invoice.pk).status == "paid"
    assert staff_client.get(base + "pdf/")["Content-Type"] == "application/pdf"
    page = staff_client.get(base).content.decode()
    assert "PAYÉE" in page and "Chèque" in page


def test_void_and_credit_note_from_the_invoice_page(staff_client, org_qc):
    customer = factories.customer(org_qc)
    first, second = factories.invoice(org_qc, customer), factories.invoice(org_qc, customer)
    staff_client.post(f"/gestion/factures/{first.pk}/void/")
    assert Invoice.objects.get(pk=first.pk).status == "void"
    response = staff_client.post(f"/gestion/factures/{second.pk}/credit/")
    note = Invoice.objects.get(kind="credit_note")
    assert response["Location"] == f"/gestion/factures/{note.pk}/" and note.number.startswith("AV-")
    assert Invoice.objects.get(pk=second.pk).status == "paid"


def test_invoice_list_filters_and_sorts(staff_client, org_qc):
    cafe = factories.customer(org_qc, name="Café Bonjour")
    clinique = factories.customer(org_qc, name="Clinique", email="c@example.test")
    a = factories.invoice(org_qc, cafe, prices=("10.00",))
    b = factories.invoice(org_qc, clinique, prices=("999.00",))
    draft = factories.invoice(org_qc, cafe, finalise=False)
    body = staff_client.get(f"/gestion/factures/?customer={clinique.pk}").content.decode()
    assert b.number in body and a.number not in body
    body = staff_client.get("/gestion/factures/?status=draft").content.decode()
    assert f"/gestion/factures/{draft.pk}/lignes/" in body and a.number not in body
    body = staff_client.get("/gestion/factures/?sort=-total").content.decode()
    assert body.index(b.number) < body.index(a.number)
    body = staff_client.get("/gestion/factures/?date_from=2999-01-01").content.decode()
    assert a.number not in body
    assert staff_client.get("/gestion/factures/?date_from=pas-une-date&sort=DROP").status_code == 200


def test_read_only_staff_look_but_change_nothing(client, org_qc):
    client.force_login(factories.staff(org_qc, email="lecture@example.test", role="read_only"))
    customer = factories.customer(org_qc)
    invoice = factories.invoice(org_qc, customer)
    assert client.get(f"/gestion/factures/{invoice.pk}/").status_code == 200
    assert client.post(f"/gestion/factures/{invoice.pk}/void/").status_code == 403
    assert client.post("/gestion/soumissions/nouvelle/", {"customer": customer.pk}).status_code == 403
    assert client.post("/gestion/reglages/paiement/defaut/", {}).status_code == 403
    assert Invoice.objects.get(pk=invoice.pk).status == "open" and not Quote.objects.exists()


def test_payment_settings_connect_check_and_default(staff_client, org_qc, settings, client):
    page = staff_client.get("/gestion/reglages/paiement/").content.decode()
    assert "Bac à sable" in page and "GoCardless" in page and "Stripe" in page and "PayPal" in page
    with FakeProviders("test") as fake:
        settings.STRIPE_API_BASE = fake.url
        bad = staff_client.post(
            "/gestion/reglages/paiement/stripe/connecter/",
            {"secret_key": "pk_test_123", "webhook_secret": "whsec_1"},
        )
        assert bad.status_code == 400 and "sk_test_" in bad.content.decode()
        assert not ProviderAccount.objects.filter(provider="stripe").exists()
        staff_client.post(
            "/gestion/reglages/paiement/stripe/connecter/",
            {"secret_key": STRIPE_TEST_KEY, "webhook_secret": "whsec_1"},
        )
    account = ProviderAccount.objects.get(organisation=org_qc, provider="stripe")
    assert account.mode == "test"
    page = staff_client.get("/gestion/reglages/paiement/").content.decode()
    assert STRIPE_TEST_KEY not in page and "••••" + STRIPE_TEST_KEY[-4:] in page
    staff_client.post("/gestion/reglages/paiement/defaut/", {})
    org_qc.refresh_from_db()
    assert org_qc.online_payment_default is False
    staff_client.post("/gestion/reglages/paiement/stripe/deconnecter/")
    assert not ProviderAccount.objects.filter(provider="stripe").exists()
    accountant = factories.staff(org_qc, email="compta@example.test", role="accountant")
    client.force_login(accountant)
    client.post("/gestion/reglages/paiement/defaut/", {"online_payment_default": "on"})
    org_qc.refresh_from_db()
    assert org_qc.online_payment_default is False


def test_outbox_and_notifications_pages(staff_client, org_qc, owner):
    customer = factories.customer(org_qc, phone="514 555 0199")
    invoice = factories.invoice(org_qc, customer)
    with TestCase.captureOnCommitCallbacks(execute=True):
        staff_client.post(
            f"/gestion/factures/{invoice.pk}/paiement/",
            {"method": "cheque", "amount": str(invoice.total), "received_on": TODAY},
        )
    page = staff_client.get("/gestion/messages/").content.decode()
    assert owner.email in page and "Envoyé" in page
    assert "Paiement reçu" in staff_client.get("/gestion/notifications/").content.decode()
    assert 'class="badge"' in staff_client.get("/gestion/").content.decode()
    staff_client.post("/gestion/notifications/lues/")
    assert 'class="badge"' not in staff_client.get("/gestion/").content.decode()
    sms_only = staff_client.get("/gestion/messages/?channel=sms").content.decode()
    assert owner.email not in sms_only


def test_new_customer_from_the_quote_picker_opens_the_quote(staff_client, org_qc):
    response = staff_client.post(
        "/gestion/clients/nouveau/",
        {
            "kind": "company",
            "name": "Vitrerie Nord",
            "email": "info@vitrerie.example",
            "language": "fr",
            "next": "quote",
        },
    )
    quote = Quote.objects.get(customer__name="Vitrerie Nord")
    assert response["Location"] == f"/gestion/soumissions/{quote.pk}/lignes/"


def test_back_office_in_english(staff_client, org_qc):
    staff_client.cookies["django_language"] = "en"
    customer = factories.customer(org_qc)
    staff_client.post("/gestion/soumissions/nouvelle/", {"customer": customer.pk})
    quote = Quote.objects.get()
    pages = {
        "/gestion/soumissions/": ["Quotes", "Draft"],
        f"/gestion/soumissions/{quote.pk}/lignes/": ["New quote", "Add from the catalogue"],
        "/gestion/factures/": ["Invoices", "New invoice"],
        "/gestion/reglages/paiement/": ["Online payment", "Connect"],
        "/gestion/clients/": ["Customers", "New customer"],
    }
    for url, words in pages.items():
        body = staff_client.get(url).content.decode()
        for word in words:
            assert word in body, (url, word)
        assert "Soumissions" not in body, url


def test_sandbox_can_be_disconnected_and_reconnected(staff_client, org_qc):
    staff_client.post("/gestion/reglages/paiement/sandbox/deconnecter/")
    assert not ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").exists()
    invoice = factories.invoice(org_qc, factories.customer(org_qc))
    page = staff_client.get(f"/i/{invoice.public_token}/").content.decode()
    assert "Carte de crédit" not in page and "Virement bancaire ou chèque" in page
    staff_client.post("/gestion/reglages/paiement/sandbox/connecter/")
    assert ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").exists()
    assert "Carte de crédit" in staff_client.get(f"/i/{invoice.public_token}/").content.decode()
    settings_page = staff_client.get("/gestion/reglages/paiement/").content.decode()
    # A working sandbox is not an alarm: the badge is the calm one of test mode, not the red one.
    assert '<span class="status conn-test">Connecté · Test' in settings_page


def test_refund_from_the_invoice_page(staff_client, org_qc, client):
    customer = factories.customer(org_qc)
    invoice = factories.invoice(org_qc, customer)
    staff_client.post(
        f"/gestion/factures/{invoice.pk}/paiement/",
        {"method": "cheque", "amount": str(invoice.total), "received_on": TODAY},
    )
    payment = Payment.objects.get()
    assert "Rembourser" in staff_client.get(f"/gestion/factures/{invoice.pk}/").content.decode()
    staff_client.post(f"/gestion/paiements/{payment.pk}/rembourser/", {"amount": "99999"})
    assert Payment.objects.get().amount_refunded == 0
    staff_client.post(f"/gestion/paiements/{payment.pk}/rembourser/", {"amount": "10.00"})
    payment.refresh_from_db()
    assert payment.amount_refunded == 10 and payment.status == "partly_refunded"
    assert Invoice.objects.get(pk=invoice.pk).status == "open"
    client.force_login(factories.staff(org_qc, email="lecture@example.test", role="read_only"))
    assert client.post(f"/gestion/paiements/{payment.pk}/rembourser/", {"amount": "1.00"}).status_code == 403


def test_edit_and_remove_addresses_contacts_and_sites(staff_client, org_qc):
    from acquitte.customers import services as customers

    customer = factories.customer(org_qc)
    default = customer.addresses.get()
    other = customers.add_address(
        actor=factories.SYSTEM, customer=customer, line1="9 rue C", city="Laval", postal_code="H7N 1A1"
    )
    contact = customers.add_contact(
        actor=factories.SYSTEM, customer=customer, name="Compta", email="c@example.test", is_billing=True
    )
    base = f"/gestion/clients/{customer.pk}/"
    staff_client.post(
        f"{base}address/{other.pk}/",
        {"line1": "10 rue C", "city": "Laval", "postal_code": "H7N 1A1", "country": "CA"},
    )
    assert customer.addresses.get(pk=other.pk).line1 == "10 rue C"
    refused = staff_client.post(f"{base}contact/{contact.pk}/", {"name": "", "email": "pas-un-courriel"})
    assert refused.status_code == 200 and customer.contacts.get().name == "Compta"
    staff_client.post(f"{base}address/{default.pk}/supprimer/")
    assert customer.addresses.filter(pk=default.pk).exists()  # the default one stays
    invoice = factories.invoice(org_qc, customer, finalise=False)
    invoice.billing_contact = contact
    invoice.save()
    staff_client.post(f"{base}contact/{contact.pk}/supprimer/")
    assert customer.contacts.filter(pk=contact.pk).exists()  # an invoice points to it
    staff_client.post(f"{base}address/{other.pk}/supprimer/")
    assert not customer.addresses.filter(pk=other.pk).exists()
    assert staff_client.get(f"{base}bogus/{other.pk}/").status_code == 404


def test_the_history_names_the_system_by_its_errand_in_the_readers_language(staff_client, org_qc):
    from acquitte.core.actors import System
    from acquitte.core.models import AuditAction
    from acquitte.core.services import record_transition

    invoice = factories.invoice(org_qc, factories.customer(org_qc))
    for reason in ("billing_run", "webhook:gocardless", "some new errand"):
        record_transition(
            obj=invoice,
            organisation=org_qc,
            actor=System(reason=reason),
            action=AuditAction.TRANSITION,
            from_state="open",
            to_state="open",
        )
    page = staff_client.get(f"/gestion/factures/{invoice.pk}/").content.decode()
    assert "system:" not in page
    assert "Automatique · facturation périodique" in page and "notification de GoCardless" in page
    assert "Automatique · traitement automatique" in page
    staff_client.post("/i18n/setlang/", {"language": "en", "next": "/gestion/"})
    page = staff_client.get(f"/gestion/factures/{invoice.pk}/").content.decode()
    assert "Automatic · periodic billing" in page and "GoCardless notification" in page
    # English puts no space before a colon ("Online payment:"); French does ("Paiement en ligne :").
    assert "Online payment:" in page and " :" not in page


def test_times_are_shown_in_the_organisations_time_zone(client, org_fr):
    from acquitte.core.models import AuditLog
    from acquitte.subscriptions.models import BillingSettings

    BillingSettings.objects.update_or_create(organisation=org_fr, defaults={"time_zone": "Europe/Paris"})
    invoice = factories.invoice(org_fr, factories.customer(org_fr))
    at = datetime.datetime(2026, 12, 4, 18, 15, tzinfo=datetime.UTC)
    AuditLog.objects.filter(object_id=str(invoice.pk)).update(at=at)
    client.force_login(factories.staff(org_fr, email="gerant@atelier.test"))
    page = client.get(f"/gestion/factures/{invoice.pk}/").content.decode()
    assert "04/12/2026 19:15" in page and "13:15" not in page
