"""The billing run of the bill day (seed 001): one invoice per customer over all its sites, the first
one prorated, idempotent by construction (run twice, a day later, for a past date, killed halfway)."""

import datetime
from decimal import Decimal
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.utils import timezone

from acquitte.core.models import AuditAction, AuditLog
from acquitte.invoicing.models import Invoice, InvoiceLine
from acquitte.notifications.models import OutboundMessage
from acquitte.subscriptions import selectors, services, tasks
from acquitte.subscriptions.models import Adjustment, BilledPeriod, BillingRun, BillingSettings, Subscription
from acquitte.subscriptions.services import billing as billing_module
from acquitte.subscriptions.services.runs import STALLED_AFTER
from tests import factories
from tests.subscriptions.builders import customer_with_card, monthly_product, subscription
from tests.test_actors import snapshot

SYSTEM = factories.SYSTEM
JAN_15 = datetime.date(2026, 1, 15)
FEB_2 = datetime.date(2026, 2, 2)
MAR_2 = datetime.date(2026, 3, 2)


@pytest.fixture
def phone(org_qc):
    return monthly_product(org_qc, sku="TEL-1", price="31.00", name="Téléphonie IP")


@pytest.fixture
def customer(org_qc):
    return customer_with_card(org_qc, sites=2)


def two_sites(customer, product, started_on=JAN_15):
    site1, site2 = customer.sites.order_by("name")
    return (
        subscription(customer, product, started_on=started_on, site=site1),
        subscription(customer, product, started_on=started_on, site=site2, quantity="2"),
    )


def bill(org, as_of, **kwargs):
    return services.run_billing(organisation=org, as_of=as_of, actor=SYSTEM, **kwargs)


def numbers(org) -> list[int]:
    found = Invoice.objects.filter(organisation=org, kind=Invoice.Kind.INVOICE).values_list(
        "number", flat=True
    )
    return sorted(int(n.rsplit("-", 1)[1]) for n in found)


def test_one_invoice_per_customer_across_sites_first_prorated(org_qc, customer, phone):
    first, second = two_sites(customer, phone)
    summary = bill(org_qc, FEB_2)
    assert (summary.customers, summary.invoices, summary.failures) == (1, 1, 0), summary.run.errors
    invoice = Invoice.objects.get(customer=customer)
    assert invoice.status == Invoice.Status.OPEN and invoice.number
    assert (invoice.issue_date, invoice.due_date) == (FEB_2, datetime.date(2026, 2, 22))
    lines = list(invoice.lines.order_by("position"))
    assert [(line.period_start, line.period_end) for line in lines] == [
        (JAN_15, datetime.date(2026, 1, 31)),
        (datetime.date(2026, 2, 1), datetime.date(2026, 2, 28)),
    ] * 2
    assert [line.source for line in lines] == [first, first, second, second]
    assert "Téléphonie IP — Site 1" in lines[0].description
    assert "prorata 17/31 jours" in lines[0].description
    assert "prorata" not in lines[1].description
    assert lines[2].description.startswith("Téléphonie IP — Site 2")
    # 31.00 × 17/31 = 17.00; the second site has two lines.
    assert [line.net_amount for line in lines] == [
        Decimal("17.00"),
        Decimal("31.00"),
        Decimal("34.00"),
        Decimal("62.00"),
    ]
    assert invoice.subtotal == Decimal("144.00")
    assert invoice.total == invoice.subtotal + invoice.tax_total
    assert sum(t.amount for t in invoice.taxes.all()) == invoice.tax_total
    assert BilledPeriod.objects.filter(invoice=invoice).count() == 4
    run = summary.run
    assert run is not None and run.status == BillingRun.Status.SUCCEEDED
    assert (run.invoices, run.customers, run.total) == (1, 1, invoice.total)
    message = OutboundMessage.objects.get(reference=invoice.number)
    assert message.to == customer.email and invoice.public_token in message.body
    assert invoice.public_token in message.html_body and invoice.number in message.subject
    assert AuditLog.objects.filter(object_id=str(invoice.pk), action=AuditAction.FINALISE).exists()


def test_english_customer_reads_english_lines(org_qc, phone):
    customer = customer_with_card(org_qc, sites=1, name="Corner Shop", email="shop@example.test")
    customer.language = "en"
    customer.save()
    subscription(customer, phone, started_on=JAN_15)
    bill(org_qc, FEB_2)
    line = InvoiceLine.objects.filter(invoice__customer=customer).order_by("position").first()
    assert line is not None and "Site 1" in line.description


def test_runs_again_the_same_day_a_day_later_add_nothing(org_qc, customer, phone):
    two_sites(customer, phone)
    bill(org_qc, FEB_2)
    again = bill(org_qc, FEB_2)
    later = bill(org_qc, FEB_2 + datetime.timedelta(days=1))
    assert (again.invoices, later.invoices) == (0, 0)
    assert Invoice.objects.filter(customer=customer).count() == 1
    assert BilledPeriod.objects.count() == 4
    assert not selectors.billing_due(org_qc, FEB_2 + datetime.timedelta(days=1))


def test_next_month_bills_the_month_only(org_qc, customer, phone):
    two_sites(customer, phone)
    bill(org_qc, FEB_2)
    bill(org_qc, MAR_2)
    march = Invoice.objects.filter(customer=customer).order_by("number").last()
    assert march is not None
    assert [(line.period_start, line.net_amount) for line in march.lines.order_by("position")] == [
        (MAR_2.replace(day=1), Decimal("31.00")),
        (MAR_2.replace(day=1), Decimal("62.00")),
    ]
    assert numbers(org_qc) == [1, 2]


def test_a_run_for_a_past_date_bills_only_what_is_missing(org_qc, customer, phone):
    two_sites(customer, phone)
    bill(org_qc, MAR_2)  # catches up January's part, February and March
    assert BilledPeriod.objects.count() == 6
    late = customer_with_card(org_qc, sites=1, name="Retardataire", email="late@example.test")
    subscription(late, phone, started_on=datetime.date(2026, 1, 1))
    summary = bill(org_qc, FEB_2)
    assert summary.invoices == 1
    assert Invoice.objects.filter(customer=customer).count() == 1
    late_invoice = Invoice.objects.get(customer=late)
    assert sorted(
        BilledPeriod.objects.filter(invoice=late_invoice).values_list("period_start", flat=True)
    ) == [
        datetime.date(2026, 1, 1),
        datetime.date(2026, 2, 1),
    ]
    # Numbers stay chronological: the catch-up invoice is dated after the last number's date.
    assert late_invoice.issue_date == MAR_2
    assert numbers(org_qc) == [1, 2]


def test_a_catalogue_price_change_applies_from_the_next_period(org_qc, customer, phone):
    first, _second = two_sites(customer, phone)
    bill(org_qc, FEB_2)
    Subscription.objects.filter(pk=first.pk).update(unit_price=Decimal("40.00"))
    bill(org_qc, FEB_2)
    assert Invoice.objects.filter(customer=customer).count() == 1
    feb = BilledPeriod.objects.get(subscription=first, period_start=datetime.date(2026, 2, 1))
    assert feb.unit_price == Decimal("31.00")
    bill(org_qc, MAR_2)
    march = BilledPeriod.objects.get(subscription=first, period_start=datetime.date(2026, 3, 1))
    assert (march.unit_price, march.amount) == (Decimal("40.00"), Decimal("40.00"))


def adjustment(sub, kind, amount, *, start=datetime.date(2026, 2, 10), corrects=None):
    return Adjustment.objects.create(
        organisation_id=sub.organisation_id,
        subscription=sub,
        kind=kind,
        description=f"Changement de quantité {kind}",
        quantity=Decimal("1"),
        unit_price=Decimal(amount),
        amount=Decimal(amount),
        period_start=start,
        period_end=datetime.date(2026, 2, 28),
        corrects=corrects,
        created_by="test",
    )


def test_adjustments_are_billed_once_on_the_next_invoice(org_qc, customer, phone):
    first, _second = two_sites(customer, phone)
    bill(org_qc, FEB_2)
    feb = BilledPeriod.objects.get(subscription=first, period_start=datetime.date(2026, 2, 1))
    charge = adjustment(first, Adjustment.Kind.CHARGE, "12.34")
    credit = adjustment(first, Adjustment.Kind.CREDIT, "5.00", corrects=feb)
    assert bill(org_qc, datetime.date(2026, 2, 20)).invoices == 0  # waits for the next bill day
    summary = bill(org_qc, MAR_2)
    assert summary.invoices == 1
    charge.refresh_from_db()
    credit.refresh_from_db()
    march = charge.invoice
    assert march is not None and march.kind == Invoice.Kind.INVOICE
    assert march.lines.filter(net_amount=Decimal("12.34"), period_start=datetime.date(2026, 2, 10)).exists()
    note = credit.invoice
    assert note is not None and note.kind == Invoice.Kind.CREDIT_NOTE
    assert note.corrects_id == feb.invoice_id and note.subtotal == Decimal("5.00")
    assert note.status != Invoice.Status.DRAFT and note.number
    bill(org_qc, MAR_2)
    bill(org_qc, datetime.date(2026, 4, 2))
    assert Invoice.objects.filter(customer=customer, kind=Invoice.Kind.CREDIT_NOTE).count() == 1
    assert InvoiceLine.objects.filter(invoice__customer=customer, net_amount=Decimal("12.34")).count() == 1


class Killed(BaseException):
    """A worker killed mid-run: nothing of the run catches it."""


def many_customers(org, product, n):
    customers = [
        customer_with_card(org, sites=1, name=f"Client {i}", email=f"c{i}@example.test") for i in range(n)
    ]
    for customer in customers:
        subscription(customer, product, started_on=JAN_15)
    return customers


def crash_on_chunk(monkeypatch, number, exc):
    real = billing_module._write
    calls = {"n": 0}

    def write(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == number:
            raise exc
        return real(*args, **kwargs)

    monkeypatch.setattr(billing_module, "_write", write)


def assert_each_period_once(org, customers):
    periods = BilledPeriod.objects.filter(organisation=org)
    assert periods.count() == 2 * len(customers)
    assert periods.values("subscription_id", "period_start").distinct().count() == periods.count()
    assert Invoice.objects.filter(organisation=org).count() == len(customers)
    assert numbers(org) == list(range(1, len(customers) + 1))
    assert not Invoice.objects.filter(organisation=org, status=Invoice.Status.DRAFT).exists()


def test_a_run_killed_halfway_then_restarted_bills_each_period_once(org_qc, phone, monkeypatch):
    customers = many_customers(org_qc, phone, 7)
    crash_on_chunk(monkeypatch, 3, Killed())
    with pytest.raises(Killed):
        bill(org_qc, FEB_2, chunk_size=2)
    assert Invoice.objects.filter(organisation=org_qc).count() == 4  # two chunks committed
    assert numbers(org_qc) == [1, 2, 3, 4]
    monkeypatch.undo()
    summary = bill(org_qc, FEB_2, chunk_size=2)
    assert summary.invoices == 3
    assert_each_period_once(org_qc, customers)


def test_the_next_run_of_the_same_kind_closes_a_killed_run_and_bills_the_rest(org_qc, phone, monkeypatch):
    """A worker that died leaves its run "running"; the next billing run marks it interrupted (a
    collection run stalled as long is another kind's business) and bills what it left."""
    customers = many_customers(org_qc, phone, 5)
    crash_on_chunk(monkeypatch, 2, Killed())
    with pytest.raises(Killed):
        bill(org_qc, FEB_2, chunk_size=2)
    monkeypatch.undo()
    killed = BillingRun.objects.get(organisation=org_qc, kind=BillingRun.Kind.BILLING)
    assert (killed.status, killed.chunks_done, killed.invoices) == (BillingRun.Status.RUNNING, 1, 2)
    collection = services.open_run(
        organisation=org_qc, kind=BillingRun.Kind.COLLECTION, run_date=FEB_2, chunks_total=1, actor=SYSTEM
    )
    long_ago = timezone.now() - STALLED_AFTER - datetime.timedelta(minutes=1)
    BillingRun.objects.filter(pk__in=[killed.pk, collection.pk]).update(progressed_at=long_ago)
    summary = bill(org_qc, FEB_2, chunk_size=2)
    assert summary.invoices == 3
    assert_each_period_once(org_qc, customers)
    killed.refresh_from_db(), collection.refresh_from_db()
    assert (killed.status, collection.status) == (BillingRun.Status.INTERRUPTED, BillingRun.Status.RUNNING)
    assert summary.run is not None and summary.run.status == BillingRun.Status.SUCCEEDED


def test_a_failed_chunk_is_recorded_and_the_next_run_bills_it(org_qc, phone, monkeypatch):
    customers = many_customers(org_qc, phone, 5)
    crash_on_chunk(monkeypatch, 2, RuntimeError("disque plein"))
    summary = bill(org_qc, FEB_2, chunk_size=2)
    assert (summary.invoices, summary.failures) == (3, 2)
    run = summary.run
    assert run is not None and run.status == BillingRun.Status.FAILED and run.finished_at is not None
    assert "disque plein" in run.errors[0]
    monkeypatch.undo()
    assert bill(org_qc, FEB_2, chunk_size=2).invoices == 2
    assert_each_period_once(org_qc, customers)


def test_dry_run_and_preview_write_nothing_and_match_the_run(org_qc, customer, phone):
    two_sites(customer, phone)
    before = snapshot()
    out = StringIO()
    call_command(
        "billing_run", "--organisation", org_qc.slug, "--date", "2026-02-02", "--dry-run", stdout=out
    )
    preview = selectors.preview_billing(org_qc, FEB_2)
    assert snapshot() == before
    assert "prorata 17/31 jours" in out.getvalue() and "customers 1" in out.getvalue()
    assert len(preview) == 1 and len(preview[0].lines) == 4
    bill(org_qc, FEB_2)
    invoice = Invoice.objects.get(customer=customer)
    assert (preview[0].subtotal, preview[0].tax_total, preview[0].total) == (
        invoice.subtotal,
        invoice.tax_total,
        invoice.total,
    )
    assert [line.description for line in preview[0].lines] == list(
        invoice.lines.order_by("position").values_list("description", flat=True)
    )


def test_the_command_prints_a_summary(org_qc, customer, phone):
    two_sites(customer, phone)
    out = StringIO()
    call_command("billing_run", "--organisation", org_qc.slug, "--date", "2026-02-02", stdout=out)
    assert "customers 1, invoices 1" in out.getvalue() and "failures 0" in out.getvalue()
    assert selectors.runs_of(org_qc, BillingRun.Kind.BILLING).count() == 1


def test_the_scheduled_task_bills_what_is_due_by_today_once(org_qc, customer, phone):
    two_sites(customer, phone)
    BillingSettings.objects.filter(organisation=org_qc).update(test_clock=FEB_2)
    selectors.billing_settings(org_qc)
    BillingSettings.objects.filter(organisation=org_qc).update(test_clock=FEB_2)
    assert selectors.today_for(org_qc) == FEB_2
    assert tasks.run_due_billing() >= 1
    assert Invoice.objects.filter(customer=customer).count() == 1
    assert tasks.run_due_billing() == 0


def test_paused_subscriptions_bill_nothing(org_qc, customer, phone):
    first, second = two_sites(customer, phone)
    Subscription.objects.filter(pk=second.pk).update(status=Subscription.Status.PAUSED)
    bill(org_qc, FEB_2)
    assert set(BilledPeriod.objects.values_list("subscription_id", flat=True)) == {first.pk}


def test_a_large_chunk_finalises_like_a_small_one(org_qc, phone):
    """Past fifty invoices a batch is written by COPY on PostgreSQL: the rows are the same."""
    customers = many_customers(org_qc, phone, 60)
    summary = bill(org_qc, FEB_2, chunk_size=100)
    assert summary.invoices == 60
    assert_each_period_once(org_qc, customers)
    for invoice in Invoice.objects.filter(organisation=org_qc).prefetch_related("taxes"):
        assert invoice.status == Invoice.Status.OPEN and invoice.finalised_at is not None
        assert invoice.bill_to["name"] == invoice.customer.name and invoice.seller["name"] == org_qc.name
        assert invoice.subtotal == Decimal("48.00")  # 31.00 × 17/31 + 31.00
        assert invoice.total == invoice.subtotal + sum(t.amount for t in invoice.taxes.all())
    assert AuditLog.objects.filter(action=AuditAction.FINALISE, organisation=org_qc).count() == 60


def test_a_run_whose_chunks_stopped_coming_in_is_marked_interrupted(org_qc, customer, phone):
    """The sweep of the beat (and the next run's start) closes a run whose worker died, and only it."""
    other = factories.quebec_organisation("autre-qc")
    stalled, recent, elsewhere = (
        services.open_run(
            organisation=org, kind=BillingRun.Kind.BILLING, run_date=FEB_2, chunks_total=3, actor=SYSTEM
        )
        for org in (org_qc, org_qc, other)
    )
    long_ago = timezone.now() - STALLED_AFTER - datetime.timedelta(minutes=1)
    BillingRun.objects.filter(pk__in=[stalled.pk, elsewhere.pk]).update(progressed_at=long_ago)
    assert tasks.close_stalled_runs() == 2
    assert tasks.close_stalled_runs() == 0
    for run in (stalled, recent, elsewhere):
        run.refresh_from_db()
    assert [r.status for r in (stalled, recent, elsewhere)] == [
        BillingRun.Status.INTERRUPTED,
        BillingRun.Status.RUNNING,
        BillingRun.Status.INTERRUPTED,
    ]
    assert stalled.finished_at is not None and recent.finished_at is None
    # a chunk counted in late moves the counts but not the outcome
    services.count_chunk(run=stalled, actor=SYSTEM, invoices=2)
    stalled.refresh_from_db()
    assert (stalled.status, stalled.invoices) == (BillingRun.Status.INTERRUPTED, 2)
    # unless they were all only late: the last one closes it as any run
    services.count_chunk(run=stalled, actor=SYSTEM, invoices=1)
    assert services.count_chunk(run=stalled, actor=SYSTEM, invoices=1).status == BillingRun.Status.SUCCEEDED


def test_only_the_system_sweeps_every_organisation(org_qc):
    with pytest.raises(PermissionDenied):
        services.close_stalled_runs(actor=factories.staff(org_qc))
