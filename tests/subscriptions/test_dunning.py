"""The dunning schedule and run (seed 000, issue 13 item 4): reminders before and after the due
date, card retries, the late fee (French law, Quebec), suspension and termination, each step once
per invoice, never after payment, suspension held while a declared transfer is in its grace."""

import datetime
import io
import itertools
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from hypothesis import given, settings
from hypothesis import strategies as st

from acquitte.core.errors import BusinessError
from acquitte.invoicing import services as invoicing
from acquitte.invoicing.models import Invoice
from acquitte.notifications.models import OutboundMessage
from acquitte.payments import services as payments
from acquitte.subscriptions import dunning_selectors, services, tasks
from acquitte.subscriptions.dunning_selectors import (
    HELD_BY_TRANSFER,
    KIND_ORDER,
    Schedule,
    due_steps,
    pending_steps,
)
from acquitte.subscriptions.models import (
    BillingRun,
    BillingSettings,
    CollectionAttempt,
    DunningSettings,
    DunningStep,
    Service,
)
from acquitte.subscriptions.periods import add_days
from tests import factories
from tests.subscriptions import builders
from tests.subscriptions.domain_builders import domain_product, service

SYSTEM = builders.SYSTEM
ISSUED = datetime.date(2026, 5, 2)
DUE = datetime.date(2026, 6, 1)
Kind = DunningStep.Kind
Outcome = DunningStep.Outcome
DECLINED = "4000000000000002"


def day(offset: int) -> datetime.date:
    return DUE + datetime.timedelta(days=offset)


def open_invoice(org, customer, price="1000.00", issued=ISSUED, due=DUE) -> Invoice:
    draft = invoicing.create_invoice(
        organisation=org,
        customer=customer,
        actor=SYSTEM,
        lines=[factories.line(org, price=price)],
        issue_date=issued,
        due_date=due,
    )
    return invoicing.finalise_invoice(invoice=draft, actor=SYSTEM, issue_date=issued)


def dun(org, offset, **kwargs):
    return services.run_dunning(organisation=org, as_of=day(offset), actor=SYSTEM, **kwargs)


def steps(invoice) -> list[tuple[str, int, str]]:
    return list(
        DunningStep.objects.filter(invoice=invoice)
        .order_by("offset_days", "kind")
        .values_list("kind", "offset_days", "outcome")
    )


def plain(text: str) -> str:
    """Money and dates are written with (narrow) no-break spaces; the assertions use plain ones."""
    return text.replace("\u202f", " ").replace("\xa0", " ")


def reminders(customer) -> list[OutboundMessage]:
    return list(OutboundMessage.objects.filter(to=customer.email, kind__startswith="dunning_").order_by("id"))


@pytest.fixture
def org(org_fr):
    factories.staff(org_fr)
    return org_fr


@pytest.fixture
def customer(org):
    return factories.customer(org, email="compta@client.example")


# --- the schedule, pure ---

offsets = st.lists(st.integers(0, 90), max_size=4, unique=True).map(sorted)
optional_days = st.one_of(st.none(), st.integers(0, 120))


@st.composite
def schedules(draw) -> Schedule:
    suspend = draw(optional_days)
    terminate = draw(optional_days)
    if suspend is not None and terminate is not None and terminate <= suspend:
        terminate = suspend + 1 + terminate % 30
    return Schedule(
        reminder_before_days=draw(st.integers(0, 10)),
        overdue_reminder_days=tuple(draw(offsets)),
        card_retry_days=tuple(draw(offsets)),
        late_fee_after_days=draw(optional_days),
        suspend_after_days=suspend,
        terminate_after_days=terminate,
    )


@settings(max_examples=300, deadline=None)
@given(
    schedule=schedules(),
    due=st.dates(datetime.date(2026, 1, 1), datetime.date(2027, 12, 31)),
    run_days=st.lists(st.integers(-15, 200), min_size=1, max_size=40, unique=True).map(sorted),
    paid_after=st.one_of(st.none(), st.integers(-15, 200)),
    card=st.booleans(),
    hold=st.one_of(st.none(), st.tuples(st.integers(-15, 150), st.integers(1, 30))),
)
def test_each_step_fires_once_in_order_never_after_payment_nor_within_a_transfers_grace(
    schedule, due, run_days, paid_after, card, hold
):
    done: list[tuple[str, int, datetime.date, str]] = []
    for offset in run_days:
        as_of = due + datetime.timedelta(days=offset)
        held_until = due + datetime.timedelta(days=hold[0] + hold[1] - 1) if hold else None
        settled = paid_after is not None and offset > paid_after
        found = due_steps(
            schedule,
            due_date=due,
            as_of=as_of,
            done=[(kind, off) for kind, off, _on, _o in done],
            settled=settled,
            card_retries=card,
            held_until=held_until,
        )
        if settled:
            assert found == []
        keys = [(KIND_ORDER[s.kind], s.offset) for s in found]
        assert [s.offset for s in found] == sorted(s.offset for s in found)
        for step in found:
            assert step.on <= as_of
            if step.kind in HELD_BY_TRANSFER:
                assert held_until is None or as_of > held_until
            if step.kind == Kind.CARD_RETRY:
                assert card
        # Of each family due at once (reminders, retries), only the latest is done.
        done_reminders = [s for s in found if s.kind in (Kind.REMINDER, Kind.REMINDER_BEFORE)]
        assert sum(s.outcome == Outcome.DONE for s in done_reminders) <= 1
        assert len(keys) == len(set(keys))
        done += [(s.kind, s.offset, as_of, s.outcome) for s in found]
    pairs = [(kind, off) for kind, off, _on, _o in done]
    assert len(pairs) == len(set(pairs)), "a step fired twice"
    # Across runs, the steps come in the order of their days.
    days = [on for _k, _off, on, _o in done]
    assert days == sorted(days)
    for earlier, later in itertools.pairwise(done):
        if earlier[2] == later[2]:
            assert earlier[1] <= later[1]
    if paid_after is not None:
        assert all(on <= due + datetime.timedelta(days=paid_after) for _k, _off, on, _o in done)


@settings(max_examples=200, deadline=None)
@given(
    schedule=schedules(),
    after=st.integers(-20, 200),
    done_from=st.lists(st.integers(0, 12), max_size=6),
    card=st.booleans(),
    hold=st.one_of(st.none(), st.tuples(st.integers(-15, 150), st.integers(1, 30))),
)
def test_the_next_day_with_a_step_is_the_first_day_a_run_would_find_one(
    schedule, after, done_from, card, hold
):
    """What lets the test clock jump: the earliest pending step (from ``after`` on) is the first
    day after ``after`` on which ``due_steps`` has anything."""
    every = schedule.steps(card_retries=card)
    done = [(str(every[n][0]), every[n][1]) for n in done_from if n < len(every)]
    held_until = DUE + datetime.timedelta(days=hold[0] + hold[1] - 1) if hold else None
    start = DUE + datetime.timedelta(days=after)
    facts = {"done": done, "card_retries": card, "held_until": held_until}
    pending = pending_steps(schedule, due_date=DUE, **facts)
    jump = min((max(s.on, start + datetime.timedelta(days=1)) for s in pending), default=None)
    walk = next(
        (
            day
            for day in (start + datetime.timedelta(days=n) for n in range(1, 400))
            if due_steps(schedule, due_date=DUE, as_of=day, **facts)
        ),
        None,
    )
    assert jump == walk


def test_a_step_past_the_calendars_end_is_never_due():
    last = datetime.date.max - datetime.timedelta(days=5)
    schedule = Schedule(
        reminder_before_days=3,
        overdue_reminder_days=(1, 7),
        card_retry_days=(),
        late_fee_after_days=None,
        suspend_after_days=15,
        terminate_after_days=None,
    )
    assert add_days(last, 7) is None
    assert [s.offset for s in pending_steps(schedule, due_date=last)] == [-3, 1]
    assert [s.offset for s in due_steps(schedule, due_date=last, as_of=datetime.date.max)] == [-3, 1]


def test_a_run_after_missed_days_does_each_step_late_once_and_sends_only_the_latest_reminder():
    schedule = Schedule(3, (1, 7, 14), (3, 7), 30, 15, 60)
    found = due_steps(schedule, due_date=DUE, as_of=day(15), card_retries=True)
    assert [(s.kind, s.offset, s.outcome) for s in found] == [
        (Kind.REMINDER_BEFORE, -3, Outcome.SKIPPED),
        (Kind.REMINDER, 1, Outcome.SKIPPED),
        (Kind.CARD_RETRY, 3, Outcome.SKIPPED),
        (Kind.REMINDER, 7, Outcome.SKIPPED),
        (Kind.CARD_RETRY, 7, Outcome.DONE),
        (Kind.REMINDER, 14, Outcome.DONE),
        (Kind.SUSPENSION, 15, Outcome.DONE),
    ]


# --- settings ---


def test_the_defaults_until_an_owner_changes_them_then_the_stored_row(org):
    found = dunning_selectors.dunning_settings(org)
    assert found.pk is None and found.overdue_reminder_days == [1, 7, 14] and found.card_retry_days == [3, 7]
    actor = org.staff.get()
    fee = factories.product(org, sku="REACT", price="25.00")
    services.update_dunning_settings(
        organisation=org,
        actor=actor,
        overdue_reminder_days=[2, 9],
        reactivation_fee=fee,
        suspend_after_days=20,
    )
    stored = dunning_selectors.dunning_settings(org)
    assert (
        stored.pk is not None,
        stored.overdue_reminder_days,
        stored.reactivation_fee,
        stored.suspend_after_days,
    ) == (
        True,
        [2, 9],
        fee,
        20,
    )


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"overdue_reminder_days": [7, 1]}, "overdue_reminder_days"),
        ({"overdue_reminder_days": [1, 1]}, "overdue_reminder_days"),
        ({"card_retry_days": [3, 400]}, "card_retry_days"),
        ({"card_retry_days": ["3"]}, "card_retry_days"),
        ({"card_retry_days": [-1]}, "card_retry_days"),
        ({"suspend_after_days": 30, "terminate_after_days": 20}, "terminate_after_days"),
        ({"reminder_before_days": 99}, "reminder_before_days"),
        ({"late_fee_after_days": True}, "late_fee_after_days"),
    ],
)
def test_bad_settings_get_a_french_error_and_nothing_is_saved(org, fields, field):
    with pytest.raises(BusinessError) as refused:
        services.update_dunning_settings(organisation=org, actor=SYSTEM, **fields)
    assert field in refused.value.message_dict
    assert not DunningSettings.objects.filter(organisation=org).exists()


def test_a_reactivation_fee_of_another_organisation_is_refused(org, org_qc):
    foreign = factories.product(org_qc, sku="REACT")
    with pytest.raises(BusinessError) as refused:
        services.update_dunning_settings(organisation=org, actor=SYSTEM, reactivation_fee=foreign)
    assert "reactivation_fee" in refused.value.message_dict


def test_only_the_owner_changes_the_settings(org):
    clerk = factories.staff(org, email="compta@example.test", role="accountant")
    with pytest.raises(PermissionDenied):
        services.update_dunning_settings(organisation=org, actor=clerk, card_retry_days=[2])
    assert not DunningSettings.objects.filter(organisation=org).exists()


# --- the run: reminders ---


def test_a_reminder_before_the_due_date_then_after_each_once_with_amount_days_and_link(org, customer):
    invoice = open_invoice(org, customer)
    assert dun(org, -4).steps == 0
    first = dun(org, -3)
    assert first.steps == 1 and first.run.kind == BillingRun.Kind.DUNNING
    assert dun(org, -3).steps == 0  # a second run of the day does nothing
    dun(org, 1)
    dun(org, 1)
    sent = reminders(customer)
    assert [m.kind for m in sent] == ["dunning_reminder_before", "dunning_reminder"]
    late = sent[1]
    assert invoice.number in late.subject and "1 jours" in late.subject
    assert "1 200,00" in plain(late.body)  # 1 000 € + TVA 20 %
    assert (
        invoicing_public_link(invoice) in plain(late.body)
        and invoicing_public_link(invoice) in late.html_body
    )
    assert steps(invoice) == [("reminder_before", -3, "done"), ("reminder", 1, "done")]


def invoicing_public_link(invoice) -> str:
    from acquitte.documents.services import public_url

    return public_url(invoice)


def test_missed_days_send_only_the_latest_reminder_and_record_the_others_skipped(org, customer):
    invoice = open_invoice(org, customer)
    dun(org, 14)
    assert [m.kind for m in reminders(customer)] == ["dunning_reminder"]
    assert steps(invoice) == [
        ("reminder_before", -3, "skipped"),
        ("reminder", 1, "skipped"),
        ("reminder", 7, "skipped"),
        ("reminder", 14, "done"),
    ]


def test_a_paid_void_credit_note_or_pro_forma_is_never_dunned(org, customer):
    paid = open_invoice(org, customer, price="10.00")
    payments.record_payment(
        organisation=org,
        customer=customer,
        amount=paid.total,
        method="bank_transfer",
        actor=SYSTEM,
        invoice=paid,
        received_on=ISSUED,
    )
    void = open_invoice(org, customer, price="20.00")
    invoicing.void_invoice(invoice=void, actor=SYSTEM, reason="Erreur")
    proforma = invoicing.create_invoice(
        organisation=org,
        customer=customer,
        actor=SYSTEM,
        kind=Invoice.Kind.PROFORMA,
        lines=[factories.line(org)],
        issue_date=ISSUED,
        due_date=DUE,
    )
    assert dun(org, 20).steps == 0
    assert not DunningStep.objects.filter(invoice__in=[paid, void, proforma]).exists()


def test_the_dry_run_writes_nothing_and_lists_the_steps(org, customer):
    invoice = open_invoice(org, customer)
    summary = dun(org, 1, dry_run=True)
    assert summary.run is None
    assert [(p.invoice_id, p.step.kind, p.step.outcome) for p in summary.planned] == [
        (invoice.pk, Kind.REMINDER_BEFORE, Outcome.SKIPPED),
        (invoice.pk, Kind.REMINDER, Outcome.DONE),
    ]
    assert not DunningStep.objects.exists() and not BillingRun.objects.exists() and reminders(customer) == []


# --- late fees ---


def test_a_french_late_fee_is_interest_at_the_rate_plus_the_40_euro_indemnity_once_outside_vat(org, customer):
    invoice = open_invoice(org, customer)  # 1 200,00 € due, rate 10,15 %
    services.update_dunning_settings(
        organisation=org, actor=SYSTEM, suspend_after_days=None, terminate_after_days=None
    )
    dun(org, 30)
    dun(org, 31)
    row = DunningStep.objects.get(invoice=invoice, kind=Kind.LATE_FEE)
    fee = row.fee_invoice
    assert fee.status == Invoice.Status.OPEN and fee.number and fee.due_date == fee.issue_date == day(30)
    lines = list(fee.lines.order_by("position", "id"))
    # 1 200 × 10,15 % × 30 / 365 = 10,0109… → 10,01
    assert [line.net_amount for line in lines] == [Decimal("10.01"), Decimal("40.00")]
    assert (
        invoice.number in lines[0].description
        and "10,15" in lines[0].description
        and "30 jours" in lines[0].description
    )
    assert "L441-10" in lines[1].description and invoice.number in lines[1].description
    assert (
        all(line.tax_codes == [] for line in lines) and fee.tax_total == 0 and fee.total == Decimal("50.01")
    )
    assert invoice.number in fee.notes
    assert DunningStep.objects.filter(kind=Kind.LATE_FEE).count() == 1
    assert OutboundMessage.objects.filter(kind="invoice_sent", reference=fee.number).count() == 1
    # The fee invoice is not dunned itself.
    assert not DunningStep.objects.filter(invoice=fee).exists()


def test_in_france_without_a_rate_the_fee_is_the_indemnity_alone(org, customer):
    org.late_penalty_rate = Decimal(0)
    org.save()
    invoice = open_invoice(org, customer)
    services.update_dunning_settings(
        organisation=org, actor=SYSTEM, suspend_after_days=None, terminate_after_days=None
    )
    dun(org, 30)
    fee = DunningStep.objects.get(invoice=invoice, kind=Kind.LATE_FEE).fee_invoice
    assert [line.net_amount for line in fee.lines.all()] == [Decimal("40.00")]


def test_in_quebec_the_fee_is_interest_only_and_none_without_a_rate(org_qc):
    customer = factories.customer(org_qc, email="c@qc.example")
    services.update_dunning_settings(
        organisation=org_qc, actor=SYSTEM, suspend_after_days=None, terminate_after_days=None
    )
    none = open_invoice(org_qc, customer, price="100.00")
    dun(org_qc, 30)
    row = DunningStep.objects.get(invoice=none, kind=Kind.LATE_FEE)
    assert (row.outcome, row.fee_invoice) == (Outcome.SKIPPED, None)
    org_qc.late_penalty_rate = Decimal("18")
    org_qc.save()
    with_rate = open_invoice(org_qc, customer, price="1000.00", issued=day(30), due=day(31))
    services.run_dunning(organisation=org_qc, as_of=day(31 + 30), actor=SYSTEM)
    fee = DunningStep.objects.get(invoice=with_rate, kind=Kind.LATE_FEE).fee_invoice
    # 1 149,75 $ (TPS + TVQ) × 18 % × 30 / 365 = 17,0099… → 17,01
    assert [line.net_amount for line in fee.lines.all()] == [Decimal("17.01")]
    assert fee.total == Decimal("17.01")


# --- card retries ---


def test_a_declined_invoice_is_retried_on_the_card_at_3_and_7_days_once_each(org):
    customer = builders.customer_with_card(org, sites=1, card=DECLINED, email="carte@client.example")
    invoice = open_invoice(org, customer)
    CollectionAttempt.objects.create(
        organisation=org, invoice=invoice, collection_date=DUE, outcome=CollectionAttempt.Outcome.FAILED
    )
    dun(org, 3)
    dun(org, 3)
    retry = DunningStep.objects.get(invoice=invoice, kind=Kind.CARD_RETRY, offset_days=3)
    assert retry.outcome == Outcome.FAILED and retry.payment is not None
    attempt = CollectionAttempt.objects.get(invoice=invoice, collection_date=day(3))
    assert attempt.outcome == CollectionAttempt.Outcome.FAILED and attempt.run == retry.run
    assert OutboundMessage.objects.filter(kind="collection_failed", to=customer.email).count() == 1
    # A good card on file by the second retry: charged, paid, and no reminder after it.
    payments.add_card(
        customer=customer,
        holder="Marie Roy",
        number="4242424242424242",
        cvv="123",
        expiry=builders.NEXT_YEAR,
        actor=SYSTEM,
    )
    summary = dun(org, 7)
    assert summary.charges == 1
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.PAID
    assert (
        DunningStep.objects.get(invoice=invoice, kind=Kind.CARD_RETRY, offset_days=7).outcome == Outcome.DONE
    )
    assert not DunningStep.objects.filter(invoice=invoice, kind=Kind.REMINDER, offset_days=7).exists()


def test_no_retry_without_a_decline_before_or_without_a_card(org, customer):
    invoice = open_invoice(org, customer)
    CollectionAttempt.objects.create(
        organisation=org, invoice=invoice, collection_date=DUE, outcome=CollectionAttempt.Outcome.FAILED
    )
    dun(org, 3)
    assert not DunningStep.objects.filter(kind=Kind.CARD_RETRY).exists()


# --- suspension and termination ---


@pytest.fixture
def domain(org, customer):
    return service(customer, domain_product(org), name="client.fr", expires_on=datetime.date(2027, 1, 1))


def test_suspension_after_n_days_names_the_invoice_charges_the_fee_and_tells_everyone(org, customer, domain):
    fee_product = factories.product(org, sku="REACT", price="25.00", name="Frais de réactivation")
    services.update_dunning_settings(
        organisation=org, actor=SYSTEM, reactivation_fee=fee_product, overdue_reminder_days=[1, 7, 14, 20]
    )
    invoice = open_invoice(org, customer)
    dun(org, 14)
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE
    dun(org, 15)
    domain.refresh_from_db()
    assert (domain.status, domain.suspension_reason) == (
        Service.Status.SUSPENDED,
        Service.SuspensionReason.OVERDUE,
    )
    suspension = domain.suspensions.get()
    assert suspension.invoice == invoice and suspension.reactivation_invoice is not None
    react = suspension.reactivation_invoice
    assert (
        react.status == Invoice.Status.OPEN
        and react.total == Decimal("30.00")
        and "client.fr" in str(list(react.lines.values_list("description", flat=True)))
    )
    step = DunningStep.objects.get(invoice=invoice, kind=Kind.SUSPENSION)
    assert step.fee_invoice == react
    told = OutboundMessage.objects.get(kind="service_suspended")
    assert "client.fr" in told.subject and "1 230,00" in plain(told.body)  # 1 200 + 30 to pay
    assert dun(org, 15).steps == 0
    # The next reminder says what reactivates it.
    dun(org, 20)
    last = reminders(customer)[-1]
    assert "suspendu" in last.subject and "1 230,00" in plain(last.body) and "20 jours" in plain(last.body)


def test_paying_the_invoice_and_the_fee_lifts_an_overdue_suspension_at_once(org, customer, domain):
    fee_product = factories.product(org, sku="REACT", price="25.00")
    services.update_dunning_settings(organisation=org, actor=SYSTEM, reactivation_fee=fee_product)
    invoice = open_invoice(org, customer)
    dun(org, 15)
    react = domain.suspensions.get().reactivation_invoice
    payments.record_payment(
        organisation=org,
        customer=customer,
        amount=invoice.total,
        method="bank_transfer",
        actor=SYSTEM,
        invoice=invoice,
        received_on=day(15),
    )
    domain.refresh_from_db()
    assert domain.status == Service.Status.SUSPENDED  # the fee is still due
    payments.record_payment(
        organisation=org,
        customer=customer,
        amount=react.total,
        method="bank_transfer",
        actor=SYSTEM,
        invoice=react,
        received_on=day(15),
    )
    domain.refresh_from_db()
    assert (domain.status, domain.suspension_reason) == (Service.Status.ACTIVE, "")
    assert domain.suspensions.get().lifted_at is not None
    assert OutboundMessage.objects.filter(kind="service_unsuspended").count() == 1


def test_a_declared_transfer_holds_off_suspension_for_its_grace_period(org, customer, domain):
    services.update_dunning_settings(organisation=org, actor=SYSTEM, terminate_after_days=None)
    invoice = open_invoice(org, customer)
    payments.declare_transfer(
        invoice=invoice,
        kind="bank_transfer",
        reference="VIR-1",
        sent_on=day(13),
        amount=invoice.total,
        actor=SYSTEM,
    )
    declared_on = invoice.transfer_declarations.get().declared_at.date()
    held_until = max(day(13), declared_on) + datetime.timedelta(days=org.transfer_grace_days - 1)
    on = max(day(15), held_until)
    services.run_dunning(organisation=org, as_of=on, actor=SYSTEM)
    domain.refresh_from_db()
    assert domain.status == Service.Status.ACTIVE
    assert not DunningStep.objects.filter(kind=Kind.SUSPENSION).exists()
    services.run_dunning(organisation=org, as_of=on + datetime.timedelta(days=1), actor=SYSTEM)
    domain.refresh_from_db()
    assert domain.status == Service.Status.SUSPENDED


def test_termination_after_m_days_ends_the_service_and_its_subscription(org, customer, domain):
    open_invoice(org, customer)
    dun(org, 15)
    dun(org, 60)
    domain.refresh_from_db()
    assert domain.status == Service.Status.TERMINATED and domain.suspension_reason == ""
    assert domain.subscription.status == "ended" and domain.subscription.ends_on == day(60)
    assert domain.suspensions.get().lifted_at is not None


def test_an_invoice_renewing_one_service_suspends_that_one_only(org, customer, domain):
    from acquitte.subscriptions.models import ServiceRenewal

    other = service(
        customer, domain_product(org, sku="DOM-2"), name="autre.fr", expires_on=datetime.date(2027, 1, 1)
    )
    invoice = open_invoice(org, customer)
    ServiceRenewal.objects.create(
        organisation=org,
        service=domain,
        period_start=domain.expires_on,
        period_end=datetime.date(2028, 1, 1),
        invoice=invoice,
    )
    dun(org, 15)
    domain.refresh_from_db()
    other.refresh_from_db()
    assert (domain.status, other.status) == (Service.Status.SUSPENDED, Service.Status.ACTIVE)


# --- the command and the task ---


def test_the_command_dry_run_lists_and_writes_nothing_then_runs(org, customer):
    open_invoice(org, customer)
    out = io.StringIO()
    call_command("dunning_run", "--org", org.slug, "--date", day(1).isoformat(), "--dry-run", stdout=out)
    assert "reminder +1" in out.getvalue() and "(dry run)" in out.getvalue()
    assert not DunningStep.objects.exists()
    call_command("dunning_run", "--org", org.slug, "--date", day(1).isoformat(), stdout=io.StringIO())
    assert DunningStep.objects.count() == 2


def test_the_task_duns_each_organisation_on_its_own_today_and_skips_quiet_ones(org, customer, org_qc):
    open_invoice(org, customer)
    BillingSettings.objects.update_or_create(organisation=org, defaults={"test_clock": day(1)})
    assert tasks.run_due_dunning() == 1
    assert DunningStep.objects.filter(done_on=day(1)).count() == 2
    assert tasks.run_due_dunning() == 0  # nothing left to do today: no run at all
    assert BillingRun.objects.filter(kind=BillingRun.Kind.DUNNING).count() == 1
