"""Plausible data only (issue 11, item 6), through the pages that take it: impossible countries,
dates and lengths are refused with a message and change nothing; valid input the pages used to
refuse (a contact's phone, 0.01) is accepted."""

import datetime
import uuid
from decimal import Decimal

import pytest
from django.utils import timezone

from acquitte.core.errors import BusinessError
from acquitte.customers import services as customer_services
from acquitte.customers.models import Address, Contact, Site, User
from acquitte.invoicing.models import Invoice
from acquitte.payments.models import Payment, PaymentMethod, TransferDeclaration
from acquitte.quotes import services as quotes
from acquitte.quotes.models import Quote
from tests import factories

TODAY = timezone.localdate()
PASSWORD = "un-mot-de-passe-solide-42"


@pytest.fixture
def staff_client(client, org_qc):
    client.force_login(factories.staff(org_qc), backend="django.contrib.auth.backends.ModelBackend")
    return client


def body(response) -> str:
    return response.content.decode()


ADDRESS = {"line1": "1 rue Principale", "city": "Montréal", "region": "QC", "postal_code": "H2X 1Y1"}


@pytest.mark.parametrize("country", ["-1", "0", "²", "ZZ", "ca", "CAN", "\u0130T"])
def test_impossible_countries_are_refused_on_addresses_and_sites(staff_client, customer_qc, country):
    before = (Address.objects.count(), Site.objects.count())
    url = f"/gestion/clients/{customer_qc.pk}/ajouter"
    address = staff_client.post(
        f"{url}/address/", {f"address-{k}": v for k, v in {**ADDRESS, "country": country}.items()}
    )
    site = staff_client.post(
        f"{url}/site/",
        {f"site-{k}": v for k, v in {**ADDRESS, "name": "Entrepôt", "country": country}.items()},
    )
    for response in (address, site):
        assert response.status_code == 400
        assert "Pays inconnu" in body(response) or "caractères" in body(response)
    assert (Address.objects.count(), Site.objects.count()) == before


def test_a_real_country_is_accepted(staff_client, customer_qc):
    data = {f"site-{k}": v for k, v in {**ADDRESS, "name": "Lyon", "country": "FR"}.items()}
    assert staff_client.post(f"/gestion/clients/{customer_qc.pk}/ajouter/site/", data).status_code == 302
    assert customer_qc.sites.get().country == "FR"


def test_the_organisation_country_is_checked_too(db):
    with pytest.raises(BusinessError, match="Pays inconnu"):
        customer_services.create_organisation(
            actor=factories.SYSTEM, name="X", slug="x", line1="1 rue", city="Y", postal_code="1", country="-1"
        )


def test_adding_a_contact_with_a_phone_number_works(staff_client, customer_qc):
    """Before: 500 "Contact has no customer." for any phone number, even a valid one."""
    url = f"/gestion/clients/{customer_qc.pk}/ajouter/contact/"
    ok = staff_client.post(url, {"contact-name": "Julie Roy", "contact-phone": "(514) 555-0142"})
    assert ok.status_code == 302
    assert Contact.objects.get(name="Julie Roy").phone == "+15145550142"
    bad = staff_client.post(url, {"contact-name": "Marc", "contact-phone": "12"})
    assert bad.status_code == 400 and "téléphone invalide" in body(bad)
    assert not Contact.objects.filter(name="Marc").exists()


def test_a_due_date_years_after_the_issue_date_is_refused(staff_client, org_qc, customer_qc):
    draft = factories.invoice(org_qc, customer_qc, finalise=False)
    page = staff_client.post(f"/gestion/factures/{draft.pk}/dates/", {"due_date": "9999-12-31"}, follow=True)
    assert "au plus 5 ans" in body(page)
    draft.refresh_from_db()
    assert draft.due_date is None
    in_a_year = TODAY + datetime.timedelta(days=365)
    staff_client.post(f"/gestion/factures/{draft.pk}/dates/", {"due_date": in_a_year.isoformat()})
    draft.refresh_from_db()
    assert draft.due_date == in_a_year


@pytest.mark.parametrize(
    ("received_on", "message"),
    [
        ("0001-01-01", "ne peut pas précéder"),
        ((TODAY + datetime.timedelta(days=1)).isoformat(), "dans le futur"),
    ],
)
def test_a_payment_received_before_the_invoice_or_in_the_future_is_refused(
    staff_client, org_qc, customer_qc, received_on, message
):
    invoice = factories.invoice(org_qc, customer_qc)
    response = staff_client.post(
        f"/gestion/factures/{invoice.pk}/paiement/",
        {"method": "cheque", "amount": "10.00", "received_on": received_on, "reference": "CH-1"},
    )
    assert response.status_code == 400 and message in body(response)
    assert not Payment.objects.exists()
    assert Invoice.objects.get(pk=invoice.pk).amount_paid == 0


def test_one_cent_is_accepted_on_the_payment_forms(staff_client, org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc)
    response = staff_client.post(
        f"/gestion/factures/{invoice.pk}/paiement/",
        {"method": "cheque", "amount": "0.01", "received_on": TODAY.isoformat(), "reference": "CH-1"},
    )
    assert response.status_code == 302
    assert Payment.objects.get().amount == Decimal("0.01")


def test_a_reference_too_long_is_refused_not_cut(staff_client, org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc)
    with pytest.raises(BusinessError, match="dépasse 120 caractères"):
        from acquitte.payments.services import record_payment

        record_payment(
            actor=factories.SYSTEM,
            organisation=org_qc,
            customer=customer_qc,
            invoice=invoice,
            amount=Decimal("1.00"),
            method="cheque",
            reference="x" * 10_000,
        )
    assert not Payment.objects.exists()


@pytest.mark.parametrize("sent_on", ["0001-01-01", "9999-12-31"])
def test_a_transfer_declared_sent_long_before_the_invoice_or_in_the_future_is_refused(
    client, org_qc, customer_qc, sent_on
):
    invoice = factories.invoice(org_qc, customer_qc)
    page = client.post(
        f"/i/{invoice.public_token}/declarer/",
        {"kind": "bank_transfer", "reference": "VIR-1", "sent_on": sent_on, "amount": "114.98"},
        follow=True,
    )
    assert "précéder" in body(page) or "dans le futur" in body(page)
    assert not TransferDeclaration.objects.exists()


def test_a_quote_valid_for_more_than_a_year_is_refused(staff_client, org_qc, customer_qc):
    quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_qc, customer=customer_qc)
    response = staff_client.post(
        f"/gestion/soumissions/{quote.pk}/revision/", {"valid_until": "9999-12-31", "action": "save"}
    )
    assert "au plus un an" in body(response)
    quote.refresh_from_db()
    assert quote.valid_until is None
    ok = TODAY + datetime.timedelta(days=60)
    staff_client.post(f"/gestion/soumissions/{quote.pk}/revision/", {"valid_until": ok.isoformat()})
    quote.refresh_from_db()
    assert quote.valid_until == ok


def test_a_10000_character_decline_reason_is_refused_not_cut(staff_client, org_qc, customer_qc):
    quote = quotes.create_quote(actor=factories.SYSTEM, organisation=org_qc, customer=customer_qc)
    quotes.add_product(actor=factories.SYSTEM, quote=quote, product=factories.product(org_qc))
    quote = quotes.send_quote(actor=factories.SYSTEM, quote=quote)
    page = staff_client.post(
        f"/gestion/soumissions/{quote.pk}/decline/", {"reason": "x" * 10_000}, follow=True
    )
    assert "dépasse 500 caractères" in body(page)
    quote.refresh_from_db()
    assert quote.status == Quote.Status.SENT and quote.decline_reason == ""


@pytest.mark.parametrize("account", ["0000-00-00", "12a4567", "123", "0000000"])
def test_a_pad_account_number_must_be_digits_of_the_right_length(client, customer_qc, account):
    user = User.objects.create_user("client@cafe.test", PASSWORD, customer=customer_qc)
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    page = client.post(
        "/facturation/",
        {
            "action": "bank",
            "bank-holder": "Café Bonjour inc.",
            "bank-scheme": "pad",
            "bank-institution": "006",
            "bank-transit": "00123",
            "bank-account": account,
        },
        follow=True,
    )
    assert "Numéro de compte invalide" in body(page)
    assert not PaymentMethod.objects.exists()
    # Spaces, as printed on a cheque, are fine.
    client.post(
        "/facturation/",
        {
            "action": "bank",
            "bank-holder": "Café Bonjour inc.",
            "bank-scheme": "pad",
            "bank-institution": "006",
            "bank-transit": "00123",
            "bank-account": "1234 567",
            "key": uuid.uuid4().hex,
        },
    )
    assert PaymentMethod.objects.get().last4 == "4567"
