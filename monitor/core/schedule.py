"""When jobs fire, and which missed a fire time while nothing was running. Pure: triggers and times in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.combining import OrTrigger
from apscheduler.triggers.cron import CronTrigger


class WallClockCronTrigger(CronTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type information
    """A cron trigger that fires once per wall-clock time in its zone.

    APScheduler 3's CronTrigger fires a time in the hour repeated at the autumn change twice
    ("30 1 * * *" at 01:30 EDT and again at 01:30 EST) and then keeps answering that same past
    time, so a nightly job runs twice that night. Here the wall clock must
    move forward between fires, and a stuck answer is pushed past.
    """

    def get_next_fire_time(self, previous_fire_time: datetime | None, now: datetime) -> datetime | None:
        # APScheduler 3 searches from previous_fire_time when it has one (now only otherwise), so
        # skipping a repeated wall time means searching on from the skipped candidate.
        after, probe = previous_fire_time, now
        for _ in range(24 * 60):
            nxt: datetime | None = super().get_next_fire_time(after, probe)
            if nxt is None or previous_fire_time is None:
                return nxt
            if nxt > previous_fire_time and self._wall(nxt) > self._wall(previous_fire_time):
                return nxt
            # skip it: search on from a minute past it (the base class starts at min(now, previous))
            after = nxt
            probe = max(probe, nxt) + timedelta(minutes=1)
        return None

    def _wall(self, moment: datetime) -> datetime:
        return moment.astimezone(self.timezone).replace(tzinfo=None)


class EitherDayCronTrigger(OrTrigger):  # type: ignore[misc]  # APScheduler 3 ships no type information
    """Standard cron's rule for a schedule restricting both day of month and day of week.

    Vixie cron (crontab(5)): when neither field starts with "*", the job runs on a day matching
    EITHER field ("0 3 1,15 * 1": the 1st, the 15th and every Monday). APScheduler 3's CronTrigger
    requires both to match, so this is the earliest fire time of two wall-clock triggers: one
    restricted by day of month only, one by day of week only.
    """

    __slots__ = ()

    @property
    def timezone(self) -> Any:
        return self.triggers[0].timezone


# Standard cron numbers the week from Sunday: 0 and 7 are Sunday, 1 Monday ... 6 Saturday.
_CRON_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
# APScheduler 3 numbers it from Monday (datetime.weekday()); its names are the unambiguous way in.
_APSCHEDULER_DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DOW_ITEM = re.compile(
    r"^(?:(?P<star>\*)|(?P<first>[0-9]+|[a-z]+)(?:-(?P<last>[0-9]+|[a-z]+))?)(?:/(?P<step>[0-9]+))?$"
)


def _cron_day(token: str, *, range_end: bool, item: str) -> int:
    """A day of week as standard cron numbers it (0-7); "sun" closing a range is 7 ("fri-sun")."""
    if token.isdigit():
        number = int(token)
        if number > 7:
            raise ValueError(
                f"day of week {item!r}: {number} is out of range; use 0-7, where 0 and 7 are Sunday and 1 is Monday"
            )
        return number
    if token not in _CRON_DAY_NAMES:
        raise ValueError(f"day of week {item!r}: {token!r} is not a day name; use sun, mon, tue, wed, thu, fri or sat")
    number = _CRON_DAY_NAMES.index(token)
    return 7 if range_end and number == 0 else number


def cron_weekdays(field: str) -> set[int]:
    """The days a standard cron day-of-week field selects, as datetime.weekday() numbers (Monday 0).

    Accepts what Vixie cron and cronie accept: 0-7 (0 and 7 Sunday), names, ranges ("1-5",
    "5-7", "mon-fri", "fri-sun"), lists and steps ("*/2", "1-5/2"). A range must run forwards.
    """
    days: set[int] = set()
    for item in field.lower().split(","):
        match = _DOW_ITEM.match(item)
        if match is None:
            where = f"day of week {item!r}" + (f" in {field!r}" if item != field.lower() else "")
            raise ValueError(
                f"{where}: expected *, a day 0-7 or sun..sat, "
                "a range like 1-5, a step like */2 or 1-5/2, or a comma-separated list of those"
            )
        first, last = _cron_range(match, item)
        step = int(match["step"]) if match["step"] is not None else 1
        if step == 0:
            raise ValueError(f"day of week {item!r}: the step must be at least 1")
        # cron day n (Sunday 0 or 7) is datetime weekday (n - 1) % 7
        days.update((n - 1) % 7 for n in range(first, last + 1, step))
    return days


def _cron_range(match: re.Match[str], item: str) -> tuple[int, int]:
    """The cron days an item's range covers, first and last (a single day: itself; *: 0-6)."""
    if match["star"]:
        return 0, 6
    first = _cron_day(match["first"], range_end=False, item=item)
    if match["last"] is None:
        if match["step"] is not None:
            raise ValueError(f"day of week {item!r}: a step needs a range or * before it, like 1-5/2 or */2")
        return first, first
    last = _cron_day(match["last"], range_end=True, item=item)
    if last < first:
        raise ValueError(
            f"day of week {item!r}: the range runs backwards; list the days instead, like 5-7,1 for Friday to Monday"
        )
    return first, last


def trigger(schedule: str, timezone: str) -> BaseTrigger:
    """The trigger for a 5-field cron schedule in an IANA zone, with standard cron semantics.

    Day of week is numbered as standard cron numbers it: 0 and 7 are Sunday, 1 Monday ... 6
    Saturday. APScheduler 3 numbers it from Monday = 0 (CronTrigger.from_crontab included, kept
    for backwards compatibility, see its issue 286), so "0 3 * * 1" there fires on Tuesdays.
    The field is therefore parsed here (cron_weekdays) and handed to APScheduler as day names.

    When both day of month and day of week are restricted (neither starts with "*"), the job
    fires on a day matching either, as in Vixie cron (EitherDayCronTrigger).

    The other fields are APScheduler's. Every trigger fires once per wall-clock time in its zone
    (WallClockCronTrigger). A malformed schedule raises ValueError saying which part is wrong.
    """
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(f"Wrong number of fields; got {len(fields)}, expected 5")
    minute, hour, day, month, day_of_week = fields
    days = cron_weekdays(day_of_week)
    if len(days) == 7 and day_of_week.startswith("*"):
        weekdays = "*"
    else:
        weekdays = ",".join(_APSCHEDULER_DAY_NAMES[d] for d in sorted(days))
    zone = ZoneInfo(timezone)

    def cron(days_of_month: str, days_of_week: str) -> WallClockCronTrigger:
        return WallClockCronTrigger(
            minute=minute, hour=hour, day=days_of_month, month=month, day_of_week=days_of_week, timezone=zone
        )

    if day.startswith("*") or day_of_week.startswith("*"):
        return cron(day, weekdays)
    return EitherDayCronTrigger([cron(day, "*"), cron("*", weekdays)])


def fire_times(cron: Any, start: datetime, end: datetime) -> Iterator[datetime]:
    """Fire times in [start, end), in order (the trigger handles DST in its own zone)."""
    previous: datetime | None = None
    moment = start
    while True:
        nxt = cron.get_next_fire_time(previous, moment)
        if nxt is None or nxt >= end or (previous is not None and nxt <= previous):
            return
        yield nxt
        previous, moment = nxt, nxt + timedelta(microseconds=1)


def missed_fire(cron: Any, *, last_finished: datetime | None, now: datetime, horizon: timedelta) -> datetime | None:
    """The latest fire time after the last finished pass and not after `now`, or None.

    A daemon that starts after downtime runs such a job once, however many nights it missed.
    With no pass on record, the search starts `horizon` ago (a new install catches up once too).
    """
    start = (last_finished + timedelta(microseconds=1)) if last_finished else now - horizon
    latest = None
    for moment in fire_times(cron, start, now + timedelta(microseconds=1)):
        latest = moment
    return latest
