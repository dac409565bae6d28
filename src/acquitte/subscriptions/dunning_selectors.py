"""Reads of the dunning schedule: the settings, the steps due for an invoice (a pure function, so
that the run, its dry run and the back office's preview agree), and who is at which step."""

import datetime
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import Exists, F, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext as _

from acquitte.core.money import ZERO
from acquitte.invoicing.models import Invoice
from acquitte.payments.models import PaymentMethod, ProviderAccount, TransferDeclaration

from .models import (
    CollectionAttempt,
    DunningSettings,
    DunningStep,
    Service,
    ServiceRenewal,
    ServiceSuspension,
)
from .periods import add_days

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

Kind = DunningStep.Kind
Outcome = DunningStep.Outcome
#: The order of the steps of one day: a reminder first, then the card, then the fee, then the cuts.
KIND_ORDER = {
    Kind.REMINDER_BEFORE: 0,
    Kind.REMINDER: 1,
    Kind.CARD_RETRY: 2,
    Kind.LATE_FEE: 3,
    Kind.SUSPENSION: 4,
    Kind.TERMINATION: 5,
}
#: Steps of which only the latest due is done when several are due at once (missed days): three
#: reminders in one e-mail box, or two charges of one card on one day, help nobody.
LATEST_ONLY = {Kind.REMINDER_BEFORE: "reminder", Kind.REMINDER: "reminder", Kind.CARD_RETRY: "card"}
#: Steps that wait while a declared transfer or cheque is within its grace period (seed 000).
HELD_BY_TRANSFER = frozenset({Kind.SUSPENSION, Kind.TERMINATION})


def dunning_settings(organisation: "Organisation") -> DunningSettings:
    """The organisation's stored settings, or the defaults (unsaved) until an owner changes them."""
    found = (
        DunningSettings.objects.filter(organisation=organisation).select_related("reactivation_fee").first()
    )
    return found or DunningSettings(organisation=organisation)


@dataclass(frozen=True)
class Schedule:
    """The days of each step, from the due date (negative before it)."""

    reminder_before_days: int
    overdue_reminder_days: tuple[int, ...]
    card_retry_days: tuple[int, ...]
    late_fee_after_days: int | None
    suspend_after_days: int | None
    terminate_after_days: int | None

    @classmethod
    def of(cls, settings: DunningSettings) -> "Schedule":
        return cls(
            reminder_before_days=settings.reminder_before_days,
            overdue_reminder_days=tuple(settings.overdue_reminder_days),
            card_retry_days=tuple(settings.card_retry_days),
            late_fee_after_days=settings.late_fee_after_days,
            suspend_after_days=settings.suspend_after_days,
            terminate_after_days=settings.terminate_after_days,
        )

    def steps(self, *, card_retries: bool) -> list[tuple[DunningStep.Kind, int]]:
        """Every step of the schedule as (kind, offset), in the order they come."""
        found: list[tuple[DunningStep.Kind, int]] = []
        if self.reminder_before_days > 0:
            found.append((Kind.REMINDER_BEFORE, -self.reminder_before_days))
        found += [(Kind.REMINDER, days) for days in self.overdue_reminder_days]
        if card_retries:
            found += [(Kind.CARD_RETRY, days) for days in self.card_retry_days]
        for kind, days in (
            (Kind.LATE_FEE, self.late_fee_after_days),
            (Kind.SUSPENSION, self.suspend_after_days),
            (Kind.TERMINATION, self.terminate_after_days),
        ):
            if days is not None:
                found.append((kind, days))
        return sorted(set(found), key=lambda step: (step[1], KIND_ORDER[step[0]]))

    @property
    def earliest(self) -> int:
        """The first offset of any step (how early before its due date an invoice is looked at)."""
        return -self.reminder_before_days if self.reminder_before_days > 0 else 0


@dataclass(frozen=True)
class DueStep:
    """A step to do now: its kind, offset and day, and SKIPPED when a later one of its kind makes
    it pointless (recorded so, never done)."""

    kind: DunningStep.Kind
    offset: int
    on: datetime.date
    outcome: DunningStep.Outcome = Outcome.DONE


def due_steps(
    schedule: Schedule,
    *,
    due_date: datetime.date,
    as_of: datetime.date,
    done: Iterable[tuple[str, int]] = (),
    settled: bool = False,
    card_retries: bool = False,
    held_until: datetime.date | None = None,
) -> list[DueStep]:
    """The steps of one invoice due by ``as_of`` and not done yet, in order.

    A step whose day was missed is done late, once; of the reminders (and of the card retries) due
    at once, only the latest is done, the others recorded SKIPPED. Nothing is due once the invoice
    is ``settled`` (paid or void); suspension and termination wait while ``held_until`` (the last day
    of a declared transfer's grace period) is today or later. ``card_retries``: the invoice was
    charged and declined before, and a usable card is on file.
    """
    if settled:
        return []
    taken = {(str(kind), offset) for kind, offset in done}
    held = held_until is not None and as_of <= held_until
    due: list[tuple[DunningStep.Kind, int, datetime.date]] = []
    for kind, offset in schedule.steps(card_retries=card_retries):
        on = add_days(due_date, offset)
        if on is None or on > as_of or (str(kind), offset) in taken or (held and kind in HELD_BY_TRANSFER):
            continue
        due.append((kind, offset, on))
    latest: dict[str, int] = {}
    for kind, offset, _on in due:
        if kind in LATEST_ONLY:
            latest[LATEST_ONLY[kind]] = offset
    return [
        DueStep(
            kind=kind,
            offset=offset,
            on=on,
            outcome=Outcome.SKIPPED
            if kind in LATEST_ONLY and latest[LATEST_ONLY[kind]] != offset
            else Outcome.DONE,
        )
        for kind, offset, on in due
    ]


def pending_steps(
    schedule: Schedule,
    *,
    due_date: datetime.date,
    done: Iterable[tuple[str, int]] = (),
    card_retries: bool = False,
    held_until: datetime.date | None = None,
) -> list[DueStep]:
    """Every step of one open invoice not done yet, each on the first day it is due: its own, or,
    for a suspension or termination held by a declared transfer, the day after the grace."""
    taken = {(str(kind), offset) for kind, offset in done}
    found = []
    for kind, offset in schedule.steps(card_retries=card_retries):
        on = add_days(due_date, offset)
        if on is None or (str(kind), offset) in taken:
            continue
        if kind in HELD_BY_TRANSFER and held_until is not None and on <= held_until:
            on = add_days(held_until, 1)
            if on is None:
                continue
        found.append(DueStep(kind=kind, offset=offset, on=on))
    return found


# --- what the run reads, chunk by chunk ---


def dunnable_invoices(organisation: "Organisation", as_of: datetime.date) -> QuerySet[Invoice]:
    """Open invoices (not credit notes, not pro-formas) with a due date that owe money and whose
    first step has come by ``as_of``; the fee invoices are left out."""
    schedule = Schedule.of(dunning_settings(organisation))
    latest_due = as_of + datetime.timedelta(days=-schedule.earliest)
    return (
        Invoice.objects.filter(
            organisation=organisation,
            kind=Invoice.Kind.INVOICE,
            status=Invoice.Status.OPEN,
            due_date__isnull=False,
            due_date__lte=latest_due,
            total__gt=F("amount_paid"),
        )
        .exclude(Exists(DunningStep.objects.filter(fee_invoice_id=OuterRef("pk"))))
        .exclude(Exists(ServiceSuspension.objects.filter(reactivation_invoice_id=OuterRef("pk"))))
    )


def dunning_customers(organisation: "Organisation", as_of: datetime.date) -> list[int]:
    """The customers with an invoice the run of ``as_of`` looks at, in id order (its chunks)."""
    return sorted(set(dunnable_invoices(organisation, as_of).values_list("customer_id", flat=True)))


@dataclass(frozen=True)
class OpenInvoice:
    """One open invoice, as the plan reads it."""

    invoice_id: int
    customer_id: int
    number: str
    customer: str
    due_date: datetime.date


@dataclass(frozen=True)
class PlannedStep:
    """A step the run does (or, in a dry run, would do) for one invoice."""

    invoice_id: int
    number: str
    customer: str
    step: DueStep


def open_invoices(
    organisation: "Organisation",
    as_of: datetime.date,
    *,
    customer_ids: Sequence[int] | None = None,
    after: int = 0,
    limit: int | None = None,
) -> list[OpenInvoice]:
    """The invoices the run of ``as_of`` looks at, of ``customer_ids`` (a chunk) or those of ids
    after ``after`` (``limit`` at a time)."""
    rows = dunnable_invoices(organisation, as_of)
    if customer_ids is not None:
        rows = rows.filter(customer_id__in=list(customer_ids)).order_by("customer_id", "due_date", "pk")
    else:
        rows = rows.filter(pk__gt=after).order_by("pk")
    values = rows.values_list("pk", "customer_id", "number", "customer__name", "due_date")
    return [
        OpenInvoice(pk, customer_id, number, name, due_date)
        for pk, customer_id, number, name, due_date in (values[:limit] if limit is not None else values)
        if due_date is not None
    ]


@dataclass(frozen=True)
class InvoiceFacts:
    """What the schedule of one open invoice depends on besides its due date."""

    done: frozenset[tuple[str, int]]
    card_retries: bool
    held_until: datetime.date | None


def invoice_facts(organisation: "Organisation", invoices: Sequence[OpenInvoice]) -> dict[int, InvoiceFacts]:
    """The steps done, whether a card retry applies and the transfer hold, by invoice id."""
    ids = [inv.invoice_id for inv in invoices]
    done = done_steps(ids)
    declined = declined_invoice_ids(ids)
    cards = (
        retry_cards(organisation, [(inv.invoice_id, inv.customer_id) for inv in invoices]) if declined else {}
    )
    holds = transfer_holds(organisation, ids)
    return {
        pk: InvoiceFacts(
            done=frozenset(done.get(pk, ())),
            card_retries=pk in declined and pk in cards,
            held_until=holds.get(pk),
        )
        for pk in ids
    }


def plan_steps(
    organisation: "Organisation", invoices: Sequence[OpenInvoice], as_of: datetime.date
) -> list[PlannedStep]:
    """The steps due by ``as_of`` of each of ``invoices``, in order (the run's plan, its dry run)."""
    schedule = Schedule.of(dunning_settings(organisation))
    facts = invoice_facts(organisation, invoices)
    return [
        PlannedStep(invoice_id=inv.invoice_id, number=inv.number, customer=inv.customer, step=step)
        for inv in invoices
        for step in due_steps(
            schedule,
            due_date=inv.due_date,
            as_of=as_of,
            done=facts[inv.invoice_id].done,
            card_retries=facts[inv.invoice_id].card_retries,
            held_until=facts[inv.invoice_id].held_until,
        )
    ]


#: Invoices ``dunning_due`` plans at a time.
DUE_BATCH = 2000


def dunning_due(organisation: "Organisation", as_of: datetime.date) -> bool:
    """Whether the dunning run of ``as_of`` has a step to do (the half-hourly task and the test
    clock ask first, so that a day with nothing due costs a few queries, not a run)."""
    after = 0
    while batch := open_invoices(organisation, as_of, after=after, limit=DUE_BATCH):
        if plan_steps(organisation, batch, as_of):
            return True
        after = batch[-1].invoice_id
    return False


def next_dunning_day(organisation: "Organisation", after: datetime.date) -> datetime.date | None:
    """The first day after ``after`` on which the dunning run has a step to do, as things stand
    (the test clock jumps to it rather than asking every day); ``None`` when nothing is to come."""
    if after == datetime.date.max:
        return None
    schedule = Schedule.of(dunning_settings(organisation))
    every = datetime.date.max - datetime.timedelta(days=-schedule.earliest)
    tomorrow = after + datetime.timedelta(days=1)
    found: datetime.date | None = None
    last = 0
    while batch := open_invoices(organisation, every, after=last, limit=DUE_BATCH):
        facts = invoice_facts(organisation, batch)
        for inv in batch:
            fact = facts[inv.invoice_id]
            for step in pending_steps(
                schedule,
                due_date=inv.due_date,
                done=fact.done,
                card_retries=fact.card_retries,
                held_until=fact.held_until,
            ):
                day = max(step.on, tomorrow)
                found = day if found is None else min(found, day)
        last = batch[-1].invoice_id
    return found


def done_steps(invoice_ids: Sequence[int]) -> dict[int, set[tuple[str, int]]]:
    found: dict[int, set[tuple[str, int]]] = {}
    for invoice_id, kind, offset in DunningStep.objects.filter(invoice_id__in=invoice_ids).values_list(
        "invoice_id", "kind", "offset_days"
    ):
        found.setdefault(invoice_id, set()).add((kind, offset))
    return found


def declined_invoice_ids(invoice_ids: Sequence[int]) -> set[int]:
    """Those of the invoices charged before and declined (what a card retry tries again)."""
    return set(
        CollectionAttempt.objects.filter(
            invoice_id__in=invoice_ids, outcome=CollectionAttempt.Outcome.FAILED
        ).values_list("invoice_id", flat=True)
    )


def transfer_holds(organisation: "Organisation", invoice_ids: Sequence[int]) -> dict[int, datetime.date]:
    """The last day of grace of each invoice with a declared transfer or cheque not yet recorded:
    ``transfer_grace_days`` from the later of the day it was sent and the day it was declared."""
    grace = datetime.timedelta(days=organisation.transfer_grace_days)
    found: dict[int, datetime.date] = {}
    for invoice_id, sent_on, declared_at in TransferDeclaration.objects.filter(
        organisation=organisation, invoice_id__in=invoice_ids, status=TransferDeclaration.Status.DECLARED
    ).values_list("invoice_id", "sent_on", "declared_at"):
        last = max(sent_on, declared_at.date()) + grace - datetime.timedelta(days=1)
        found[invoice_id] = max(last, found.get(invoice_id, last))
    return found


def retry_cards(
    organisation: "Organisation", invoices: Sequence[tuple[int, int]]
) -> dict[int, PaymentMethod]:
    """The card a retry charges, by invoice id (of ``(invoice id, customer id)`` pairs): the card of
    recurring payment of the service the invoice renews, else the customer's default card; valid,
    its provider connected."""
    connected = list(
        ProviderAccount.objects.filter(organisation=organisation).values_list("provider", flat=True)
    )
    usable = PaymentMethod.objects.filter(
        customer__organisation=organisation,
        kind=PaymentMethod.Kind.CARD,
        status=PaymentMethod.Status.VALID,
        provider__in=connected,
    )
    customer_ids = sorted({customer_id for _pk, customer_id in invoices})
    defaults: dict[int, PaymentMethod] = {}
    for card in usable.filter(customer_id__in=customer_ids, is_default=True).order_by("-created_at", "-id"):
        defaults.setdefault(card.customer_id, card)
    chosen = dict(
        ServiceRenewal.objects.filter(
            organisation=organisation,
            invoice_id__in=[pk for pk, _c in invoices],
            service__recurring=True,
            service__payment_method__isnull=False,
        ).values_list("invoice_id", "service__payment_method_id")
    )
    cards = usable.in_bulk(list(chosen.values()))
    found: dict[int, PaymentMethod] = {}
    for pk, customer_id in invoices:
        method: PaymentMethod | None = cards.get(chosen.get(pk, 0)) or defaults.get(customer_id)
        if method is not None:
            found[pk] = method
    return found


def services_of_invoices(
    organisation: "Organisation", invoices: Sequence[tuple[int, int]]
) -> dict[int, list[Service]]:
    """The services an overdue invoice suspends or terminates, by invoice id: those it renews, or,
    when it renews none (a monthly account invoice), every service of its customer not cut yet."""
    renewed: dict[int, list[Service]] = {}
    for renewal in ServiceRenewal.objects.filter(
        organisation=organisation, invoice_id__in=[pk for pk, _c in invoices]
    ).select_related("service"):
        assert renewal.invoice_id is not None
        renewed.setdefault(renewal.invoice_id, []).append(renewal.service)
    by_customer: dict[int, list[Service]] = {}
    others = sorted({customer_id for pk, customer_id in invoices if pk not in renewed})
    for service in Service.objects.filter(organisation=organisation, customer_id__in=others).exclude(
        status=Service.Status.TERMINATED
    ):
        by_customer.setdefault(service.customer_id, []).append(service)
    return {pk: renewed.get(pk) or by_customer.get(customer_id, []) for pk, customer_id in invoices}


# --- the back office's view ---


@dataclass(frozen=True)
class DunningRow:
    """One invoice in dunning: its last step done, how late it is, and what comes next, when."""

    invoice: Invoice
    days_late: int
    amount_due: Decimal
    last_step: DunningStep | None
    next_step: DueStep | None
    next_preview: str
    held_until: datetime.date | None


def _preview(kind: DunningStep.Kind, organisation: "Organisation") -> str:
    texts = {
        Kind.REMINDER_BEFORE: _("Courriel : l'échéance approche, lien de paiement."),
        Kind.REMINDER: _("Courriel de relance : montant dû, jours de retard, lien de paiement."),
        Kind.CARD_RETRY: _("Nouvelle tentative de prélèvement sur la carte enregistrée."),
        Kind.LATE_FEE: _("Facture de frais de retard (intérêts au taux de %(rate)s %%)")
        % {"rate": organisation.late_penalty_rate}
        + (_(" et indemnité forfaitaire de 40 €.") if organisation.country == "FR" else "."),
        Kind.SUSPENSION: _("Suspension des services, facture de réactivation, courriel."),
        Kind.TERMINATION: _("Résiliation des services."),
    }
    return texts[kind]


#: The back office's filter "no step yet".
NO_STEP = "none"


def dunning_invoices(
    organisation: "Organisation", as_of: datetime.date, *, step: str = ""
) -> QuerySet[Invoice]:
    """The open invoices in dunning by ``as_of``, the most overdue first, each with the kind of its
    last step done (``last_kind``); ``step`` keeps those whose last step is of that kind
    (``NO_STEP``: none yet)."""
    last = (
        DunningStep.objects.filter(invoice_id=OuterRef("pk"))
        .exclude(outcome=Outcome.SKIPPED)
        .order_by("-offset_days", "-id")
        .values("kind")[:1]
    )
    rows = (
        dunnable_invoices(organisation, as_of)
        .annotate(last_kind=Subquery(last))
        .select_related("customer")
        .order_by("due_date", "id")
    )
    if step == NO_STEP:
        return rows.filter(last_kind__isnull=True)
    if step in Kind.values:
        return rows.filter(last_kind=step)
    return rows


def _next_step(
    schedule: Schedule,
    invoice: Invoice,
    as_of: datetime.date,
    done: set[tuple[str, int]],
    card_retries: bool,
    held_until: datetime.date | None,
) -> DueStep | None:
    """What the run does next for ``invoice``: the step it would do today, else the next to come."""
    assert invoice.due_date is not None
    due_date = invoice.due_date
    now = due_steps(
        schedule, due_date=due_date, as_of=as_of, done=done, card_retries=card_retries, held_until=held_until
    )
    doing = [step for step in now if step.outcome == Outcome.DONE]
    if doing:
        return doing[0]
    coming = [
        step
        for step in pending_steps(
            schedule, due_date=due_date, done=done, card_retries=card_retries, held_until=held_until
        )
        if step.on > as_of
    ]
    return min(coming, key=lambda step: (step.on, step.offset, KIND_ORDER[step.kind]), default=None)


def dunning_overview(
    organisation: "Organisation", as_of: datetime.date, *, invoices: Sequence[Invoice] | None = None
) -> list[DunningRow]:
    """Each invoice in dunning (or those of ``invoices``, a page of ``dunning_invoices``): its last
    step, how late it is, what the run does next and when, and what the customer would get."""
    schedule = Schedule.of(dunning_settings(organisation))
    found = list(invoices) if invoices is not None else list(dunning_invoices(organisation, as_of))
    ids = [inv.pk for inv in found]
    done = done_steps(ids)
    last: dict[int, DunningStep] = {}
    for row in (
        DunningStep.objects.filter(invoice_id__in=ids)
        .exclude(outcome=Outcome.SKIPPED)
        .order_by("invoice_id", "offset_days", "id")
    ):
        last[row.invoice_id] = row
    declined = declined_invoice_ids(ids)
    cards = retry_cards(organisation, [(inv.pk, inv.customer_id) for inv in found])
    holds = transfer_holds(organisation, ids)
    rows = []
    for invoice in found:
        assert invoice.due_date is not None
        following = _next_step(
            schedule,
            invoice,
            as_of,
            done.get(invoice.pk, set()),
            invoice.pk in declined and invoice.pk in cards,
            holds.get(invoice.pk),
        )
        rows.append(
            DunningRow(
                invoice=invoice,
                days_late=max((as_of - invoice.due_date).days, 0),
                amount_due=max(invoice.amount_due, ZERO),
                last_step=last.get(invoice.pk),
                next_step=following,
                next_preview=_preview(following.kind, organisation) if following else "",
                held_until=holds.get(invoice.pk),
            )
        )
    return rows
