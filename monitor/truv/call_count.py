"""Truv calls counted for whoever made them: a pass counts its own, however many share the client.

One client serves several passes at once (the daemon, the demo), each from several threads. Each pass
puts its own `CallCount` in its context (`counting`); the client reports every request it sends to the
count of the calling context, which worker threads inherit when they run in a copy of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar


class CallCount:
    """Requests sent (every attempt, by endpoint label) and 429s met; safe to add to from any thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._throttled = 0
        self._by_endpoint: dict[str, int] = {}

    def request(self, endpoint: str) -> None:
        with self._lock:
            self._requests += 1
            self._by_endpoint[endpoint] = self._by_endpoint.get(endpoint, 0) + 1

    def throttle(self) -> None:
        with self._lock:
            self._throttled += 1

    @property
    def requests(self) -> int:
        with self._lock:
            return self._requests

    @property
    def throttled(self) -> int:
        with self._lock:
            return self._throttled

    @property
    def by_endpoint(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._by_endpoint.items()))


_current: ContextVar[CallCount | None] = ContextVar("monitor_truv_call_count", default=None)


@contextmanager
def counting(count: CallCount) -> Iterator[CallCount]:
    """Calls made in this context (and in copies of it taken inside) count into `count`."""
    token = _current.set(count)
    try:
        yield count
    finally:
        _current.reset(token)


def note_request(endpoint: str) -> None:
    """The client sends one request (an attempt: a retried GET counts each time)."""
    count = _current.get()
    if count is not None:
        count.request(endpoint)


def note_throttled() -> None:
    """The client met a 429."""
    count = _current.get()
    if count is not None:
        count.throttle()
