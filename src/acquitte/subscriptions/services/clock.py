"""An organisation's billing settings, and the test clock that lets a test-mode organisation live
a year of billing in a minute (Stripe's test clocks; Kill Bill's clock in its test mode).

Moving the clock runs, in date order, the billing run and the collection run of every bill day and
collection day it passes, and the renewal and dunning runs of every day that has something for
them, as if each date had come; every run is idempotent, so a move that stops halfway (the clock
kept at the last day reached) and is made again bills, renews, charges and duns nothing twice.
"""

import datetime
import zoneinfo
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils.translation import gettext as _

from acquitte.core.actors import Actor
from acquitte.core.errors import BusinessError, ErrorCode
from acquitte.core.models import AuditAction
from acquitte.core.services import record_transition
from acquitte.core.tenancy import check_can_manage_settings, check_can_write

from ..dunning_selectors import dunning_due, next_dunning_day
from ..models import BillingRun, BillingSettings
from ..renewal_selectors import next_renewal_day, renewal_due
from ..selectors import billing_settings, in_test_mode, today_for
from .billing import run_billing
from .collection import run_collection
from .dunning import run_dunning
from .renewals import run_renewals

if TYPE_CHECKING:
    from acquitte.customers.models import Organisation

#: How far one move may take the clock: enough for a few renewals of yearly services.
MAX_CLOCK_YEARS = 5
FIRST_DAY, LAST_DAY = 1, 28


@cache
def time_zones() -> frozenset[str]:
    """The IANA zones an organisation may bill in (the list of the settings form)."""
    return frozenset(zoneinfo.available_timezones())


@dataclass(frozen=True)
class ClockStep:
    """One run the clock fired: its kind, the date it took as today, and what it did."""

    kind: BillingRun.Kind
    on: datetime.date
    run: BillingRun | None
    invoices: int
    charges: int
    failures: int
    total: Decimal


@dataclass(frozen=True)
class ClockResult:
    """A move of the test clock: from which date to which, and the runs made on the way."""

    start: datetime.date
    to: datetime.date
    steps: list[ClockStep] = field(default_factory=list)

    @property
    def invoices(self) -> int:
        return sum(step.invoices for step in self.steps)

    @property
    def charges(self) -> int:
        return sum(step.charges for step in self.steps)

    @property
    def failures(self) -> int:
        return sum(step.failures for step in self.steps)


def update_billing_settings(
    *, organisation: "Organisation", actor: Actor, bill_day: int, collection_day: int, time_zone: str
) -> BillingSettings:
    """Set the bill day, the collection day (1 to 28: every month has them) and the time zone."""
    check_can_manage_settings(actor, organisation)
    errors: dict[str, list[str]] = {}
    for name, value in (("bill_day", bill_day), ("collection_day", collection_day)):
        if isinstance(value, bool) or not isinstance(value, int) or not FIRST_DAY <= value <= LAST_DAY:
            errors[name] = [
                _("Choisissez un jour entre %(first)d et %(last)d (tous les mois l'ont).")
                % {"first": FIRST_DAY, "last": LAST_DAY}
            ]
    if time_zone not in time_zones():
        errors["time_zone"] = [_("Ce fuseau horaire est inconnu.")]
    if errors:
        raise BusinessError(errors, code=ErrorCode.INVALID_INPUT)
    with transaction.atomic():
        found = BillingSettings.objects.select_for_update().get(pk=billing_settings(organisation).pk)
        before: dict[str, int | str] = {
            "bill_day": found.bill_day,
            "collection_day": found.collection_day,
            "time_zone": found.time_zone,
        }
        after: dict[str, int | str] = {
            "bill_day": bill_day,
            "collection_day": collection_day,
            "time_zone": time_zone,
        }
        if before != after:
            found.bill_day, found.collection_day, found.time_zone = bill_day, collection_day, time_zone
            found.save(update_fields=list(after))
            record_transition(
                obj=found,
                organisation=organisation,
                actor=actor,
                action=AuditAction.UPDATE,
                detail={"before": before, "after": after},
            )
    return found


def _add_years(day: datetime.date, years: int) -> datetime.date:
    if day.year + years > datetime.MAXYEAR:
        return datetime.date.max
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _set_clock(organisation: "Organisation", actor: Actor, to: datetime.date | None) -> BillingSettings:
    with transaction.atomic():
        found = BillingSettings.objects.select_for_update().get(pk=billing_settings(organisation).pk)
        before = found.test_clock
        found.test_clock = to
        found.save(update_fields=["test_clock"])
        record_transition(
            obj=found,
            organisation=organisation,
            actor=actor,
            action=AuditAction.UPDATE,
            detail={"test_clock": [before.isoformat() if before else None, to.isoformat() if to else None]},
        )
    return found


def run_days(settings: BillingSettings, start: datetime.date, to: datetime.date) -> list[datetime.date]:
    """The bill days and collection days after ``start`` up to ``to`` (inclusive), in order."""
    days = {settings.bill_day, settings.collection_day}
    found = []
    day = start + datetime.timedelta(days=1)
    while day <= to:
        if day.day in days:
            found.append(day)
        day += datetime.timedelta(days=1)
    return found


def _next_day(
    organisation: "Organisation", after: datetime.date, to: datetime.date, fixed: list[datetime.date]
) -> datetime.date | None:
    """The next day up to ``to`` with a run to fire: a bill or collection day, or the first day the
    renewal or dunning run has something due. Asked after each day's runs, which can bring one
    nearer; so a five-year move costs a few queries per day with a run, not per day passed."""
    days = [day for day in fixed if day > after][:1]
    days += [
        day for day in (next_renewal_day(organisation, after), next_dunning_day(organisation, after)) if day
    ]
    found = min(days, default=None)
    return found if found is not None and found <= to else None


def _runs_of_day(
    organisation: "Organisation", settings: BillingSettings, day: datetime.date, fixed: list[datetime.date]
) -> list[BillingRun.Kind]:
    """The runs that fire on ``day``, in order: billing, renewals, collection, then dunning (which
    sees the day's charges)."""
    kinds = []
    if day in fixed and day.day == settings.bill_day:
        kinds.append(BillingRun.Kind.BILLING)
    if renewal_due(organisation, day):
        kinds.append(BillingRun.Kind.RENEWAL)
    if day in fixed and day.day == settings.collection_day:
        kinds.append(BillingRun.Kind.COLLECTION)
    if dunning_due(organisation, day):
        kinds.append(BillingRun.Kind.DUNNING)
    return kinds


def _fire(organisation: "Organisation", kind: BillingRun.Kind, day: datetime.date, actor: Actor) -> ClockStep:
    if kind == BillingRun.Kind.BILLING:
        billed = run_billing(organisation=organisation, as_of=day, actor=actor)
        return ClockStep(kind, day, billed.run, billed.invoices, 0, billed.failures, billed.total)
    if kind == BillingRun.Kind.RENEWAL:
        renewed = run_renewals(organisation=organisation, as_of=day, actor=actor)
        return ClockStep(
            kind, day, renewed.run, renewed.invoices, renewed.charges, renewed.failures, renewed.total
        )
    if kind == BillingRun.Kind.COLLECTION:
        collected = run_collection(organisation=organisation, as_of=day, actor=actor)
        return ClockStep(kind, day, collected.run, 0, collected.charges, collected.failures, collected.total)
    dunned = run_dunning(organisation=organisation, as_of=day, actor=actor)
    return ClockStep(kind, day, dunned.run, 0, dunned.charges, dunned.failures, dunned.total)


def advance_test_clock(*, organisation: "Organisation", actor: Actor, to: datetime.date) -> ClockResult:
    """Move the test clock forward to ``to``, running the runs of each bill and collection day passed.

    Each day with a run is reached in turn: the clock is set to it, then its runs fire with this
    actor (billing, renewals, collection, dunning), each in its own transactions, never inside one
    (the collection, renewal and dunning runs call the provider). Test mode only.
    """
    check_can_write(actor, organisation)
    if not in_test_mode(organisation):
        raise BusinessError(
            _(
                "L'horloge de test n'existe qu'en mode test (bac à sable connecté) : une organisation en "
                "production suit toujours la date réelle."
            ),
            code=ErrorCode.INVALID_STATE,
        )
    start = today_for(organisation)
    if not isinstance(to, datetime.date) or isinstance(to, datetime.datetime):
        raise BusinessError(_("Date invalide."), code=ErrorCode.INVALID_DATE)
    if to <= start:
        raise BusinessError(
            _("L'horloge de test n'avance que vers l'avenir : choisissez une date après le %(date)s.")
            % {"date": start.isoformat()},
            code=ErrorCode.INVALID_DATE,
        )
    if to > _add_years(start, MAX_CLOCK_YEARS):
        raise BusinessError(
            _("L'horloge de test avance d'au plus %(years)d ans à la fois.") % {"years": MAX_CLOCK_YEARS},
            code=ErrorCode.INVALID_DATE,
        )
    settings = billing_settings(organisation)
    steps: list[ClockStep] = []
    fixed = run_days(settings, start, to)
    day = _next_day(organisation, start, to, fixed)
    while day is not None:
        kinds = _runs_of_day(organisation, settings, day, fixed)
        if kinds:
            _set_clock(organisation, actor, day)
        steps += [_fire(organisation, kind, day, actor) for kind in kinds]
        day = _next_day(organisation, day, to, fixed)
    _set_clock(organisation, actor, to)
    return ClockResult(start=start, to=to, steps=steps)


def reset_test_clock(*, organisation: "Organisation", actor: Actor) -> BillingSettings:
    """Back to the real date: the runs take today in the organisation's time zone again."""
    check_can_write(actor, organisation)
    found = billing_settings(organisation)
    if found.test_clock is None:
        return found
    return _set_clock(organisation, actor, None)
