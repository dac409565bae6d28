"""Seed 002 on the services: early renewal by pro-forma, recurring payment with a card and a
billing sub-contact, the "Attention !" confirmation, and the card that expires before a renewal."""

import datetime
import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditLog
from acquitte.customers.models import Contact
from acquitte.invoicing.models import Invoice
from acquitte.payments import services as payments
from acquitte.payments.models import PaymentMethod
from acquitte.subscriptions import service_selectors as selectors
from acquitte.subscriptions import services
from acquitte.subscriptions.models import Service, ServiceRenewal
from tests import factories
from tests.subscriptions.builders import customer_with_card
from tests.subscriptions.domain_builders import billing_contact, domain_product, service

SYSTEM = factories.SYSTEM
TODAY = datetime.date.today()
SOON = TODAY + datetime.timedelta(days=40)


@pytest.fixture
def account(db):
    org = factories.quebec_organisation()
    customer = customer_with_card(org, sites=1)
    product = domain_product(org)
    domains = [
        service(customer, product, name="cafebonjour.ca", expires_on=SOON),
        service(customer, product, name="cafe-bonjour.com", expires_on=SOON + datetime.timedelta(days=90)),
    ]
    card = customer.payment_methods.get()
    return org, customer, domains, card


def test_renew_gives_one_finalised_proforma_per_domain_for_the_next_year(account):
    _org, customer, domains, _card = account
    contact = billing_contact(customer)
    domains[0].billing_contact = contact
    domains[0].save(update_fields=["billing_contact"])

    proformas = services.request_renewals(customer=customer, services=domains, actor=SYSTEM)

    assert [p.kind for p in proformas] == [Invoice.Kind.PROFORMA] * 2
    assert all(p.status == Invoice.Status.OPEN and p.number and p.online_payment for p in proformas)
    assert proformas[0].billing_contact == contact and proformas[1].billing_contact is None
    line = proformas[0].lines.get()
    assert line.unit_price == Decimal("25.00") and "cafebonjour.ca" in line.description
    assert (line.period_start, line.period_end) == (
        SOON,
        SOON.replace(year=SOON.year + 1) - datetime.timedelta(days=1),
    )
    renewal = ServiceRenewal.objects.get(service=domains[0])
    assert (renewal.period_start, renewal.period_end) == (SOON, SOON.replace(year=SOON.year + 1))
    assert renewal.proforma == proformas[0] and renewal.invoice is None
    assert proformas[0].total == line.net_amount + proformas[0].tax_total


def test_asking_twice_returns_the_same_proforma(account):
    _org, customer, domains, _card = account
    first = services.request_renewals(customer=customer, services=domains[:1], actor=SYSTEM)
    again = services.request_renewals(customer=customer, services=domains, actor=SYSTEM)
    assert again[0] == first[0]
    assert Invoice.objects.filter(kind=Invoice.Kind.PROFORMA).count() == 2
    assert ServiceRenewal.objects.count() == 2


def test_a_period_the_run_already_invoiced_gives_that_invoice(account):
    org, customer, domains, _card = account
    invoice = factories.invoice(org, customer)
    ServiceRenewal.objects.create(
        organisation=org,
        service=domains[0],
        period_start=domains[0].expires_on,
        period_end=domains[0].expires_on.replace(year=domains[0].expires_on.year + 1),
        invoice=invoice,
    )
    assert services.request_renewals(customer=customer, services=domains[:1], actor=SYSTEM) == [invoice]
    assert not Invoice.objects.filter(kind=Invoice.Kind.PROFORMA).exists()


def test_paying_the_proforma_turns_it_into_an_invoice(account):
    _org, customer, domains, card = account
    proforma = services.request_renewals(customer=customer, services=domains[:1], actor=SYSTEM)[0]
    payments.pay_invoice(
        invoice=proforma, payment_method=card, idempotency_key=uuid.uuid4().hex, actor=SYSTEM
    )
    proforma.refresh_from_db()
    assert proforma.status == Invoice.Status.PAID
    assert proforma.converted_to is not None and proforma.converted_to.status == Invoice.Status.PAID


def test_another_customers_or_a_terminated_service_is_refused_and_nothing_is_issued(account):
    org, customer, domains, _card = account
    other = factories.customer(org, name="Voisin inc.", email="voisin@example.test")
    theirs = service(other, domains[0].subscription.product, name="voisin.ca", expires_on=SOON)
    gone = service(
        customer,
        theirs.subscription.product,
        name="ancien.ca",
        expires_on=SOON,
        status=Service.Status.TERMINATED,
    )
    for wrong in (theirs, gone):
        with pytest.raises(BusinessError) as refused:
            services.request_renewals(customer=customer, services=[domains[0], wrong], actor=SYSTEM)
        assert refused.value.error_code == ErrorCode.NOT_FOUND
    with pytest.raises(BusinessError) as empty:
        services.request_renewals(customer=customer, services=[], actor=SYSTEM)
    assert empty.value.error_code == ErrorCode.INVALID_INPUT
    assert not Invoice.objects.filter(kind=Invoice.Kind.PROFORMA).exists()
    assert not ServiceRenewal.objects.exists()


def test_a_sub_contact_that_is_not_the_card_holder_is_refused_until_confirmed(account):
    _org, customer, domains, card = account
    contact = billing_contact(customer, name="Jean Tremblay", company="Gestion JT inc.")
    with pytest.raises(BusinessError) as refused:
        services.set_recurring(
            customer=customer, services=domains, payment_method=card, billing_contact=contact, actor=SYSTEM
        )
    assert refused.value.error_code == ErrorCode.HOLDER_MISMATCH
    assert "Gestion JT inc." in refused.value.text() and "Marie Roy" in refused.value.text()
    assert not Service.objects.filter(recurring=True).exists()

    done = services.set_recurring(
        customer=customer,
        services=domains,
        payment_method=card,
        billing_contact=contact,
        confirm_mismatch=True,
        actor=SYSTEM,
    )
    assert len(done) == 2
    for domain in Service.objects.all():
        assert domain.recurring and domain.payment_method == card and domain.billing_contact == contact
        assert domain.mismatch_confirmed_at is not None
    assert AuditLog.objects.filter(detail__change="recurring_on").count() == 2


def test_a_sub_contact_that_is_the_holder_needs_no_confirmation(account):
    _org, customer, domains, card = account
    contact = billing_contact(customer, name="  marie   ROY ")
    services.set_recurring(
        customer=customer, services=domains, payment_method=card, billing_contact=contact, actor=SYSTEM
    )
    assert set(Service.objects.values_list("recurring", "mismatch_confirmed_at")) == {(True, None)}


@given(
    name=st.text(alphabet="abcdeéèàçôAÉZ", min_size=1, max_size=12),
    spaces=st.integers(min_value=1, max_value=3),
)
def test_holder_comparison_ignores_case_accents_and_spaces(name, spaces):
    holder = PaymentMethod(holder=f"{name} Côté")
    plain = name.upper().replace("É", "E").replace("é", "e").replace("è", "e").replace("à", "a")
    plain = plain.replace("ç", "c").replace("ô", "o")
    contact = Contact(name=f" {plain}{' ' * spaces}COTE ")
    assert selectors.holder_matches(contact, holder)
    assert not selectors.holder_matches(Contact(name=f"{plain}x Cote"), holder)


@pytest.mark.parametrize("how", ["other_customer", "revoked", "expired", "bank_account"])
def test_a_card_that_is_not_the_customers_valid_card_is_refused(account, how):
    org, customer, domains, card = account
    if how == "other_customer":
        card = customer_with_card(
            org, sites=0, name="Voisin inc.", email="v@example.test"
        ).payment_methods.get()
        expected = ErrorCode.NOT_FOUND
    elif how == "revoked":
        payments.remove_method(method=card, actor=SYSTEM)
        expected = ErrorCode.PAYMENT_METHOD_INVALID
    elif how == "expired":
        card.exp_year, card.exp_month = TODAY.year - 1, 1
        card.save()
        expected = ErrorCode.PAYMENT_METHOD_INVALID
    else:
        card = payments.add_bank_account(
            customer=customer,
            actor=SYSTEM,
            holder="Marie Roy",
            scheme="pad",
            institution="006",
            transit="12345",
            account="1234567",
        )
        expected = ErrorCode.PAYMENT_METHOD_INVALID
    with pytest.raises(BusinessError) as refused:
        services.set_recurring(customer=customer, services=domains, payment_method=card, actor=SYSTEM)
    assert refused.value.error_code == expected
    assert not Service.objects.filter(recurring=True).exists()


def test_another_customers_contact_is_refused(account):
    org, customer, domains, card = account
    other = factories.customer(org, name="Voisin inc.", email="voisin@example.test")
    for contact in (
        billing_contact(other),
        Contact.objects.create(customer=customer, name="Pas facturation"),
    ):
        with pytest.raises(BusinessError) as refused:
            services.set_recurring(
                customer=customer,
                services=domains,
                payment_method=card,
                billing_contact=contact,
                confirm_mismatch=True,
                actor=SYSTEM,
            )
        assert refused.value.error_code == ErrorCode.NOT_FOUND
    assert not Service.objects.filter(recurring=True).exists()


def test_a_card_expiring_before_a_renewal_is_accepted_with_a_warning(account):
    _org, customer, domains, card = account
    late = service(
        customer,
        domains[0].subscription.product,
        name="plus-tard.ca",
        expires_on=datetime.date(card.exp_year + 1, 6, 1),
    )
    services.set_recurring(customer=customer, services=[*domains, late], payment_method=card, actor=SYSTEM)
    assert selectors.expiring_before_renewal(card, Service.objects.all()) == [late]
    rows = {row.service.name: row.card_too_early for row in selectors.service_rows(customer)}
    assert rows == {"cafebonjour.ca": False, "cafe-bonjour.com": False, "plus-tard.ca": True}
    choice = selectors.card_choices(customer, [late])[0]
    assert choice.method == card and choice.too_early_for == [late]


def test_the_domain_page_changes_the_card_the_contact_or_stops(account):
    _org, customer, domains, card = account
    domain = domains[0]
    services.set_recurring(customer=customer, services=[domain], payment_method=card, actor=SYSTEM)
    contact = billing_contact(customer, name="Autre Personne")
    with pytest.raises(BusinessError) as refused:
        services.change_recurring(service=domain, billing_contact=contact, actor=SYSTEM)
    assert refused.value.error_code == ErrorCode.HOLDER_MISMATCH
    domain.refresh_from_db()
    assert domain.billing_contact is None

    services.change_recurring(service=domain, billing_contact=contact, confirm_mismatch=True, actor=SYSTEM)
    domain.refresh_from_db()
    assert domain.billing_contact == contact and domain.mismatch_confirmed_at is not None

    services.change_recurring(service=domain, clear_contact=True, actor=SYSTEM)
    domain.refresh_from_db()
    assert domain.billing_contact is None and domain.mismatch_confirmed_at is None

    second = payments.add_card(
        customer=customer,
        holder="Marie Roy",
        number="5555555555554444",
        cvv="123",
        expiry="12/40",
        actor=SYSTEM,
    )
    services.change_recurring(service=domain, payment_method=second, actor=SYSTEM)
    domain.refresh_from_db()
    assert domain.payment_method == second and domain.recurring

    services.stop_recurring(service=domain, actor=SYSTEM)
    domain.refresh_from_db()
    assert not domain.recurring
    with pytest.raises(BusinessError) as nothing:
        services.change_recurring(service=domain, actor=SYSTEM)
    assert nothing.value.error_code == ErrorCode.INVALID_INPUT


def test_a_suspended_domains_page_says_what_to_pay(account):
    org, customer, domains, _card = account
    overdue = factories.invoice(org, customer)
    domain = domains[0]
    Service.objects.filter(pk=domain.pk).update(
        status=Service.Status.SUSPENDED, suspension_reason=Service.SuspensionReason.OVERDUE
    )
    domain.suspensions.create(
        organisation=org, reason=Service.SuspensionReason.OVERDUE, invoice=overdue, suspended_by="test"
    )
    detail = selectors.service_detail(customer, domain.pk)
    assert detail is not None and detail.suspension is not None
    assert detail.to_reactivate == [overdue]
    other = factories.customer(org, name="Voisin inc.", email="voisin@example.test")
    assert selectors.service_detail(other, domain.pk) is None
