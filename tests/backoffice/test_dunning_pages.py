"""Back-office pages of dunning (issue 13 item 7): who is at which step and what comes next, the
renewal and dunning settings, and the manual suspension (reason required, confirmed first) and
unsuspension, through Django's test client: as the owner, read-only staff, another organisation."""

import datetime

import pytest
from django.urls import reverse

from acquitte.invoicing import services as invoicing
from acquitte.subscriptions import selectors, services
from acquitte.subscriptions.models import DunningSettings, DunningStep, Service
from tests import factories
from tests.subscriptions.builders import SYSTEM
from tests.subscriptions.domain_builders import domain_product, service

CLOCK = datetime.date(2026, 6, 2)
DUE = datetime.date(2026, 6, 1)


@pytest.fixture(autouse=True)
def _eager(settings):
    settings.PAYMENTS_SANDBOX = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def org(org_qc):
    found = selectors.billing_settings(org_qc)
    found.test_clock = CLOCK
    found.save(update_fields=["test_clock"])
    return org_qc


@pytest.fixture
def owner_client(client, org):
    client.force_login(factories.staff(org))
    return client


@pytest.fixture
def customer(org):
    return factories.customer(org, name="Café Bonjour", email="compta@cafe.example")


@pytest.fixture
def domain(org, customer):
    return service(customer, domain_product(org), name="cafe.ca", expires_on=datetime.date(2027, 3, 1))


def overdue(org, customer, price="100.00"):
    draft = invoicing.create_invoice(
        organisation=org,
        customer=customer,
        actor=SYSTEM,
        lines=[factories.line(org, price=price)],
        issue_date=datetime.date(2026, 5, 2),
        due_date=DUE,
    )
    return invoicing.finalise_invoice(invoice=draft, actor=SYSTEM, issue_date=datetime.date(2026, 5, 2))


def test_the_dunning_view_shows_each_invoice_its_step_days_late_and_what_comes_next(
    owner_client, org, customer
):
    waiting = overdue(org, customer)
    reminded = overdue(org, factories.customer(org, name="Boulangerie Roy", email="roy@example.test"))
    services.run_dunning(organisation=org, as_of=CLOCK, actor=SYSTEM)
    DunningStep.objects.filter(invoice=waiting).delete()
    page = owner_client.get(reverse("backoffice:dunning"))
    assert page.status_code == 200
    html = page.content.decode()
    assert waiting.number in html and reminded.number in html
    assert "Relance" in html and "Courriel de relance" in html  # the preview of the next step
    # Filters by last step.
    only = owner_client.get(reverse("backoffice:dunning"), {"step": "reminder"}).content.decode()
    assert reminded.number in only and waiting.number not in only
    none = owner_client.get(reverse("backoffice:dunning"), {"step": "none"}).content.decode()
    assert waiting.number in none and reminded.number not in none
    assert 'href="/' in owner_client.get(reverse("backoffice:home")).content.decode()
    assert "Relances" in owner_client.get(reverse("backoffice:home")).content.decode()


def test_the_settings_form_saves_and_refuses_bad_lists_with_the_form_again(owner_client, org):
    url = reverse("backoffice:dunning_settings")
    assert owner_client.get(url).status_code == 200
    fee = factories.product(org, sku="REACT", price="15.00")
    data = {
        "renewal_notice_days": "21",
        "reminder_before_days": "5",
        "overdue_reminder_days": "1, 5, 10",
        "card_retry_days": "2",
        "late_fee_after_days": "",
        "suspend_after_days": "20",
        "terminate_after_days": "45",
        "card_expiry_notice_days": "30, 7",
        "reactivation_fee": str(fee.pk),
    }
    assert owner_client.post(url, data).status_code == 302
    saved = DunningSettings.objects.get(organisation=org)
    assert (saved.renewal_notice_days, saved.overdue_reminder_days, saved.late_fee_after_days) == (
        21,
        [1, 5, 10],
        None,
    )
    assert saved.reactivation_fee == fee
    for bad in (
        {"overdue_reminder_days": "10, 5"},
        {"card_retry_days": "trois"},
        {"terminate_after_days": "10"},
    ):
        answer = owner_client.post(url, {**data, **bad})
        assert answer.status_code == 400
    saved.refresh_from_db()
    assert saved.overdue_reminder_days == [1, 5, 10] and saved.terminate_after_days == 45


def test_read_only_staff_see_the_settings_but_cannot_save(client, org):
    client.force_login(factories.staff(org, email="lecture@example.test", role="read_only"))
    url = reverse("backoffice:dunning_settings")
    assert "Seul le propriétaire" in client.get(url).content.decode()
    answer = client.post(url, {"renewal_notice_days": "3", "reminder_before_days": "1"})
    assert answer.status_code in (400, 403)
    assert not DunningSettings.objects.filter(organisation=org).exists()


def test_a_manual_suspension_is_confirmed_with_a_reason_then_lifted_by_the_button(owner_client, org, domain):
    detail = owner_client.get(reverse("backoffice:service_detail", args=[domain.pk])).content.decode()
    assert reverse("backoffice:service_suspend", args=[domain.pk]) in detail
    url = reverse("backoffice:service_suspend", args=[domain.pk])
    assert "Confirmer la suspension" in owner_client.get(url).content.decode()
    assert owner_client.post(url, {"note": ""}).status_code == 400
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE
    assert owner_client.post(url, {"note": "Abus signalé"}).status_code == 302
    domain.refresh_from_db()
    assert (domain.status, domain.suspension_note) == (Service.Status.SUSPENDED, "Abus signalé")
    detail = owner_client.get(reverse("backoffice:service_detail", args=[domain.pk])).content.decode()
    assert reverse("backoffice:service_unsuspend", args=[domain.pk]) in detail
    assert owner_client.get(reverse("backoffice:service_unsuspend", args=[domain.pk])).status_code == 405
    assert owner_client.post(reverse("backoffice:service_unsuspend", args=[domain.pk])).status_code == 302
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE


def test_another_organisations_staff_get_404_and_change_nothing(client, domain):
    other = factories.quebec_organisation(slug="autre")
    client.force_login(factories.staff(other, email="autre@example.test"))
    assert client.get(reverse("backoffice:service_suspend", args=[domain.pk])).status_code == 404
    assert (
        client.post(reverse("backoffice:service_suspend", args=[domain.pk]), {"note": "x"}).status_code == 404
    )
    assert client.post(reverse("backoffice:service_unsuspend", args=[domain.pk])).status_code == 404
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE
