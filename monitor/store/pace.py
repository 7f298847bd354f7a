"""Pacing shared through the database: every process and instance draws slots from one row.

Truv's limit is per secret across all endpoints (DESIGN.md rule 7), so two cron passes or four
pods must share it. One short write transaction per request (5 a second at 300/min) is cheap
next to an HTTP round trip, and it needs no new infrastructure.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from monitor.clock import Clock
from monitor.store.db import session, upsert_insert
from monitor.store.tables import pace_table
from monitor.truv.pacer import HEADROOM, interval_for


class SharedPacer:
    """`monitor.truv.pacer.Pacer` over the `pace` row named by `key` (one per secret)."""

    def __init__(
        self, engine: Engine, *, key: str, requests_per_minute: int, clock: Clock, headroom: float = HEADROOM
    ) -> None:
        self.engine = engine
        self.key = key
        self.interval = interval_for(requests_per_minute, headroom)
        self._clock = clock
        self._local = threading.Lock()  # one DB round trip at a time from this process
        self.waited = 0.0
        self._ensure_row()

    def _ensure_row(self) -> None:
        with session(self.engine) as s:
            s.execute(
                upsert_insert(s, pace_table)
                .values(key=self.key, next_slot=self._clock.now())
                .on_conflict_do_nothing(index_elements=["key"])
            )

    def _take(self, *, hold: float | None = None) -> float:
        """Seconds until this request's slot (0 for a hold, which only moves the next slot on)."""
        row = pace_table.c
        with self._local, session(self.engine) as s:
            next_slot: datetime = s.execute(
                select(row.next_slot).where(row.key == self.key).with_for_update()
            ).scalar_one()
            now = self._clock.now()
            if hold is not None:
                moved, delay = max(next_slot, now + timedelta(seconds=hold)), 0.0
            else:
                slot = max(now, next_slot)
                moved, delay = slot + timedelta(seconds=self.interval), (slot - now).total_seconds()
            s.execute(update(pace_table).where(row.key == self.key).values(next_slot=moved))
            return delay

    def acquire(self) -> None:
        delay = self._take()
        if delay > 0:
            self.waited += delay
            self._clock.sleep(delay)

    def hold(self, seconds: float) -> None:
        self._take(hold=seconds)
