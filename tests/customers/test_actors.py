"""Who may change customers' data: every service names its actor, and a foreign one is refused."""

import pytest
from django.core.exceptions import PermissionDenied

from acquitte.core.actors import PublicLink
from acquitte.customers import selectors
from acquitte.customers import services as customer_services
from acquitte.customers.models import Organisation, TermsAcceptance, TermsVersion, User
from acquitte.payments.models import ProviderAccount
from tests import factories

PASSWORD = "motdepasse-long-2026"


@pytest.fixture
def terms(org_qc):
    return TermsVersion.objects.create(
        organisation=org_qc, version="2026-01", body_fr="Conditions…", published_at="2026-01-01T00:00Z"
    )


def _first_login(customer, actor, terms):
    return customer_services.complete_first_login(
        customer=customer,
        actor=actor,
        terms=terms,
        ip_address="203.0.113.9",
        new_address={"line1": "9 rue Neuve", "city": "Laval", "region": "QC", "postal_code": "H7N 1A1"},
        contact={"name": "Isabelle Côté"},
    )


def test_only_the_system_or_a_superuser_creates_an_organisation(org_qc):
    owner = factories.staff(org_qc)
    with pytest.raises(PermissionDenied):
        customer_services.create_organisation(actor=owner, name="Y", slug="y", country="CA")
    assert not Organisation.objects.filter(slug="y").exists()


def test_a_new_organisation_gets_the_sandbox_from_payments(org_qc):
    assert ProviderAccount.objects.filter(organisation=org_qc, provider="sandbox").exists()


def test_staff_accounts_are_created_by_the_owner_only(org_qc, org_fr):
    accountant = factories.staff(org_qc, email="compta@qc.test", role="accountant")
    for actor in (accountant, factories.staff(org_fr, email="owner@fr.test")):
        with pytest.raises(PermissionDenied):
            customer_services.create_staff_user(
                organisation=org_qc, actor=actor, email="new@qc.test", password=PASSWORD, role="owner"
            )
    owner = factories.staff(org_qc)
    created = customer_services.create_staff_user(
        organisation=org_qc, actor=owner, email="new@qc.test", password=PASSWORD, role="read_only"
    )
    assert created.organisation == org_qc


def test_terms_are_accepted_by_the_customer_themself(org_qc, customer_qc, terms):
    portal_user = User.objects.create_user("client@cafe.test", PASSWORD, customer=customer_qc)
    other_customer = factories.customer(org_qc, name="Autre", email="autre@example.test")
    other_user = User.objects.create_user("autre@cafe.test", PASSWORD, customer=other_customer)
    other_link = PublicLink(token="x" * 43, organisation_id=org_qc.pk, customer_id=other_customer.pk)
    for actor in (other_user, other_link, factories.staff(org_qc, role="read_only"), None):
        with pytest.raises(PermissionDenied):
            _first_login(customer_qc, actor, terms)
        with pytest.raises(PermissionDenied):
            customer_services.accept_terms(customer=customer_qc, actor=actor, terms=terms, ip_address="::1")
    assert not TermsAcceptance.objects.exists() and not customer_qc.contacts.exists()

    acceptance = _first_login(customer_qc, portal_user, terms)
    assert acceptance.user == portal_user
    assert selectors.terms_to_accept(customer_qc) is None
    assert selectors.terms_to_accept(other_customer) == terms
