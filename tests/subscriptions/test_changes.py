"""Changes in the middle of a period (issue 18 item 3): prorated charges and credits by the day,
the preview equal to what is written, bad input refused with nothing saved."""

import datetime
import threading
import time
from decimal import Decimal
from unittest import mock

import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from acquitte.catalog.models import Product
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction, AuditLog
from acquitte.invoicing.models import Invoice, InvoiceLine
from acquitte.subscriptions import change_plan, selectors, services
from acquitte.subscriptions.models import Adjustment, BilledPeriod, Subscription
from tests import factories
from tests.subscriptions.builders import customer_with_card, monthly_product, subscription
from tests.test_actors import snapshot

SYSTEM = factories.SYSTEM
D = datetime.date
JAN_15, JAN_20, FEB_2, FEB_10, MAR_2 = (
    D(2026, 1, 15),
    D(2026, 1, 20),
    D(2026, 2, 2),
    D(2026, 2, 10),
    D(2026, 3, 2),
)
CHARGE, CREDIT = Adjustment.Kind.CHARGE, Adjustment.Kind.CREDIT
FEB_1, FEB_28 = D(2026, 2, 1), D(2026, 2, 28)


@pytest.fixture
def phone(org_qc):
    return monthly_product(org_qc, sku="TEL-1", price="31.00", name="Téléphonie IP")


@pytest.fixture
def customer(org_qc):
    return customer_with_card(org_qc, sites=1)


@pytest.fixture
def staff(org_qc):
    return factories.staff(org_qc)


def clock(org, day: datetime.date) -> None:
    found = selectors.billing_settings(org)
    found.test_clock = day
    found.save(update_fields=["test_clock"])


def bill(org, as_of):
    return services.run_billing(organisation=org, as_of=as_of, actor=SYSTEM)


def billed_in_february(org, customer, product, quantity="1") -> Subscription:
    """Started on 15 January, billed on 2 February (15–31 January and February), today 10 February."""
    sub = subscription(customer, product, started_on=JAN_15, quantity=quantity)
    bill(org, FEB_2)
    assert list(BilledPeriod.objects.filter(subscription=sub).values_list("period_start", "period_end")) == [
        (JAN_15, D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
    ]
    clock(org, FEB_10)
    return sub


def adjustments(sub) -> list[tuple]:
    return list(
        Adjustment.objects.filter(subscription=sub)
        .order_by("id")
        .values_list("kind", "quantity", "unit_price", "amount", "period_start", "period_end")
    )


def as_preview(kind, amount, days, period_days=28, start=FEB_1, end=FEB_28):
    return selectors.ChangePreview(
        kind=kind,
        amount=Decimal(amount),
        days=days,
        period_days=period_days,
        period_start=start,
        period_end=end,
    )


# --- quantity ---


def test_quantity_up_in_a_billed_month_charges_the_rest_of_it(org_qc, customer, phone, staff):
    sub = billed_in_february(org_qc, customer, phone)
    # 31.00 × 19/28 (10–28 February) = 21.0357… → 21.04 a unit, two more units
    expected = as_preview(CHARGE, "42.08", 19)
    assert selectors.preview_quantity_change(sub, "3") == expected
    changed = services.change_quantity(subscription=sub, quantity="3", actor=staff)
    assert changed.quantity == Decimal("3")
    assert adjustments(sub) == [
        (CHARGE, Decimal("2"), Decimal("21.04"), Decimal("42.08"), FEB_10, D(2026, 2, 28)),
    ]
    adjustment = Adjustment.objects.get(subscription=sub)
    assert adjustment.corrects.period_start == D(2026, 2, 1)
    assert "prorata 19/28 jours" in adjustment.description
    audit = AuditLog.objects.filter(object_id=str(sub.pk), action=AuditAction.UPDATE).get()
    assert audit.detail["change"] == "quantity" and audit.detail["effective_on"] == "2026-02-10"
    # the next run bills the charge once, and March at the new quantity
    bill(org_qc, MAR_2)
    bill(org_qc, MAR_2)
    adjustment.refresh_from_db()
    assert adjustment.invoice is not None
    march = BilledPeriod.objects.get(subscription=sub, period_start=D(2026, 3, 1))
    assert march.invoice_id == adjustment.invoice_id
    assert (march.quantity, march.amount) == (Decimal("3"), Decimal("93.00"))


def test_quantity_down_in_a_billed_month_credits_the_rest_of_it(org_qc, customer, phone):
    sub = billed_in_february(org_qc, customer, phone, quantity="3")
    assert selectors.preview_quantity_change(sub, "1") == as_preview(CREDIT, "42.08", 19)
    services.change_quantity(subscription=sub, quantity="1", actor=SYSTEM)
    assert adjustments(sub) == [
        (CREDIT, Decimal("2"), Decimal("21.04"), Decimal("42.08"), FEB_10, D(2026, 2, 28)),
    ]


def test_a_change_in_a_month_not_yet_billed_writes_nothing_and_the_run_bills_the_new_quantity(
    org_qc, customer, phone
):
    sub = subscription(customer, phone, started_on=JAN_15)
    clock(org_qc, JAN_20)
    preview = selectors.preview_quantity_change(sub, "2")
    assert (preview.kind, preview.amount, preview.days) == (None, Decimal("0.00"), 12)
    services.change_quantity(subscription=sub, quantity="2", actor=SYSTEM)
    assert adjustments(sub) == []
    bill(org_qc, FEB_2)
    assert {b.quantity for b in BilledPeriod.objects.filter(subscription=sub)} == {Decimal("2")}


def test_the_same_quantity_changes_nothing(org_qc, customer, phone):
    sub = billed_in_february(org_qc, customer, phone)
    before = snapshot()
    services.change_quantity(subscription=sub, quantity="1.000", actor=SYSTEM)
    assert snapshot() == before


def test_a_yearly_subscription_is_prorated_over_its_year(org_qc, customer):
    yearly = factories.product(org_qc, sku="HEB-1", price="365.00", kind=Product.Kind.YEARLY)
    sub = subscription(customer, yearly, started_on=JAN_15, period=Subscription.Period.YEARLY)
    bill(org_qc, FEB_2)
    clock(org_qc, D(2026, 7, 15))
    # 15 July 2026 – 14 January 2027: 184 of 365 days
    expected = as_preview(CHARGE, "184.00", 184, 365, JAN_15, D(2027, 1, 14))
    assert selectors.preview_quantity_change(sub, "2") == expected
    services.change_quantity(subscription=sub, quantity="2", actor=SYSTEM)
    assert adjustments(sub) == [
        (CHARGE, Decimal("1"), Decimal("184.00"), Decimal("184.00"), D(2026, 7, 15), D(2027, 1, 14))
    ]


# --- product and catalogue price ---


def test_change_of_product_credits_the_old_and_charges_the_new(org_qc, customer, phone):
    pro = monthly_product(org_qc, sku="TEL-PRO", price="56.00", name="Téléphonie Pro")
    sub = billed_in_february(org_qc, customer, phone)
    # credit 31 × 19/28 = 21.04, charge 56 × 19/28 = 38.00: net 16.96
    assert selectors.preview_product_change(sub, pro) == as_preview(CHARGE, "16.96", 19)
    changed = services.change_product(subscription=sub, product=pro, actor=SYSTEM)
    assert (changed.product, changed.unit_price, changed.description) == (
        pro,
        Decimal("56.00"),
        "Téléphonie Pro",
    )
    assert adjustments(sub) == [
        (CREDIT, Decimal("1"), Decimal("21.04"), Decimal("21.04"), FEB_10, D(2026, 2, 28)),
        (CHARGE, Decimal("1"), Decimal("38.00"), Decimal("38.00"), FEB_10, D(2026, 2, 28)),
    ]
    # a later change in the same billed month is priced at the new product's price
    clock(org_qc, D(2026, 2, 15))
    services.change_quantity(subscription=sub, quantity="2", actor=SYSTEM)
    assert adjustments(sub)[-1] == (
        CHARGE,
        Decimal("1"),
        Decimal("28.00"),
        Decimal("28.00"),
        D(2026, 2, 15),
        D(2026, 2, 28),
    )


def test_a_change_of_product_credits_with_the_old_products_tax_and_charges_with_the_new(
    org_qc, customer, phone
):
    """The credit undoes what was billed (GST and QST); the new, exempt product is charged untaxed."""
    exempt = monthly_product(
        org_qc, sku="TEL-EX", price="56.00", name="Téléphonie exonérée", category_code="exempt"
    )
    sub = billed_in_february(org_qc, customer, phone)
    services.change_product(subscription=sub, product=exempt, actor=SYSTEM)
    credit, charge = Adjustment.objects.filter(subscription=sub).order_by("id")
    assert (credit.kind, credit.product, charge.kind, charge.product) == (CREDIT, phone, CHARGE, exempt)
    bill(org_qc, MAR_2)
    credit.refresh_from_db(), charge.refresh_from_db()
    credit_line = InvoiceLine.objects.get(invoice=credit.invoice)
    charge_line = InvoiceLine.objects.get(invoice=charge.invoice, net_amount=charge.amount)
    assert (credit.invoice.kind, credit_line.tax_category.code, credit_line.product) == (
        Invoice.Kind.CREDIT_NOTE,
        "qc",
        phone,
    )
    assert (charge_line.tax_category.code, charge_line.product) == ("exempt", exempt)
    assert credit.invoice.tax_total > 0 and charge.invoice.tax_total == 0


def test_a_catalogue_price_applies_to_periods_not_yet_billed_only(org_qc, customer, phone):
    sub = billed_in_february(org_qc, customer, phone)
    paused = subscription(customer, phone, started_on=JAN_15, status=Subscription.Status.PAUSED)
    cancelled = subscription(customer, phone, started_on=JAN_15, status=Subscription.Status.CANCELLED)
    phone.unit_price = Decimal("40.00")
    phone.save(update_fields=["unit_price"])
    assert services.follow_catalogue_price(product=phone, actor=SYSTEM) == 2
    assert services.follow_catalogue_price(product=phone, actor=SYSTEM) == 0
    sub.refresh_from_db(), paused.refresh_from_db(), cancelled.refresh_from_db()
    assert (sub.unit_price, paused.unit_price, cancelled.unit_price) == (
        Decimal("40.00"),
        Decimal("40.00"),
        Decimal("31.00"),
    )
    # February was billed at 31.00: its correction keeps that price
    services.change_quantity(subscription=sub, quantity="2", actor=SYSTEM)
    assert adjustments(sub) == [
        (CHARGE, Decimal("1"), Decimal("21.04"), Decimal("21.04"), FEB_10, D(2026, 2, 28))
    ]
    bill(org_qc, MAR_2)
    march = BilledPeriod.objects.get(subscription=sub, period_start=D(2026, 3, 1))
    assert (march.unit_price, march.amount) == (Decimal("40.00"), Decimal("80.00"))


# --- cancellation ---


def test_cancel_now_credits_the_billed_days_after_the_last_day(org_qc, customer, phone):
    sub = billed_in_february(org_qc, customer, phone)
    # the last day of service is today (10 February): 11–28 February credited, 31 × 18/28 = 19.93
    assert selectors.preview_cancellation(sub, at_period_end=False) == as_preview(CREDIT, "19.93", 18)
    cancelled = services.cancel_subscription(subscription=sub, at_period_end=False, actor=SYSTEM)
    assert (cancelled.status, cancelled.ends_on) == (Subscription.Status.CANCELLED, FEB_10)
    assert cancelled.cancelled_at is not None
    assert adjustments(sub) == [
        (CREDIT, Decimal("1"), Decimal("19.93"), Decimal("19.93"), D(2026, 2, 11), D(2026, 2, 28))
    ]
    bill(org_qc, MAR_2)
    assert not BilledPeriod.objects.filter(subscription=sub, period_start__gte=D(2026, 3, 1)).exists()
    assert Adjustment.objects.get(subscription=sub).invoice is not None, "the credit went on a credit note"


def test_cancel_at_period_end_credits_nothing_and_bills_up_to_the_end_only(org_qc, customer, phone):
    sub = billed_in_february(org_qc, customer, phone)
    preview = selectors.preview_cancellation(sub, at_period_end=True)
    assert (preview.kind, preview.amount, preview.period_end) == (None, Decimal("0.00"), D(2026, 2, 28))
    kept = services.cancel_subscription(subscription=sub, at_period_end=True, actor=SYSTEM)
    assert (kept.status, kept.ends_on) == (Subscription.Status.ACTIVE, D(2026, 2, 28))
    assert adjustments(sub) == []
    for day in (MAR_2, D(2026, 4, 2), D(2026, 12, 2)):
        bill(org_qc, day)
    assert BilledPeriod.objects.filter(subscription=sub).count() == 2
    with pytest.raises(BusinessError) as refused:
        services.cancel_subscription(subscription=sub, at_period_end=True, actor=SYSTEM)
    assert refused.value.error_code == ErrorCode.INVALID_STATE


def test_cancel_at_period_end_before_the_bill_day_bills_that_month_and_not_the_next(org_qc, customer, phone):
    sub = subscription(customer, phone, started_on=JAN_15)
    clock(org_qc, JAN_20)
    services.cancel_subscription(subscription=sub, at_period_end=True, actor=SYSTEM)
    bill(org_qc, FEB_2)
    bill(org_qc, MAR_2)
    assert list(BilledPeriod.objects.filter(subscription=sub).values_list("period_start", "period_end")) == [
        (JAN_15, D(2026, 1, 31))
    ]


# --- pause ---


def test_pause_and_resume(org_qc, customer, phone, staff):
    sub = billed_in_february(org_qc, customer, phone)
    paused = services.pause_subscription(subscription=sub, actor=staff)
    assert paused.status == Subscription.Status.PAUSED
    with pytest.raises(BusinessError):
        services.pause_subscription(subscription=sub, actor=staff)
    resumed = services.resume_subscription(subscription=sub, actor=staff)
    assert resumed.status == Subscription.Status.ACTIVE
    moves = AuditLog.objects.filter(object_id=str(sub.pk), action=AuditAction.TRANSITION).order_by("id")
    assert [(m.from_state, m.to_state) for m in moves] == [("active", "paused"), ("paused", "active")]


# --- the preview is what the service writes ---


@pytest.fixture
def billed(org_qc, customer, phone):
    return billed_in_february(org_qc, customer, phone, quantity="2")


def written_net(sub) -> Decimal:
    found = Adjustment.objects.filter(subscription=sub)
    return sum((a.amount if a.kind == CHARGE else -a.amount for a in found), Decimal("0.00"))


@settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    day=st.integers(min_value=1, max_value=28),
    quantity=st.decimals(min_value=Decimal("0.001"), max_value=Decimal("50"), places=3),
    price=st.decimals(min_value=Decimal("0.00"), max_value=Decimal("500"), places=2),
    change=st.sampled_from(["quantity", "product", "cancel_now", "cancel_at_period_end"]),
)
def test_the_preview_is_what_the_service_writes(org_qc, billed, day, quantity, price, change):
    with transaction.atomic():
        clock(org_qc, D(2026, 2, day))
        other = monthly_product(org_qc, sku="TEL-X", price=str(price), name="Téléphonie X")
        if change == "quantity":
            preview = selectors.preview_quantity_change(billed, quantity)
            services.change_quantity(subscription=billed, quantity=quantity, actor=SYSTEM)
        elif change == "product":
            preview = selectors.preview_product_change(billed, other)
            services.change_product(subscription=billed, product=other, actor=SYSTEM)
        else:
            at_end = change == "cancel_at_period_end"
            preview = selectors.preview_cancellation(billed, at_period_end=at_end)
            services.cancel_subscription(subscription=billed, at_period_end=at_end, actor=SYSTEM)
        net = written_net(billed)
        sign = {CHARGE: 1, CREDIT: -1, None: 0}[preview.kind]
        assert net == sign * preview.amount
        assert (preview.period_start, preview.period_end) == (FEB_1, FEB_28)
        transaction.set_rollback(True)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_changes_at_once_apply_one_after_the_other(org_qc, customer, phone):
    """Each change reads the quantity under the subscription's row lock: the adjustments add up to
    the difference between the first and the last quantity, whichever change went first."""
    sub = billed_in_february(org_qc, customer, phone, quantity="2")
    history = change_plan.change_history

    def slow_history(subscription):
        time.sleep(0.3)  # both changes are in flight together
        return history(subscription)

    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def change(quantity: str) -> None:
        try:
            start.wait()
            services.change_quantity(subscription=sub, quantity=quantity, actor=SYSTEM)
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
        finally:
            connection.close()

    with mock.patch.object(change_plan, "change_history", slow_history):
        threads = [threading.Thread(target=change, args=(q,)) for q in ("3", "5")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == []
    sub.refresh_from_db()
    assert sub.quantity in {Decimal("3"), Decimal("5")}
    assert written_net(sub) == (sub.quantity - 2) * Decimal("21.04")
    assert Adjustment.objects.filter(subscription=sub).count() == 2


# --- bad input ---


def refusals(org_qc, customer, phone, sub):
    other_org = factories.french_organisation()
    foreign = factories.product(other_org, sku="TEL-FR", price="10.00", kind=Product.Kind.MONTHLY)
    one_time = factories.product(org_qc, sku="INST", price="99.00", kind=Product.Kind.ONE_TIME)
    yearly = factories.product(org_qc, sku="HEB", price="99.00", kind=Product.Kind.YEARLY)
    retired = monthly_product(org_qc, sku="OLD", price="9.00", active=False)
    ended = subscription(
        customer, phone, started_on=JAN_15, status=Subscription.Status.CANCELLED, ends_on=FEB_10
    )

    def quantity(value, on=None, target=sub):
        return lambda: services.change_quantity(
            subscription=target, quantity=value, effective_on=on, actor=SYSTEM
        )

    def product(value):
        return lambda: services.change_product(subscription=sub, product=value, actor=SYSTEM)

    return [
        (quantity("0"), ErrorCode.INVALID_INPUT),
        (quantity("-1"), ErrorCode.INVALID_INPUT),
        (quantity("1.0005"), ErrorCode.INVALID_INPUT),
        (quantity("1000000000"), ErrorCode.INVALID_INPUT),
        (quantity("beaucoup"), ErrorCode.INVALID_AMOUNT),
        (quantity("2", on=D(2026, 1, 14)), ErrorCode.INVALID_DATE),
        (quantity("2", on=D(1, 1, 1)), ErrorCode.INVALID_DATE),
        (quantity("2", on=D(9999, 12, 31)), ErrorCode.INVALID_DATE),
        (quantity("2", on=D(2026, 3, 1)), ErrorCode.INVALID_DATE),
        (quantity("2", target=ended), ErrorCode.INVALID_STATE),
        (quantity("900000000"), ErrorCode.INVALID_AMOUNT),
        (product(foreign), ErrorCode.NOT_FOUND),
        (product(one_time), ErrorCode.INVALID_INPUT),
        (product(yearly), ErrorCode.INVALID_INPUT),
        (product(retired), ErrorCode.INVALID_INPUT),
        (lambda: services.resume_subscription(subscription=sub, actor=SYSTEM), ErrorCode.INVALID_STATE),
        (lambda: services.pause_subscription(subscription=ended, actor=SYSTEM), ErrorCode.INVALID_STATE),
        (
            lambda: services.cancel_subscription(subscription=ended, at_period_end=False, actor=SYSTEM),
            ErrorCode.INVALID_STATE,
        ),
        (
            lambda: services.cancel_subscription(
                subscription=sub, at_period_end=False, effective_on=D(2026, 1, 1), actor=SYSTEM
            ),
            ErrorCode.INVALID_DATE,
        ),
    ]


def test_bad_input_is_refused_and_changes_nothing(org_qc, customer, phone):
    sub = billed_in_february(org_qc, customer, phone)
    cases = refusals(org_qc, customer, phone, sub)
    before = snapshot()
    for call, code in cases:
        with pytest.raises(BusinessError) as refused:
            call()
        assert refused.value.error_code == code
        assert snapshot() == before


def test_a_change_cannot_take_effect_before_one_already_recorded(org_qc, customer, phone):
    sub = billed_in_february(org_qc, customer, phone)
    services.change_quantity(subscription=sub, quantity="2", effective_on=D(2026, 2, 20), actor=SYSTEM)
    before = snapshot()
    with pytest.raises(BusinessError) as refused:
        services.change_quantity(subscription=sub, quantity="3", effective_on=D(2026, 2, 12), actor=SYSTEM)
    assert refused.value.error_code == ErrorCode.INVALID_DATE
    with pytest.raises(BusinessError):
        selectors.preview_cancellation(sub, at_period_end=False, on=D(2026, 2, 12))
    assert snapshot() == before
