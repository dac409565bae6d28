"""The renewal run of domains and yearly services (seed 002, issue 13 item 3): the invoice N days
before the expiry date, once, to the sub-contact; the chosen card charged on the expiry date; the
expiry date moved on by the payment, once; expiry when unpaid; card-expiry notices once each."""

import datetime
import io
import itertools
from decimal import Decimal

import pytest
from django.core.management import call_command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import Invoice, InvoiceLine
from acquitte.invoicing.services.settlement import mark_paid
from acquitte.notifications.models import OutboundMessage, WebhookDelivery, WebhookEndpoint
from acquitte.payments import services as payments
from acquitte.payments.models import PaymentMethod, SandboxCharge
from acquitte.subscriptions import services
from acquitte.subscriptions.models import (
    BilledPeriod,
    BillingRun,
    CardExpiryNotice,
    CollectionAttempt,
    DunningSettings,
    Service,
    ServiceRenewal,
    Subscription,
)
from acquitte.subscriptions.periods import anniversary
from acquitte.subscriptions.services import collection_key, run_billing, run_renewals
from acquitte.subscriptions.services.orders import domain_name
from tests import factories
from tests.subscriptions import builders
from tests.subscriptions.domain_builders import billing_contact, domain_product, service

SYSTEM = builders.SYSTEM
EXPIRES = datetime.date(2027, 3, 15)
NOTICE_DAY = EXPIRES - datetime.timedelta(days=14)  # the default renewal_notice_days
DECLINED = "4000000000000002"


@pytest.fixture
def org(org_qc):
    factories.staff(org_qc)
    return org_qc


@pytest.fixture
def customer(org):
    return builders.customer_with_card(org, sites=1)


@pytest.fixture
def product(org):
    return domain_product(org)


def renew(org, on, **kwargs):
    return run_renewals(organisation=org, as_of=on, actor=SYSTEM, **kwargs)


def second_card(customer, number="5555555555554444", holder="Comptabilité Roy"):
    """A card that is not the default: add it, then make the first one the default again."""
    first = customer.payment_methods.get(is_default=True)
    card = payments.add_card(
        customer=customer, holder=holder, number=number, cvv="123", expiry=builders.NEXT_YEAR, actor=SYSTEM
    )
    payments.set_default_method(method=first, actor=SYSTEM)
    card.refresh_from_db()
    assert not card.is_default
    return card


def renewal_invoice(domain) -> Invoice:
    return ServiceRenewal.objects.get(service=domain, period_start=domain.expires_on).invoice


def test_the_renewal_invoice_is_issued_n_days_before_once_to_the_sub_contact(org, customer, product):
    contact = billing_contact(customer, email="compta@roy.example")
    domain = service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES, billing_contact=contact)
    early = renew(org, NOTICE_DAY - datetime.timedelta(days=1))
    assert early.invoices == 0 and not ServiceRenewal.objects.exists()
    first = renew(org, NOTICE_DAY)
    second = renew(org, NOTICE_DAY)
    later = renew(org, NOTICE_DAY + datetime.timedelta(days=3))
    assert (first.invoices, second.invoices, later.invoices) == (1, 0, 0)
    assert first.run.kind == BillingRun.Kind.RENEWAL and first.run.status == BillingRun.Status.SUCCEEDED
    renewal = ServiceRenewal.objects.get(service=domain)
    assert (renewal.period_start, renewal.period_end) == (EXPIRES, datetime.date(2028, 3, 15))
    invoice = renewal.invoice
    assert invoice.status == Invoice.Status.OPEN and invoice.number
    assert (invoice.issue_date, invoice.due_date) == (NOTICE_DAY, EXPIRES)
    assert invoice.billing_contact == contact and invoice.bill_to["name"] == "Comptabilité Roy"
    line = InvoiceLine.objects.get(invoice=invoice)
    assert line.description == "cafebonjour.ca — renouvellement du 15 mars 2027 au 14 mars 2028"
    assert (line.unit_price, line.quantity, line.product) == (Decimal("25.00"), Decimal(1), product)
    assert (line.period_start, line.period_end) == (EXPIRES, datetime.date(2028, 3, 14))
    assert invoice.total == Decimal("28.74")  # 25.00 + GST 1.25 + QST 2.49
    assert first.total == invoice.total
    sent = OutboundMessage.objects.filter(kind="invoice_sent", reference=invoice.number)
    assert list(sent.values_list("to", flat=True)) == ["compta@roy.example"]
    domain.refresh_from_db()
    assert domain.expires_on == EXPIRES  # unpaid: the date stays


def test_the_notice_days_are_the_organisations_setting(org, customer, product):
    DunningSettings.objects.create(organisation=org, renewal_notice_days=30)
    service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    assert renew(org, EXPIRES - datetime.timedelta(days=31)).invoices == 0
    assert renew(org, EXPIRES - datetime.timedelta(days=30)).invoices == 1


def test_the_chosen_card_is_charged_on_the_due_date_and_the_expiry_moves_on(org, customer, product):
    card = second_card(customer)
    domain = service(
        customer, product, name="cafebonjour.ca", expires_on=EXPIRES, recurring=True, payment_method=card
    )
    endpoint = WebhookEndpoint.objects.create(
        organisation=org, url="https://hooks.example.com/acquitte", secret="whsec_test", event_types=[]
    )
    renew(org, NOTICE_DAY)
    invoice = renewal_invoice(domain)
    assert renew(org, EXPIRES - datetime.timedelta(days=1)).charges == 0  # not before the due date
    summary = renew(org, EXPIRES)
    assert summary.charges == 1 and summary.failures == 0
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    charge = SandboxCharge.objects.get(idempotency_key=collection_key(invoice.pk, EXPIRES))
    assert charge.token == card.token  # the chosen card, not the default one
    attempt = CollectionAttempt.objects.get(invoice=invoice)
    assert (attempt.collection_date, attempt.outcome) == (EXPIRES, CollectionAttempt.Outcome.CHARGED)
    assert attempt.payment.payment_method == card
    domain.refresh_from_db()
    assert (domain.expires_on, domain.status) == (datetime.date(2028, 3, 15), Service.Status.ACTIVE)
    assert ServiceRenewal.objects.get(service=domain).renewed_at is not None
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert delivery.event_type == "service.renewed"
    assert delivery.payload["data"]["service"]["expires_on"] == "2028-03-15"
    again = renew(org, EXPIRES)
    assert (again.charges, again.invoices) == (0, 0)
    assert SandboxCharge.objects.count() == 1


def test_a_replayed_paid_signal_moves_nothing(org, customer, product):
    domain = service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    renew(org, NOTICE_DAY)
    invoice = renewal_invoice(domain)
    factories.pay_saved(invoice, customer.payment_methods.get(), key="renouvellement-1")
    domain.refresh_from_db()
    assert domain.expires_on == datetime.date(2028, 3, 15)
    moved = services.renew_paid_services(organisation=org, invoice_ids=[invoice.pk], actor=SYSTEM)
    assert moved == []
    domain.refresh_from_db()
    assert domain.expires_on == datetime.date(2028, 3, 15)
    # Even with the renewal's mark taken away, the guard on the period's start moves nothing.
    ServiceRenewal.objects.filter(service=domain).update(renewed_at=None)
    assert services.renew_paid_services(organisation=org, invoice_ids=[invoice.pk], actor=SYSTEM) == []
    domain.refresh_from_db()
    assert domain.expires_on == datetime.date(2028, 3, 15)


def test_a_declined_card_leaves_the_invoice_open_and_the_service_expires_the_day_after(org, product):
    customer = builders.customer_with_card(org, sites=1, card=DECLINED)
    card = customer.payment_methods.get()
    domain = service(
        customer, product, name="cafebonjour.ca", expires_on=EXPIRES, recurring=True, payment_method=card
    )
    renew(org, NOTICE_DAY)
    declined = renew(org, EXPIRES)
    assert (declined.charges, declined.failures) == (0, 1)
    assert declined.run.status == BillingRun.Status.FAILED
    invoice = renewal_invoice(domain)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE  # still within its period on the expiry date
    expired = renew(org, EXPIRES + datetime.timedelta(days=1))
    assert expired.expired == 1 and expired.charges == 0  # an expired service is not charged again
    domain.refresh_from_db()
    assert domain.status == Service.Status.EXPIRED
    # Paid later (another card, through its link), it is renewed and active again.
    good = second_card(customer, number="4242424242424242", holder="Marie Roy")
    factories.pay_saved(invoice, good, key="renouvellement-tard")
    domain.refresh_from_db()
    assert (domain.status, domain.expires_on) == (Service.Status.ACTIVE, datetime.date(2028, 3, 15))


def test_an_unpaid_service_without_recurring_payment_expires_too(org, customer, product):
    domain = service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    renew(org, NOTICE_DAY)
    assert renew(org, EXPIRES).expired == 0
    assert renew(org, EXPIRES + datetime.timedelta(days=1)).expired == 1
    domain.refresh_from_db()
    assert domain.status == Service.Status.EXPIRED
    assert not SandboxCharge.objects.exists()


def test_a_pending_pro_forma_gets_its_invoice_on_the_notice_day_and_is_voided(org, customer, product):
    domain = service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    [proforma] = services.request_renewals(customer=customer, services=[domain], actor=SYSTEM)
    assert renew(org, NOTICE_DAY - datetime.timedelta(days=1)).invoices == 0
    summary = renew(org, NOTICE_DAY)
    assert summary.invoices == 1
    renewal = ServiceRenewal.objects.get(service=domain)
    assert renewal.proforma == proforma and renewal.invoice is not None
    assert renewal.invoice.kind == Invoice.Kind.INVOICE and renewal.invoice.total == proforma.total
    proforma.refresh_from_db()
    assert proforma.status == Invoice.Status.VOID
    assert renew(org, NOTICE_DAY).invoices == 0


def test_a_paid_pro_forma_renews_and_the_run_issues_nothing_for_that_period(org, customer, product):
    domain = service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    [proforma] = services.request_renewals(customer=customer, services=[domain], actor=SYSTEM)
    factories.pay_saved(proforma, customer.payment_methods.get(), key="proforma-1")
    domain.refresh_from_db()
    assert domain.expires_on == datetime.date(2028, 3, 15)
    assert renew(org, NOTICE_DAY).invoices == 0
    assert ServiceRenewal.objects.get(service=domain).renewed_at is not None


def test_card_expiry_notices_are_sent_once_each_and_name_the_services_renewing_after(org, customer, product):
    card = customer.payment_methods.get()
    PaymentMethod.objects.filter(pk=card.pk).update(exp_month=3, exp_year=2027)
    june = datetime.date(2027, 6, 15)  # renews after the card's last day
    service(customer, product, name="cafebonjour.ca", expires_on=june, recurring=True, payment_method=card)
    service(customer, product, name="avant.ca", expires_on=EXPIRES, recurring=True, payment_method=card)
    assert renew(org, datetime.date(2027, 2, 28)).notices == 0  # 31 days before the end of March
    thirty = renew(org, datetime.date(2027, 3, 1))
    assert thirty.notices == 1 and renew(org, datetime.date(2027, 3, 2)).notices == 0
    seven = renew(org, datetime.date(2027, 3, 24))
    assert seven.notices == 1 and renew(org, datetime.date(2027, 3, 25)).notices == 0
    notices = CardExpiryNotice.objects.filter(payment_method=card)
    assert sorted(notices.values_list("days_before", "sent_on")) == [
        (7, datetime.date(2027, 3, 24)),
        (30, datetime.date(2027, 3, 1)),
    ]
    mails = OutboundMessage.objects.filter(kind="card_expiry_notice", to=customer.email)
    assert mails.count() == 2
    body = mails.first().body
    assert "cafebonjour.ca : 15 juin 2027" in body and "avant.ca" not in body
    assert "31 mars 2027" in mails.first().subject


def test_a_card_found_within_seven_days_gets_one_email(org, customer):
    card = customer.payment_methods.get()
    PaymentMethod.objects.filter(pk=card.pk).update(exp_month=3, exp_year=2027)
    assert renew(org, datetime.date(2027, 3, 28)).notices == 1
    assert CardExpiryNotice.objects.filter(payment_method=card).count() == 2
    assert OutboundMessage.objects.filter(kind="card_expiry_notice").count() == 1


def test_a_dry_run_writes_nothing_and_says_what_it_would_do(org, customer, product):
    card = customer.payment_methods.get()
    domain = service(
        customer, product, name="cafebonjour.ca", expires_on=EXPIRES, recurring=True, payment_method=card
    )
    late = service(customer, product, name="oublie.ca", expires_on=EXPIRES - datetime.timedelta(days=40))
    ServiceRenewal.objects.create(
        organisation=org,
        service=late,
        period_start=late.expires_on,
        period_end=late.expires_on + datetime.timedelta(days=366),
        invoice=factories.invoice(org, customer),
    )
    counts = (Invoice.objects.count(), ServiceRenewal.objects.count(), BillingRun.objects.count())
    messages = OutboundMessage.objects.count()
    summary = renew(org, EXPIRES, dry_run=True)
    assert summary.run is None
    assert (summary.invoices, summary.charges, summary.expired) == (1, 1, 1)
    assert summary.total == Decimal("28.74")
    assert {(a.action, a.service) for a in summary.actions} == {
        ("invoice", domain),
        ("charge", domain),
        ("expire", late),
    }
    assert counts == (Invoice.objects.count(), ServiceRenewal.objects.count(), BillingRun.objects.count())
    assert messages == OutboundMessage.objects.count()
    assert not SandboxCharge.objects.exists()
    late.refresh_from_db()
    assert late.status == Service.Status.ACTIVE


def test_the_command_prints_the_dry_run_and_runs(org, customer, product):
    service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    out = io.StringIO()
    call_command("renewal_run", "--org", org.slug, "--date", NOTICE_DAY.isoformat(), "--dry-run", stdout=out)
    assert "invoice: cafebonjour.ca" in out.getvalue() and "(dry run)" in out.getvalue()
    assert not ServiceRenewal.objects.exists()
    out = io.StringIO()
    call_command("renewal_run", "--org", org.slug, "--date", NOTICE_DAY.isoformat(), stdout=out)
    assert "invoices 1" in out.getvalue()
    assert ServiceRenewal.objects.count() == 1


def test_the_half_hourly_task_runs_each_organisation_with_something_due(org, customer, product, settings):
    from acquitte.subscriptions import tasks
    from acquitte.subscriptions.models import BillingSettings

    service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    BillingSettings.objects.update_or_create(organisation=org, defaults={"test_clock": NOTICE_DAY})
    assert tasks.run_due_renewals() == 1
    assert ServiceRenewal.objects.count() == 1
    assert tasks.run_due_renewals() == 0
    assert "renewal-runs" in settings.CELERY_BEAT_SCHEDULE


def test_a_wrong_date_is_refused(org):
    with pytest.raises(BusinessError) as refused:
        renew(org, "2027-03-01")
    assert refused.value.error_code == ErrorCode.INVALID_DATE
    assert not BillingRun.objects.exists()


# --- orders, and the billing run ---


def test_a_completed_order_makes_a_domain_and_a_yearly_service_and_the_billing_run_bills_their_first_year_only(
    org, customer
):
    staff = factories.staff(org, email="ventes@example.test")
    domain_p = domain_product(org)
    hosting = factories.product(org, sku="HEB-Y", price="120.00", kind="yearly", name="Hébergement")
    order = services.create_order(organisation=org, customer=customer, actor=staff)
    site = customer.sites.get()
    services.add_order_line(
        order=order, product=domain_p, site=site, quantity="1", actor=staff, description=" Café-Bonjour.CA. "
    )
    services.add_order_line(order=order, product=hosting, site=site, quantity="1", actor=staff)
    services.place_order(order=order, actor=staff)
    from acquitte.subscriptions.models import BillingSettings

    BillingSettings.objects.update_or_create(
        organisation=org, defaults={"test_clock": datetime.date(2027, 2, 28)}
    )
    services.complete_order(order=order, actor=staff)
    made = {s.kind: s for s in Service.objects.filter(customer=customer)}
    assert made[Service.Kind.DOMAIN].name == "café-bonjour.ca".encode("idna").decode()
    assert made[Service.Kind.SERVICE].name == "Hébergement"
    for made_service in made.values():
        assert made_service.expires_on == datetime.date(2028, 2, 28)
        assert made_service.subscription.started_on == datetime.date(2027, 2, 28)
    run_billing(organisation=org, as_of=datetime.date(2027, 3, 2), actor=SYSTEM)
    first = set(BilledPeriod.objects.values_list("subscription__service__kind", "period_start", "period_end"))
    assert first == {
        (Service.Kind.DOMAIN, datetime.date(2027, 2, 28), datetime.date(2028, 2, 27)),
        (Service.Kind.SERVICE, datetime.date(2027, 2, 28), datetime.date(2028, 2, 27)),
    }
    # A year on, the billing run leaves them to the renewal run.
    assert run_billing(organisation=org, as_of=datetime.date(2028, 3, 2), actor=SYSTEM).invoices == 0
    assert BilledPeriod.objects.count() == 2
    assert renew(org, datetime.date(2028, 3, 2)).invoices == 2


def test_the_billing_run_still_bills_a_yearly_subscription_without_a_service(org, customer):
    yearly = factories.product(org, sku="SAUV-Y", price="99.00", kind="yearly")
    builders.subscription(
        customer, yearly, started_on=datetime.date(2026, 1, 10), period=Subscription.Period.YEARLY
    )
    run_billing(organisation=org, as_of=datetime.date(2027, 1, 12), actor=SYSTEM)
    assert BilledPeriod.objects.count() == 2


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("Exemple.COM", "exemple.com"),
        ("  boutique.example.ca. ", "boutique.example.ca"),
        ("café.fr", "xn--caf-dma.fr"),
        ("a-b.c0", "a-b.c0"),
    ],
)
def test_domain_names_are_normalised(text, name):
    assert domain_name(text) == name


@pytest.mark.parametrize(
    "text",
    [
        "localhost",
        "exemple",
        "-abc.com",
        "abc-.com",
        "a..com",
        "a b.com",
        "exemple.123",
        "x" * 64 + ".com",
        "",
    ],
)
def test_a_bad_domain_name_is_refused_in_french(text):
    with pytest.raises(BusinessError) as refused:
        domain_name(text)
    assert refused.value.error_code == ErrorCode.INVALID_INPUT
    assert "n'est pas un nom de domaine valable" in refused.value.text()


def test_a_domain_line_needs_a_domain_name_and_a_free_one(org, customer, product):
    staff = factories.staff(org, email="ventes@example.test")
    order = services.create_order(organisation=org, customer=customer, actor=staff)
    site = customer.sites.get()
    with pytest.raises(BusinessError):
        services.add_order_line(order=order, product=product, site=site, quantity="1", actor=staff)
    service(customer, product, name="pris.ca", expires_on=EXPIRES)
    with pytest.raises(BusinessError) as taken:
        services.add_order_line(
            order=order, product=product, site=site, quantity="1", actor=staff, description="PRIS.ca"
        )
    assert taken.value.error_code == ErrorCode.DUPLICATE
    assert not order.lines.exists()


# --- each period once over a sequence of daily runs ---

EXAMPLES = itertools.count(1)
#: Expiry dates at the edges: 29 February and the 28th of a year that has none, and the last years
#: of the calendar (a period from 9999 cannot end: such a service is skipped, never renewed).
EDGES = [
    datetime.date(2028, 2, 29),
    datetime.date(2027, 2, 28),
    datetime.date(2027, 12, 31),
    datetime.date(9998, 12, 20),
    datetime.date(9999, 1, 1),
    datetime.date(9999, 12, 20),
]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    expires=st.one_of(
        st.sampled_from(EDGES),
        st.dates(min_value=datetime.date(2027, 1, 1), max_value=datetime.date(2031, 12, 31)),
    ),
    notice=st.integers(min_value=0, max_value=20),
    paid=st.booleans(),
)
def test_each_period_is_invoiced_once_over_daily_runs(org_qc, expires, notice, paid):
    """Daily runs from before the notice day to past the expiry date, each renewal invoice paid
    the day it is issued or never: one renewal row and one invoice per period, the expiry date
    moved on once per paid period, expired when unpaid."""
    n = next(EXAMPLES)
    DunningSettings.objects.update_or_create(organisation=org_qc, defaults={"renewal_notice_days": notice})
    customer = builders.customer_with_card(org_qc, sites=1, email=f"c{n}@x.test")
    domain = service(
        customer, domain_product(org_qc, sku=f"DOM-{n}"), name=f"domaine{n}.ca", expires_on=expires
    )
    start = expires - datetime.timedelta(days=notice + 2)
    for offset in range(notice + 6):
        renew(org_qc, start + datetime.timedelta(days=offset))
        if paid:
            for renewal in ServiceRenewal.objects.filter(service=domain, invoice__status=Invoice.Status.OPEN):
                mark_paid(Invoice.objects.get(pk=renewal.invoice_id), SYSTEM)
    renewals = list(ServiceRenewal.objects.filter(service=domain).order_by("period_start"))
    invoices = [r.invoice_id for r in renewals]
    assert len(set(invoices)) == len(invoices) and None not in invoices
    assert len({r.period_start for r in renewals}) == len(renewals)
    domain.refresh_from_db()
    if expires.year >= 9999:
        assert renewals == [] and domain.status == Service.Status.EXPIRED
    elif paid:
        assert renewals[0].period_start == expires
        assert domain.expires_on == renewals[-1].period_end and domain.status == Service.Status.ACTIVE
        assert all(r.renewed_at is not None for r in renewals)
        assert renewals[0].period_end == anniversary(expires, 1)
    else:
        assert len(renewals) == 1 and domain.status == Service.Status.EXPIRED
        assert domain.expires_on == expires
    Service.objects.filter(pk=domain.pk).update(status=Service.Status.TERMINATED)


def test_a_service_expiring_in_year_9999_is_skipped_cleanly(org, customer, product):
    far = service(customer, product, name="lointain.ca", expires_on=datetime.date(9999, 6, 1))
    summary = renew(org, datetime.date(9999, 5, 30))
    assert summary.invoices == 0 and summary.failures == 0
    assert not ServiceRenewal.objects.filter(service=far).exists()
    assert renew(org, datetime.date(9999, 12, 31)).expired == 1
    assert renew(org, datetime.date.max).failures == 0


def test_an_invoice_issued_for_another_reason_moves_nothing(org, customer, product):
    domain = service(customer, product, name="cafebonjour.ca", expires_on=EXPIRES)
    other = factories.invoice(org, customer)
    factories.pay_saved(other, customer.payment_methods.get(), key="autre-1")
    domain.refresh_from_db()
    assert domain.expires_on == EXPIRES
