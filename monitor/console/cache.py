"""Reads that scan the whole portfolio, kept for a short while: a dashboard is looked at far more often
than passes run, and every figure shown says when it was read."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass
class Cached:
    ttl: timedelta = timedelta(seconds=30)
    _values: dict[str, tuple[datetime, Any]] = field(default_factory=dict)
    _locks: dict[str, threading.Lock] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    def get(
        self, key: str, now: datetime, read: Callable[[], Any], *, ttl: timedelta | None = None
    ) -> tuple[datetime, Any]:
        """(when it was read, the value). One reader per key at a time: a burst of requests reads once."""
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._values.get(key)
            if hit is not None and now - hit[0] < (self.ttl if ttl is None else ttl):
                return hit
            value = (now, read())
            self._values[key] = value
            return value

    def forget(self, key: str) -> None:
        with self._guard:
            self._values.pop(key, None)

    def clear(self) -> None:
        with self._guard:
            self._values.clear()
