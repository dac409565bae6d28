"""The signed-in customer area through Django's test client."""

import datetime
import re
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.test import Client

from acquitte.customers.models import TermsAcceptance, TermsVersion, User
from acquitte.customers.services import create_staff_user
from acquitte.invoicing import services as invoicing
from acquitte.payments import services as payments
from acquitte.payments.models import PaymentMethod
from tests import factories

PASSWORD = "un-mot-de-passe-solide-42"
NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"


@pytest.fixture
def user(customer_qc):
    return User.objects.create_user("client@cafe.test", PASSWORD, customer=customer_qc)


@pytest.fixture
def signed_in(client, user):
    client.post("/connexion/", {"username": user.email, "password": PASSWORD})
    return client


def dated_invoice(org, customer, day, pay=False, price="100.00"):
    inv = factories.invoice(org, customer, finalise=False, prices=(price,))
    inv = invoicing.finalise_invoice(
        actor=factories.SYSTEM, invoice=inv, issue_date=datetime.date(2026, 1, day)
    )
    if pay:
        payments.record_payment(
            actor=factories.SYSTEM,
            organisation=org,
            customer=customer,
            amount=inv.total,
            method="cheque",
            invoice=inv,
        )
    return inv


def test_sign_in_wrong_password_and_sign_out(client, user):
    bad = client.post("/connexion/", {"username": user.email, "password": "faux"})
    assert "Courriel ou mot de passe incorrect" in bad.content.decode()
    assert client.get("/").status_code == 302
    ok = client.post("/connexion/", {"username": user.email, "password": PASSWORD})
    assert ok.status_code == 302 and client.get("/").status_code == 200
    client.post("/deconnexion/")
    assert client.get("/factures/").status_code == 302


def test_password_reset_by_email_link(client, user, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):  # the outbox delivers after commit
        client.post("/mot-de-passe/", {"email": user.email})
    assert len(mail.outbox) == 1
    link = re.search(r"http://testserver(/mot-de-passe/\S+/)", mail.outbox[0].body).group(1)
    form = client.get(link, follow=True)
    url = form.redirect_chain[-1][0] if form.redirect_chain else link
    client.post(url, {"new_password1": "Nouveau-mot-de-passe-99", "new_password2": "Nouveau-mot-de-passe-99"})
    client.post("/deconnexion/")
    client.post("/connexion/", {"username": user.email, "password": "Nouveau-mot-de-passe-99"})
    assert client.get("/").status_code == 200


def test_staff_are_sent_to_the_back_office(client, org_qc):
    staff = create_staff_user(
        actor=factories.SYSTEM, organisation=org_qc, email="s@qc.test", password=PASSWORD, role="owner"
    )
    client.force_login(staff, backend="django.contrib.auth.backends.ModelBackend")
    assert client.get("/factures/")["Location"] == "/gestion/"


def test_home_shows_the_account_figures(signed_in, org_qc, customer_qc):
    dated_invoice(org_qc, customer_qc, 5)
    body = signed_in.get("/").content.decode()
    assert "114.98" in body or "114,98" in body
    assert "FACTURES" in body


def test_default_order_is_unpaid_first_then_oldest(signed_in, org_qc, customer_qc):
    paid_old = dated_invoice(org_qc, customer_qc, 1, pay=True)
    open_mid = dated_invoice(org_qc, customer_qc, 2)
    open_new = dated_invoice(org_qc, customer_qc, 3)
    body = signed_in.get("/factures/").content.decode()
    positions = [body.index(inv.number) for inv in (open_mid, open_new, paid_old)]
    assert positions == sorted(positions)
    by_total = signed_in.get("/factures/?tri=-numero").content.decode()
    assert by_total.index(open_new.number) < by_total.index(paid_old.number)
    only_paid = signed_in.get("/factures/?statut=paid").content.decode()
    assert paid_old.number in only_paid and open_mid.number not in only_paid


def test_a_credit_note_is_not_among_the_unpaid(signed_in, org_qc, customer_qc):
    """Unpaid means something to pay: a credit note, and the invoice it settles, go with the rest."""
    settled = dated_invoice(org_qc, customer_qc, 1)
    credit = invoicing.create_credit_note(invoice=settled, actor=factories.SYSTEM)
    credit = invoicing.finalise_invoice(
        actor=factories.SYSTEM, invoice=credit, issue_date=datetime.date(2026, 1, 2)
    )
    still_due = dated_invoice(org_qc, customer_qc, 3)
    body = signed_in.get("/factures/").content.decode()
    assert body.index(still_due.number) < body.index(settled.number) < body.index(credit.number)


def test_list_uses_a_constant_number_of_queries(
    signed_in, org_qc, customer_qc, django_assert_max_num_queries
):
    for day in range(1, 4):
        dated_invoice(org_qc, customer_qc, day)
    with django_assert_max_num_queries(12) as few:
        signed_in.get("/factures/")
    for day in range(4, 28):
        dated_invoice(org_qc, customer_qc, day)
    with django_assert_max_num_queries(len(few.captured_queries)):
        signed_in.get("/factures/")


def test_another_customers_invoice_is_not_found(signed_in, org_qc, org_fr, customer_fr):
    theirs = factories.invoice(org_qc, factories.customer(org_qc, name="Autre client"))
    foreign = factories.invoice(org_fr, customer_fr)
    for inv in (theirs, foreign):
        response = signed_in.get(f"/factures/{inv.pk}/")
        assert response.status_code == 404 and inv.number not in response.content.decode()
        assert signed_in.post(f"/factures/{inv.pk}/payer/card/").status_code == 404


def test_pay_with_a_saved_card_from_the_invoice_page(signed_in, org_qc, customer_qc):
    inv = dated_invoice(org_qc, customer_qc, 5)
    card = payments.add_card(
        actor=factories.SYSTEM,
        customer=customer_qc,
        holder="A B",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
    )
    key = uuid.uuid4().hex
    for _ in range(2):  # a double click charges once
        signed_in.post(f"/factures/{inv.pk}/payer/saved/", {"method": card.pk, "key": key})
    inv.refresh_from_db()
    assert inv.status == "paid" and inv.payments.count() == 1


def test_billing_add_card_bank_default_remove_and_pay_an_amount(signed_in, org_qc, customer_qc):
    dated_invoice(org_qc, customer_qc, 1)
    newer = dated_invoice(org_qc, customer_qc, 2)
    signed_in.post(
        "/facturation/",
        {
            "action": "card",
            "card-holder": "Isabelle Côté",
            "card-number": "4242 4242 4242 4242",
            "card-expiry": NEXT_YEAR,
            "card-cvv": "123",
        },
    )
    signed_in.post(
        "/facturation/",
        {
            "action": "bank",
            "bank-holder": "Isabelle Côté",
            "bank-scheme": "pad",
            "bank-institution": "006",
            "bank-transit": "00123",
            "bank-account": "1234567",
        },
    )
    card, bank = PaymentMethod.objects.get(kind="card"), PaymentMethod.objects.get(kind="bank_debit")
    assert bank.is_default and not PaymentMethod.objects.get(pk=card.pk).is_default
    signed_in.post(f"/facturation/moyens/{card.pk}/defaut/")
    assert PaymentMethod.objects.get(pk=card.pk).is_default
    bad = signed_in.post(
        "/facturation/",
        {
            "action": "card",
            "card-holder": "X",
            "card-number": "1111",
            "card-expiry": NEXT_YEAR,
            "card-cvv": "1",
        },
    )
    assert "invalide" in bad.content.decode() and PaymentMethod.objects.count() == 2
    page = signed_in.post(
        "/facturation/",
        {"action": "pay", "pay-amount": "150.00", "pay-method": card.pk, "pay-key": uuid.uuid4().hex},
        follow=True,
    )
    newer.refresh_from_db()
    assert newer.amount_paid == Decimal("35.02")
    assert "Paiement accepté" in page.content.decode()
    signed_in.post(f"/facturation/moyens/{bank.pk}/retirer/")
    assert PaymentMethod.objects.get(pk=bank.pk).status == "revoked"


def test_first_login_records_terms_acceptance(signed_in, org_qc, customer_qc):
    terms = TermsVersion.objects.create(
        organisation=org_qc, version="2026-01", body_fr="Conditions…", published_at="2026-01-01T00:00Z"
    )
    assert "n'ont pas été acceptées" in signed_in.get("/").content.decode()
    page = signed_in.get("/conditions/").content.decode()
    assert "Conditions…" in page
    refused = signed_in.post("/conditions/", {"address": "new", "contact_name": "Isabelle"})
    assert refused.status_code == 200 and not TermsAcceptance.objects.exists()
    response = signed_in.post(
        "/conditions/",
        {
            "address": "new",
            "line1": "9 rue Neuve",
            "city": "Laval",
            "region": "QC",
            "postal_code": "H7N 1A1",
            "country": "ca",
            "contact_name": "Isabelle Côté",
            "contact_email": "i@cafe.test",
            "accept": "on",
        },
        REMOTE_ADDR="203.0.113.9",
    )
    assert response["Location"] == "/conditions/paiement/"  # then seed 001's « Autoriser » step
    acceptance = TermsAcceptance.objects.get()
    assert acceptance.terms == terms and acceptance.ip_address == "203.0.113.9"
    assert customer_qc.addresses.get(is_default=True).line1 == "9 rue Neuve"
    assert customer_qc.contacts.get(is_primary=True).name == "Isabelle Côté"
    assert signed_in.get("/conditions/").status_code == 302


def test_every_form_needs_csrf(user, org_qc, customer_qc):
    client = Client(enforce_csrf_checks=True)
    assert client.post("/connexion/", {"username": user.email, "password": PASSWORD}).status_code == 403
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    inv = factories.invoice(org_qc, customer_qc)
    for url in ["/facturation/", f"/factures/{inv.pk}/payer/card/", "/conditions/", "/deconnexion/"]:
        assert client.post(url, {}).status_code == 403, url


def test_repeated_wrong_passwords_lock_the_sign_in(client, user, settings):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/connexion/", {"username": user.email, "password": "faux"})
    locked = client.post("/connexion/", {"username": user.email, "password": PASSWORD})
    assert locked.status_code in (403, 429)
    assert client.get("/factures/").status_code == 302


def test_another_customers_payment_method_is_not_found(signed_in, org_qc):
    other = factories.customer(org_qc, name="Autre", email="autre@x.test")
    theirs = payments.add_card(
        actor=factories.SYSTEM,
        customer=other,
        holder="A B",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
    )
    for action in ("defaut", "retirer"):
        assert signed_in.post(f"/facturation/moyens/{theirs.pk}/{action}/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "valid"
    inv = dated_invoice(org_qc, factories.customer(org_qc, name="Moi2", email="m2@x.test"), 9)
    assert (
        signed_in.post(f"/factures/{inv.pk}/payer/saved/", {"method": theirs.pk, "key": "k"}).status_code
        == 404
    )
