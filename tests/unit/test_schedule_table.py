"""Cron as tables (README `jobs[].schedule`: standard 5-field cron in an IANA zone, "fires once per
wall-clock time, also on DST days"; a daemon catches up a missed night once). Injected times only."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from monitor.core.schedule import cron_weekdays, fire_times, missed_fire, trigger

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)  # datetime.weekday()


@pytest.mark.parametrize(
    ("field", "days"),
    [
        ("*", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("0", {SUN}),
        ("7", {SUN}),
        ("1", {MON}),
        ("6", {SAT}),
        ("1-5", {MON, TUE, WED, THU, FRI}),
        ("0-6", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("5-7", {FRI, SAT, SUN}),
        ("*/2", {SUN, TUE, THU, SAT}),
        ("1-7/3", {MON, THU, SUN}),
        ("sun", {SUN}),
        ("Sat,SUN", {SAT, SUN}),
        ("mon-fri", {MON, TUE, WED, THU, FRI}),
        ("fri-sun", {FRI, SAT, SUN}),  # "sun" closing a range is day 7
        ("sun-tue", {SUN, MON, TUE}),  # and opening one, day 0
        ("0,7", {SUN}),
        ("1,3-4,6", {MON, WED, THU, SAT}),
    ],
)
def test_cron_day_of_week_field(field, days):
    assert cron_weekdays(field) == days


@pytest.mark.parametrize(
    ("field", "says"),
    [
        ("8", "out of range"),
        ("5-1", "backwards"),
        ("sat-mon", "backwards"),
        ("3/2", "a step needs a range"),
        ("*/0", "at least 1"),
        ("funday", "not a day name"),
        ("mon-", "expected"),
        ("", "expected"),
        ("1,,2", "expected"),
    ],
)
def test_a_bad_day_of_week_field_is_refused_saying_why(field, says):
    with pytest.raises(ValueError, match=says):
        cron_weekdays(field)


@pytest.mark.parametrize("schedule", ["", "0 2 * *", "0 2 * * * *", "0 25 * * *", "61 2 * * *", "0 2 32 * *"])
def test_a_malformed_schedule_is_refused(schedule):
    with pytest.raises(ValueError):
        trigger(schedule, "UTC")


def local_fires(schedule: str, zone: str, first: date, days: int) -> list[datetime]:
    tz = ZoneInfo(zone)
    start = datetime(first.year, first.month, first.day, tzinfo=tz)
    return [
        f.astimezone(UTC).astimezone(tz)
        for f in fire_times(trigger(schedule, zone), start, start + timedelta(days=days))
    ]


@pytest.mark.parametrize(
    ("zone", "day", "kind"),
    [
        ("America/New_York", date(2026, 3, 8), "spring"),
        ("America/New_York", date(2026, 11, 1), "autumn"),
        ("Europe/London", date(2026, 3, 29), "spring"),
        ("Europe/London", date(2026, 10, 25), "autumn"),
        ("Australia/Sydney", date(2026, 10, 4), "spring"),  # the southern hemisphere's changes
        ("Australia/Sydney", date(2026, 4, 5), "autumn"),
        ("UTC", date(2026, 3, 8), "none"),
    ],
)
def test_an_hourly_job_fires_once_per_wall_clock_hour_on_dst_days(zone, day, kind):
    fires = local_fires("0 * * * *", zone, day, 1)
    hours = [f.hour for f in fires]
    assert all(f.date() == day for f in fires)
    assert hours == sorted(set(hours)), "a wall-clock hour fired twice"
    skipped_hour = {"America/New_York": 2, "Europe/London": 1, "Australia/Sydney": 2}.get(zone)
    expected = [h for h in range(24) if not (kind == "spring" and h == skipped_hour)]
    assert hours == expected
    # an hour apart in real time, but two across the repeated autumn hour (its second half never fires)
    gaps = [b.astimezone(UTC) - a.astimezone(UTC) for a, b in pairwise(fires)]
    long = [g for g in gaps if g != timedelta(hours=1)]
    assert long == ([timedelta(hours=2)] if kind == "autumn" else [])


@pytest.mark.parametrize(
    ("zone", "schedule", "first"),
    [
        ("America/New_York", "30 1 * * *", date(2026, 1, 1)),
        ("America/New_York", "30 2 * * *", date(2026, 1, 1)),
        ("Europe/London", "30 1 * * *", date(2026, 1, 1)),
        ("Australia/Sydney", "30 2 * * *", date(2026, 1, 1)),
        ("Australia/Lord_Howe", "15 2 * * *", date(2026, 1, 1)),  # a half-hour change
    ],
)
def test_a_nightly_job_fires_once_every_local_day_of_a_year(zone, schedule, first):
    fires = local_fires(schedule, zone, first, 365)
    days = [f.date() for f in fires]
    assert len(days) == 365 and len(set(days)) == 365


@pytest.mark.parametrize(
    ("zone", "day", "local"),
    [
        # the repeated autumn hour: fired once, at the first of the two 01:30s
        ("America/New_York", date(2026, 11, 1), datetime(2026, 11, 1, 5, 30, tzinfo=UTC)),
        ("Europe/London", date(2026, 10, 25), datetime(2026, 10, 25, 0, 30, tzinfo=UTC)),
    ],
)
def test_the_repeated_autumn_time_fires_once(zone, day, local):
    fires = [f for f in local_fires("30 1 * * *", zone, day - timedelta(days=1), 3) if f.date() == day]
    assert [f.astimezone(UTC) for f in fires] == [local]


@pytest.mark.parametrize(
    ("schedule", "zone", "first", "weekdays"),
    [
        ("0 3 * * 1-5", "America/New_York", date(2026, 10, 26), {MON, TUE, WED, THU, FRI}),
        ("0 3 * * 0", "Europe/London", date(2026, 10, 19), {SUN}),
        ("0 3 * * sat,sun", "Australia/Sydney", date(2026, 3, 30), {SAT, SUN}),
    ],
)
def test_weekday_jobs_keep_their_days_across_a_dst_change(schedule, zone, first, weekdays):
    fires = local_fires(schedule, zone, first, 14)
    assert {f.weekday() for f in fires} == weekdays
    assert all((f.hour, f.minute) == (3, 0) for f in fires)
    assert len(fires) == 2 * len(weekdays)


NOW = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
NIGHTLY = trigger("0 2 * * *", "UTC")


@pytest.mark.parametrize(
    ("last_finished", "now", "horizon", "expected"),
    [
        # the last pass finished before tonight's fire time: tonight's was missed
        (datetime(2026, 6, 9, 2, 5, tzinfo=UTC), NOW, timedelta(days=2), datetime(2026, 6, 10, 2, 0, tzinfo=UTC)),
        # several nights missed: caught up once, with the latest
        (datetime(2026, 6, 1, 2, 5, tzinfo=UTC), NOW, timedelta(days=2), datetime(2026, 6, 10, 2, 0, tzinfo=UTC)),
        # a pass after tonight's fire time: nothing missed
        (datetime(2026, 6, 10, 2, 5, tzinfo=UTC), NOW, timedelta(days=2), None),
        # a pass finishing at the very fire time counts as that night's
        (datetime(2026, 6, 10, 2, 0, tzinfo=UTC), NOW, timedelta(days=2), None),
        # a fire time equal to now is due
        (
            datetime(2026, 6, 9, 2, 5, tzinfo=UTC),
            datetime(2026, 6, 10, 2, 0, tzinfo=UTC),
            timedelta(days=2),
            datetime(2026, 6, 10, 2, 0, tzinfo=UTC),
        ),
        # a second before it, last night's was already run
        (datetime(2026, 6, 9, 2, 5, tzinfo=UTC), datetime(2026, 6, 10, 1, 59, 59, tzinfo=UTC), timedelta(days=2), None),
        # no pass on record: search back `horizon` only
        (None, NOW, timedelta(days=2), datetime(2026, 6, 10, 2, 0, tzinfo=UTC)),
        (None, NOW, timedelta(hours=12), None),
        (None, NOW, timedelta(hours=13), datetime(2026, 6, 10, 2, 0, tzinfo=UTC)),
    ],
)
def test_missed_fire(last_finished, now, horizon, expected):
    assert missed_fire(NIGHTLY, last_finished=last_finished, now=now, horizon=horizon) == expected


def test_missed_fire_in_a_local_zone_across_the_autumn_change():
    cron = trigger("30 1 * * *", "America/New_York")
    # the pass of 31 October ran; the daemon was down over the repeated hour and starts at 09:00 UTC on 1 Nov
    last = datetime(2026, 10, 31, 5, 40, tzinfo=UTC)
    got = missed_fire(cron, last_finished=last, now=datetime(2026, 11, 1, 9, 0, tzinfo=UTC), horizon=timedelta(days=2))
    assert got is not None and got.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)
