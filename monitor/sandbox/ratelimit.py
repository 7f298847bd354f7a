"""Sliding-window counters: requests per minute per secret, refreshes per day per token."""

from __future__ import annotations

import math
from collections import defaultdict, deque
from datetime import datetime, timedelta


class RequestLimiter:
    """At most `limit` accepted requests per key in any `window` seconds of monotonic time.

    Refused requests are not recorded, so a client that keeps retrying is not locked out
    for longer than the window.
    """

    def __init__(self, limit: int, window: float = 60.0) -> None:
        self._limit = limit
        self._window = window
        self._hits: dict[str, deque[float]] = defaultdict(deque)

    def try_acquire(self, key: str, now: float) -> float | None:
        """Record a hit and return None, or return the seconds until a slot frees up."""
        hits = self._hits[key]
        # A hit at exactly `now - window` has left the window: (now - window, now].
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if len(hits) >= self._limit:
            return hits[0] + self._window - now
        hits.append(now)
        return None


def wait_message(seconds: float) -> str:
    # DRF's throttle wording, which Truv's sample code parses.
    return f"Request was throttled. Expected available in {max(1, math.ceil(seconds))} seconds."


class RefreshBudget:
    """Accepted refreshes per access_token in the rolling window (now - 24h, now]."""

    def __init__(self, limit: int, window: timedelta = timedelta(hours=24)) -> None:
        self._limit = limit
        self._window = window
        self._accepted: dict[str, list[datetime]] = defaultdict(list)

    def used(self, token: str, now: datetime) -> int:
        start = now - self._window
        return sum(1 for at in self._accepted.get(token, ()) if start < at <= now)

    def exhausted(self, tokens: list[str], now: datetime) -> list[str]:
        return [token for token in tokens if self.used(token, now) >= self._limit]

    def record(self, tokens: list[str], now: datetime) -> None:
        for token in tokens:
            self._accepted[token].append(now)
