"""Back-office pages of domains and yearly services (issue 13 item 7): the list with its filters,
pagination and sort by expiry date, one service with its renewals and suspensions, the links from
the menu and the customer's page; another organisation's staff get a 404, customers their portal."""

import datetime

import pytest
from django.urls import reverse
from django.utils import timezone

from acquitte.subscriptions.models import Service, ServiceRenewal, ServiceSuspension
from acquitte.subscriptions.services import run_renewals
from tests import factories
from tests.subscriptions.builders import SYSTEM, customer_with_card
from tests.subscriptions.domain_builders import billing_contact, domain_product, service

EXPIRES = datetime.date(2027, 3, 15)


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def customer(org_qc):
    return customer_with_card(org_qc, sites=1)


@pytest.fixture
def domains(org_qc, customer):
    product = domain_product(org_qc)
    other = customer_with_card(org_qc, sites=1, name="Voisin inc.", email="voisin@example.test")
    return {
        "cafe": service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES),
        "old": service(
            customer,
            product,
            name="ancien.ca",
            expires_on=datetime.date(2026, 12, 1),
            status=Service.Status.EXPIRED,
        ),
        "host": service(
            other,
            factories.product(org_qc, sku="HEB-Y", kind="yearly", name="Hébergement"),
            name="Hébergement Voisin",
            expires_on=datetime.date(2027, 8, 1),
            kind=Service.Kind.SERVICE,
        ),
    }


@pytest.fixture
def owner(client, org_qc):
    client.force_login(factories.staff(org_qc))
    return client


def names(response) -> list[str]:
    return [s.name for s in response.context["page"]]


def test_the_list_is_sorted_by_expiry_and_filtered(owner, domains, customer):
    url = reverse("backoffice:service_list")
    page = owner.get(url)
    assert page.status_code == 200
    assert names(page) == ["ancien.ca", "cafebonjour.ca", "Hébergement Voisin"]
    assert "Services et domaines" in page.content.decode()
    assert names(owner.get(url, {"sort": "-expiry"})) == ["Hébergement Voisin", "cafebonjour.ca", "ancien.ca"]
    assert names(owner.get(url, {"status": "expired"})) == ["ancien.ca"]
    assert names(owner.get(url, {"kind": "service"})) == ["Hébergement Voisin"]
    assert names(owner.get(url, {"expiring_before": "2027-04-01"})) == ["ancien.ca", "cafebonjour.ca"]
    assert names(owner.get(url, {"q": "voisin"})) == ["Hébergement Voisin"]
    assert names(owner.get(url, {"customer": customer.pk})) == ["ancien.ca", "cafebonjour.ca"]
    bad = owner.get(url, {"expiring_before": "pas une date", "status": "nimporte"})
    assert bad.status_code == 200 and len(names(bad)) == 3  # the form says what is wrong, nothing filtered


def test_the_list_is_paginated(owner, org_qc, customer):
    product = domain_product(org_qc)
    for k in range(30):
        service(customer, product, name=f"d{k:02d}.ca", expires_on=EXPIRES + datetime.timedelta(days=k))
    first = owner.get(reverse("backoffice:service_list"), {"kind": "domain"})
    assert len(names(first)) == 25 and "page=2" in first.content.decode()
    second = owner.get(reverse("backoffice:service_list"), {"kind": "domain", "page": 2})
    assert names(second) == [f"d{k:02d}.ca" for k in range(25, 30)]


def test_the_detail_shows_renewals_suspensions_card_and_sub_contact(owner, org_qc, customer, domains):
    domain = domains["cafe"]
    card = customer.payment_methods.get()
    contact = billing_contact(customer)
    Service.objects.filter(pk=domain.pk).update(recurring=True, payment_method=card, billing_contact=contact)
    run_renewals(organisation=org_qc, as_of=EXPIRES - datetime.timedelta(days=14), actor=SYSTEM)
    invoice = ServiceRenewal.objects.get(service=domain).invoice
    ServiceSuspension.objects.create(
        organisation=org_qc,
        service=domain,
        reason=Service.SuspensionReason.MANUAL,
        note="Demande du client",
        suspended_by="proprio@example.test",
        lifted_at=timezone.now(),
        lifted_by="proprio@example.test",
    )
    page = owner.get(reverse("backoffice:service_detail", args=[domain.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert invoice.number in html and reverse("backoffice:invoice_detail", args=[invoice.pk]) in html
    assert "Demande du client" in html and "Suspension manuelle" in html
    assert str(card) in html and "Comptabilité Roy" in html
    assert reverse("backoffice:subscription_detail", args=[domain.subscription_id]) in html
    assert 'class="service-actions' in html  # the manual suspend and unsuspend actions


def test_the_customer_page_links_to_their_services(owner, customer, domains):
    page = owner.get(reverse("backoffice:customer_detail", args=[customer.pk]))
    assert f"{reverse('backoffice:service_list')}?customer={customer.pk}" in page.content.decode()


def test_another_organisations_staff_get_a_404_and_customers_their_portal(client, domains, customer):
    client.force_login(factories.staff(factories.french_organisation(), email="patron@atelier.example"))
    assert client.get(reverse("backoffice:service_detail", args=[domains["cafe"].pk])).status_code == 404
    assert names(client.get(reverse("backoffice:service_list"))) == []
    client.logout()
    listed = client.get(reverse("backoffice:service_list"))
    assert listed.status_code == 302 and listed.url.startswith(reverse("portal:login"))
    factories.logged_in(client, customer)
    assert client.get(reverse("backoffice:service_list")).url == reverse("portal:home")
