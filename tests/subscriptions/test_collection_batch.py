"""The collection run's batch path (issue 18, 100 charges/s): set-based, the same outcomes as one
charge at a time, no transaction or row lock while a provider is called, crashes recovered by key."""

import datetime
import re
import threading
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from acquitte.core.errors import ErrorCode
from acquitte.invoicing.models import Invoice, LedgerEntry
from acquitte.notifications.models import Notification, OutboundMessage
from acquitte.payments import services as payments
from acquitte.payments.models import ChargeAttempt, Payment, SandboxCharge
from acquitte.payments.providers import ChargeResult, ChargeStatus
from acquitte.payments.providers.sandbox import SandboxProvider
from acquitte.subscriptions.models import CollectionAttempt
from acquitte.subscriptions.services import collection, collection_key
from tests import factories
from tests.subscriptions import builders
from tests.subscriptions.test_collection_run import NOV_22, collect, many_customers, recurring_invoice

SYSTEM = builders.SYSTEM
Outcome = CollectionAttempt.Outcome


@pytest.fixture
def org(org_qc):
    factories.staff(org_qc)
    return org_qc


def test_answers_applied_in_several_batches_give_each_customer_one_email(org, monkeypatch):
    monkeypatch.setattr(collection, "APPLY_BATCH", 2)
    good = many_customers(org, 3)
    bad = builders.customer_with_card(org, name="Refusé", email="refuse@x.test", card="4000000000000002")
    invoices = [recurring_invoice(org, customer) for customer in good]
    declined = [recurring_invoice(org, bad, price=price) for price in ("10.00", "20.00")]
    seen: list[tuple[int, int]] = []
    summary = collect(org, progress=lambda done, total: seen.append((done, total)))
    assert (summary.charges, summary.failures, summary.invoices) == (3, 2, 5)
    assert summary.total == sum(invoice.total for invoice in invoices)
    assert Invoice.objects.filter(pk__in=[i.pk for i in invoices], status=Invoice.Status.PAID).count() == 3
    assert sorted(CollectionAttempt.objects.values_list("outcome", flat=True)) == sorted(
        [Outcome.CHARGED] * 3 + [Outcome.FAILED] * 2
    )
    email = OutboundMessage.objects.get(to="refuse@x.test", kind="collection_failed")
    assert all(invoice.number in email.body for invoice in declined)
    # Staff: one notice per payment, received or failed, as when charged one at a time.
    assert Notification.objects.filter(kind="payment_received").count() == 3
    assert Notification.objects.filter(kind="payment_failed").count() == 2
    assert OutboundMessage.objects.filter(kind="payment_received", to="proprio@example.test").count() == 3
    assert LedgerEntry.objects.filter(kind=LedgerEntry.Kind.PAYMENT).count() == 3
    assert seen[-1] == (4, 4) and len(seen) > 1


def _own_queries(captured) -> int:
    """Statements of ours: the sandbox's own ledger stands for the provider's servers (its
    savepoints included, since it is called here, in the test's transaction)."""
    return sum(
        1
        for q in captured
        if not re.search(r'"payments_sandbox(charge|token)"', q["sql"]) and "SAVEPOINT" not in q["sql"]
    )


def test_the_queries_do_not_grow_with_the_number_of_invoices(org):
    counts = []
    for day, n in ((datetime.date(2026, 10, 22), 1), (NOV_22, 2), (datetime.date(2026, 12, 22), 8)):
        for k, customer in enumerate(many_customers(org, n)):
            customer.email = f"{day.month}-{k}@x.test"
            recurring_invoice(org, customer, issued=day.replace(day=2))
        with CaptureQueriesContext(connection) as captured:
            assert collect(org, on=day).charges == n
        counts.append(_own_queries(captured.captured_queries))
    assert counts[1] == counts[2], counts  # the first run warms the caches (content types)


def test_a_charge_found_by_its_key_is_not_made_again(org):
    customer = builders.customer_with_card(org)
    invoice = recurring_invoice(org, customer)
    method = customer.payment_methods.get()
    request = payments.ChargeRequest(
        invoice_id=invoice.pk, method=method, idempotency_key=collection_key(invoice.pk, NOV_22)
    )
    first = payments.open_charges(organisation=org, requests=[request], actor=SYSTEM)
    again = payments.open_charges(organisation=org, requests=[request], actor=SYSTEM)
    assert list(first.calls) == [invoice.pk] and again.calls == {}
    assert again.payments[invoice.pk].pk == first.payments[invoice.pk].pk
    assert ChargeAttempt.objects.count() == 1 and Payment.objects.count() == 1


def test_an_invoice_with_a_charge_in_flight_is_refused(org):
    customer = builders.customer_with_card(org)
    invoice = recurring_invoice(org, customer)
    method = customer.payment_methods.get()
    payments.open_charges(
        organisation=org,
        requests=[payments.ChargeRequest(invoice_id=invoice.pk, method=method, idempotency_key="a")],
        actor=SYSTEM,
    )
    other = payments.open_charges(
        organisation=org,
        requests=[payments.ChargeRequest(invoice_id=invoice.pk, method=method, idempotency_key="b")],
        actor=SYSTEM,
    )
    assert other.calls == {} and other.refused[invoice.pk].error_code == ErrorCode.PAYMENT_IN_PROGRESS
    assert Payment.objects.count() == 1


def test_a_payment_its_invoice_cannot_take_whole_is_spread_as_one_charge_would(org):
    customer = builders.customer_with_card(org)
    older = recurring_invoice(org, customer, issued=datetime.date(2026, 10, 2), price="5.00")
    invoice = recurring_invoice(org, customer, price="30.00")
    method = customer.payment_methods.get()
    opened = payments.open_charges(
        organisation=org,
        requests=[payments.ChargeRequest(invoice_id=invoice.pk, method=method, idempotency_key="k")],
        actor=SYSTEM,
    )
    payments.record_payment(  # a cheque recorded while the charge was on its way
        organisation=org, customer=customer, amount="10.00", method="cheque", actor=SYSTEM, invoice=invoice
    )
    call = opened.calls[invoice.pk]
    payments.apply_charge_results(
        organisation=org, results={call.attempt_id: call()}, actor=SYSTEM
    )  # the charge pays what was due when it was opened
    invoice.refresh_from_db()
    older.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID and older.status == Invoice.Status.PAID
    charged = Payment.objects.get(pk=opened.payments[invoice.pk].pk)
    assert charged.status == Payment.Status.SUCCEEDED
    allocated = sum(a.amount for a in charged.allocations.all())
    assert charged.amount - allocated == Decimal("10.00") - older.total  # the rest: credit


def test_an_answer_already_applied_moves_nothing(org):
    customer = builders.customer_with_card(org)
    invoice = recurring_invoice(org, customer)
    collect(org)
    attempt = ChargeAttempt.objects.get()
    payments.apply_charge_results(
        organisation=org, results={attempt.pk: ChargeResult(status=ChargeStatus.FAILED)}, actor=SYSTEM
    )
    attempt.refresh_from_db()
    invoice.refresh_from_db()
    assert attempt.state == ChargeAttempt.State.SUCCEEDED and invoice.status == Invoice.Status.PAID
    assert Notification.objects.filter(kind="payment_failed").count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_provider_is_called_outside_any_transaction_or_row_lock(settings, monkeypatch):
    """Transactional: nothing wraps the run, so an open transaction would be the run's own. The
    four answers make one batch, applied after the calls: the run's connection is idle during each."""
    settings.PAYMENTS_SANDBOX_LATENCY_MS = 20
    org = factories.quebec_organisation("collecte-hors-transaction")
    invoices = [recurring_invoice(org, customer) for customer in many_customers(org, 4)]
    main = connections["default"]
    main.ensure_connection()
    backend = main.connection.info.backend_pid if main.vendor == "postgresql" else None
    seen: list[tuple[bool, str]] = []
    charge = SandboxProvider.charge

    def watched(self, **kwargs):
        state = ""
        if backend is not None:  # from this thread's own connection: the run's is idle, no lock held
            with connection.cursor() as cursor:
                cursor.execute("SELECT state FROM pg_stat_activity WHERE pid = %s", [backend])
                state = cursor.fetchone()[0]
            with transaction.atomic():
                invoice_id = int(kwargs["idempotency_key"].split("-")[1])
                Invoice.objects.select_for_update(nowait=True).get(pk=invoice_id)
        seen.append((main.in_atomic_block, state))
        return charge(self, **kwargs)

    monkeypatch.setattr(SandboxProvider, "charge", watched)
    assert collect(org, concurrency=4).charges == 4
    assert len(seen) == 4 and not any(in_atomic for in_atomic, _state in seen)
    if backend is not None:
        assert {state for _in_atomic, state in seen} == {"idle"}
    assert Invoice.objects.filter(pk__in=[i.pk for i in invoices], status=Invoice.Status.PAID).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_crash_after_the_calls_is_recovered_by_key_without_a_second_charge(settings, monkeypatch):
    org = factories.quebec_organisation("collecte-panne")
    invoices = [recurring_invoice(org, customer) for customer in many_customers(org, 3)]

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(collection, "_record", crash)
    with pytest.raises(RuntimeError):
        collect(org)
    monkeypatch.undo()
    assert SandboxCharge.objects.count() == 3  # charged at the provider, not applied here
    assert ChargeAttempt.objects.filter(state=ChargeAttempt.State.CREATED).count() == 3
    assert collect(org).charges == 0  # the claims are another run's, still fresh: nothing is called
    counts = payments.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))
    assert counts["settled"] == 3
    CollectionAttempt.objects.update(created_at=timezone.now() - datetime.timedelta(hours=1))
    taken_up = collect(org)
    assert taken_up.charges == 3 and SandboxCharge.objects.count() == 3
    assert set(CollectionAttempt.objects.values_list("outcome", flat=True)) == {Outcome.CHARGED}
    assert Invoice.objects.filter(pk__in=[i.pk for i in invoices], status=Invoice.Status.PAID).count() == 3


@pytest.mark.postgres
def test_two_runs_at_once_in_batches_make_one_charge_per_invoice(settings, monkeypatch):
    settings.PAYMENTS_SANDBOX_LATENCY_MS = 30
    monkeypatch.setattr(collection, "APPLY_BATCH", 3)
    org = factories.quebec_organisation("collecte-pg-lots")
    factories.staff(org)
    customers = many_customers(org, 10)
    invoices = [
        recurring_invoice(org, c, issued=datetime.date(2026, 10, 2), price="7.00") for c in customers[:4]
    ]
    invoices += [recurring_invoice(org, c) for c in customers]
    barrier = threading.Barrier(3)
    summaries = []

    def run() -> None:
        try:
            barrier.wait()
            summaries.append(collect(org, concurrency=6, chunk_size=4))
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(summaries) == 3
    assert sum(s.charges for s in summaries) == len(invoices) == 14
    keys = list(SandboxCharge.objects.values_list("idempotency_key", flat=True))
    assert sorted(keys) == sorted(collection_key(i.pk, NOV_22) for i in invoices)
    assert ChargeAttempt.objects.count() == 14 and Payment.objects.count() == 14
    assert Invoice.objects.filter(pk__in=[i.pk for i in invoices], status=Invoice.Status.PAID).count() == 14
    assert Notification.objects.filter(organisation=org, kind="payment_received").count() == 14


@pytest.mark.django_db(transaction=True)
def test_a_crash_before_the_calls_charges_nothing_and_the_next_day_charges_once(monkeypatch):
    org = factories.quebec_organisation("collecte-panne-avant")
    customer = builders.customer_with_card(org)
    invoice = recurring_invoice(org, customer)

    def crash(*args, **kwargs):
        raise RuntimeError("worker killed")

    monkeypatch.setattr(collection, "_calls", crash)
    with pytest.raises(RuntimeError):
        collect(org)
    monkeypatch.undo()
    assert not SandboxCharge.objects.exists()
    assert ChargeAttempt.objects.get().state == ChargeAttempt.State.CREATED
    payments.reconcile_payments(actor=factories.SYSTEM, older_than=datetime.timedelta(0))
    assert Payment.objects.get().status == Payment.Status.CANCELED  # the provider never saw it
    CollectionAttempt.objects.update(created_at=timezone.now() - datetime.timedelta(hours=1))
    assert collect(org).charges == 0 and not SandboxCharge.objects.exists()  # found by its key
    assert collect(org, on=datetime.date(2026, 12, 22)).charges == 1
    assert SandboxCharge.objects.get().idempotency_key == collection_key(
        invoice.pk, datetime.date(2026, 12, 22)
    )
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
