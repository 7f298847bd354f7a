"""Standard cron day-of-week semantics in monitor.core.schedule.trigger.

APScheduler 3 numbers the week from Monday = 0, so its CronTrigger.from_crontab made "0 3 * * 1"
fire on Tuesdays. trigger() reads the field as cron does: 0 and 7 Sunday, 1 Monday ... 6 Saturday.
"""

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from monitor.config import parse_config
from monitor.core.schedule import fire_times, trigger
from monitor.errors import ConfigError

ZONE = "America/New_York"
NY = ZoneInfo(ZONE)
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=NY)  # a Monday, after 03:00
MON, TUE, WED, THU, FRI, SAT, SUN = range(1, 8)  # isoweekday()


def local(moment: datetime) -> datetime:
    """The local wall time of a fire time.

    APScheduler can answer a wall time that does not exist (02:30 on a spring-forward day) with
    fold=0 in the zone itself; astimezone(NY) on that returns it unchanged, so go through UTC.
    """
    return moment.astimezone(UTC).astimezone(NY)


def fires(schedule: str, start: datetime, days: int) -> list[datetime]:
    return [local(f) for f in fire_times(trigger(schedule, ZONE), start, start + timedelta(days=days))]


@pytest.mark.parametrize(
    ("number", "weekday"),
    [(0, SUN), (1, MON), (2, TUE), (3, WED), (4, THU), (5, FRI), (6, SAT), (7, SUN)],
)
def test_each_day_number_fires_on_its_weekday(number, weekday):
    schedule = f"0 3 * * {number}"
    first = local(trigger(schedule, ZONE).get_next_fire_time(None, T0))
    assert first.isoweekday() == weekday and first.hour == 3 and first > T0
    assert first - T0 <= timedelta(days=7)
    three_weeks = fires(schedule, T0, 21)
    assert len(three_weeks) == 3
    assert all(f.isoweekday() == weekday and (f.hour, f.minute) == (3, 0) for f in three_weeks)
    assert [b - a for a, b in pairwise(three_weeks)] == [timedelta(days=7)] * 2


@pytest.mark.parametrize(
    ("day_of_week", "weekdays"),
    [
        ("*", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("1-5", {MON, TUE, WED, THU, FRI}),
        ("0-6", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("1-7", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        # Sunday is both ends of the week: 7 closes a range, 0 opens one
        ("5-7", {FRI, SAT, SUN}),
        ("6-7", {SAT, SUN}),
        ("0-2", {SUN, MON, TUE}),
        ("0,6", {SAT, SUN}),
        ("1,3,5", {MON, WED, FRI}),
        ("1,1,1-2", {MON, TUE}),
        ("0,7", {SUN}),
        # steps, counted from the start of the range (* is 0-6, starting on Sunday)
        ("*/2", {SUN, TUE, THU, SAT}),
        ("*/3", {SUN, WED, SAT}),
        ("1-5/2", {MON, WED, FRI}),
        ("0-7/7", {SUN}),
        ("2-6/10", {TUE}),
        # names, any case, alone, in lists and in ranges
        ("mon", {MON}),
        ("sun", {SUN}),
        ("SAT", {SAT}),
        ("MON-FRI", {MON, TUE, WED, THU, FRI}),
        ("mon-fri", {MON, TUE, WED, THU, FRI}),
        ("sat,sun", {SAT, SUN}),
        ("Tue,Thu", {TUE, THU}),
        ("fri-sun", {FRI, SAT, SUN}),  # "sun" closing a range is day 7
        ("sun-tue", {SUN, MON, TUE}),  # and opening one, day 0
        ("sun-sat", {MON, TUE, WED, THU, FRI, SAT, SUN}),
        ("mon-fri/2", {MON, WED, FRI}),
        ("mon,3-4,sat", {MON, WED, THU, SAT}),
    ],
)
def test_day_of_week_field_over_two_weeks(day_of_week, weekdays):
    two_weeks = fires(f"0 3 * * {day_of_week}", T0, 14)
    assert {f.isoweekday() for f in two_weeks} == weekdays
    assert len(two_weeks) == 2 * len(weekdays)  # each chosen day twice, once a day


def test_weekdays_are_monday_to_friday_only():
    start = datetime(2026, 11, 29, 0, 0, tzinfo=NY)  # a Sunday
    assert [f.date() for f in fires("0 3 * * 1-5", start, 14)] == [
        date(2026, 11, 30),
        date(2026, 12, 1),
        date(2026, 12, 2),
        date(2026, 12, 3),
        date(2026, 12, 4),
        date(2026, 12, 7),
        date(2026, 12, 8),
        date(2026, 12, 9),
        date(2026, 12, 10),
        date(2026, 12, 11),
    ]


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        # `monitor status` on Monday 30 November 2026 showed Tuesday 1 December for "0 3 * * 1"
        (datetime(2026, 11, 30, 12, 0, tzinfo=NY), datetime(2026, 12, 7, 3, 0, tzinfo=NY)),
        (datetime(2026, 11, 30, 1, 0, tzinfo=NY), datetime(2026, 11, 30, 3, 0, tzinfo=NY)),
    ],
)
def test_monday_at_three_fires_on_monday(now, expected):
    nxt = trigger("0 3 * * 1", ZONE).get_next_fire_time(None, now)
    assert nxt == expected
    assert local(nxt).isoweekday() == MON and local(nxt).weekday() == 0
    assert local(nxt).strftime("%Y-%m-%d %H:%M %a") == expected.strftime("%Y-%m-%d %H:%M %a")


@pytest.mark.parametrize(
    ("schedule", "days"),
    [
        # both fields restricted: either matches (Vixie cron), the 1st, the 15th and every Monday
        ("0 3 1,15 * 1", [1, 7, 14, 15, 21, 28]),
        ("0 3 1,15 * mon", [1, 7, 14, 15, 21, 28]),
        # the 13th and every Friday
        ("0 3 13 * 5", [4, 11, 13, 18, 25]),
        # a day matching both fires once
        ("0 3 7 * 1", [7, 14, 21, 28]),
        # a field starting with * is unrestricted, so the other one alone decides (AND)...
        ("0 3 * * 1", [7, 14, 21, 28]),
        ("0 3 1,15 * *", [1, 15]),
        # ...even with a step: Vixie cron then requires both ("*/2" day of month and Monday)
        ("0 3 */2 * 1", [7, 21]),
        ("0 3 1-10 * */7", [6]),  # "*/7" is Sunday only, and must fall on the 1st-10th
    ],
)
def test_day_of_month_or_day_of_week(schedule, days):
    start = datetime(2026, 12, 1, 0, 0, tzinfo=NY)
    december = fires(schedule, start, 31)
    assert [f.day for f in december] == days
    assert all((f.month, f.hour, f.minute) == (12, 3, 0) for f in december)


def test_either_day_trigger_keeps_the_wall_clock_rule():
    # 1 November 2026 is both the 1st and a Sunday, and 01:30 happens twice that night
    start = datetime(2026, 10, 31, 0, 0, tzinfo=NY)
    sundays_and_firsts = fires("30 1 1 * 0", start, 10)
    assert [f.strftime("%m-%d %H:%M %Z") for f in sundays_and_firsts] == ["11-01 01:30 EDT", "11-08 01:30 EST"]


@pytest.mark.parametrize(
    ("schedule", "start", "expected"),
    [
        # spring forward, Sunday 8 March 2026: 02:00 EST jumps to 03:00 EDT
        (
            "30 1 * * 0",
            datetime(2026, 2, 28, tzinfo=NY),
            ["03-01 01:30 EST", "03-08 01:30 EST", "03-15 01:30 EDT", "03-22 01:30 EDT"],
        ),
        # 02:30 does not exist on 8 March; the trigger fires once that day, at 07:30 UTC, which is
        # 03:30 EDT (APScheduler resolves the missing wall time with the pre-change offset, and
        # WallClockCronTrigger keeps that): one pass, an hour late by the clock on the wall
        (
            "30 2 * * 0",
            datetime(2026, 2, 28, tzinfo=NY),
            ["03-01 02:30 EST", "03-08 03:30 EDT", "03-15 02:30 EDT", "03-22 02:30 EDT"],
        ),
        # fall back, Sunday 1 November 2026: 01:00-02:00 happens twice; 01:30 fires at the first one
        (
            "30 1 * * 0",
            datetime(2026, 10, 24, tzinfo=NY),
            ["10-25 01:30 EDT", "11-01 01:30 EDT", "11-08 01:30 EST", "11-15 01:30 EST"],
        ),
        (
            "30 2 * * 0",
            datetime(2026, 10, 24, tzinfo=NY),
            ["10-25 02:30 EDT", "11-01 02:30 EST", "11-08 02:30 EST", "11-15 02:30 EST"],
        ),
        # the same weekly jobs written with 7 and with the name
        (
            "30 1 * * 7",
            datetime(2026, 10, 24, tzinfo=NY),
            ["10-25 01:30 EDT", "11-01 01:30 EDT", "11-08 01:30 EST", "11-15 01:30 EST"],
        ),
        (
            "30 2 * * sun",
            datetime(2026, 2, 28, tzinfo=NY),
            ["03-01 02:30 EST", "03-08 03:30 EDT", "03-15 02:30 EDT", "03-22 02:30 EDT"],
        ),
    ],
)
def test_weekly_sunday_job_fires_once_each_sunday_across_dst(schedule, start, expected):
    four_weeks = fires(schedule, start, 28)
    assert [f.strftime("%m-%d %H:%M %Z") for f in four_weeks] == expected
    assert all(f.isoweekday() == SUN for f in four_weeks)
    assert len({f.date() for f in four_weeks}) == len(four_weeks) == 4


@pytest.mark.parametrize(
    ("day_of_week", "message"),
    [
        ("8", "8 is out of range; use 0-7, where 0 and 7 are Sunday"),
        ("1-8", "8 is out of range"),
        ("mon-", "day of week 'mon-': expected \\*, a day 0-7 or sun..sat"),
        ("-1", "day of week '-1': expected"),
        ("1,", "day of week '' in '1,': expected"),
        (",1", "day of week '' in ',1': expected"),
        ("funday", "'funday' is not a day name; use sun, mon"),
        ("monday", "'monday' is not a day name"),
        ("mon-xyz", "'xyz' is not a day name"),
        ("5-1", "'5-1': the range runs backwards"),
        ("sat-mon", "'sat-mon': the range runs backwards"),
        ("1/2", "a step needs a range or \\* before it"),
        ("*/0", "the step must be at least 1"),
        ("1-2-3", "expected"),
        ("?", "expected"),
        ("L", "is not a day name"),
        ("5L", "expected"),
        ("1#2", "expected"),
    ],
)
def test_invalid_day_of_week_is_refused_clearly(day_of_week, message):
    with pytest.raises(ValueError, match=message):
        trigger(f"0 3 * * {day_of_week}", ZONE)


@pytest.mark.parametrize("schedule", ["0 3 * *", "0 3 * * 1 2026", "0 25 * * 1", "0 3 32 * 1", "0 3 * 13 *"])
def test_other_malformed_schedules_are_still_refused(schedule):
    with pytest.raises(ValueError):
        trigger(schedule, ZONE)


JOBS = """\
policies:
  - {name: p, product: income, max_age: 30d}
jobs:
  - {name: weekly, schedule: "SCHEDULE", timezone: America/New_York, policies: [p]}
"""


def test_config_accepts_standard_cron_days():
    config = parse_config(JOBS.replace("SCHEDULE", "0 3 1,15 * 7"), "jobs.yaml")
    assert config.jobs[0].schedule == "0 3 1,15 * 7"


def test_config_validation_uses_standard_cron_days():
    # APScheduler's own from_crontab refused 7 (its week is 0-6); here 7 is Sunday and 8 is wrong
    with pytest.raises(ConfigError, match=r"jobs\[0\]\.schedule \(line 4\).*8 is out of range; use 0-7"):
        parse_config(JOBS.replace("SCHEDULE", "0 3 * * 8"), "jobs.yaml")
    with pytest.raises(ConfigError, match="the range runs backwards"):
        parse_config(JOBS.replace("SCHEDULE", "0 3 * * fri-mon"), "jobs.yaml")


@pytest.mark.parametrize(
    ("schedule", "weekdays"),
    [("0 3 * * 1", {0}), ("0 2 * * 1-5", {0, 1, 2, 3, 4}), ("0 4 * * 0", {6}), ("0 4 * * sat,sun", {5, 6})],
)
def test_status_lists_fire_times_on_the_days_cron_means(tmp_path, schedule, weekdays):
    """What the operator reads in `monitor status`: the next fires fall on the schedule's own weekdays."""
    from monitor.clock import FixedClock
    from monitor.config import parse_config
    from monitor.reports.status import status
    from monitor.services import Context
    from monitor.store.db import make_engine, upgrade

    cfg = parse_config(
        "policies: [{name: p, product: income, max_age: 30d}]\n"
        f'jobs: [{{name: j, schedule: "{schedule}", timezone: America/New_York, policies: [p]}}]\n'
    )
    engine = make_engine(f"sqlite:///{tmp_path / 'status.db'}")
    upgrade(engine)
    now = datetime(2026, 11, 30, 17, 0, tzinfo=UTC)  # a Monday, after 03:00 in New York
    svc = Context(config=cfg, engine=engine, clock=FixedClock(now))
    fires = status(svc, now=now)["jobs"][0]["next_fire_times"]
    local = [f.astimezone(ZoneInfo("America/New_York")) for f in fires]
    assert local and {f.weekday() for f in local} <= weekdays
    assert all(f > now for f in fires)
    if weekdays == {0}:
        assert local[0].date().isoformat() == "2026-12-07"
