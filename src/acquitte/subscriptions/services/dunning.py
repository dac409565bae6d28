"""The dunning run (seed 000, WHMCS's automation settings): each day, each open invoice gets the
steps of its schedule that have come: reminders before and after its due date, card retries, a
late fee, suspension and termination of its services.

Idempotent by construction: each step is a ``DunningStep`` row unique on (invoice, kind, offset).
A chunk inserts its steps with ``ignore_conflicts`` and then acts on the rows it inserted only
(selected back by the run), so a second run, a racing run or a run replayed for a past date does
nothing twice. The card retries go first, through the collection run's machinery: their claims
(a ``CollectionAttempt`` of the day) are committed, the provider is called outside any
transaction, the answers applied; then the other steps are planned again, an invoice paid by its
retry getting none. Reminders are queued in the outbox in one insert per chunk.
"""

import datetime
import re
import time
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from itertools import cycle
from typing import TYPE_CHECKING, Any

from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from django.utils.html import escape
from django.utils.translation import gettext as _

from acquitte.catalog.models import Product, TaxCategory
from acquitte.core.actors import Actor, Person, actor_label
from acquitte.core.bulk import update_rows
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.money import ZERO, round_money
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_manage_settings, check_can_write
from acquitte.documents.services import date_text, money_text, public_url
from acquitte.invoicing.models import Invoice
from acquitte.invoicing.services import LineInput, create_invoice, finalise_invoices
from acquitte.notifications.services import render_email

from ..dunning_selectors import (
    PlannedStep,
    dunning_customers,
    dunning_settings,
    open_invoices,
    plan_steps,
    retry_cards,
    services_of_invoices,
)
from ..models import BillingRun, CollectionAttempt, DunningSettings, DunningStep, Service, ServiceSuspension
from .billing import check_run_date, email_row, queue_email_rows, queue_invoice_emails, run_issue_date
from .collection import charge_invoices
from .runs import count_chunk, open_run
from .suspensions import suspend_services, terminate_services

if TYPE_CHECKING:
    from acquitte.customers.models import Customer, Organisation

Kind = DunningStep.Kind
Outcome = DunningStep.Outcome
#: Customers per chunk: one Celery task.
CHUNK_SIZE = 1000
#: The longest offset of any step, in days (a year).
MAX_OFFSET = 365
#: The French recovery indemnity (Code de commerce, art. L441-10 and D441-5).
FR_RECOVERY_INDEMNITY = Decimal("40.00")
#: The tax category of the late-fee lines: interest and the indemnity are outside the scope of VAT.
OUT_OF_SCOPE = "hors-champ"
REMINDERS = (Kind.REMINDER_BEFORE, Kind.REMINDER)


@dataclass
class DunningSummary:
    """What a dunning run did: its record, the steps written (done or skipped), the invoices they
    concern, the card retries charged and failed, and what the charges and fees came to."""

    run: BillingRun | None
    steps: int = 0
    invoices: int = 0
    charges: int = 0
    failures: int = 0
    total: Decimal = ZERO
    seconds: float = 0.0
    planned: list[PlannedStep] = field(default_factory=list)


# --- settings ---

SETTING_FIELDS = (
    "renewal_notice_days",
    "reminder_before_days",
    "overdue_reminder_days",
    "card_retry_days",
    "late_fee_after_days",
    "suspend_after_days",
    "terminate_after_days",
    "reactivation_fee",
    "card_expiry_notice_days",
)
OFFSET_LISTS = ("overdue_reminder_days", "card_retry_days", "card_expiry_notice_days")
OPTIONAL_DAYS = ("late_fee_after_days", "suspend_after_days", "terminate_after_days")
DAY_LIMITS = {"renewal_notice_days": 90, "reminder_before_days": 60}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_settings(organisation: "Organisation", values: dict[str, Any]) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}
    for name in OFFSET_LISTS:
        days = values[name]
        if not isinstance(days, list) or not all(_is_int(d) and 0 <= d <= MAX_OFFSET for d in days):
            errors[name] = [_("Une liste de jours entre 0 et %(max)d.") % {"max": MAX_OFFSET}]
        elif len(set(days)) != len(days):
            errors[name] = [_("Chaque jour n'y figure qu'une fois.")]
        elif days != sorted(days) and name != "card_expiry_notice_days":
            errors[name] = [_("Les jours vont dans l'ordre croissant.")]
        elif name == "card_expiry_notice_days" and days != sorted(days, reverse=True):
            errors[name] = [_("Les jours vont dans l'ordre décroissant (30, puis 7).")]
    for name, limit in DAY_LIMITS.items():
        if not _is_int(values[name]) or not 0 <= values[name] <= limit:
            errors[name] = [_("Un nombre de jours entre 0 et %(max)d.") % {"max": limit}]
    for name in OPTIONAL_DAYS:
        value = values[name]
        if value is not None and (not _is_int(value) or not 0 <= value <= MAX_OFFSET):
            errors[name] = [_("Un nombre de jours entre 0 et %(max)d, ou vide.") % {"max": MAX_OFFSET}]
    suspend, terminate = values["suspend_after_days"], values["terminate_after_days"]
    checked = not errors.keys() & {"suspend_after_days", "terminate_after_days"}
    if checked and suspend is not None and terminate is not None and terminate <= suspend:
        errors["terminate_after_days"] = [_("La résiliation vient après la suspension.")]
    fee = values["reactivation_fee"]
    if fee is not None and (not isinstance(fee, Product) or fee.organisation_id != organisation.pk):
        errors["reactivation_fee"] = [_("Produit inconnu.")]
    return errors


def update_dunning_settings(*, organisation: "Organisation", actor: Actor, **fields: Any) -> DunningSettings:
    """Change the renewal and dunning schedule (the owner): lists of days in order, each once, within
    a year; suspension before termination; a reactivation fee of the organisation's catalogue."""
    check_can_manage_settings(actor, organisation)
    unknown = set(fields) - set(SETTING_FIELDS)
    if unknown:
        raise BusinessError(
            _("Réglage inconnu : %(names)s.") % {"names": ", ".join(sorted(unknown))},
            code=ErrorCode.INVALID_INPUT,
        )
    current = dunning_settings(organisation)
    before = {name: getattr(current, name) for name in SETTING_FIELDS}
    values = {**before, **fields}
    errors = _check_settings(organisation, values)
    if errors:
        raise BusinessError(errors, code=ErrorCode.INVALID_INPUT)
    with transaction.atomic():
        found, _created = DunningSettings.objects.select_for_update().get_or_create(organisation=organisation)
        for name, value in values.items():
            setattr(found, name, value)
        found.save()
        record_transition(
            obj=found,
            organisation=organisation,
            actor=actor,
            action=AuditAction.UPDATE,
            detail={
                name: [_plain(before[name]), _plain(values[name])]
                for name in SETTING_FIELDS
                if before[name] != values[name]
            },
        )
    return found


def _plain(value: object) -> object:
    return value.pk if isinstance(value, Product) else value


# --- the run ---


def run_dunning(
    *,
    organisation: "Organisation",
    as_of: datetime.date,
    actor: Actor,
    dry_run: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> DunningSummary:
    """Do the steps due by ``as_of`` of every open invoice, ``chunk_size`` customers per chunk.

    ``dry_run`` writes nothing and returns the steps the run would do. With a broker, each chunk
    is a Celery task (``dunning_chunk``) and the run's record fills in as workers finish.
    """
    check_can_write(actor, organisation)
    as_of = check_run_date(as_of)
    if chunk_size < 1:
        raise BusinessError(_("Taille de lot invalide."), code=ErrorCode.INVALID_INPUT)
    started = time.perf_counter()
    customer_ids = dunning_customers(organisation, as_of)
    chunks = [customer_ids[i : i + chunk_size] for i in range(0, len(customer_ids), chunk_size)]
    if dry_run:
        planned = [
            p
            for chunk in chunks
            for p in plan_steps(organisation, open_invoices(organisation, as_of, customer_ids=chunk), as_of)
        ]
        return DunningSummary(
            run=None,
            steps=len(planned),
            invoices=len({p.invoice_id for p in planned}),
            planned=planned,
            seconds=time.perf_counter() - started,
        )
    run = open_run(
        organisation=organisation,
        kind=BillingRun.Kind.DUNNING,
        run_date=as_of,
        chunks_total=len(chunks),
        actor=actor,
    )
    if not django_settings.CELERY_TASK_ALWAYS_EAGER:
        from ..tasks import dunning_chunk  # the tasks call the services; only this dispatch goes back

        for chunk in chunks:
            transaction.on_commit(
                partial(
                    dunning_chunk.delay,
                    run_id=run.pk,
                    customer_ids=chunk,
                    user_id=actor.pk if isinstance(actor, Person) else None,
                    reason=actor_label(actor),
                )
            )
        return DunningSummary(run=run, seconds=time.perf_counter() - started)
    summary = DunningSummary(run=run)
    for chunk in chunks:
        result = dun_customers(
            organisation=organisation, customer_ids=chunk, as_of=as_of, actor=actor, run=run
        )
        summary.steps += result.steps
        summary.invoices += result.invoices
        summary.charges += result.charges
        summary.failures += result.failures
        summary.total += result.total
    run.refresh_from_db()
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class _Chunk:
    steps: int = 0
    invoices: int = 0
    charges: int = 0
    failures: int = 0
    total: Decimal = ZERO
    errors: list[str] = field(default_factory=list)


def dun_customers(
    *,
    organisation: "Organisation",
    customer_ids: list[int],
    as_of: datetime.date,
    actor: Actor,
    run: BillingRun,
) -> _Chunk:
    """Do one chunk's steps of ``as_of`` and count it into ``run``: the card retries first (the
    provider called outside any transaction), then the other steps in one transaction."""
    check_can_write(actor, organisation)
    if run.organisation_id != organisation.pk or run.kind != BillingRun.Kind.DUNNING:
        raise BusinessError(_("Objet introuvable."), code=ErrorCode.NOT_FOUND)
    result = _Chunk()
    touched: set[int] = set()
    try:
        _retry(organisation, customer_ids, as_of, actor, run, result, touched)
        with transaction.atomic():
            _steps(organisation, customer_ids, as_of, actor, run, result, touched)
    except Exception as error:
        count_chunk(run=run, actor=actor, failures=1, errors=[f"{type(error).__name__}: {error}"])
        raise
    result.invoices = len(touched)
    count_chunk(
        run=run,
        actor=actor,
        customers=len(customer_ids),
        invoices=result.invoices,
        charges=result.charges,
        failures=result.failures,
        total=result.total,
        errors=result.errors,
    )
    return result


def _insert(
    organisation: "Organisation", planned: list[PlannedStep], as_of: datetime.date, run: BillingRun
) -> list[DunningStep]:
    """Insert the planned steps; return those this run inserted (another run's are its own)."""
    DunningStep.objects.bulk_create(
        [
            DunningStep(
                organisation=organisation,
                invoice_id=p.invoice_id,
                kind=p.step.kind,
                offset_days=p.step.offset,
                done_on=as_of,
                outcome=p.step.outcome,
                message=_("Remplacé par une étape plus récente.")
                if p.step.outcome == Outcome.SKIPPED
                else "",
                run=run,
            )
            for p in planned
        ],
        ignore_conflicts=True,
        batch_size=1000,
    )
    kinds = {p.step.kind for p in planned}
    return list(
        DunningStep.objects.filter(
            run=run, done_on=as_of, invoice_id__in={p.invoice_id for p in planned}, kind__in=kinds
        ).order_by("invoice_id", "offset_days", "id")
    )


def _retry(
    organisation: "Organisation",
    customer_ids: list[int],
    as_of: datetime.date,
    actor: Actor,
    run: BillingRun,
    result: _Chunk,
    touched: set[int],
) -> None:
    """Charge again the declined invoices whose retry day has come, to the card on file, through
    the collection's ``charge_invoices``: one ``CollectionAttempt`` of the day each, committed before
    the provider is called outside any transaction (a collection of the same day having tried
    it, or a transfer declared, the retry is skipped)."""
    with transaction.atomic():
        invoices = open_invoices(organisation, as_of, customer_ids=customer_ids)
        planned = [p for p in plan_steps(organisation, invoices, as_of) if p.step.kind == Kind.CARD_RETRY]
        if not planned:
            return
        ours = [row for row in _insert(organisation, planned, as_of, run) if row.kind == Kind.CARD_RETRY]
        result.steps += len(ours)
        touched.update(row.invoice_id for row in ours)
        doing = {row.invoice_id: row for row in ours if row.outcome == Outcome.DONE}
        customer_of = {inv.invoice_id: inv.customer_id for inv in invoices}
        cards = retry_cards(organisation, [(pk, customer_of[pk]) for pk in doing])
    if not doing:
        return
    collected = charge_invoices(
        organisation=organisation, methods=cards, collection_date=as_of, actor=actor, run=run
    )
    result.charges += collected.charges
    result.failures += collected.failures
    result.total += collected.total
    result.errors += collected.errors
    answered = {
        invoice_id: (run_id, outcome, payment_id)
        for invoice_id, run_id, outcome, payment_id in CollectionAttempt.objects.filter(
            invoice_id__in=list(doing), collection_date=as_of
        ).values_list("invoice_id", "run_id", "outcome", "payment_id")
    }
    for pk, row in doing.items():
        run_id, outcome, payment_id = answered.get(pk, (None, None, None))
        row.payment_id = payment_id
        if run_id != run.pk or outcome == CollectionAttempt.Outcome.SKIPPED:
            row.outcome, row.message = Outcome.SKIPPED, _("Déjà tentée ce jour, ou virement déclaré.")
        elif outcome in (CollectionAttempt.Outcome.FAILED, CollectionAttempt.Outcome.NO_METHOD):
            row.outcome = Outcome.FAILED
    update_rows(list(doing.values()), ["outcome", "message", "payment"])


def _steps(
    organisation: "Organisation",
    customer_ids: list[int],
    as_of: datetime.date,
    actor: Actor,
    run: BillingRun,
    result: _Chunk,
    touched: set[int],
) -> None:
    planned = [
        p
        for p in plan_steps(
            organisation, open_invoices(organisation, as_of, customer_ids=customer_ids), as_of
        )
        if p.step.kind != Kind.CARD_RETRY
    ]
    if not planned:
        return
    ours = _insert(organisation, planned, as_of, run)
    ours = [row for row in ours if row.kind != Kind.CARD_RETRY]
    result.steps += len(ours)
    touched.update(row.invoice_id for row in ours)
    acting = [row for row in ours if row.outcome == Outcome.DONE]
    if not acting:
        return
    invoices = Invoice.objects.select_related("customer").in_bulk({row.invoice_id for row in acting})
    by_kind: dict[str, list[DunningStep]] = {}
    for row in acting:
        by_kind.setdefault(row.kind, []).append(row)
    fees = by_kind.get(Kind.LATE_FEE, [])
    if fees:
        result.total += _late_fees(organisation, fees, invoices, as_of, actor)
    for row in by_kind.get(Kind.SUSPENSION, []):
        _suspend(organisation, row, invoices[row.invoice_id], as_of, actor)
    for row in by_kind.get(Kind.TERMINATION, []):
        _terminate(organisation, row, invoices[row.invoice_id], as_of, actor)
    reminders = [row for row in acting if row.kind in REMINDERS]
    if reminders:
        _queue_reminders(organisation, reminders, invoices, as_of)


# --- late fees ---


def out_of_scope_category(organisation: "Organisation") -> TaxCategory:
    """The organisation's category with no tax, for lines outside the scope of VAT and sales taxes."""
    found, _created = TaxCategory.objects.get_or_create(
        organisation=organisation, code=OUT_OF_SCOPE, defaults={"name": _("Hors champ des taxes")}
    )
    return found


def late_fee_lines(
    organisation: "Organisation", invoice: Invoice, as_of: datetime.date, category: TaxCategory
) -> list[LineInput]:
    """The late fee of ``invoice`` on ``as_of``, as lines that state their basis: interest on what
    is due at the organisation's rate for the days late (actual/365, half-up to the cent), and in
    France the 40 € recovery indemnity (Code de commerce, L441-10 and D441-5). No rate, no interest
    (and outside France, no fee)."""
    assert invoice.due_date is not None
    days = (as_of - invoice.due_date).days
    due = invoice.amount_due
    rate = organisation.late_penalty_rate
    lang, country = "fr", organisation.country
    lines = []
    interest = round_money(due * rate / Decimal(100) * days / Decimal(365)) if days > 0 and due > 0 else ZERO
    if interest > 0:
        lines.append(
            LineInput(
                description=_(
                    "Intérêts de retard sur la facture %(number)s : %(amount)s × %(rate)s %% × %(days)d jours / 365"
                )
                % {
                    "number": invoice.number,
                    "amount": money_text(due, invoice.currency, lang=lang, country=country),
                    "rate": f"{rate.normalize():f}".replace(".", ","),
                    "days": days,
                },
                quantity=1,
                unit_price=interest,
                tax_category=category,
            )
        )
    if country == "FR":
        lines.append(
            LineInput(
                description=_(
                    "Indemnité forfaitaire pour frais de recouvrement, facture %(number)s "
                    "(Code de commerce, art. L441-10 et D441-5)"
                )
                % {"number": invoice.number},
                quantity=1,
                unit_price=FR_RECOVERY_INDEMNITY,
                tax_category=category,
            )
        )
    return lines


def _late_fees(
    organisation: "Organisation",
    rows: list[DunningStep],
    invoices: dict[int, Invoice],
    as_of: datetime.date,
    actor: Actor,
) -> Decimal:
    """One late-fee invoice per overdue invoice, finalised together, each e-mailed to its customer."""
    category = out_of_scope_category(organisation)
    issued = run_issue_date(organisation, as_of)
    drafts: dict[int, Invoice] = {}
    for row in rows:
        invoice = invoices[row.invoice_id]
        lines = late_fee_lines(organisation, invoice, as_of, category)
        if not lines:
            row.outcome, row.message = Outcome.SKIPPED, _("Aucun taux de pénalité : pas de frais.")
            continue
        drafts[row.pk] = create_invoice(
            organisation=organisation,
            customer=invoice.customer,
            actor=actor,
            lines=lines,
            issue_date=issued,
            due_date=issued,
            notes=_(
                "Frais de retard de la facture %(number)s, échue le %(due)s : %(days)d jours de retard au %(on)s."
            )
            % {
                "number": invoice.number,
                "due": date_text(invoice.due_date, lang="fr", country=organisation.country),
                "days": (as_of - invoice.due_date).days if invoice.due_date else 0,
                "on": date_text(as_of, lang="fr", country=organisation.country),
            },
        )
    finalised = (
        finalise_invoices(
            organisation=organisation, invoices=list(drafts.values()), actor=actor, issue_date=issued
        )
        if drafts
        else []
    )
    by_id = {inv.pk: inv for inv in finalised}
    for row in rows:
        if row.pk in drafts:
            row.fee_invoice = by_id[drafts[row.pk].pk]
    update_rows(rows, ["outcome", "message", "fee_invoice"])
    queue_invoice_emails(organisation, finalised)
    return sum((inv.total for inv in finalised), ZERO)


# --- suspension and termination ---


def _suspend(
    organisation: "Organisation", row: DunningStep, invoice: Invoice, as_of: datetime.date, actor: Actor
) -> None:
    services = services_of_invoices(organisation, [(invoice.pk, invoice.customer_id)])[invoice.pk]
    suspended = suspend_services(
        organisation=organisation,
        services=services,
        reason=Service.SuspensionReason.OVERDUE,
        note="",
        invoice=invoice,
        on=as_of,
        actor=actor,
    )
    if not suspended:
        row.outcome, row.message = Outcome.SKIPPED, _("Aucun service actif à suspendre.")
    else:
        row.fee_invoice_id = suspended[0].reactivation_invoice_id
        row.message = ", ".join(s.service.name for s in suspended)[:255]
    update_rows([row], ["outcome", "message", "fee_invoice"])


def _terminate(
    organisation: "Organisation", row: DunningStep, invoice: Invoice, as_of: datetime.date, actor: Actor
) -> None:
    services = services_of_invoices(organisation, [(invoice.pk, invoice.customer_id)])[invoice.pk]
    ended = terminate_services(organisation=organisation, services=services, on=as_of, actor=actor)
    if not ended:
        row.outcome, row.message = Outcome.SKIPPED, _("Aucun service à résilier.")
    else:
        row.message = ", ".join(s.name for s in ended)[:255]
    update_rows([row], ["outcome", "message"])


# --- reminders ---


class _ReminderMail:
    """The reminder e-mail, rendered once per language and variant with markers where each
    invoice's values go (a run queues thousands a second, which rendering each could not)."""

    NAMES = ("customer_name", "number", "amount", "due_date", "days", "url", "reactivation")
    MARKER = re.compile("\ue000(\\w+)\ue001")

    def __init__(self, organisation: "Organisation") -> None:
        self.organisation = organisation
        self._parts: dict[tuple[str, bool, bool], list[list[str]]] = {}

    def render(self, language: str, *, before: bool, suspended: bool, values: dict[str, str]) -> list[str]:
        key = (language, before, suspended)
        if key not in self._parts:
            context: dict[str, Any] = {name: f"\ue000{name}\ue001" for name in self.NAMES}
            context.update(organisation=self.organisation, before=before, suspended=suspended)
            rendered = render_email("dunning_reminder", context, language=language)
            self._parts[key] = [self.MARKER.split(text) for text in rendered]
        escaped = {name: escape(value) for name, value in values.items()}
        return [
            "".join(escaped[part] if odd else part for odd, part in zip(cycle((False, True)), parts))
            for parts in self._parts[key]
        ]


def _reactivation_due(invoice_ids: list[int]) -> dict[int, Decimal]:
    """What a customer with services suspended for these invoices pays to reactivate them: the
    invoice and its open reactivation invoice."""
    found: dict[int, Decimal] = {}
    for suspension in ServiceSuspension.objects.filter(
        invoice_id__in=invoice_ids, lifted_at__isnull=True, reason=Service.SuspensionReason.OVERDUE
    ).select_related("invoice", "reactivation_invoice"):
        assert suspension.invoice is not None
        fee = suspension.reactivation_invoice
        extra = fee.amount_due if fee is not None and fee.status == Invoice.Status.OPEN else ZERO
        found[suspension.invoice_id or 0] = suspension.invoice.amount_due + extra
    return found


def _queue_reminders(
    organisation: "Organisation", rows: list[DunningStep], invoices: dict[int, Invoice], as_of: datetime.date
) -> None:
    """Each reminder in the outbox, in one insert; delivered after commit."""
    mail = _ReminderMail(organisation)
    reactivation = _reactivation_due([row.invoice_id for row in rows])
    now = timezone.now()
    messages = []
    for row in rows:
        invoice = invoices[row.invoice_id]
        customer: Customer = invoice.customer
        if not customer.email or invoice.due_date is None:
            continue
        lang, country = customer.language, organisation.country
        url = public_url(invoice)
        to_reactivate = reactivation.get(invoice.pk)
        values = {
            "customer_name": customer.name,
            "number": invoice.number,
            "amount": money_text(invoice.amount_due, invoice.currency, lang=lang, country=country),
            "due_date": date_text(invoice.due_date, lang=lang, country=country),
            "days": str(max((as_of - invoice.due_date).days, 0)),
            "url": url,
            "reactivation": money_text(to_reactivate, invoice.currency, lang=lang, country=country)
            if to_reactivate is not None
            else "",
        }
        subject, body, html = mail.render(
            lang, before=row.kind == Kind.REMINDER_BEFORE, suspended=to_reactivate is not None, values=values
        )
        messages.append(
            email_row(
                organisation,
                kind=f"dunning_{row.kind}",
                to=customer.email,
                subject=" ".join(subject.split())[:200],
                body=body,
                html=html,
                reference=invoice.number,
                link=url,
                now=now,
            )
        )
    queue_email_rows(messages)
