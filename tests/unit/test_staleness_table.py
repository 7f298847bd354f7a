"""Staleness and business days as tables (README: `max_age` "stale when strictly older"; the
pre-closing window: data must be fresh within N business days of closing, "weekends and US federal
holidays (observed) excluded"). Holidays are OPM's federal calendar; no database, a frozen `now`."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.calendar import add_business_days, is_business_day, subtract_business_days
from monitor.core.staleness import assess, pre_closing_windows, start_of_day_utc

# Tuesday 22 December 2026, 10:00 UTC: Christmas (Fri 25) and New Year (Fri 1 Jan) ahead.
NOW = datetime(2026, 12, 22, 10, 0, tzinfo=UTC)
TODAY = NOW.date()
S = timedelta(seconds=1)
D = timedelta(days=1)


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


# -- business days --------------------------------------------------------------------------------------

FEDERAL_HOLIDAYS = [
    # 2025
    date(2025, 1, 1),
    date(2025, 1, 20),  # Martin Luther King Jr. Day
    date(2025, 2, 17),  # Washington's Birthday
    date(2025, 5, 26),  # Memorial Day
    date(2025, 6, 19),  # Juneteenth
    date(2025, 7, 4),
    date(2025, 9, 1),  # Labor Day
    date(2025, 10, 13),  # Columbus Day
    date(2025, 11, 11),  # Veterans Day
    date(2025, 11, 27),  # Thanksgiving
    date(2025, 12, 25),
    # 2026
    date(2026, 1, 1),
    date(2026, 1, 19),
    date(2026, 2, 16),
    date(2026, 5, 25),
    date(2026, 6, 19),
    date(2026, 7, 3),  # Independence Day observed (4 July is a Saturday)
    date(2026, 9, 7),
    date(2026, 10, 12),
    date(2026, 11, 11),
    date(2026, 11, 26),
    date(2026, 12, 25),
    # 2027
    date(2027, 1, 1),
    date(2027, 1, 18),
    date(2027, 2, 15),
    date(2027, 5, 31),
    date(2027, 6, 18),  # Juneteenth observed (19 June is a Saturday)
    date(2027, 7, 5),  # Independence Day observed (4 July is a Sunday)
    date(2027, 9, 6),
    date(2027, 10, 11),
    date(2027, 11, 11),
    date(2027, 11, 25),
    date(2027, 12, 24),  # Christmas observed (25 December is a Saturday)
    date(2027, 12, 31),  # New Year's Day 2028 observed (1 January 2028 is a Saturday)
]

ORDINARY_WEEKDAYS = [
    date(2025, 11, 28),  # the Friday after Thanksgiving is not a federal holiday
    date(2026, 4, 3),  # Good Friday is not either
    date(2026, 7, 2),
    date(2026, 7, 6),
    date(2026, 12, 24),  # Christmas Eve (a Thursday) is an ordinary day in 2026
    date(2026, 12, 31),  # so is New Year's Eve (1 January 2027 is a Friday, observed on the day)
    date(2027, 6, 17),
    date(2027, 12, 30),
]


@pytest.mark.parametrize("day", FEDERAL_HOLIDAYS, ids=str)
def test_federal_holidays_are_not_business_days(day):
    assert day.weekday() < 5, "the table lists weekday holidays (observed days) only"
    assert not is_business_day(day)


@pytest.mark.parametrize("day", ORDINARY_WEEKDAYS, ids=str)
def test_ordinary_weekdays_are_business_days(day):
    assert is_business_day(day)


@pytest.mark.parametrize("day", [date(2026, 12, 26), date(2026, 12, 27), date(2027, 7, 4), date(2027, 6, 19)], ids=str)
def test_weekends_are_not_business_days(day):
    assert not is_business_day(day)


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 12, 22), 0, date(2026, 12, 22)),
        (date(2026, 12, 22), 1, date(2026, 12, 23)),
        (date(2026, 12, 22), 2, date(2026, 12, 24)),
        (date(2026, 12, 22), 3, date(2026, 12, 28)),  # over Christmas (Fri) and the weekend
        (date(2026, 12, 22), 7, date(2027, 1, 4)),  # and over New Year (Fri) into the next year
        (date(2026, 7, 2), 1, date(2026, 7, 6)),  # 3 July observed, then the weekend
        (date(2027, 12, 23), 1, date(2027, 12, 27)),
        (date(2027, 12, 30), 1, date(2028, 1, 3)),  # 31 Dec 2027 is 2028's New Year observed
        (date(2026, 12, 26), 1, date(2026, 12, 28)),  # from a Saturday
    ],
)
def test_add_business_days(start, count, expected):
    assert add_business_days(start, count) == expected


@pytest.mark.parametrize(
    ("start", "count", "expected"),
    [
        (date(2026, 12, 28), 0, date(2026, 12, 28)),
        (date(2026, 12, 26), 0, date(2026, 12, 26)),  # count 0 is the day itself, business day or not
        (date(2026, 12, 28), 1, date(2026, 12, 24)),
        (date(2026, 12, 28), 3, date(2026, 12, 22)),
        (date(2027, 1, 4), 1, date(2026, 12, 31)),
        (date(2027, 1, 4), 10, date(2026, 12, 17)),  # 1 Jan, Christmas and two weekends skipped
        (date(2028, 1, 3), 1, date(2027, 12, 30)),
        (date(2026, 7, 6), 1, date(2026, 7, 2)),
        (date(2026, 7, 6), 10, date(2026, 6, 18)),  # 3 July and 19 June (Juneteenth) skipped
    ],
)
def test_subtract_business_days(start, count, expected):
    assert subtract_business_days(start, count) == expected


business_day = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)).filter(is_business_day)


@settings(deadline=None)
@given(business_day, st.integers(min_value=0, max_value=40))
def test_adding_then_subtracting_business_days_returns_to_the_start(day, count):
    later = add_business_days(day, count)
    assert subtract_business_days(later, count) == day
    # exactly `count` business days lie in (day, later]
    span = [day + timedelta(days=i) for i in range(1, (later - day).days + 1)]
    assert sum(1 for x in span if is_business_day(x)) == count
    assert count == 0 or is_business_day(later)


# -- the rolling max-age rule --------------------------------------------------------------------------


def judge(data_as_of, *, max_age=timedelta(days=30), closing=None, business_days=None, now=NOW):
    return assess(
        data_as_of=data_as_of,
        closing_date=closing,
        max_age=max_age,
        pre_closing_business_days=business_days,
        now=now,
    )


@pytest.mark.parametrize(
    ("age", "max_age", "stale", "reason"),
    [
        (timedelta(days=29), timedelta(days=30), False, "fresh"),
        (timedelta(days=30), timedelta(days=30), False, "fresh"),  # strictly older only
        (timedelta(days=30) + timedelta(microseconds=1), timedelta(days=30), True, "max_age"),
        (timedelta(days=31), timedelta(days=30), True, "max_age"),
        (timedelta(minutes=90), timedelta(minutes=90), False, "fresh"),
        (timedelta(minutes=91), timedelta(minutes=90), True, "max_age"),
        (timedelta(hours=25), timedelta(hours=24), True, "max_age"),
        (timedelta(weeks=2) - S, timedelta(weeks=2), False, "fresh"),
        (timedelta(days=400), timedelta(days=365), True, "max_age"),
        (-timedelta(hours=3), timedelta(days=1), False, "fresh"),  # dated ahead of our clock: not old
        (timedelta(0), timedelta(minutes=1), False, "fresh"),
    ],
)
def test_max_age(age, max_age, stale, reason):
    verdict = judge(NOW - age, max_age=max_age)
    assert (verdict.stale, verdict.reason, verdict.data_age) == (stale, reason, age)


def test_data_never_verified_is_stale_whatever_the_policy():
    for max_age in (timedelta(minutes=1), timedelta(days=3650)):
        verdict = judge(None, max_age=max_age, closing=TODAY + 30 * D, business_days=10)
        assert (verdict.stale, verdict.reason, verdict.data_age) == (True, "never_verified", None)


def test_time_must_be_timezone_aware():
    with pytest.raises(ValueError):
        judge(NOW - D, now=NOW.replace(tzinfo=None))


# -- the pre-closing window ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("closing", "business_days", "data_as_of", "stale", "reason"),
    [
        # closing Mon 28 Dec, 3 business days: Thu 24, Wed 23, Tue 22 (Christmas and the weekend skipped):
        # the window opened today at 00:00 UTC
        (date(2026, 12, 28), 3, midnight(date(2026, 12, 22)) - S, True, "pre_closing"),
        (date(2026, 12, 28), 3, midnight(date(2026, 12, 22)), False, "pre_closing_fresh"),
        (date(2026, 12, 28), 3, NOW - timedelta(hours=1), False, "pre_closing_fresh"),
        # closing Tue 29 Dec: its window opens tomorrow, so only max_age judges today
        (date(2026, 12, 29), 3, NOW - 10 * D, False, "fresh"),
        # closing today: the window opened Thu 17 Dec (Mon 21, Fri 18, Thu 17)
        (TODAY, 3, midnight(date(2026, 12, 17)) - S, True, "pre_closing"),
        (TODAY, 3, midnight(date(2026, 12, 17)), False, "pre_closing_fresh"),
        # closing on Saturday 26 Dec: 2 business days before is Wed 23 (not open yet), 3 is Tue 22 (open)
        (date(2026, 12, 26), 2, NOW - 10 * D, False, "fresh"),
        (date(2026, 12, 26), 3, NOW - 10 * D, True, "pre_closing"),
        # a loan that closed yesterday is past its window
        (TODAY - D, 10, NOW - 20 * D, False, "fresh"),
        # closing on 4 Jan 2027, 10 business days: Thu 17 Dec (New Year and Christmas skipped), open
        (date(2027, 1, 4), 10, midnight(date(2026, 12, 17)) - S, True, "pre_closing"),
        (date(2027, 1, 4), 10, midnight(date(2026, 12, 17)), False, "pre_closing_fresh"),
        # closing on 5 Jan: Fri 18 Dec, also open
        (date(2027, 1, 5), 10, midnight(date(2026, 12, 18)) - S, True, "pre_closing"),
        (date(2027, 1, 5), 10, midnight(date(2026, 12, 18)), False, "pre_closing_fresh"),
        # closing on 7 Jan: Tue 22 Dec, opened today
        (date(2027, 1, 7), 10, midnight(TODAY) - S, True, "pre_closing"),
        # closing on 8 Jan: Wed 23 Dec, not open yet
        (date(2027, 1, 8), 10, NOW - 29 * D, False, "fresh"),
        # closing far ahead: only max_age
        (date(2027, 3, 1), 10, NOW - 29 * D, False, "fresh"),
        # no window configured
        (date(2026, 12, 28), None, NOW - 29 * D, False, "fresh"),
        # no closing date
        (None, 10, NOW - 29 * D, False, "fresh"),
    ],
)
def test_pre_closing_window(closing, business_days, data_as_of, stale, reason):
    verdict = judge(data_as_of, closing=closing, business_days=business_days)
    assert (verdict.stale, verdict.reason) == (stale, reason)


def test_max_age_is_judged_before_the_window():
    verdict = judge(NOW - 31 * D, closing=date(2026, 12, 28), business_days=3)
    assert (verdict.stale, verdict.reason) == (True, "max_age")


def test_pre_closing_windows_open_today():
    windows = pre_closing_windows(TODAY, 3)
    assert windows == [
        (date(2026, 12, 22), date(2026, 12, 17)),
        (date(2026, 12, 23), date(2026, 12, 18)),
        (date(2026, 12, 24), date(2026, 12, 21)),
        (date(2026, 12, 25), date(2026, 12, 22)),
        (date(2026, 12, 26), date(2026, 12, 22)),
        (date(2026, 12, 27), date(2026, 12, 22)),
        (date(2026, 12, 28), date(2026, 12, 22)),
    ]


@settings(deadline=None)
@given(
    st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31)),
    st.integers(min_value=1, max_value=60),
)
def test_pre_closing_windows_are_exactly_the_closings_whose_window_has_opened(today, business_days):
    windows = dict(pre_closing_windows(today, business_days))
    for offset in range(0, 4 * business_days + 14):
        closing = today + timedelta(days=offset)
        start = subtract_business_days(closing, business_days)
        assert (closing in windows) is (start <= today)
        if closing in windows:
            assert windows[closing] == start
    assert all(c >= today for c in windows)


def test_start_of_day_utc():
    assert start_of_day_utc(date(2026, 12, 22)) == datetime(2026, 12, 22, tzinfo=UTC)


@settings(deadline=None)
@given(
    age_seconds=st.integers(min_value=-86_400, max_value=200 * 86_400),
    max_age_minutes=st.integers(min_value=1, max_value=120 * 24 * 60),
    closing_offset=st.one_of(st.none(), st.integers(min_value=-5, max_value=40)),
    business_days=st.one_of(st.none(), st.integers(min_value=1, max_value=20)),
)
def test_assess_is_max_age_or_an_open_window_it_predates(age_seconds, max_age_minutes, closing_offset, business_days):
    data_as_of = NOW - timedelta(seconds=age_seconds)
    max_age = timedelta(minutes=max_age_minutes)
    closing = None if closing_offset is None else TODAY + timedelta(days=closing_offset)
    verdict = judge(data_as_of, max_age=max_age, closing=closing, business_days=business_days)
    too_old = NOW - data_as_of > max_age
    window_missed = False
    if closing is not None and business_days is not None and closing >= TODAY:
        start = subtract_business_days(closing, business_days)
        window_missed = start <= TODAY and data_as_of < midnight(start)
    assert verdict.stale is (too_old or window_missed)
