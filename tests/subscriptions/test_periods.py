"""The date and proration rules of seed 001: pure functions, checked by example and by hypothesis."""

import calendar
import datetime
import itertools
import zoneinfo
from decimal import Decimal
from fractions import Fraction
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from acquitte.subscriptions import selectors
from acquitte.subscriptions.models import BillingSettings
from acquitte.subscriptions.periods import (
    Slice,
    anniversary,
    current_period,
    day_of_month_from,
    due_slices,
    month_end,
    next_bill_date,
    next_collection_date,
    next_day_of_month,
    one_month_after,
    prorated_unit_price,
)
from tests import factories

D = datetime.date
DAY = datetime.timedelta(days=1)
dates = st.dates(min_value=D(2000, 1, 1), max_value=D(2100, 12, 31))
bill_days = st.integers(min_value=1, max_value=28)
prices = st.decimals(min_value=Decimal("0.00"), max_value=Decimal("99999.99"), places=2)


def monthly(started_on, as_of, bill_day=2, ends_on=None) -> list[Slice]:
    return due_slices(
        period="monthly", started_on=started_on, ends_on=ends_on, bill_day=bill_day, as_of=as_of
    )


def spans(slices: list[Slice]) -> list[tuple[datetime.date, datetime.date]]:
    return [(s.start, s.end) for s in slices]


# --- month ends and the first invoice (seed 001) ---


@pytest.mark.parametrize(
    ("started_on", "first_bill", "first_invoice"),
    [
        # completed on the 31st: one day of January prorated, then February in full, on 2 February
        (D(2026, 1, 31), D(2026, 2, 2), [(D(2026, 1, 31), D(2026, 1, 31)), (D(2026, 2, 1), D(2026, 2, 28))]),
        # completed on 29 February of a leap year: 1/29 of February, then March
        (D(2028, 2, 29), D(2028, 3, 2), [(D(2028, 2, 29), D(2028, 2, 29)), (D(2028, 3, 1), D(2028, 3, 31))]),
        # completed on the bill day itself: billed on the next bill day, that month prorated + the next
        (D(2026, 3, 2), D(2026, 4, 2), [(D(2026, 3, 2), D(2026, 3, 31)), (D(2026, 4, 1), D(2026, 4, 30))]),
        # completed the day before the bill day (the 1st): billed the next day, the month simply full
        (D(2026, 3, 1), D(2026, 3, 2), [(D(2026, 3, 1), D(2026, 3, 31))]),
        # mid-month: the part of the month since completion, then the next month in full
        (
            D(2026, 11, 14),
            D(2026, 12, 2),
            [(D(2026, 11, 14), D(2026, 11, 30)), (D(2026, 12, 1), D(2026, 12, 31))],
        ),
    ],
)
def test_first_invoice_of_a_monthly_subscription(started_on, first_bill, first_invoice):
    assert monthly(started_on, first_bill - DAY) == []
    assert spans(monthly(started_on, first_bill)) == first_invoice
    assert next_bill_date(
        period="monthly", started_on=started_on, ends_on=None, bill_day=2, as_of=started_on
    ) == (first_bill)
    later = monthly(started_on, first_bill.replace(day=28))
    assert later == monthly(started_on, first_bill), "nothing new until the next bill day"


def test_day_before_a_later_bill_day_is_billed_on_it_with_its_part_of_the_month():
    assert spans(monthly(D(2026, 5, 9), D(2026, 5, 10), bill_day=10)) == [(D(2026, 5, 9), D(2026, 5, 31))]


def test_prorated_first_invoice_amounts():
    jan31, february = monthly(D(2026, 1, 31), D(2026, 2, 2))
    assert prorated_unit_price(Decimal("31.00"), jan31) == Decimal("1.00")
    assert prorated_unit_price(Decimal("30.00"), jan31) == Decimal("0.97")  # 0.9677… half-up
    assert prorated_unit_price(Decimal("30.00"), february) == Decimal("30.00")
    leap = monthly(D(2028, 2, 29), D(2028, 3, 2))[0]
    assert (leap.days, leap.period_days) == (1, 29)
    assert prorated_unit_price(Decimal("29.00"), leap) == Decimal("1.00")


def test_a_run_catching_up_bills_every_missed_month_and_the_ends_on_clips_the_last():
    assert spans(monthly(D(2026, 1, 20), D(2026, 4, 5))) == [
        (D(2026, 1, 20), D(2026, 1, 31)),
        (D(2026, 2, 1), D(2026, 2, 28)),
        (D(2026, 3, 1), D(2026, 3, 31)),
        (D(2026, 4, 1), D(2026, 4, 30)),
    ]
    clipped = monthly(D(2026, 1, 20), D(2026, 9, 5), ends_on=D(2026, 3, 10))
    assert spans(clipped)[-1] == (D(2026, 3, 1), D(2026, 3, 10))
    assert len(clipped) == 3
    assert (
        next_bill_date(
            period="monthly",
            started_on=D(2026, 1, 20),
            ends_on=D(2026, 3, 10),
            bill_day=2,
            as_of=D(2026, 3, 2),
        )
        is None
    )
    # ended before its first bill day: the days used are still billed on that bill day
    assert spans(monthly(D(2026, 1, 20), D(2026, 2, 2), ends_on=D(2026, 1, 25))) == [
        (D(2026, 1, 20), D(2026, 1, 25))
    ]


def test_yearly_periods_from_the_start_and_29_february():
    def yearly(started_on, as_of, ends_on=None):
        return due_slices(period="yearly", started_on=started_on, ends_on=ends_on, bill_day=2, as_of=as_of)

    assert yearly(D(2026, 6, 15), D(2026, 6, 14)) == []
    assert spans(yearly(D(2026, 6, 15), D(2026, 6, 15))) == [(D(2026, 6, 15), D(2027, 6, 14))]
    assert len(yearly(D(2026, 6, 15), D(2027, 6, 15))) == 2
    leap = yearly(D(2024, 2, 29), D(2028, 2, 29))
    assert [s.start for s in leap] == [
        D(2024, 2, 29),
        D(2025, 2, 28),
        D(2026, 2, 28),
        D(2027, 2, 28),
        D(2028, 2, 29),
    ]
    assert [s.period_days for s in leap[:4]] == [365, 365, 365, 366]
    assert spans(yearly(D(2026, 6, 15), D(2030, 1, 1), ends_on=D(2027, 1, 14))) == [
        (D(2026, 6, 15), D(2027, 1, 14))
    ]
    assert next_bill_date(
        period="yearly", started_on=D(2024, 2, 29), ends_on=None, bill_day=2, as_of=D(2024, 3, 1)
    ) == D(2025, 2, 28)
    assert current_period(period="yearly", started_on=D(2024, 2, 29), on=D(2025, 2, 27)) == (
        D(2024, 2, 29),
        D(2025, 2, 27),
    )
    assert current_period(period="yearly", started_on=D(2024, 2, 29), on=D(2025, 2, 28)) == (
        D(2025, 2, 28),
        D(2026, 2, 27),
    )


def test_current_period_and_collection_date():
    assert current_period(period="monthly", started_on=D(2026, 1, 20), on=D(2026, 2, 14)) == (
        D(2026, 2, 1),
        D(2026, 2, 28),
    )
    assert next_collection_date(as_of=D(2026, 12, 22), collection_day=22) == D(2026, 12, 22)
    assert next_collection_date(as_of=D(2026, 12, 23), collection_day=22) == D(2027, 1, 22)
    assert next_collection_date(as_of=D(2026, 12, 3), collection_day=22) == D(2026, 12, 22)


# --- properties ---


@settings(deadline=None)
@given(started_on=dates, bill_day=bill_days, price=prices)
def test_first_invoice_proration_over_any_start_date(started_on, bill_day, price):
    first_bill = next_bill_date(
        period="monthly", started_on=started_on, ends_on=None, bill_day=bill_day, as_of=started_on - DAY
    )
    assert first_bill is not None and first_bill.day == bill_day and first_bill > started_on - DAY
    first = monthly(started_on, first_bill, bill_day=bill_day)
    assert monthly(started_on, first_bill - DAY, bill_day=bill_day) == []
    head = first[0]
    assert head.start == started_on and head.end == month_end(started_on)
    assert head.period_days == calendar.monthrange(started_on.year, started_on.month)[1]
    assert head.full == (started_on.day == 1)
    assert first[-1].period_start == first_bill.replace(day=1)
    assert len(first) == (1 if started_on.day < bill_day else 2)
    assert first[-1].full or len(first) == 1
    part = prorated_unit_price(price, head)
    assert part == (price * head.days / head.period_days).quantize(Decimal("0.01"), rounding="ROUND_HALF_UP")
    assert Decimal(0) <= part <= price


@st.composite
def periods_split(draw):
    """A full monthly or yearly period, cut into consecutive parts at any days."""
    started_on = draw(dates)
    if draw(st.booleans()):
        start, end = started_on.replace(day=1), month_end(started_on)
    else:
        start, end = started_on, anniversary(started_on, 1) - DAY
    length = (end - start).days + 1
    cuts = sorted(draw(st.sets(st.integers(min_value=1, max_value=length - 1), max_size=min(8, length - 1))))
    bounds = [0, *cuts, length]
    return [
        Slice(
            start=start + bounds[i] * DAY,
            end=start + (bounds[i + 1] - 1) * DAY,
            period_start=start,
            period_end=end,
        )
        for i in range(len(bounds) - 1)
    ]


@settings(deadline=None)
@given(parts=periods_split(), price=prices)
def test_prorated_parts_of_a_period_add_up_to_its_price_within_a_cent_per_part(parts, price):
    assert sum(p.days for p in parts) == parts[0].period_days
    total = sum(prorated_unit_price(price, p) for p in parts)
    assert abs(total - price) <= Decimal("0.01") * len(parts)
    if len(parts) == 1:
        assert total == price


@settings(deadline=None, max_examples=60)
@given(started_on=dates, bill_day=bill_days)
def test_a_year_of_runs_bills_exactly_twelve_months_without_gap_or_overlap(started_on, bill_day):
    ends_on = anniversary(started_on, 1) - DAY
    billed: dict[datetime.date, Slice] = {}
    day = started_on - 40 * DAY
    while day <= ends_on + 70 * DAY:
        for s in monthly(started_on, day, bill_day=bill_day, ends_on=ends_on):
            # a slice already billed is the same whatever day a later run looks at it
            assert billed.setdefault(s.start, s) == s
        day += DAY
    slices = sorted(billed.values(), key=lambda s: s.start)
    assert slices[0].start == started_on and slices[-1].end == ends_on
    for before, after in itertools.pairwise(slices):
        assert after.start == before.end + DAY
    assert sum(s.days for s in slices) == (ends_on - started_on).days + 1
    full = sum(1 for s in slices if s.full)
    assert (len(slices), full) == ((12, 12) if started_on.day == 1 else (13, 11))
    if slices[0].period_days == slices[-1].period_days:  # not across a 29 February
        assert sum(Fraction(s.days, s.period_days) for s in slices) == 12


# --- the organisation's today is a local date, DST change days included ---


def nth_sunday(year: int, month: int, n: int) -> datetime.date:
    first = D(year, month, 1)
    return first + ((6 - first.weekday()) % 7 + 7 * (n - 1)) * DAY


def last_sunday(year: int, month: int) -> datetime.date:
    last = month_end(D(year, month, 1))
    return last - ((last.weekday() + 1) % 7) * DAY


def utc(day: datetime.date, hour: int) -> datetime.datetime:
    return datetime.datetime(day.year, day.month, day.day, hour, tzinfo=datetime.UTC)


def local_date(zone: str, instant: datetime.datetime) -> datetime.date:
    """The local date by the published rules (not zoneinfo): Toronto since 2007, the EU since 1996."""
    year = instant.year
    if zone == "America/Toronto":
        summer = utc(nth_sunday(year, 3, 2), 7) <= instant < utc(nth_sunday(year, 11, 1), 6)
        offset = -4 if summer else -5
    else:
        summer = utc(last_sunday(year, 3), 1) <= instant < utc(last_sunday(year, 10), 1)
        offset = 2 if summer else 1
    return (instant + datetime.timedelta(hours=offset)).date()


@st.composite
def dst_instants(draw):
    zone = draw(st.sampled_from(["America/Toronto", "Europe/Paris"]))
    year = draw(st.integers(min_value=2007, max_value=2100))
    if zone == "America/Toronto":
        change = draw(st.sampled_from([nth_sunday(year, 3, 2), nth_sunday(year, 11, 1)]))
    else:
        change = draw(st.sampled_from([last_sunday(year, 3), last_sunday(year, 10)]))
    minutes = draw(st.integers(min_value=-36 * 60, max_value=36 * 60))
    return zone, utc(change, 0) + datetime.timedelta(minutes=minutes)


@settings(deadline=None)
@given(case=dst_instants(), bill_day=bill_days)
def test_today_is_the_local_date_around_dst_changes(case, bill_day):
    zone, instant = case
    expected = local_date(zone, instant)
    with mock.patch("django.utils.timezone.now", return_value=instant):
        today = selectors.real_today(BillingSettings(time_zone=zone))
    assert today == expected
    assert today == instant.astimezone(zoneinfo.ZoneInfo(zone)).date()
    # the runs see local dates: whether this month's bill day has come depends on the local date only
    started_on = expected - 400 * DAY
    due = monthly(started_on, today, bill_day=bill_day)
    assert (due[-1].period_start == expected.replace(day=1)) == (expected.day >= bill_day)


@pytest.mark.parametrize(
    ("zone", "instant", "local"),
    [
        # 2 November 2026, 03:30 UTC: still the 1st in Toronto (EST, DST ended at 06:00 UTC the day before)
        ("America/Toronto", datetime.datetime(2026, 11, 2, 3, 30, tzinfo=datetime.UTC), D(2026, 11, 1)),
        ("Europe/Paris", datetime.datetime(2026, 11, 2, 3, 30, tzinfo=datetime.UTC), D(2026, 11, 2)),
        # 29 March 2026, 22:30 UTC: Paris moved to summer time that morning, so it is already the 30th
        ("Europe/Paris", datetime.datetime(2026, 3, 29, 22, 30, tzinfo=datetime.UTC), D(2026, 3, 30)),
        ("America/Toronto", datetime.datetime(2026, 3, 8, 4, 30, tzinfo=datetime.UTC), D(2026, 3, 7)),
    ],
)
def test_today_for_an_organisation_in_its_time_zone(db, zone, instant, local):
    organisation = factories.quebec_organisation()
    BillingSettings.objects.update_or_create(organisation=organisation, defaults={"time_zone": zone})
    with mock.patch("django.utils.timezone.now", return_value=instant):
        assert selectors.today_for(organisation) == local


DAYS = st.dates(min_value=datetime.date(1, 2, 1), max_value=datetime.date(9999, 11, 30))


@given(DAYS, st.integers(1, 28))
def test_the_next_day_of_a_month_is_the_first_such_day_strictly_after(after, day):
    found = next_day_of_month(after, day)
    assert found.day == day and after < found <= after + datetime.timedelta(days=31)
    assert all((after + datetime.timedelta(days=k)).day != day for k in range(1, (found - after).days))
    assert day_of_month_from(after, day) == (after if after.day == day else found)


@given(DAYS)
def test_one_month_after_keeps_the_day_or_takes_the_shorter_months_last(day):
    found = one_month_after(day)
    assert (found.year * 12 + found.month) - (day.year * 12 + day.month) == 1
    assert found.day == min(day.day, calendar.monthrange(found.year, found.month)[1])
