"""Reads behind `monitor status` and the Prometheus metrics: passes, leases, and what waits for someone."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, select
from sqlmodel import Session

from monitor.core.states import ConnectionState, LoanHold, ReservationState, RunState
from monitor.store.tables import (
    connection_table,
    finding_table,
    lease_table,
    loan_table,
    reservation_table,
    run_table,
    webhook_event_table,
)

_run = run_table.c
_r = reservation_table.c


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    job: str
    status: str
    holder: str
    started_at: datetime
    finished_at: datetime | None
    summary: Mapping[str, Any]  # the pass's summary as `run --json` prints it


@dataclass(frozen=True, slots=True)
class LeaseRow:
    holder: str
    run_id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class MetricFacts:
    """Everything the metrics report, read in one transaction so they agree with each other."""

    reservations_by_state: dict[str, int]
    failures_by_outcome: dict[str | None, int]
    connections_needing_reauth: int
    webhooks_by_state: dict[str, int]
    findings_by_rule: dict[tuple[str, str], int]  # (rule, severity) -> count
    loans_needing_new_order: int
    last_finished: dict[str, RunRow]  # per job
    last_success: dict[str, datetime]  # per job: when a pass last finished cleanly


_RUN_COLUMNS = (_run.run_id, _run.job, _run.status, _run.holder, _run.started_at, _run.finished_at, _run.summary)


def _run_row(run_id: str, job: str, status: str, holder: str, started: datetime, finished: Any, summary: Any) -> RunRow:
    return RunRow(run_id, job, status, holder, started, finished, json.loads(summary or "{}"))


def recent_runs(session: Session, job: str, *, limit: int) -> list[RunRow]:
    """The job's newest passes first."""
    q = select(*_RUN_COLUMNS).where(_run.job == job).order_by(_run.started_at.desc()).limit(limit)
    return [_run_row(*row) for row in session.execute(q)]


def live_lease(session: Session, job: str, *, now: datetime) -> LeaseRow | None:
    """Who holds the job's lease at `now`, if anyone."""
    c = lease_table.c
    q = select(c.holder, c.run_id, c.expires_at).where(c.job == job, c.expires_at > now)
    row = session.execute(q).first()
    return LeaseRow(*row) if row is not None else None


def _count(session: Session, table: Any, *where: ColumnElement[bool]) -> int:
    return int(session.execute(select(func.count()).select_from(table).where(*where)).scalar_one())


def connections_needing_reauth(session: Session) -> int:
    return _count(session, connection_table, connection_table.c.state == ConnectionState.NEEDS_REAUTH.value)


def loans_needing_new_order(session: Session) -> int:
    c = loan_table.c
    return _count(session, loan_table, c.hold == LoanHold.NEEDS_NEW_ORDER.value, c.status == "active")


def _last_finished(session: Session) -> dict[str, RunRow]:
    newest = (
        select(_run.job, func.max(_run.finished_at).label("at"))
        .where(_run.finished_at.is_not(None))
        .group_by(_run.job)
        .subquery()
    )
    q = (
        select(*_RUN_COLUMNS)
        .join(newest, (newest.c.job == _run.job) & (newest.c.at == _run.finished_at))
        .order_by(_run.run_id)
    )
    return {row.job: row for row in (_run_row(*r) for r in session.execute(q))}


def _counts(session: Session, q: Select[Any, int]) -> dict[Any, int]:
    """A `GROUP BY key` count as a dict."""
    return {key: int(n) for key, n in session.execute(q)}


def metric_facts(session: Session) -> MetricFacts:
    f = finding_table.c
    w = webhook_event_table.c
    success = select(_run.job, func.max(_run.finished_at)).where(_run.status == RunState.FINISHED.value)
    return MetricFacts(
        reservations_by_state=_counts(session, select(_r.state, func.count()).group_by(_r.state)),
        failures_by_outcome=_counts(
            session,
            select(_r.outcome, func.count()).where(_r.state == ReservationState.FAILED.value).group_by(_r.outcome),
        ),
        connections_needing_reauth=connections_needing_reauth(session),
        webhooks_by_state=_counts(session, select(w.state, func.count()).group_by(w.state)),
        findings_by_rule={
            (rule, severity): n
            for rule, severity, n in session.execute(
                select(f.rule, f.severity, func.count()).group_by(f.rule, f.severity)
            )
        },
        loans_needing_new_order=loans_needing_new_order(session),
        last_finished=_last_finished(session),
        last_success={job: at for job, at in session.execute(success.group_by(_run.job)) if at is not None},
    )
