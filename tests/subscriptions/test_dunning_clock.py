"""With the test clock (issue 13, "Tests that must exist"): a domain's renewal is charged on its
date; a declined card goes through the reminders, then the retries, then suspension; paying by
card reactivates the domain at once, its reactivation fee paid with it, and the merchant's
systems hear each change (webhook deliveries logged)."""

import datetime

import pytest

from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage, WebhookDelivery, WebhookEndpoint
from acquitte.payments import services as payments
from acquitte.payments.models import PaymentMethod
from acquitte.subscriptions import dunning_selectors, renewal_selectors, services
from acquitte.subscriptions.models import (
    BilledPeriod,
    BillingRun,
    BillingSettings,
    CollectionAttempt,
    DunningStep,
    Service,
    ServiceRenewal,
)
from tests import factories
from tests.subscriptions import builders
from tests.subscriptions.domain_builders import domain_product, service

SYSTEM = builders.SYSTEM
START = datetime.date(2027, 2, 1)
EXPIRES = datetime.date(2027, 3, 1)
DECLINED = "4000000000000002"
Kind = DunningStep.Kind


def on(offset: int) -> datetime.date:
    return EXPIRES + datetime.timedelta(days=offset)


def advance(org, to):
    return services.advance_test_clock(organisation=org, actor=SYSTEM, to=to)


@pytest.fixture
def org(org_qc):
    factories.staff(org_qc)
    BillingSettings.objects.update_or_create(organisation=org_qc, defaults={"test_clock": START})
    WebhookEndpoint.objects.create(
        organisation=org_qc, url="https://hooks.example/acquitte", secret="whsec_x"
    )
    fee = factories.product(org_qc, sku="REACT", price="15.00", name="Frais de réactivation")
    services.update_dunning_settings(organisation=org_qc, actor=SYSTEM, reactivation_fee=fee)
    return org_qc


def first_year_paid(domain) -> None:
    """The domain's first year, billed and paid when its order completed (the billing run's part)."""
    org, customer, sub = domain.organisation, domain.customer, domain.subscription
    first = factories.invoice(org, customer, prices=(str(sub.unit_price),))
    payments.record_payment(
        organisation=org, customer=customer, amount=first.total, method="cheque", actor=SYSTEM, invoice=first
    )
    BilledPeriod.objects.create(
        organisation=org,
        subscription=sub,
        period_start=sub.started_on,
        period_end=EXPIRES - datetime.timedelta(days=1),
        quantity=sub.quantity,
        unit_price=sub.unit_price,
        amount=sub.unit_price,
        invoice=first,
    )


def test_a_declined_renewal_is_reminded_retried_suspended_and_reactivated_at_once_by_card(org):
    customer = builders.customer_with_card(org, sites=1, card=DECLINED, email="client@exemple.ca")
    card = customer.payment_methods.get()
    domain = service(
        customer,
        domain_product(org),
        name="exemple.ca",
        expires_on=EXPIRES,
        recurring=True,
        payment_method=card,
    )
    first_year_paid(domain)
    # The renewal is charged on the expiry date, and declined.
    moved = advance(org, EXPIRES)
    assert BillingRun.Kind.RENEWAL in {step.kind for step in moved.steps}
    invoice = ServiceRenewal.objects.get(service=domain).invoice
    assert invoice.due_date == EXPIRES
    charged = CollectionAttempt.objects.get(invoice=invoice, collection_date=EXPIRES)
    assert charged.outcome == CollectionAttempt.Outcome.FAILED
    # Reminders, then the retries (declined again), then suspension on the 15th day.
    advance(org, on(14))
    domain.refresh_from_db()
    assert domain.status != Service.Status.SUSPENDED
    advance(org, on(16))
    done = list(
        DunningStep.objects.filter(invoice=invoice)
        .order_by("done_on", "offset_days", "id")
        .values_list("kind", "offset_days", "done_on", "outcome")
    )
    assert done == [
        (Kind.REMINDER_BEFORE, -3, on(-3), "done"),
        (Kind.REMINDER, 1, on(1), "done"),
        (Kind.CARD_RETRY, 3, on(3), "failed"),
        (Kind.CARD_RETRY, 7, on(7), "failed"),  # the card first: a success would stop the reminder
        (Kind.REMINDER, 7, on(7), "done"),
        (Kind.REMINDER, 14, on(14), "done"),
        (Kind.SUSPENSION, 15, on(15), "done"),
    ]
    assert list(
        CollectionAttempt.objects.filter(invoice=invoice, run__kind=BillingRun.Kind.DUNNING)
        .order_by("collection_date")
        .values_list("collection_date", "outcome")
    ) == [(on(3), "failed"), (on(7), "failed")]
    domain.refresh_from_db()
    assert (domain.status, domain.suspension_reason) == (
        Service.Status.SUSPENDED,
        Service.SuspensionReason.OVERDUE,
    )
    react = domain.suspensions.get().reactivation_invoice
    assert react is not None and react.status == Invoice.Status.OPEN
    assert OutboundMessage.objects.filter(to=customer.email, kind="service_suspended").count() == 1
    # A good card, and the customer pays what is due: the domain is active at once.
    good = payments.add_card(
        customer=customer,
        holder="Marie Roy",
        number="4242424242424242",
        cvv="123",
        expiry=builders.NEXT_YEAR,
        actor=SYSTEM,
    )
    assert good.kind == PaymentMethod.Kind.CARD
    factories.pay_saved(invoice, good, key="reactivation-renouvellement")
    domain.refresh_from_db()
    assert domain.status == Service.Status.SUSPENDED  # the reactivation fee is still due
    factories.pay_saved(react, good, key="reactivation-frais")
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE
    assert domain.expires_on == datetime.date(2028, 3, 1)
    assert [line.description for line in react.lines.all()] == ["Frais de réactivation — exemple.ca"]
    react.refresh_from_db()
    assert react.status == Invoice.Status.PAID
    hooks = list(
        WebhookDelivery.objects.filter(organisation=org).order_by("id").values_list("event_type", flat=True)
    )
    assert "service.suspended" in hooks and "service.unsuspended" in hooks and "service.renewed" in hooks
    assert hooks.index("service.suspended") < hooks.index("service.unsuspended")
    # Nothing more is done for the paid invoice.
    advance(org, on(70))
    assert not DunningStep.objects.filter(invoice=invoice, done_on__gt=on(16)).exists()
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE


def test_the_clock_jumps_to_exactly_the_days_a_daily_walk_finds_something_due(org):
    """Renewals and dunning asked for their next day (what the clock does) against asking every
    day (what it did): the same days, a declined renewal, a card expiring and a second domain."""
    customer = builders.customer_with_card(org, sites=1, card=DECLINED, email="client@exemple.ca")
    card = customer.payment_methods.get()
    PaymentMethod.objects.filter(pk=card.pk).update(exp_month=4, exp_year=2027)
    product = domain_product(org)
    first_year_paid(
        service(customer, product, name="exemple.ca", expires_on=EXPIRES, recurring=True, payment_method=card)
    )
    service(customer, product, name="second.ca", expires_on=on(40))
    day, end, fired = START, on(120), []
    while True:
        jumps = [renewal_selectors.next_renewal_day(org, day), dunning_selectors.next_dunning_day(org, day)]
        jump = min((d for d in jumps if d is not None and d <= end), default=None)
        walk = next(
            (
                d
                for d in (day + datetime.timedelta(days=n) for n in range(1, (end - day).days + 1))
                if renewal_selectors.renewal_due(org, d) or dunning_selectors.dunning_due(org, d)
            ),
            None,
        )
        assert jump == walk, (day, jump, walk)
        if walk is None:
            break
        services.run_renewals(organisation=org, as_of=walk, actor=SYSTEM)
        services.run_dunning(organisation=org, as_of=walk, actor=SYSTEM)
        fired.append(walk)
        day = walk
    card_notices = [datetime.date(2027, 3, 31), datetime.date(2027, 4, 23)]  # 30 and 7 days before
    assert {on(-14), EXPIRES, on(15), on(26), on(41)} | set(card_notices) <= set(fired)
    assert len(fired) < 30, fired
