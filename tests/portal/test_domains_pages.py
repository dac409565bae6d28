"""The portal's "Domaines" pages (seed 002) through the test client: the Actions menu, renewing by
pro-forma, recurring payment with the "Attention !" confirmation, a domain's own page, and the
inputs a hostile client sends."""

import datetime

import pytest
from django.test import Client

from acquitte.core.models import AuditLog
from acquitte.invoicing.models import Invoice
from acquitte.payments import services as payments
from acquitte.subscriptions.models import Service, ServiceRenewal
from tests import factories
from tests.subscriptions.domain_builders import billing_contact, domain_product, service

SYSTEM = factories.SYSTEM
TODAY = datetime.date.today()
NEXT_YEAR = f"12/{(TODAY.year + 1) % 100:02d}"


@pytest.fixture
def account(org_qc):
    customer = factories.customer(org_qc)
    product = domain_product(org_qc)
    domains = [
        service(customer, product, name="cafebonjour.ca", expires_on=TODAY + datetime.timedelta(days=20)),
        service(customer, product, name="cafe-bonjour.com", expires_on=TODAY + datetime.timedelta(days=200)),
    ]
    return customer, domains


@pytest.fixture
def signed_in(client, account):
    return factories.logged_in(client, account[0])


def add_card(customer, holder="Marie Roy", expiry=NEXT_YEAR):
    return payments.add_card(
        customer=customer, holder=holder, number="4242424242424242", cvv="123", expiry=expiry, actor=SYSTEM
    )


def recurring_state():
    return list(Service.objects.order_by("pk").values_list("recurring", "payment_method", "billing_contact"))


def test_without_a_card_the_recurring_options_are_hidden_and_the_page_says_where_to_add_one(
    signed_in, account
):
    page = signed_in.get("/domaines/").content.decode()
    assert "cafebonjour.ca" in page and "cafe-bonjour.com" in page
    assert 'value="renew"' in page and 'value="renew_all"' in page
    assert 'value="recurring"' not in page and 'value="recurring_all"' not in page
    assert 'href="/facturation/"' in page and "carte valide" in page

    response = signed_in.post("/domaines/", {"action": "recurring_all"}, follow=True)
    assert "carte valide pour activer le paiement" in response.content.decode()
    assert recurring_state() == [(False, None, None)] * 2


def test_with_a_card_the_menu_has_the_four_options(signed_in, account):
    add_card(account[0])
    page = signed_in.get("/domaines/").content.decode()
    for value, label in [
        ("renew", "Renouveler"),
        ("renew_all", "Renouveler tout"),
        ("recurring", "Paiement récurrent"),
        ("recurring_all", "Paiement récurrent tout"),
    ]:
        assert f'value="{value}" class="menu-item" role="menuitem">{label}</button>' in page
    assert "Domaines</a>" in page  # the menu entry


def test_renew_gives_proformas_to_pay_from_the_portal(signed_in, account):
    customer, domains = account
    response = signed_in.post("/domaines/", {"action": "renew", "service": [domains[0].pk]})
    assert response.status_code == 200
    proforma = Invoice.objects.get(kind=Invoice.Kind.PROFORMA)
    page = response.content.decode()
    assert proforma.number in page and f'href="/factures/{proforma.pk}/"' in page
    assert ServiceRenewal.objects.get().service == domains[0]

    signed_in.post("/domaines/", {"action": "renew_all"})
    assert (
        Invoice.objects.filter(kind=Invoice.Kind.PROFORMA).count() == 2
    )  # the first one is not issued again

    add_card(customer)
    detail = signed_in.get(f"/factures/{proforma.pk}/").content.decode()
    assert "Payer" in detail and f'action="/factures/{proforma.pk}/payer/saved/"' in detail
    method = customer.payment_methods.get()
    paid = signed_in.post(
        f"/factures/{proforma.pk}/payer/saved/", {"method": method.pk, "key": "k-domaine-1"}, follow=True
    )
    assert "Paiement accepté" in paid.content.decode()
    proforma.refresh_from_db()
    assert proforma.status == Invoice.Status.PAID and proforma.converted_to is not None


def test_recurring_for_all_with_a_sub_contact_that_is_not_the_holder_asks_for_confirmation(
    signed_in, account
):
    customer, domains = account
    card = add_card(customer)
    contact = billing_contact(customer, name="Jean Tremblay", company="Gestion JT inc.")

    step = signed_in.post("/domaines/", {"action": "recurring_all"}).content.decode()
    for domain in domains:
        assert f'name="service" value="{domain.pk}" checked' in step
    assert f'name="card" value="{card.pk}"' in step and "Jean Tremblay" in step

    posted = {
        "action": "recurring_confirm",
        "service": [d.pk for d in domains],
        "card": card.pk,
        "contact": contact.pk,
    }
    refused = signed_in.post("/domaines/", posted)
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "Attention !" in page and 'name="confirm_mismatch"' in page
    assert recurring_state() == [(False, None, None)] * 2

    done = signed_in.post("/domaines/", {**posted, "confirm_mismatch": "1"}, follow=True)
    assert "Paiement récurrent activé pour 2 domaines" in done.content.decode()
    assert recurring_state() == [(True, card.pk, contact.pk)] * 2
    assert all(s.mismatch_confirmed_at for s in Service.objects.all())
    listing = signed_in.get("/domaines/").content.decode()
    assert "Activé" in listing and str(card) in listing


def test_a_card_expiring_before_a_renewal_is_warned_at_once(signed_in, account):
    customer, domains = account
    short = TODAY + datetime.timedelta(days=62)
    card = add_card(customer, expiry=f"{short.month:02d}/{short.year % 100:02d}")
    step = signed_in.post("/domaines/", {"action": "recurring", "service": [domains[1].pk]}).content.decode()
    assert "avant le renouvellement de" in step and "cafe-bonjour.com" in step
    done = signed_in.post(
        "/domaines/",
        {"action": "recurring_confirm", "service": [domains[1].pk], "card": card.pk},
        follow=True,
    ).content.decode()
    assert "expire avant le renouvellement de : cafe-bonjour.com" in done
    assert Service.objects.get(pk=domains[1].pk).recurring


def test_the_domain_page_changes_the_card_and_contact_and_turns_recurring_off(signed_in, account):
    customer, domains = account
    card = add_card(customer)
    domain = domains[0]
    page = signed_in.get(f"/domaines/{domain.pk}/").content.decode()
    assert "cafebonjour.ca" in page and "Historique des renouvellements" in page

    signed_in.post(f"/domaines/{domain.pk}/", {"action": "card", "card": card.pk})
    domain.refresh_from_db()
    assert domain.recurring and domain.payment_method == card

    contact = billing_contact(customer, name="Autre Personne")
    refused = signed_in.post(f"/domaines/{domain.pk}/", {"action": "contact", "contact": contact.pk})
    assert refused.status_code == 400 and "Attention !" in refused.content.decode()
    domain.refresh_from_db()
    assert domain.billing_contact is None
    signed_in.post(
        f"/domaines/{domain.pk}/", {"action": "contact", "contact": contact.pk, "confirm_mismatch": "1"}
    )
    domain.refresh_from_db()
    assert domain.billing_contact == contact

    signed_in.post(f"/domaines/{domain.pk}/", {"action": "stop"})
    domain.refresh_from_db()
    assert not domain.recurring


def test_a_suspended_domain_shows_its_state_and_what_to_pay(signed_in, account, org_qc):
    customer, domains = account
    overdue = factories.invoice(org_qc, customer)
    Service.objects.filter(pk=domains[0].pk).update(
        status=Service.Status.SUSPENDED, suspension_reason=Service.SuspensionReason.OVERDUE
    )
    domains[0].suspensions.create(
        organisation=org_qc, reason=Service.SuspensionReason.OVERDUE, invoice=overdue, suspended_by="test"
    )
    page = signed_in.get(f"/domaines/{domains[0].pk}/").content.decode()
    assert "Service suspendu" in page and overdue.number in page
    assert f'href="/factures/{overdue.pk}/"' in page
    assert "Suspendu" in signed_in.get("/domaines/").content.decode()


@pytest.mark.parametrize(
    "posted, message",
    [
        ({"action": "renew", "service": ["abc"]}, "Sélection invalide"),
        ({"action": "renew"}, "Cochez au moins un domaine"),
        ({"action": "supprimer_tout", "service": ["1"]}, "Action inconnue"),
        ({"action": "renew", "service": ["99999999999999999999999"]}, "Sélection invalide"),
    ],
)
def test_bad_input_is_refused_in_french_and_changes_nothing(signed_in, account, posted, message):
    response = signed_in.post("/domaines/", posted, follow=True)
    assert response.status_code == 200 and message in response.content.decode()
    assert not Invoice.objects.filter(kind=Invoice.Kind.PROFORMA).exists()


def test_another_customers_domain_card_or_contact_is_refused(signed_in, account, org_qc):
    customer, domains = account
    card = add_card(customer)
    other = factories.customer(org_qc, name="Voisin inc.", email="voisin@example.test")
    theirs = service(other, domains[0].subscription.product, name="voisin.ca", expires_on=TODAY)
    their_card = add_card(other)
    their_contact = billing_contact(other, name="Marie Roy")
    before = (recurring_state(), AuditLog.objects.count())

    renew = signed_in.post(
        "/domaines/", {"action": "renew", "service": [domains[0].pk, theirs.pk]}, follow=True
    )
    assert "Objet introuvable" in renew.content.decode()
    assert signed_in.get(f"/domaines/{theirs.pk}/").status_code == 404
    assert signed_in.post(f"/domaines/{theirs.pk}/", {"action": "stop"}).status_code == 404

    confirm = {"action": "recurring_confirm", "service": [domains[0].pk], "card": card.pk}
    for posted, message in [
        ({**confirm, "service": [theirs.pk]}, "Objet introuvable"),
        ({**confirm, "card": their_card.pk}, "Choisissez la carte"),
        ({**confirm, "contact": their_contact.pk, "confirm_mismatch": "1"}, "Objet introuvable"),
        ({**confirm, "contact": "x"}, "Objet introuvable"),
    ]:
        response = signed_in.post("/domaines/", posted, follow=True)
        assert message in response.content.decode(), posted
    payments.remove_method(method=card, actor=SYSTEM)
    revoked = signed_in.post("/domaines/", confirm)
    assert revoked.status_code == 400 and "plus utilisable" in revoked.content.decode()
    assert (recurring_state(), AuditLog.objects.count()) == before
    assert not Invoice.objects.filter(kind=Invoice.Kind.PROFORMA).exists()


def test_nul_bytes_and_missing_csrf_are_refused(account):
    customer, domains = account
    client = factories.logged_in(Client(enforce_csrf_checks=True), customer)
    assert client.post("/domaines/", {"action": "renew_all"}).status_code == 403
    assert client.post(f"/domaines/{domains[0].pk}/", {"action": "stop"}).status_code == 403
    nul = factories.logged_in(Client(), customer, username="autre@cafe.test")
    response = nul.post("/domaines/", {"action": "renew\x00", "service": [str(domains[0].pk)]})
    assert response.status_code == 400 and "caractère nul" in response.content.decode()
    assert not ServiceRenewal.objects.exists()
