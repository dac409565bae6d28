"""Bad input is refused with a clear message, and nothing is saved."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied

from acquitte.catalog.models import Product
from acquitte.core.errors import BusinessError
from acquitte.customers import services as customer_services
from acquitte.customers.models import Address, Customer, Organisation
from acquitte.invoicing import services
from acquitte.invoicing.models import Invoice, InvoiceLine
from tests import factories


def counts():
    return (
        Organisation.objects.count(),
        Customer.objects.count(),
        Address.objects.count(),
        Invoice.objects.count(),
        InvoiceLine.objects.count(),
        Product.objects.count(),
    )


BASE_ORG = dict(name="X", slug="x", line1="1 rue", city="Montréal", postal_code="H1H 1H1", country="CA")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("gst_number", "123456789RT0001", "TPS invalide"),
        ("qst_number", "12345TQ", "TVQ invalide"),
        ("siren", "123456789", "SIREN invalide"),
        ("siret", "73282932000075", "SIRET invalide"),
        ("vat_number", "FR00732829320", "TVA intracommunautaire invalide"),
        ("currency", "ABC", "Devise inconnue"),
        ("support_phone", "123", "téléphone invalide"),
    ],
)
def test_invalid_organisation_identifiers(db, field, value, message):
    before = counts()
    with pytest.raises(BusinessError, match=message):
        customer_services.create_organisation(actor=factories.SYSTEM, **BASE_ORG, **{field: value})
    assert counts() == before


def test_invalid_customer_input(org_qc):
    before = counts()
    with pytest.raises(BusinessError, match="téléphone invalide"):
        customer_services.create_customer(
            actor=factories.SYSTEM, organisation=org_qc, name="A", email="a@a.example", phone="555"
        )
    with pytest.raises(BusinessError, match="doit être celle de l'organisation"):
        customer_services.create_customer(
            actor=factories.SYSTEM, organisation=org_qc, name="A", email="a@a.example", currency="EUR"
        )
    with pytest.raises(BusinessError):
        customer_services.create_customer(
            actor=factories.SYSTEM, organisation=org_qc, name="A", email="pas-un-courriel"
        )
    assert counts() == before


def test_valid_phone_is_stored_in_e164(org_qc):
    c = customer_services.create_customer(
        actor=factories.SYSTEM, organisation=org_qc, name="A", email="a@a.example", phone="(514) 555-0142"
    )
    assert c.phone == "+15145550142"


def test_second_default_address_is_refused(org_qc, customer_qc):
    before = counts()
    with pytest.raises(BusinessError, match="déjà une adresse par défaut"):
        customer_services.add_address(
            actor=factories.SYSTEM,
            customer=customer_qc,
            line1="2 rue",
            city="Laval",
            postal_code="H7N 1A1",
            is_default=True,
        )
    assert counts() == before
    second = customer_services.add_address(
        actor=factories.SYSTEM, customer=customer_qc, line1="2 rue", city="Laval", postal_code="H7N 1A1"
    )
    assert not second.is_default
    customer_services.set_default_address(actor=factories.SYSTEM, address=second)
    assert list(customer_qc.addresses.filter(is_default=True)) == [second]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quantity": "-1"}, "quantité doit être positive"),
        ({"quantity": "0"}, "quantité doit être positive"),
        ({"price": "-5.00"}, "Prix unitaire invalide"),
        ({"price": "1e12"}, "Prix unitaire invalide"),
        ({"price": "1.001"}, "Prix unitaire invalide"),
        ({"discount_percent": "150"}, "remise"),
        ({"description": " "}, "description"),
    ],
)
def test_invalid_lines_are_refused(org_qc, customer_qc, changes, message):
    before = counts()
    with pytest.raises(BusinessError, match=message):
        services.create_invoice(
            actor=factories.SYSTEM,
            organisation=org_qc,
            customer=customer_qc,
            lines=[factories.line(org_qc, **changes)],
        )
    assert counts() == before


def test_dates_and_empty_invoice(org_qc, customer_qc):
    before = counts()
    with pytest.raises(BusinessError, match="échéance ne peut pas précéder"):
        services.create_invoice(
            actor=factories.SYSTEM,
            organisation=org_qc,
            customer=customer_qc,
            issue_date=datetime.date(2026, 5, 2),
            due_date=datetime.date(2026, 5, 1),
        )
    assert counts() == before
    empty = services.create_invoice(actor=factories.SYSTEM, organisation=org_qc, customer=customer_qc)
    with pytest.raises(BusinessError, match="sans ligne"):
        services.finalise_invoice(actor=factories.SYSTEM, invoice=empty)
    empty.refresh_from_db()
    assert empty.status == "draft" and empty.number == ""


def test_other_tenants_objects_are_refused(org_qc, customer_qc, org_fr, customer_fr):
    before = counts()
    with pytest.raises(BusinessError, match="Objet introuvable"):
        services.create_invoice(actor=factories.SYSTEM, organisation=org_qc, customer=customer_fr)
    with pytest.raises(BusinessError, match="Objet introuvable"):
        services.create_invoice(
            actor=factories.SYSTEM, organisation=org_qc, customer=customer_qc, lines=[factories.line(org_fr)]
        )
    assert counts() == before


def test_staff_roles_and_organisations(org_qc, customer_qc, org_fr):
    reader = customer_services.create_staff_user(
        actor=factories.SYSTEM,
        organisation=org_qc,
        email="lecture@qc.test",
        password="x-long-password-1",
        role="read_only",
    )
    outsider = customer_services.create_staff_user(
        actor=factories.SYSTEM,
        organisation=org_fr,
        email="owner@fr.test",
        password="x-long-password-1",
        role="owner",
    )
    draft = factories.invoice(org_qc, customer_qc, finalise=False)
    for actor in (reader, outsider):
        with pytest.raises(PermissionDenied):
            services.finalise_invoice(invoice=draft, actor=actor)
        with pytest.raises(PermissionDenied):
            customer_services.create_customer(organisation=org_qc, actor=actor, name="A", email="a@a.example")
    draft.refresh_from_db()
    assert draft.status == "draft"


def test_messages_are_translated_to_english(org_qc, customer_qc):
    from django.utils import translation

    with translation.override("en"), pytest.raises(BusinessError) as exc:
        services.finalise_invoice(
            actor=factories.SYSTEM,
            invoice=services.create_invoice(
                actor=factories.SYSTEM, organisation=org_qc, customer=customer_qc
            ),
        )
    assert exc.value.messages == ["An invoice without lines cannot be finalised."]
