"""The billing settings and the test clock: the runs of each day passed fire in order, only in test mode."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.invoicing.models import Invoice
from acquitte.payments import services as payments
from acquitte.payments.providers.names import ProviderName
from acquitte.subscriptions import selectors, services
from acquitte.subscriptions.models import BilledPeriod, BillingRun, BillingSettings, CollectionAttempt
from acquitte.subscriptions.services.clock import run_days
from tests import factories

from .builders import SYSTEM, customer_with_card, monthly_product, subscription

START = datetime.date(2026, 1, 10)


@pytest.fixture
def org(db, settings):
    settings.PAYMENTS_SANDBOX = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    organisation = factories.quebec_organisation()
    found = selectors.billing_settings(organisation)
    found.test_clock = START
    found.save(update_fields=["test_clock"])
    return organisation


def test_settings_default_to_the_2nd_and_the_22nd_in_toronto(org):
    found = selectors.billing_settings(org)
    assert (found.bill_day, found.collection_day, found.time_zone) == (2, 22, "America/Toronto")


def test_owner_changes_the_settings_and_bad_values_change_nothing(org):
    owner = factories.staff(org)
    services.update_billing_settings(
        organisation=org, actor=owner, bill_day=5, collection_day=25, time_zone="Europe/Paris"
    )
    found = BillingSettings.objects.get(organisation=org)
    assert (found.bill_day, found.collection_day, found.time_zone) == (5, 25, "Europe/Paris")
    for bad in (
        {"bill_day": 0, "collection_day": 22, "time_zone": "America/Toronto"},
        {"bill_day": 29, "collection_day": 22, "time_zone": "America/Toronto"},
        {"bill_day": 2, "collection_day": 31, "time_zone": "America/Toronto"},
        {"bill_day": 2, "collection_day": 22, "time_zone": "Mars/Olympus"},
        {"bill_day": 2, "collection_day": 22, "time_zone": "America/Toronto\x00"},
    ):
        with pytest.raises(BusinessError) as refused:
            services.update_billing_settings(organisation=org, actor=owner, **bad)
        assert refused.value.error_code == ErrorCode.INVALID_INPUT
    found.refresh_from_db()
    assert (found.bill_day, found.collection_day, found.time_zone) == (5, 25, "Europe/Paris")


def test_only_the_owner_changes_the_settings(org):
    accountant = factories.staff(org, email="compta@example.test", role="accountant")
    with pytest.raises(PermissionDenied):
        services.update_billing_settings(
            organisation=org, actor=accountant, bill_day=3, collection_day=22, time_zone="America/Toronto"
        )
    assert selectors.billing_settings(org).bill_day == 2


def test_run_days_are_in_order_and_both_on_one_day_once():
    found = BillingSettings(bill_day=2, collection_day=22)
    assert run_days(found, datetime.date(2026, 1, 2), datetime.date(2026, 3, 2)) == [
        datetime.date(2026, 1, 22),
        datetime.date(2026, 2, 2),
        datetime.date(2026, 2, 22),
        datetime.date(2026, 3, 2),
    ]
    same = BillingSettings(bill_day=5, collection_day=5)
    assert run_days(same, datetime.date(2026, 1, 1), datetime.date(2026, 2, 28)) == [
        datetime.date(2026, 1, 5),
        datetime.date(2026, 2, 5),
    ]


def test_a_month_on_the_clock_bills_on_the_2nd_then_collects_on_the_22nd(org):
    customer = customer_with_card(org)
    product = monthly_product(org, price="30.00")
    subscription(customer, product, started_on=START)
    result = services.advance_test_clock(organisation=org, actor=SYSTEM, to=datetime.date(2026, 2, 22))
    assert [(step.kind, step.on) for step in result.steps] == [
        (BillingRun.Kind.COLLECTION, datetime.date(2026, 1, 22)),
        (BillingRun.Kind.BILLING, datetime.date(2026, 2, 2)),
        # The reminder three days before the due date (the dunning schedule's default).
        (BillingRun.Kind.DUNNING, datetime.date(2026, 2, 19)),
        (BillingRun.Kind.COLLECTION, datetime.date(2026, 2, 22)),
    ]
    assert result.invoices == 1 and result.charges == 1 and result.failures == 0
    assert selectors.today_for(org) == datetime.date(2026, 2, 22)
    invoice = Invoice.objects.get(organisation=org, customer=customer)
    # January from the 10th (22 days of 31) prorated, then February in full.
    periods = list(BilledPeriod.objects.filter(invoice=invoice).order_by("period_start"))
    assert [(p.period_start, p.period_end, p.prorated) for p in periods] == [
        (datetime.date(2026, 1, 10), datetime.date(2026, 1, 31), True),
        (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28), False),
    ]
    assert periods[1].amount == Decimal("30.00")
    invoice.refresh_from_db()
    assert invoice.amount_due == 0
    assert CollectionAttempt.objects.get(invoice=invoice).outcome == CollectionAttempt.Outcome.CHARGED


def test_a_year_on_the_clock_bills_twelve_months_once_each(org):
    customer = customer_with_card(org)
    sub = subscription(customer, monthly_product(org), started_on=START)
    services.advance_test_clock(organisation=org, actor=SYSTEM, to=datetime.date(2026, 7, 1))
    services.advance_test_clock(organisation=org, actor=SYSTEM, to=datetime.date(2027, 1, 9))
    starts = list(BilledPeriod.objects.filter(subscription=sub).values_list("period_start", flat=True))
    assert starts == sorted(starts) and len(starts) == len(set(starts)) == 13  # Jan part + Feb–Jan
    assert Invoice.objects.filter(organisation=org, customer=customer).count() == 12


def test_the_clock_only_moves_forward_and_at_most_five_years(org):
    for to in (START, START - datetime.timedelta(days=1), datetime.date(1, 1, 1)):
        with pytest.raises(BusinessError) as refused:
            services.advance_test_clock(organisation=org, actor=SYSTEM, to=to)
        assert refused.value.error_code == ErrorCode.INVALID_DATE
    with pytest.raises(BusinessError):
        services.advance_test_clock(organisation=org, actor=SYSTEM, to=datetime.date(9999, 12, 31))
    services.advance_test_clock(organisation=org, actor=SYSTEM, to=datetime.date(2031, 1, 10))
    assert selectors.today_for(org) == datetime.date(2031, 1, 10)
    assert not BillingRun.objects.filter(run_date__gt=datetime.date(2031, 1, 10)).exists()


def test_a_live_organisation_has_no_clock(org):
    payments.disconnect_provider(organisation=org, provider=ProviderName.SANDBOX, actor=SYSTEM)
    with pytest.raises(BusinessError) as refused:
        services.advance_test_clock(organisation=org, actor=SYSTEM, to=datetime.date(2026, 2, 2))
    assert refused.value.error_code == ErrorCode.INVALID_STATE
    assert "mode test" in refused.value.text()
    assert not BillingRun.objects.exists()
    assert selectors.today_for(org) == selectors.real_today(selectors.billing_settings(org))


def test_read_only_staff_cannot_move_the_clock(org):
    reader = factories.staff(org, email="lecture@example.test", role="read_only")
    with pytest.raises(PermissionDenied):
        services.advance_test_clock(organisation=org, actor=reader, to=datetime.date(2026, 2, 2))
    assert selectors.today_for(org) == START


def test_reset_goes_back_to_the_real_date(org):
    services.reset_test_clock(organisation=org, actor=SYSTEM)
    assert selectors.billing_settings(org).test_clock is None
    assert services.reset_test_clock(organisation=org, actor=SYSTEM).test_clock is None
