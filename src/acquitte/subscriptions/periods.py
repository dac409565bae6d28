"""The date and money rules of recurring billing (seed 001): which periods are due, and proration.

Pure functions of local dates (the organisation's "today", ``selectors.today_for``), no database.

Monthly subscriptions are billed by calendar month. The run on the bill day of month M (or any later
date, catching up) bills month M in full; a subscription's first invoice also carries the part of the
previous month since its start. A subscription that starts on the bill day of M or after it is first
billed on the bill day of M+1: its part of M prorated, plus M+1 in full. One that starts before the
bill day of M is first billed on that bill day (its part of M, which is all of M when it started on
the 1st).

Yearly subscriptions are billed by periods of one year from their start, each as soon as it starts.
The anniversary of 29 February is 28 February in a year that is not a leap year (and 29 February
again in the next leap year: every anniversary is counted from the start date, never chained).

A cancelled subscription's last day of service (``ends_on``, inclusive) clips its last period, and
nothing after it is due. Each period part is a ``Slice`` whose ``start`` never depends on the date
of the run, so it keys the ``BilledPeriod`` that makes the runs idempotent.

Rounding rule (proration by the day): the prorated unit price of a part of a period is
``unit price × days used / days in the period``, rounded half-up to the cent; a full period is the
unit price itself. The invoice line is ``quantity × prorated unit price``, rounded half-up to the
cent. So the prorated parts of one period add up to its price within one cent per part.
"""

import datetime
from dataclasses import dataclass
from decimal import Decimal

from acquitte.core.money import round_money

MONTHLY = "monthly"
YEARLY = "yearly"

ONE_DAY = datetime.timedelta(days=1)


@dataclass(frozen=True)
class Slice:
    """The part ``start``–``end`` (inclusive) of the period ``period_start``–``period_end``."""

    start: datetime.date
    end: datetime.date
    period_start: datetime.date
    period_end: datetime.date

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def period_days(self) -> int:
        return (self.period_end - self.period_start).days + 1

    @property
    def full(self) -> bool:
        return self.start == self.period_start and self.end == self.period_end


def add_days(day: datetime.date, days: int) -> datetime.date | None:
    """``day`` moved by ``days``, or ``None`` outside the calendar (years 1 to 9999)."""
    try:
        return day + datetime.timedelta(days=days)
    except OverflowError:
        return None


def add_months(day: datetime.date, months: int) -> datetime.date:
    """The first day of the month ``months`` after the month of ``day``."""
    index = day.year * 12 + day.month - 1 + months
    return datetime.date(index // 12, index % 12 + 1, 1)


def one_month_after(day: datetime.date) -> datetime.date:
    """The same day next month, or that month's last day when it is shorter (31 January → 28 February)."""
    following = add_months(day, 1)
    return following.replace(day=min(day.day, month_end(following).day))


def month_end(day: datetime.date) -> datetime.date:
    if day.month == 12:
        return datetime.date(day.year, 12, 31)
    return add_months(day, 1) - ONE_DAY


def anniversary(started_on: datetime.date, years: int) -> datetime.date:
    """``started_on`` moved by ``years`` years; 29 February becomes 28 February in other years."""
    year = started_on.year + years
    try:
        return started_on.replace(year=year)
    except ValueError:
        return datetime.date(year, 2, 28)


def _month_periods(
    started_on: datetime.date, last_month: datetime.date
) -> list[tuple[datetime.date, datetime.date]]:
    """The calendar months from the month of ``started_on`` to the month of ``last_month``."""
    periods = []
    month = started_on.replace(day=1)
    while month <= last_month:
        periods.append((month, month_end(month)))
        month = add_months(month, 1)
    return periods


def _year_period(started_on: datetime.date, index: int) -> tuple[datetime.date, datetime.date]:
    start = anniversary(started_on, index)
    if start.year == datetime.MAXYEAR:
        return start, datetime.date.max
    return start, anniversary(started_on, index + 1) - ONE_DAY


def _clip(
    periods: list[tuple[datetime.date, datetime.date]],
    started_on: datetime.date,
    ends_on: datetime.date | None,
) -> list[Slice]:
    slices = []
    for period_start, period_end in periods:
        start = max(period_start, started_on)
        end = period_end if ends_on is None else min(period_end, ends_on)
        if start <= end:
            slices.append(Slice(start=start, end=end, period_start=period_start, period_end=period_end))
    return slices


def _last_bill_month(as_of: datetime.date, bill_day: int) -> datetime.date:
    """The month whose bill day is the last one on or before ``as_of``."""
    return as_of.replace(day=1) if as_of.day >= bill_day else add_months(as_of, -1)


def due_slices(
    *,
    period: str,
    started_on: datetime.date,
    ends_on: datetime.date | None,
    bill_day: int,
    as_of: datetime.date,
) -> list[Slice]:
    """Every slice that should have been billed by ``as_of``, oldest first."""
    if ends_on is not None and ends_on < started_on:
        return []
    if period == YEARLY:
        periods = []
        index = 0
        limit = as_of if ends_on is None else min(as_of, ends_on)
        while anniversary(started_on, index) <= limit:
            periods.append(_year_period(started_on, index))
            if periods[-1][1] == datetime.date.max:
                break
            index += 1
        return _clip(periods, started_on, ends_on)
    first_bill_month = started_on.replace(day=1) if started_on.day < bill_day else add_months(started_on, 1)
    last_month = _last_bill_month(as_of, bill_day)
    if last_month < first_bill_month:
        return []
    if ends_on is not None:
        last_month = min(last_month, ends_on.replace(day=1))
    return _clip(_month_periods(started_on, last_month), started_on, ends_on)


def prorated_unit_price(unit_price: Decimal, slice: Slice) -> Decimal:
    """``unit_price × days / period_days``, half-up to the cent: the full price for a full slice."""
    if slice.full:
        return round_money(unit_price)
    return round_money(unit_price * slice.days / slice.period_days)


def next_day_of_month(after: datetime.date, day: int) -> datetime.date:
    """The first date strictly after ``after`` on ``day`` (1 to 28) of its month."""
    if after.day < day:
        return after.replace(day=day)
    return add_months(after, 1).replace(day=day)


def day_of_month_from(as_of: datetime.date, day: int) -> datetime.date:
    """The first date on or after ``as_of`` on ``day`` (1 to 28) of its month."""
    return next_day_of_month(as_of - ONE_DAY, day)


def next_bill_date(
    *,
    period: str,
    started_on: datetime.date,
    ends_on: datetime.date | None,
    bill_day: int,
    as_of: datetime.date,
) -> datetime.date | None:
    """The first date after ``as_of`` whose run bills something new; ``None`` once all is billed.

    ``as_of`` itself counts as billed: the runs fire early on their day."""

    def due(on: datetime.date) -> int:
        return len(
            due_slices(period=period, started_on=started_on, ends_on=ends_on, bill_day=bill_day, as_of=on)
        )

    billed = due(as_of)
    if ends_on is not None and billed >= due(datetime.date.max):
        return None
    base = max(as_of, started_on - ONE_DAY)
    if period == YEARLY:
        index = 0
        while anniversary(started_on, index) <= base:
            index += 1
        return anniversary(started_on, index)
    candidate = next_day_of_month(base, bill_day)
    while due(candidate) <= billed:
        candidate = next_day_of_month(candidate, bill_day)
    return candidate


def next_collection_date(*, as_of: datetime.date, collection_day: int) -> datetime.date:
    """The next collection day on or after ``as_of``."""
    return day_of_month_from(as_of, collection_day)


def current_period(
    *, period: str, started_on: datetime.date, on: datetime.date
) -> tuple[datetime.date, datetime.date]:
    """The whole period (calendar month, or year from the start) that contains ``on``; the first
    period for a date before the start."""
    if period == YEARLY:
        index = max(0, on.year - started_on.year)
        while index > 0 and anniversary(started_on, index) > on:
            index -= 1
        return _year_period(started_on, index)
    day = max(on, started_on)
    return day.replace(day=1), month_end(day)
