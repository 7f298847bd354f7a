"""What a pass (or a plan) reports, and the thread-safe counting its workers do into it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import NotRequired, TypedDict

from monitor.core.backlog import nights_to_clear
from monitor.core.states import SkipReason
from monitor.store.backlog import PolicyBacklog, StaleCounts

# The fields the `pass_finished` log line carries; the run row keeps the whole summary.
LOGGED_FIELDS = (
    "status",
    "selected",
    "submitted",
    "skipped",
    "completed",
    "failed",
    "needs_reauth",
    "unknown",
    "requests",
)


class BacklogLine(TypedDict):
    """One policy's line in a pass's backlog: what was stale, what the pass took, what is left and why."""

    stale: int
    data_date_unknown: int
    waiting: int
    in_flight: int
    selected: int
    submitted: int
    details_needed: int  # plan only: orders to read before deciding
    not_reached: int  # selected after the budget ran out, or never selected: both wait for the next pass
    blocked: dict[str, int]
    nights_to_clear: NotRequired[int | None]  # at the job's capacity, once every policy's line is in


@dataclass
class PassSummary:
    run_id: str
    job: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # finished | stopped | lease_held | failed | truv_unreachable
    selected: int = 0
    submitted: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    completed: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    needs_reauth: int = 0
    unknown: int = 0
    reconciled: int = 0
    partial: int = 0
    details_needed: int = 0  # plan only: loans whose order details must be fetched before budgets decide
    data_date_unknown: int = 0  # loans whose order has not been read yet: their data date is Truv's to tell
    reports_read: int = 0  # link reports read after completed refreshes (income monitoring)
    findings: int = 0  # changes found in them (see `monitor changes`)
    loans_synced: int = 0  # loans whose details a walk of Truv's order list learned (issue 26)
    not_stale: int = 0  # read for their data date, which Truv showed to be fresh: nothing spent
    stale_total: int = 0
    requests: int = 0
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    handoffs_delivered: int = 0
    handoffs_failed: int = 0
    error: str | None = None
    lease_holder: str | None = None
    # Stale loans no batch reached: the job's max_refreshes ran out first (also in `backlog`).
    not_reached: int = 0
    # Per policy, in the job's order: what was stale, what the pass took, what is left and why.
    backlog: dict[str, BacklogLine] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["skipped"] = dict(sorted(self.skipped.items()))
        out["failed"] = dict(sorted(self.failed.items()))
        out["started_at"] = self.started_at.isoformat()
        out["finished_at"] = self.finished_at.isoformat() if self.finished_at else None
        return out

    def logged(self) -> dict[str, object]:
        return {k: v for k, v in self.as_dict().items() if k in LOGGED_FIELDS}


@dataclass
class _PolicyCounts:
    backlog: PolicyBacklog
    selected: int = 0
    submitted: int = 0
    details_needed: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


class Tally:
    """The counts a pass's workers add to its summary, each under one lock.

    Policies are worked one after the other, so what is counted between `policy_started` and
    `policy_done` is that policy's too (its line in the summary's backlog).
    """

    def __init__(self, summary: PassSummary) -> None:
        self.summary = summary
        self._lock = threading.Lock()
        self._policy: _PolicyCounts | None = None
        self._policies: dict[str, _PolicyCounts] = {}

    def skip(self, reason: str, n: int = 1) -> None:
        with self._lock:
            self.summary.skipped[reason] += n
            if self._policy is not None:
                self._policy.skipped[reason] += n

    def policy_started(self, name: str, backlog: PolicyBacklog) -> None:
        with self._lock:
            self._policy = self._policies[name] = _PolicyCounts(backlog)

    def policy_done(self, name: str, *, not_reached: int) -> BacklogLine:
        """The policy's backlog line; `not_reached`: loans its batches never got to."""
        with self._lock:
            pc = self._policies[name]
            self._policy = None
            b = pc.backlog
            blocked: Counter[str] = Counter(b.held)
            blocked[SkipReason.RETRY_BACKOFF] += b.retry_backoff
            blocked.update({r: n for r, n in pc.skipped.items() if r != SkipReason.MAX_REFRESHES})
            line: BacklogLine = {
                "stale": b.stale,
                "data_date_unknown": b.data_date_unknown,
                "waiting": b.waiting,
                "in_flight": b.in_flight,
                "selected": pc.selected,
                "submitted": pc.submitted,
                "details_needed": pc.details_needed,
                "not_reached": not_reached + pc.skipped[SkipReason.MAX_REFRESHES],
                "blocked": {r: n for r, n in sorted(blocked.items()) if n},
            }
            self.summary.not_reached += not_reached
            self.summary.backlog[name] = line
            return line

    def backlog_estimate(self, capacity: int) -> None:
        """Nights each policy's not-reached loans need at `capacity` refreshes a night, after this pass."""
        with self._lock:
            lines = list(self.summary.backlog.values())
            for line, nights in zip(
                lines, nights_to_clear([x["not_reached"] for x in lines], capacity=capacity), strict=True
            ):
                line["nights_to_clear"] = nights

    def warn(self, message: str) -> None:
        with self._lock:
            self.summary.warnings.append(message)

    def stale_counts(self, counts: StaleCounts) -> None:
        """A policy's stale loans, and those the selection leaves out (held, in flight, backing off)."""
        with self._lock:
            self.summary.stale_total += counts.stale
            self.summary.data_date_unknown += counts.unknown
            for reason, n in (
                ("on_hold", counts.held),
                ("in_flight", counts.in_flight),
                ("retry_backoff", counts.backoff),
            ):
                if n:
                    self.summary.skipped[reason] += n

    def settled(self, *, completed: int, failed: Mapping[str, int], needs_reauth: int, reconciled: int = 0) -> None:
        """Outcomes of earlier refreshes (this pass's or before) that settled during the pass."""
        with self._lock:
            self.summary.completed += completed
            self.summary.failed.update(failed)
            self.summary.needs_reauth += needs_reauth
            self.summary.reconciled += reconciled

    def monitored(self, *, reports_read: int, findings: int) -> None:
        with self._lock:
            self.summary.reports_read += reports_read
            self.summary.findings += findings

    def selected(self, n: int) -> int:
        with self._lock:
            self.summary.selected += n
            if self._policy is not None:
                self._policy.selected += n
            return self.summary.selected

    def submitted(self, *, partial: bool) -> None:
        with self._lock:
            self.summary.submitted += 1
            self.summary.partial += int(partial)
            if self._policy is not None:
                self._policy.submitted += 1

    def not_submitted(self, reason: str | None = None) -> None:
        """A counted submission that Truv did not take; `reason` is its skip reason when it has one."""
        with self._lock:
            self.summary.submitted -= 1
            if self._policy is not None:
                self._policy.submitted -= 1
            if reason is not None:
                self.summary.skipped[reason] += 1
                if self._policy is not None:
                    self._policy.skipped[reason] += 1

    def unknown(self) -> None:
        with self._lock:
            self.summary.unknown += 1

    def not_stale(self) -> None:
        with self._lock:
            self.summary.not_stale += 1

    def details_needed(self) -> None:
        with self._lock:
            self.summary.details_needed += 1
            if self._policy is not None:
                self._policy.details_needed += 1


class RefreshBudget:
    """The job's `max_refreshes` for one pass: a unit is taken before a loan is reserved, and given
    back when it is not spent after all."""

    def __init__(self, units: int) -> None:
        self._left = units
        self._lock = threading.Lock()

    @property
    def left(self) -> int:
        with self._lock:
            return self._left

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._left += 1
