"""Terms first (seed 001; issue 11, item 10): a customer with a portal account who has not accepted
the current terms can read, declare a transfer or a cheque, but not save a method, pay online or pay
a saved method, through the portal or through an invoice's public link, until they accept.

Staff and scheduled runs are not held; a customer without a portal account, and an organisation
that published no terms, are not either.
"""

import datetime
import io
import uuid

import pytest
from django.utils import timezone

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.customers.models import TermsVersion, User
from acquitte.payments import services as payments
from acquitte.payments.models import PaymentMethod, SandboxCharge, TransferDeclaration
from tests import factories

NEXT_YEAR = f"12/{(datetime.date.today().year + 1) % 100:02d}"
CARD = {
    "action": "card",
    "card-holder": "Isabelle Côté",
    "card-number": "4242 4242 4242 4242",
    "card-expiry": NEXT_YEAR,
    "card-cvv": "123",
}
NOTICE = "Acceptez les conditions générales pour payer en ligne"


@pytest.fixture
def terms(org_qc):
    return TermsVersion.objects.create(
        organisation=org_qc, version="2026-01", body_fr="Conditions…", published_at=timezone.now()
    )


@pytest.fixture
def portal_user(customer_qc):
    return User.objects.create_user("client@cafe.test", "un-mot-de-passe-solide-42", customer=customer_qc)


@pytest.fixture
def signed_in(client, portal_user):
    client.force_login(portal_user, backend="django.contrib.auth.backends.ModelBackend")
    return client


@pytest.fixture
def saved_card(customer_qc):
    """A card saved before the terms were published (by staff, on the customer's word)."""
    return payments.add_card(
        customer=customer_qc,
        holder="Isabelle Côté",
        number="4242424242424242",
        cvv="123",
        expiry=NEXT_YEAR,
        actor=factories.SYSTEM,
    )


def accept(client):
    response = client.post(
        "/conditions/",
        {
            "address": "new",
            "line1": "9 rue Neuve",
            "city": "Laval",
            "region": "QC",
            "postal_code": "H7N 1A1",
            "country": "ca",
            "contact_name": "Isabelle Côté",
            "accept": "on",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/conditions/paiement/"


def test_terms_first_then_everything_opens(signed_in, org_qc, customer_qc, saved_card, terms):
    invoice = factories.invoice(org_qc, customer_qc)
    billing = signed_in.get("/facturation/").content.decode()
    assert NOTICE in billing and 'value="card"' not in billing and 'value="pay"' not in billing
    refused = signed_in.post("/facturation/", CARD, follow=True).content.decode()
    assert "abord les conditions générales" in refused
    pay = {"action": "pay", "pay-amount": "10.00", "pay-method": saved_card.pk, "pay-key": uuid.uuid4().hex}
    signed_in.post("/facturation/", pay)
    assert PaymentMethod.objects.count() == 1 and SandboxCharge.objects.count() == 0

    page = signed_in.get(f"/factures/{invoice.pk}/").content.decode()
    assert NOTICE in page and "/payer/card/" not in page and "/payer/saved/" not in page
    assert "/payer/declare/" in page  # transfers and cheques stay open
    start = signed_in.post(f"/factures/{invoice.pk}/payer/card/")
    assert start["Location"] == f"/factures/{invoice.pk}/"  # not sent to a payment page
    saved = {"method": saved_card.pk, "key": uuid.uuid4().hex}
    assert (
        "conditions générales"
        in signed_in.post(f"/factures/{invoice.pk}/payer/saved/", saved, follow=True).content.decode()
    )
    assert SandboxCharge.objects.count() == 0
    declared = {
        "kind": "bank_transfer",
        "reference": "VIR-1",
        "sent_on": timezone.localdate(),
        "amount": "10",
    }
    signed_in.post(f"/factures/{invoice.pk}/payer/declare/", declared)
    assert TransferDeclaration.objects.count() == 1

    accept(signed_in)
    billing = signed_in.get("/facturation/").content.decode()
    assert NOTICE not in billing and 'value="card"' in billing
    signed_in.post("/facturation/", CARD)
    assert PaymentMethod.objects.count() == 2
    assert "/sandbox/card/" in signed_in.post(f"/factures/{invoice.pk}/payer/card/")["Location"]


def test_the_public_link_is_no_way_around_the_terms(client, org_qc, customer_qc, portal_user, terms):
    invoice = factories.invoice(org_qc, customer_qc)
    page = client.get(f"/i/{invoice.public_token}/").content.decode()
    assert NOTICE in page and "/payer/card/" not in page and "/declarer/" in page
    start = client.post(f"/i/{invoice.public_token}/payer/card/")
    assert start["Location"] == f"/i/{invoice.public_token}/"
    client.force_login(portal_user, backend="django.contrib.auth.backends.ModelBackend")
    accept(client)
    client.logout()
    assert "/sandbox/card/" in client.post(f"/i/{invoice.public_token}/payer/card/")["Location"]


def test_who_is_not_held(client, org_qc, customer_qc, terms, saved_card):
    """No portal account: the link pays. Staff and the system still charge a saved method."""
    invoice = factories.invoice(org_qc, customer_qc)
    assert "/payer/card/" in client.get(f"/i/{invoice.public_token}/").content.decode()
    User.objects.create_user("client@cafe.test", "un-mot-de-passe-solide-42", customer=customer_qc)
    staff = factories.staff(org_qc)
    payment = payments.pay_invoice(
        invoice=invoice, payment_method=saved_card, idempotency_key=uuid.uuid4().hex, actor=staff
    )
    assert payment.status == payment.Status.SUCCEEDED


def test_an_organisation_without_terms_holds_no_one(signed_in, org_qc, customer_qc):
    signed_in.post("/facturation/", CARD)
    assert PaymentMethod.objects.count() == 1


def test_the_services_refuse_with_a_code(customer_qc, portal_user, terms):
    with pytest.raises(BusinessError) as refused:
        payments.add_card(
            customer=customer_qc, holder="I", number="4242424242424242", cvv="123", expiry=NEXT_YEAR,
            actor=portal_user,
        )  # fmt: skip
    assert refused.value.error_code == ErrorCode.TERMS_NOT_ACCEPTED


def test_the_demo_records_acceptances_for_customers_who_already_have_cards(db, client):
    from django.core.management import call_command

    from acquitte.customers.models import Customer, TermsAcceptance

    call_command("load_demo", stdout=io.StringIO())
    cafe = Customer.objects.get(email="client@cafebonjour.demo")
    assert TermsAcceptance.objects.filter(customer=cafe).count() == 1  # its card came with its order
    clinique = Customer.objects.get(email="admin@cliniqueplateau.demo")
    assert not TermsAcceptance.objects.filter(customer=clinique).exists()  # kept on the first-login flow
    TermsAcceptance.objects.filter(customer=cafe).delete()  # as in a demo loaded before terms came first
    call_command("load_demo", stdout=io.StringIO())
    assert TermsAcceptance.objects.filter(customer=cafe).count() == 1
