"""Feedback on long work (`loans import`, `run`): a progress bar on a terminal, otherwise a structured
`progress` log line at most every 30 seconds, each from the counts the work reports as it goes.

Time comes from the injected clock's `monotonic` (monitor.clock), so tests drive it without sleeping.
A line is written when a loan finishes: a pass stuck inside one request says nothing until it ends,
which the request's own timeout bounds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Protocol, TypeVar

import structlog

from monitor.clock import Clock

EVERY = 30.0  # seconds between two progress lines off a terminal
PACE_SAMPLE = 5  # loans worked before an ETA is given: one slow first loan is not a pace
T = TypeVar("T")

log = structlog.get_logger("monitor.progress")


class LineLogger(Protocol):
    """What a progress line is written to: structlog's logger, or a test's list of lines."""

    def info(self, event: str, /, **fields: object) -> object: ...


@dataclass(frozen=True)
class Snapshot:
    """Where the work stands: what a bar shows and a progress line logs."""

    what: str
    worked: int
    total: int
    counts: dict[str, int]  # running totals the work reports (submitted, skipped; orders, loans)
    elapsed_s: float
    per_s: float | None
    eta_s: float | None

    def fields(self) -> dict[str, object]:
        """The log line's fields, in the order it has always had."""
        return {
            "what": self.what,
            "worked": self.worked,
            "total": self.total,
            **self.counts,
            "elapsed_s": self.elapsed_s,
            "per_s": self.per_s,
            "eta_s": self.eta_s,
        }


class Progress:
    """Counts and the arithmetic (rate, ETA); shows nothing. Thread-safe: a pass's workers step it."""

    def __init__(self, clock: Clock, what: str) -> None:
        self.clock = clock
        self.what = what
        self.total = 0  # loans (or rows) expected
        self.cap: int | None = None  # at most this many submissions (the job's max_refreshes)
        self.done = 0
        self.counts: dict[str, int] = {}
        self._start = clock.monotonic()
        # The pace is measured from when the counted work began (the first `expect`), not from the start:
        # a pass settles earlier refreshes first, and counting that time made the first ETA 26 min.
        self._work_start: float | None = None
        self._lock = threading.Lock()

    def expect(self, n: int, *, cap: int | None = None) -> None:
        """`n` more to work; `cap`: the work also ends once `submitted` reaches it."""
        with self._lock:
            self.total += max(0, n)
            if self._work_start is None:
                self._work_start = self.clock.monotonic()
            if cap is not None:
                self.cap = cap

    def step(self, n: int = 1, **counts: int) -> None:
        """`n` more worked; `counts` are running totals (submitted, skipped)."""
        with self._lock:
            self.done += n
            self.counts.update(counts)
            snap = self._snapshot()
        self.show(snap)

    def close(self) -> None:
        with self._lock:
            snap = self._snapshot()
        self.finish(snap)

    def _snapshot(self) -> Snapshot:
        now = self.clock.monotonic()
        elapsed = max(now - self._start, 0.0)
        working = max(now - (self._work_start if self._work_start is not None else self._start), 0.0)
        rate = self.done / working if working > 0 else None
        return Snapshot(
            what=self.what,
            worked=self.done,
            total=max(self.total, self.done),
            counts=dict(self.counts),
            elapsed_s=round(elapsed, 1),
            per_s=round(rate, 2) if rate is not None else None,
            eta_s=self._eta(working),
        )

    def _eta(self, elapsed: float) -> float | None:
        """Seconds left at the pace achieved since the work began: the sooner of the loans running out and,
        with a cap, the submissions reaching it. None until PACE_SAMPLE loans are worked."""
        if elapsed <= 0 or self.done < PACE_SAMPLE:
            return None
        etas = [max(self.total - self.done, 0) / (self.done / elapsed)]
        submitted = self.counts.get("submitted", 0)
        if self.cap is not None and submitted > 0:
            etas.append(max(self.cap - submitted, 0) / (submitted / elapsed))
        return round(min(etas), 1)

    # What a subclass shows.
    def show(self, snap: Snapshot) -> None:
        return None

    def finish(self, snap: Snapshot) -> None:
        return None


class LogProgress(Progress):
    """One `progress` line at most every `every` seconds (the first after `every`), and none at the end:
    the work's own summary line says how it finished."""

    def __init__(self, clock: Clock, what: str, *, every: float = EVERY, logger: LineLogger | None = None) -> None:
        super().__init__(clock, what)
        self.every = every
        self.log: LineLogger = logger if logger is not None else log
        self._last = self._start
        self._emit = threading.Lock()

    def show(self, snap: Snapshot) -> None:
        now = self.clock.monotonic()
        with self._emit:
            if now - self._last < self.every:
                return
            self._last = now
        self.log.info("progress", **snap.fields())


class BarProgress(Progress):
    """A rich progress bar on the terminal's stderr: worked of total, submitted, skipped, rate, ETA."""

    def __init__(self, clock: Clock, what: str, stream: IO[str]) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as Bar

        super().__init__(clock, what)
        self._bar = Bar(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[detail]}"),
            console=Console(file=stream),
            get_time=clock.monotonic,
            transient=False,
        )
        self._task = self._bar.add_task(what, total=None, detail="")
        self._bar.start()

    def show(self, snap: Snapshot) -> None:
        self._bar.update(self._task, completed=snap.worked, total=snap.total or None, detail=_detail(snap))

    def finish(self, snap: Snapshot) -> None:
        self._bar.update(self._task, completed=snap.worked, total=snap.worked, detail=_detail(snap))
        self._bar.stop()


def _detail(snap: Snapshot) -> str:
    parts = [f"{k} {snap.counts[k]}" for k in ("submitted", "skipped") if k in snap.counts]
    if snap.per_s is not None:
        parts.append(f"{snap.per_s:.1f}/s")
    if snap.eta_s is not None:
        parts.append(f"ETA {_duration(snap.eta_s)}")
    return "  ".join(parts)


def _duration(seconds: float) -> str:
    s = round(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def for_terminal(clock: Clock, what: str, stream: IO[str]) -> Progress:
    """A bar when `stream` is a terminal, else progress lines."""
    isatty = getattr(stream, "isatty", None)
    if isatty is not None and isatty():
        return BarProgress(clock, what, stream)
    return LogProgress(clock, what)


def counted(items: Iterable[T], progress: Progress, *, every: int = 500) -> Iterator[T]:
    """`items`, stepping `progress` as they are consumed (in strides: a bar per row costs more than the row)."""
    n = 0
    try:
        for item in items:
            yield item
            n += 1
            if n % every == 0:
                progress.step(every)
        if n % every:
            progress.step(n % every)
    finally:
        progress.close()
