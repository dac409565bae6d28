"""The merchant's home as a dashboard (issue 16 item 9): what is owed by age, money in and invoices
out per month, the largest overdue customers and the recurring revenue, each figure equal to the
selectors the rest of the product shows."""

import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from acquitte.invoicing.models import Invoice
from acquitte.invoicing.selectors import (
    issued_per_month,
    largest_overdue,
    receivables,
    receivables_by_age,
)
from acquitte.payments import services as payments
from acquitte.payments.selectors import received_per_month
from acquitte.subscriptions.models import Subscription
from acquitte.subscriptions.selectors import monthly_recurring_revenue
from tests import factories

TODAY = timezone.localdate()


def invoice_due(org, customer, days_late: int, price: str = "100.00") -> Invoice:
    """A finalised invoice (net ``price``) whose due date is ``days_late`` days ago."""
    invoice = factories.invoice(org, customer, prices=(price,))
    due = TODAY - datetime.timedelta(days=days_late)
    Invoice.objects.filter(pk=invoice.pk).update(due_date=due, issue_date=min(due, TODAY))
    invoice.refresh_from_db()
    return invoice


@pytest.fixture
def owed(org_qc):
    """Invoices on every side of every band's edge, over two customers."""
    marie, paul = factories.customer(org_qc, name="Marie"), factories.customer(org_qc, name="Paul")
    late = {
        marie: [-10, 0, 1, 30],
        paul: [31, 60, 61, 90, 91, 400],
    }
    return {c: [invoice_due(org_qc, c, d) for d in days] for c, days in late.items()}


def test_what_is_owed_falls_in_one_band_by_days_past_due(org_qc, owed):
    bands = {band.key: band for band in receivables_by_age(org_qc, today=TODAY)}
    counts = {key: band.count for key, band in bands.items()}
    assert counts == {"not_due": 2, "1-30": 2, "31-60": 2, "61-90": 2, "90+": 2}
    total = next(iter(owed.values()))[0].total  # every invoice is the same
    assert all(band.amount == total * band.count for band in bands.values())
    customers = list(owed)
    assert sum(b.amount for b in bands.values()) == sum(
        receivables(c, today=TODAY).amount_due for c in customers
    )
    overdue = sum(b.amount for k, b in bands.items() if k != "not_due")
    assert overdue == sum(receivables(c, today=TODAY).overdue_amount for c in customers)


def test_a_partly_paid_invoice_counts_what_is_left_and_a_paid_one_nothing(org_qc, owed):
    marie = next(iter(owed))
    payments.record_payment(
        organisation=org_qc,
        customer=marie,
        amount="20.00",
        method="bank_transfer",
        actor=factories.SYSTEM,
        invoice=owed[marie][2],
    )
    bands = {band.key: band for band in receivables_by_age(org_qc, today=TODAY)}
    assert bands["1-30"].amount == 2 * owed[marie][2].total - Decimal("20.00")
    assert sum(b.amount for b in bands.values()) == sum(receivables(c, today=TODAY).amount_due for c in owed)


def test_largest_overdue_customers_with_since_when(org_qc, owed):
    paul = list(owed)[1]
    first, second = largest_overdue(org_qc, today=TODAY)
    assert (first.name, first.invoices, first.oldest_due_date) == (
        "Paul",
        6,
        TODAY - datetime.timedelta(days=400),
    )
    assert first.amount == receivables(paul, today=TODAY).overdue_amount
    assert (second.name, second.invoices) == ("Marie", 2)  # due today or later is not late


def test_months_are_the_last_twelve_with_the_empty_ones_at_zero(org_qc, customer_qc):
    invoice = factories.invoice(org_qc, customer_qc, prices=("250.00",))
    payment = payments.record_payment(
        organisation=org_qc,
        customer=customer_qc,
        amount=invoice.total,
        method="bank_transfer",
        actor=factories.SYSTEM,
    )
    issued = issued_per_month(org_qc, today=TODAY)
    received = received_per_month(org_qc, today=TODAY)
    assert [m.month for m in issued] == [m.month for m in received]
    assert len(issued) == 12 and issued[-1].month == TODAY.replace(day=1)
    assert issued[0].month < issued[1].month and issued[0].amount == 0
    assert (issued[-1].amount, issued[-1].count) == (invoice.total, 1)
    assert (received[-1].amount, received[-1].count) == (payment.amount, 1)


def test_month_starts_cross_the_year():
    from acquitte.core.months import month_starts

    assert month_starts(datetime.date(2027, 2, 28), 3) == [
        datetime.date(2026, 12, 1),
        datetime.date(2027, 1, 1),
        datetime.date(2027, 2, 1),
    ]


def test_recurring_revenue_counts_a_yearly_subscription_for_a_twelfth(org_qc, customer_qc):
    assert monthly_recurring_revenue(org_qc) is None  # nothing to show without subscriptions
    product = factories.product(org_qc)
    site = customer_qc.sites.create(name="Siège", line1="1 rue A", city="Montréal", country="CA")
    for period, quantity, price, status in [
        (Subscription.Period.MONTHLY, "2", "49.95", Subscription.Status.ACTIVE),
        (Subscription.Period.YEARLY, "1", "1200.00", Subscription.Status.ACTIVE),
        (Subscription.Period.MONTHLY, "1", "500.00", Subscription.Status.CANCELLED),
    ]:
        Subscription.objects.create(
            organisation=org_qc,
            customer=customer_qc,
            site=site,
            product=product,
            description="Hébergement",
            quantity=Decimal(quantity),
            unit_price=Decimal(price),
            period=period,
            started_on=TODAY,
            status=status,
        )
    assert monthly_recurring_revenue(org_qc) == Decimal("199.90")


def test_the_home_page_draws_the_charts_with_their_tables(client, org_qc, owed):
    other = factories.french_organisation("autre-atelier")
    invoice_due(other, factories.customer(other), 45, price="9999.00")  # another tenant's: not counted
    client.force_login(factories.staff(org_qc))
    page = client.get("/gestion/").content.decode()
    assert page.count('src="data:image/svg+xml;base64,') == 3
    assert "Pas échu" in page and "+ de 90 j" in page and "Paul" in page
    total = sum(b.amount for b in receivables_by_age(org_qc, today=TODAY))
    assert "9999" not in page and "9 999" not in page
    assert f"{total:,.2f}".replace(",", "\xa0").replace(".", ",") in page  # French grouping
    english = client.get("/gestion/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Not due" in english and "Largest overdue" in english
