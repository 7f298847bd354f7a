from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from monitor.core.schedule import fire_times, missed_fire, trigger

NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("schedule", ["0 2 * * *", "30 1 * * *", "0 3 * * *"])
def test_daily_cron_fires_once_per_local_day_across_both_dst_changes(schedule):
    cron = trigger(schedule, "America/New_York")
    start = datetime(2026, 1, 1, tzinfo=NY)
    fires = list(fire_times(cron, start, start + timedelta(days=365)))
    local_days = [f.astimezone(NY).date() for f in fires]
    assert len(local_days) == 365 and len(set(local_days)) == 365
    # the spring-forward (8 March) and fall-back (1 November) days each get exactly one pass
    assert local_days.count(date(2026, 3, 8)) == 1 and local_days.count(date(2026, 11, 1)) == 1


def test_missed_fire_is_the_latest_only():
    cron = trigger("0 2 * * *", "America/New_York")
    now = datetime(2026, 6, 10, 15, 0, tzinfo=UTC)
    last = datetime(2026, 6, 6, 7, 0, tzinfo=UTC)  # three nights missed
    assert missed_fire(cron, last_finished=last, now=now, horizon=timedelta(days=2)) == datetime(
        2026, 6, 10, 2, 0, tzinfo=NY
    )
    ran_tonight = datetime(2026, 6, 10, 6, 30, tzinfo=UTC)
    assert missed_fire(cron, last_finished=ran_tonight, now=now, horizon=timedelta(days=2)) is None
    assert missed_fire(cron, last_finished=None, now=now, horizon=timedelta(days=2)) is not None


def test_the_repeated_autumn_hour_does_not_fire_twice():
    # APScheduler 3 alone fires 01:30 EDT and again 01:30 EST on 1 November 2026
    cron = trigger("*/20 1 * * *", "America/New_York")
    start = datetime(2026, 11, 1, 0, 0, tzinfo=NY)
    fires = list(fire_times(cron, start, start + timedelta(days=1)))
    assert [f.astimezone(NY).strftime("%H:%M") for f in fires] == ["01:00", "01:20", "01:40"]


def test_the_skipped_spring_hour_still_fires_that_day():
    cron = trigger("30 2 * * *", "America/New_York")  # 02:30 does not exist on 8 March 2026
    start = datetime(2026, 3, 7, 12, 0, tzinfo=NY)
    fires = list(fire_times(cron, start, start + timedelta(days=2)))
    assert [f.astimezone(NY).date() for f in fires] == [date(2026, 3, 8), date(2026, 3, 9)]
