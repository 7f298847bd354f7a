"""Pacing shared through the database: every process and instance draws slots from one row.

Truv's limit is per secret across all endpoints (DESIGN.md rule 7), so two cron passes or four
pods must share it. One short write transaction per request (5 a second at 300/min) is cheap
next to an HTTP round trip, and it needs no new infrastructure.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from functools import partial

from sqlalchemy import select
from sqlalchemy.engine import Engine

from monitor.clock import Clock
from monitor.store.db import session, upsert_insert
from monitor.store.tables import Pace
from monitor.truv.pacer import HEADROOM


class SharedPacer:
    def __init__(
        self, engine: Engine, *, key: str, requests_per_minute: int, clock: Clock, headroom: float = HEADROOM
    ) -> None:
        self.engine = engine
        self.key = key
        self.interval = 60.0 / (requests_per_minute * headroom)
        self._clock = clock
        self._local = threading.Lock()  # one DB round trip at a time from this process
        self.waited = 0.0
        self._ensure_row()

    def _ensure_row(self) -> None:
        with session(self.engine) as s:
            insert = partial(upsert_insert, s)
            s.execute(
                insert(Pace.__table__)
                .values(key=self.key, next_slot=self._clock.now())
                .on_conflict_do_nothing(index_elements=["key"])
            )

    def _take(self, *, hold: float | None = None) -> float:
        with self._local, session(self.engine) as s:
            row = s.execute(select(Pace).where(Pace.key == self.key).with_for_update()).scalars().one()  # type: ignore[arg-type]
            now = self._clock.now()
            if hold is not None:
                row.next_slot = max(row.next_slot, now + timedelta(seconds=hold))
                s.add(row)
                return 0.0
            slot = max(now, row.next_slot)
            row.next_slot = slot + timedelta(seconds=self.interval)
            s.add(row)
            return (slot - now).total_seconds()

    def acquire(self) -> None:
        delay = self._take()
        if delay > 0:
            self.waited += delay
            self._clock.sleep(delay)

    def hold(self, seconds: float) -> None:
        self._take(hold=seconds)
