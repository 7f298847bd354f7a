"""Settling a refresh order (DESIGN.md, failure outcomes): how each of its employers or accounts ended and
the state of the connections they use in; what changes out.

Pure, so the poll and the webhook pipeline settle a refresh the same way; `monitor.store.settle` records a
`Settlement` in one transaction. Any Truv lookup (an employer in `error` is judged by its link) is made by
the caller before it gets here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.core.changes import Finding, unverified
from monitor.core.outcomes import Outcome, classify, retry_at
from monitor.core.states import ConnectionState, ReservationState

_COMPLETED_WORDS = ("done", "completed")


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one suborder's end means, and the word recorded for it."""

    outcome: Outcome
    status: str


def judge(status: str | None) -> Verdict:
    """A suborder judged by its own status."""
    word = (status or "").lower()
    return Verdict(classify(word), word or "unknown")


def awaits_link(status: str | None, link_id: str | None) -> bool:
    """An employer in `error` says nothing about why; its link's last task status does, when there is a link."""
    return (status or "").lower() == "error" and bool(link_id)


def judge_by_link(link_status: str | None) -> Verdict:
    """An employer in `error`, judged by its link's last task status (read from Truv by the caller)."""
    return Verdict(classify(link_status), link_status or "error")


# The link could not be read: a provider-side failure, retried later like any other.
LINK_UNREADABLE = Verdict(Outcome.RETRY, "error")


@dataclass(frozen=True, slots=True)
class SuborderResult:
    """One employer or account of a refresh order, as it ended."""

    kind: str
    token_hash: str | None  # None: a suborder with no connection (e.g. documents) changes no connection
    link_id: str | None
    verdict: Verdict
    data_date: datetime | None = None  # a completed one's data date from Truv; None: the settling moment


@dataclass(frozen=True, slots=True)
class ConnectionBefore:
    state: str
    failures: int


# A connection not on record yet is created in this state (monitor.store.orders.ensure_connection).
NEW_CONNECTION = ConnectionBefore(ConnectionState.OK, 0)


@dataclass(frozen=True, slots=True)
class ConnectionChange:
    token_hash: str
    state: ConnectionState
    reason: str | None
    failures: int
    retry_after: datetime | None
    entered: bool  # a state it was not in: `since` moves, and entering needs_reauth is handed off


@dataclass(frozen=True, slots=True)
class Step:
    """One suborder's changes, recorded in suborder order (the audit trail keeps that order)."""

    result: SuborderResult
    connection: ConnectionChange | None  # None when the suborder has no connection
    completed_at: datetime | None  # completed: the connection's new data date, and its report is read
    finding: Finding | None  # a monitored refresh that did not verify: unverified, never "no change"


@dataclass(frozen=True, slots=True)
class Settlement:
    steps: tuple[Step, ...]
    state: ReservationState  # completed, or failed
    outcome: str  # "completed", or the statuses seen, comma-separated
    next_attempt_at: datetime | None  # a provider-side failure: the loan waits for its connection's backoff

    @property
    def completed(self) -> bool:
        """Every suborder completed: the refresh is handed off to the lender."""
        return self.state is ReservationState.COMPLETED

    @property
    def advances_base(self) -> bool:
        """Some connection completed: the refresh order becomes where the loan's data is read (rule 6)."""
        return any(step.completed_at is not None for step in self.steps)

    @property
    def needs_reauth(self) -> int:
        return sum(1 for s in self.steps if s.connection is not None and s.result.verdict.outcome is Outcome.REAUTH)

    @property
    def failed_statuses(self) -> list[str]:
        """One word per suborder that did not complete, counted by the pass summary."""
        words = [step.result.verdict.status for step in self.steps]
        return [] if self.completed else [w for w in words if w not in _COMPLETED_WORDS]


def requested(results: Sequence[SuborderResult], tokens: frozenset[str]) -> list[SuborderResult]:
    """Only the connections the refresh asked for settle it (issue 21 point 5): a refresh order may list
    other suborders (another product's, or ones the `employers` filter left out); they get no new data
    date, no outcome, and do not hold the settlement. An empty `tokens` (a ledger row written before
    the picked suborders were kept) takes every suborder, as before."""
    if not tokens:
        return list(results)
    return [r for r in results if r.token_hash is not None and r.token_hash in tokens]


def pending(results: Sequence[SuborderResult]) -> bool:
    """Some suborder is still working: nothing settles yet."""
    return any(r.verdict.outcome is Outcome.PENDING for r in results)


def settle(
    results: Sequence[SuborderResult],
    connections: Mapping[str, ConnectionBefore],
    *,
    monitored: bool,
    now: datetime,
) -> Settlement | None:
    """What a refresh order's end changes; None while any suborder is still working.

    `connections` holds the state before of each connection the results name (missing: NEW_CONNECTION).
    `monitored`: the product's refreshes are followed by a report comparison (income, employment).
    """
    if pending(results):
        return None
    steps = _steps(results, connections, monitored=monitored, now=now)
    completed_tokens = {s.connection.token_hash for s in steps if s.completed_at is not None and s.connection}
    # Distinct connections: a suborder with no connection never counts as completed.
    if results and len(completed_tokens) == len(results):
        state, outcome = ReservationState.COMPLETED, "completed"
    else:
        state, outcome = ReservationState.FAILED, ",".join(sorted({r.verdict.status for r in results})) or "empty"
    return Settlement(steps=tuple(steps), state=state, outcome=outcome, next_attempt_at=_next_attempt(steps))


def _next_attempt(steps: Sequence[Step]) -> datetime | None:
    """The last connection told to retry later says when."""
    retries = [
        s.connection.retry_after for s in steps if s.connection and s.connection.state is ConnectionState.RETRY_LATER
    ]
    return retries[-1] if retries else None


def _steps(
    results: Sequence[SuborderResult], connections: Mapping[str, ConnectionBefore], *, monitored: bool, now: datetime
) -> list[Step]:
    """Each suborder's step, in order; a connection named twice starts its second step where the first left it."""
    current = dict(connections)
    steps: list[Step] = []
    for result in results:
        step = _step(result, current, monitored=monitored, now=now)
        steps.append(step)
        if step.connection is not None:
            current[step.connection.token_hash] = ConnectionBefore(step.connection.state, step.connection.failures)
    return steps


def _step(result: SuborderResult, current: Mapping[str, ConnectionBefore], *, monitored: bool, now: datetime) -> Step:
    token = result.token_hash
    if token is None:
        return Step(result, connection=None, completed_at=None, finding=None)
    change = connection_change(token, current.get(token, NEW_CONNECTION), result.verdict, now=now)
    if result.verdict.outcome is Outcome.COMPLETED:
        return Step(result, change, completed_at=result.data_date or now, finding=None)
    finding = unverified(result.verdict.status) if monitored else None
    return Step(result, change, completed_at=None, finding=finding)


_STATE_OF = {
    Outcome.COMPLETED: ConnectionState.OK,
    Outcome.REAUTH: ConnectionState.NEEDS_REAUTH,
    Outcome.RETRY: ConnectionState.RETRY_LATER,
    Outcome.MANUAL: ConnectionState.MANUAL_REVIEW,
}


def connection_change(token: str, before: ConnectionBefore, verdict: Verdict, *, now: datetime) -> ConnectionChange:
    """A completed refresh clears the connection; any other end counts one more failure in a row."""
    state = _STATE_OF[verdict.outcome]  # PENDING never settles (see `settle`)
    if state is ConnectionState.OK:
        return ConnectionChange(token, state, None, 0, None, entered=before.state != state)
    failures = before.failures + 1
    retry_after = retry_at(failures, now) if state is ConnectionState.RETRY_LATER else None
    return ConnectionChange(token, state, verdict.status, failures, retry_after, entered=before.state != state)
