"""When jobs fire, and which missed a fire time while nothing was running. Pure: triggers and times in."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger


class WallClockCronTrigger(CronTrigger):
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
            nxt = super().get_next_fire_time(after, probe)
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


def trigger(schedule: str, timezone: str) -> CronTrigger:
    return WallClockCronTrigger.from_crontab(schedule, timezone=ZoneInfo(timezone))


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
