"""Client-side pacing so a healthy pass never meets Truv's 429 (DESIGN.md rule 7)."""

from __future__ import annotations

import threading
from typing import Protocol

from monitor.clock import Clock

# Spacing a hair wider than 60/rpm keeps the count in any 60 s window at or under the limit even
# when network jitter bunches requests up on arrival; 2% costs little of the allowed pace.
HEADROOM = 0.98


class Pacer(Protocol):
    """What the client needs of pacing. `monitor.store.pace.SharedPacer` shares the slots through the
    database, so every process using one secret keeps to Truv's one limit."""

    def acquire(self) -> None:
        """Wait for this request's slot."""

    def hold(self, seconds: float) -> None:
        """Truv said wait (429): no slot is handed out before `seconds` from now."""


def interval_for(requests_per_minute: int, headroom: float = HEADROOM) -> float:
    """Seconds between two request slots."""
    return 60.0 / (requests_per_minute * headroom)


class LocalPacer:
    """Evenly spaced request slots shared by every thread of this process."""

    def __init__(self, requests_per_minute: int, clock: Clock, headroom: float = HEADROOM) -> None:
        self.interval = interval_for(requests_per_minute, headroom)
        self._clock = clock
        self._lock = threading.Lock()
        self._next = clock.monotonic()
        self.waited = 0.0

    def acquire(self) -> None:
        with self._lock:
            now = self._clock.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            self.waited += delay
            self._clock.sleep(delay)

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._next = max(self._next, self._clock.monotonic() + seconds)
