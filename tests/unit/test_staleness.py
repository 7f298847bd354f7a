from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.core.calendar import add_business_days, is_business_day, subtract_business_days
from monitor.core.staleness import assess, pre_closing_windows

# Wednesday before Thanksgiving 2026 (Thursday 26 November is a federal holiday)
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 26), False),  # Thanksgiving
        (date(2026, 11, 27), True),  # the Friday after is not a federal holiday
        (date(2026, 11, 28), False),  # Saturday
        (date(2026, 7, 3), False),  # Independence Day observed (4 July is a Saturday)
        (date(2026, 6, 19), False),  # Juneteenth
        (date(2026, 6, 18), True),
    ],
)
def test_business_days(day, expected):
    assert is_business_day(day) is expected


def test_business_day_arithmetic_skips_weekends_and_holidays():
    # from Wed 25 Nov 2026: Fri 27, Mon 30, Tue 1 Dec
    assert add_business_days(date(2026, 11, 25), 3) == date(2026, 12, 1)
    assert subtract_business_days(date(2026, 12, 1), 3) == date(2026, 11, 25)
    assert subtract_business_days(date(2026, 12, 1), 0) == date(2026, 12, 1)


def check(**kw):
    base = {
        "data_as_of": NOW - timedelta(days=1),
        "closing_date": None,
        "max_age": timedelta(days=30),
        "pre_closing_business_days": None,
        "now": NOW,
    }
    base.update(kw)
    return assess(**base)


def test_never_verified_is_stale():
    assert check(data_as_of=None).reason == "never_verified"


def test_max_age_is_strict():
    assert not check(data_as_of=NOW - timedelta(days=30)).stale
    assert check(data_as_of=NOW - timedelta(days=30, seconds=1)).reason == "max_age"


def test_pre_closing_window_requires_data_inside_it():
    closing = date(2026, 12, 1)  # 3 business days away
    start = subtract_business_days(closing, 10)  # 2026-11-16
    assert start == date(2026, 11, 16)
    inside = datetime(2026, 11, 16, 0, 0, tzinfo=UTC)
    before = inside - timedelta(seconds=1)
    assert check(data_as_of=before, closing_date=closing, pre_closing_business_days=10).reason == "pre_closing"
    fresh = check(data_as_of=inside, closing_date=closing, pre_closing_business_days=10)
    assert not fresh.stale and fresh.reason == "pre_closing_fresh"


def test_closing_beyond_the_window_is_judged_on_max_age_only():
    far = add_business_days(NOW.date(), 25)
    assert not check(data_as_of=NOW - timedelta(days=20), closing_date=far, pre_closing_business_days=10).stale


def test_closing_in_the_past_is_not_pre_closing():
    assert not check(
        data_as_of=NOW - timedelta(days=20), closing_date=date(2026, 11, 20), pre_closing_business_days=10
    ).stale


def test_windows_cover_closing_dates_whose_window_has_opened():
    windows = pre_closing_windows(NOW.date(), 2)
    closings = [c for c, _ in windows]
    # window for closing C opens 2 business days before C; today (Wed) opens Fri and Mon's windows
    assert closings[0] == NOW.date()
    assert date(2026, 11, 30) in closings  # Monday: 2 business days before is Wed 25th
    assert date(2026, 12, 1) not in closings
    for closing, start in windows:
        assert start <= NOW.date() <= closing
