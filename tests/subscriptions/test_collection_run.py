"""The collection run of the 22nd (seed 001, issue 18 item 6): once per invoice and collection day."""

import datetime
import io
import itertools
import threading
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.payments import services as payments
from acquitte.payments.models import Payment, SandboxCharge
from acquitte.payments.providers.sandbox import SandboxProvider
from acquitte.subscriptions import selectors, tasks
from acquitte.subscriptions.models import BilledPeriod, BillingRun, BillingSettings, CollectionAttempt
from acquitte.subscriptions.services import collection_key, run_collection
from tests import factories
from tests.subscriptions import builders

SYSTEM = builders.SYSTEM
NOV_2 = datetime.date(2026, 11, 2)
NOV_22 = datetime.date(2026, 11, 22)
DEC_2 = datetime.date(2026, 12, 2)
DEC_22 = datetime.date(2026, 12, 22)
Outcome = CollectionAttempt.Outcome
SKUS = itertools.count(1)


def recurring_invoice(org, customer, *, issued=NOV_2, price="30.00") -> Invoice:
    """An invoice as the billing run leaves it: finalised on the bill day, one billed period on it."""
    product = builders.monthly_product(org, sku=f"TEL-{next(SKUS)}", price=price)
    subscription = builders.subscription(customer, product, started_on=issued.replace(day=1))
    invoice = factories.invoice(org, customer, prices=(price,), finalise=False)
    invoice = invoicing.finalise_invoice(invoice=invoice, actor=SYSTEM, issue_date=issued)
    BilledPeriod.objects.create(
        organisation=org,
        subscription=subscription,
        period_start=issued.replace(day=1),
        period_end=issued.replace(day=28),
        quantity=Decimal(1),
        unit_price=Decimal(price),
        amount=Decimal(price),
        invoice=invoice,
    )
    return invoice


def many_customers(org, n):
    return [
        builders.customer_with_card(org, sites=1, name=f"Client {k}", email=f"c{k}@x.test") for k in range(n)
    ]


@pytest.fixture
def org(org_qc):
    factories.staff(org_qc)
    return org_qc


@pytest.fixture
def customer(org):
    return builders.customer_with_card(org)


def collect(org, on=NOV_22, **kwargs):
    return run_collection(organisation=org, as_of=on, actor=SYSTEM, **kwargs)


def attempts(invoice):
    return list(CollectionAttempt.objects.filter(invoice=invoice).values_list("collection_date", "outcome"))


def test_a_second_run_the_same_day_charges_nothing(org, customer):
    invoice = recurring_invoice(org, customer)
    first = collect(org)
    second = collect(org)
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert SandboxCharge.objects.filter(idempotency_key=collection_key(invoice.pk, NOV_22)).count() == 1
    assert SandboxCharge.objects.count() == 1
    assert attempts(invoice) == [(NOV_22, Outcome.CHARGED)]
    assert (first.charges, first.invoices, first.total, first.failures) == (1, 1, invoice.total, 0)
    assert (second.charges, second.invoices) == (0, 0)
    assert first.run.kind == BillingRun.Kind.COLLECTION and first.run.status == BillingRun.Status.SUCCEEDED
    assert (first.run.charges, first.run.total) == (1, invoice.total)
    assert CollectionAttempt.objects.get(invoice=invoice).payment.status == Payment.Status.SUCCEEDED


def test_all_of_a_customers_open_recurring_invoices_are_charged_not_the_others(org, customer):
    october = recurring_invoice(org, customer, issued=datetime.date(2026, 10, 2), price="12.00")
    november = recurring_invoice(org, customer, price="30.00")
    one_off = factories.invoice(org, customer)  # not from the billing run: paid as the merchant says
    summary = collect(org)
    assert summary.charges == 2 and summary.customers == 1
    for invoice in (october, november):
        invoice.refresh_from_db()
        assert invoice.status == Invoice.Status.PAID
    one_off.refresh_from_db()
    assert one_off.status == Invoice.Status.OPEN
    assert not CollectionAttempt.objects.filter(invoice=one_off).exists()


def test_a_declined_card_is_recorded_and_the_customer_and_staff_told_once(org):
    customer = builders.customer_with_card(org, card="4000000000000002")
    invoice = recurring_invoice(org, customer)
    summary = collect(org)
    attempt = CollectionAttempt.objects.get(invoice=invoice)
    assert attempt.outcome == Outcome.FAILED and attempt.message == "Carte refusée par la banque."
    assert attempt.payment.status == Payment.Status.FAILED
    assert (summary.failures, summary.charges) == (1, 0)
    assert summary.run.status == BillingRun.Status.FAILED
    to_customer = OutboundMessage.objects.filter(to=customer.email, kind="collection_failed")
    assert to_customer.count() == 1
    message = to_customer.get()
    assert invoice.number in message.body and "Carte refusée" in message.body
    assert invoice.public_token in message.body and "/facturation/" in message.link
    assert Notification.objects.filter(organisation=org, kind="payment_failed").count() == 1
    assert not Notification.objects.filter(organisation=org, kind__startswith="collection").exists()
    collect(org)  # the same day again: no second attempt, no second message
    assert to_customer.count() == 1 and SandboxCharge.objects.count() == 1


def test_no_default_method_is_told_and_nothing_charged(org):
    customer = factories.customer(org, name="Sans Carte", email="sans@carte.example")
    invoice = recurring_invoice(org, customer)
    summary = collect(org)
    assert attempts(invoice) == [(NOV_22, Outcome.NO_METHOD)]
    assert not Payment.objects.exists() and not SandboxCharge.objects.exists()
    assert summary.failures == 1 and summary.charges == 0
    email = OutboundMessage.objects.get(to="sans@carte.example", kind="collection_no_method")
    assert "/facturation/" in email.body and invoice.number in email.body
    staff = Notification.objects.get(organisation=org, kind="collection_no_method")
    assert "Sans Carte" in staff.subject
    collect(org)
    assert OutboundMessage.objects.filter(kind="collection_no_method", to="sans@carte.example").count() == 1


def test_an_invoice_with_a_declared_transfer_is_skipped(org, customer):
    declared = recurring_invoice(org, customer, price="40.00")
    other = recurring_invoice(org, customer, price="10.00")
    payments.declare_transfer(
        invoice=declared,
        kind="bank_transfer",
        reference="VIR-1",
        sent_on=datetime.date(2026, 11, 20),
        amount="40.00",
        actor=SYSTEM,
    )
    collect(org)
    assert attempts(declared) == [(NOV_22, Outcome.SKIPPED)]
    assert attempts(other) == [(NOV_22, Outcome.CHARGED)]
    declared.refresh_from_db()
    assert declared.status == Invoice.Status.OPEN
    assert SandboxCharge.objects.count() == 1


def test_a_direct_debit_is_pending_and_not_charged_again_while_it_settles(org):
    customer = factories.customer(org, name="Débit", email="debit@example.test")
    payments.add_bank_account(
        customer=customer,
        holder="Paul Roy",
        scheme="pad",
        institution="006",
        transit="00123",
        account="1234567",
        actor=SYSTEM,
    )
    invoice = recurring_invoice(org, customer)
    summary = collect(org)
    attempt = CollectionAttempt.objects.get(invoice=invoice)
    assert attempt.outcome == Outcome.PENDING and attempt.payment.status == Payment.Status.PROCESSING
    assert summary.charges == 1 and summary.failures == 0
    collect(org, on=DEC_22)  # still settling a month later: no second debit
    assert attempts(invoice) == [(NOV_22, Outcome.PENDING)]
    assert SandboxCharge.objects.count() == 1


def test_a_later_day_without_a_new_collection_day_does_nothing(org, customer):
    recurring_invoice(org, customer)
    collect(org, on=NOV_22)
    later = collect(org, on=datetime.date(2026, 11, 25))
    assert (later.invoices, later.charges) == (0, 0)
    assert later.run.run_date == NOV_22
    assert SandboxCharge.objects.count() == 1


def test_a_missed_collection_day_is_caught_up_the_next_day_once(org, customer):
    invoice = recurring_invoice(org, customer)
    nothing_yet = collect(org, on=datetime.date(2026, 11, 21))
    assert nothing_yet.invoices == 0 and nothing_yet.run.run_date == datetime.date(2026, 10, 22)
    caught_up = collect(org, on=datetime.date(2026, 11, 23))
    again = collect(org, on=datetime.date(2026, 11, 24))
    assert caught_up.charges == 1 and again.charges == 0
    assert attempts(invoice) == [(NOV_22, Outcome.CHARGED)]
    assert SandboxCharge.objects.get().idempotency_key == f"collect-{invoice.pk}-2026-11-22"


def test_an_invoice_waits_for_the_collection_day_after_its_issue(org, customer):
    invoice = recurring_invoice(org, customer, issued=DEC_2)
    assert collect(org, on=datetime.date(2026, 12, 5)).invoices == 0  # Nov 22's run: 20 days to review
    assert collect(org, on=DEC_22).charges == 1
    assert attempts(invoice) == [(DEC_22, Outcome.CHARGED)]


def test_a_failed_invoice_is_attempted_again_on_the_next_collection_day_only(org):
    customer = builders.customer_with_card(org, card="4000000000000002")
    invoice = recurring_invoice(org, customer)
    collect(org, on=NOV_22)
    collect(org, on=datetime.date(2026, 12, 1))
    card = payments.add_card(
        customer=customer,
        holder="Marie Roy",
        number="4242424242424242",
        cvv="123",
        expiry=builders.NEXT_YEAR,
        actor=SYSTEM,
    )
    assert card.is_default
    collect(org, on=DEC_22)
    assert sorted(attempts(invoice)) == [(NOV_22, Outcome.FAILED), (DEC_22, Outcome.CHARGED)]
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID


def test_a_claim_cut_short_is_taken_up_once_with_its_key(org, customer):
    invoice = recurring_invoice(org, customer)
    CollectionAttempt.objects.create(
        organisation=org, invoice=invoice, collection_date=NOV_22, outcome=Outcome.PENDING
    )
    assert collect(org).charges == 0  # a claim in flight (another run's): left alone
    CollectionAttempt.objects.filter(invoice=invoice).update(
        created_at=timezone.now() - datetime.timedelta(hours=1)
    )
    assert collect(org).charges == 1
    assert collect(org).charges == 0
    assert attempts(invoice) == [(NOV_22, Outcome.CHARGED)]
    assert SandboxCharge.objects.count() == 1


def test_chunks_of_customers_count_into_one_run(org):
    invoices = [recurring_invoice(org, customer) for customer in many_customers(org, 5)]
    seen: list[tuple[int, int]] = []
    summary = collect(org, chunk_size=2, progress=lambda done, total: seen.append((done, total)))
    assert summary.run.chunks_total == 3 and summary.run.chunks_done == 3
    assert (summary.run.customers, summary.run.invoices, summary.run.charges) == (5, 5, 5)
    assert summary.total == sum(inv.total for inv in invoices)
    assert seen[-1] == (5, 5)


def test_the_preview_shows_each_customer_and_method_and_writes_nothing(org, customer):
    invoice = recurring_invoice(org, customer)
    nobody = factories.customer(org, name="Sans Carte", email="sans@carte.example")
    recurring_invoice(org, nobody, price="5.00")
    BillingSettings.objects.get_or_create(organisation=org)
    before = (CollectionAttempt.objects.count(), Payment.objects.count(), BillingRun.objects.count())
    rows = {row.customer.pk: row for row in selectors.preview_collection(org, NOV_22)}
    assert rows[customer.pk].amount == invoice.total and rows[customer.pk].method.is_default
    assert rows[customer.pk].invoices == [invoice]
    assert rows[nobody.pk].method is None
    assert before == (CollectionAttempt.objects.count(), Payment.objects.count(), BillingRun.objects.count())


def test_next_debit_is_the_next_collection_day_and_the_amount_due(org, customer):
    invoice = recurring_invoice(org, customer)
    BillingSettings.objects.update_or_create(
        organisation=org, defaults={"test_clock": datetime.date(2026, 11, 10)}
    )
    assert selectors.next_debit(customer) == (NOV_22, invoice.total)
    collect(org)
    assert selectors.next_debit(customer) is None  # paid
    nobody = factories.customer(org, name="Sans Carte", email="sans@carte.example")
    recurring_invoice(org, nobody)
    assert selectors.next_debit(nobody) is None


def test_next_debit_after_todays_collection_is_next_months(org):
    customer = builders.customer_with_card(org, card="4000000000000002")
    invoice = recurring_invoice(org, customer)
    BillingSettings.objects.update_or_create(organisation=org, defaults={"test_clock": NOV_22})
    assert selectors.next_debit(customer) == (NOV_22, invoice.total)
    collect(org)
    assert selectors.next_debit(customer) == (DEC_22, invoice.total)


def test_the_task_collects_each_organisation_on_its_own_today(org, customer):
    invoice = recurring_invoice(org, customer)
    BillingSettings.objects.update_or_create(
        organisation=org, defaults={"test_clock": datetime.date(2026, 11, 21)}
    )
    assert tasks.run_due_collections() == 0
    assert not BillingRun.objects.exists()
    BillingSettings.objects.filter(organisation=org).update(test_clock=datetime.date(2026, 11, 23))
    assert tasks.run_due_collections() == 1
    assert tasks.run_due_collections() == 0
    run = BillingRun.objects.get(kind=BillingRun.Kind.COLLECTION)
    assert run.started_by == "system:collection_run" and run.run_date == NOV_22
    assert attempts(invoice) == [(NOV_22, Outcome.CHARGED)]


def test_the_command_dry_run_writes_nothing_and_the_run_reports(org, customer):
    invoice = recurring_invoice(org, customer)
    out = io.StringIO()
    call_command("collection_run", organisation=org.slug, date=NOV_22, dry_run=True, stdout=out)
    assert "customers 1, invoices 1" in out.getvalue() and "(dry run)" in out.getvalue()
    assert not CollectionAttempt.objects.exists() and not BillingRun.objects.exists()
    out = io.StringIO()
    call_command("collection_run", organisation=org.slug, date=datetime.date(2026, 11, 23), stdout=out)
    text = out.getvalue()
    assert f"collection of {NOV_22}" in text and "charges 1" in text and f"total {invoice.total}" in text
    assert "failures 0" in text and "duration" in text


def test_the_command_refuses_an_unknown_organisation(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("collection_run", organisation="nobody", stdout=io.StringIO())


@pytest.mark.postgres
def test_two_runs_at_once_make_one_charge_per_invoice(settings):
    settings.PAYMENTS_SANDBOX_LATENCY_MS = 50
    org = factories.quebec_organisation("collecte-pg")
    invoices = [recurring_invoice(org, customer) for customer in many_customers(org, 12)]
    barrier = threading.Barrier(2)
    summaries = []

    def run() -> None:
        try:
            barrier.wait()
            summaries.append(collect(org, concurrency=4))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(summaries) == 2
    assert sum(s.charges for s in summaries) == len(invoices)
    assert SandboxCharge.objects.count() == len(invoices)
    assert CollectionAttempt.objects.filter(outcome=Outcome.CHARGED).count() == len(invoices)
    assert Invoice.objects.filter(pk__in=[i.pk for i in invoices], status=Invoice.Status.PAID).count() == 12


@pytest.mark.postgres
def test_the_provider_calls_of_several_customers_are_in_flight_at_once(settings, monkeypatch):
    settings.PAYMENTS_SANDBOX_LATENCY_MS = 300
    org = factories.quebec_organisation("collecte-vol")
    for customer in many_customers(org, 8):
        recurring_invoice(org, customer)
    in_flight, peak, lock = [0], [0], threading.Lock()
    charge = SandboxProvider.charge

    def counted(self, **kwargs):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        try:
            assert not connection.in_atomic_block  # the call, and its latency, outside any transaction
            return charge(self, **kwargs)
        finally:
            with lock:
                in_flight[0] -= 1

    monkeypatch.setattr(SandboxProvider, "charge", counted)
    assert collect(org, concurrency=8).charges == 8
    assert peak[0] >= 4
