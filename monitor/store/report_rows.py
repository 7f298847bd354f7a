"""Reads behind the compliance report: one period's refreshes, exceptions, findings and closings.

Set-based: a handful of queries whatever the number of loans. The GSE standing comes from
`monitor.store.usage`, like every other view of a budget.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import ColumnElement, and_, func, select
from sqlmodel import Session

from monitor.core.states import ConnectionState, ReservationState
from monitor.store import evidence_rows, ledger_rows, loan_rows
from monitor.store.evidence_rows import LoanEvidence
from monitor.store.ledger_rows import ReportIds
from monitor.store.tables import (
    connection_table,
    event_table,
    finding_table,
    loan_connection_table,
    loan_table,
    reservation_table,
    truv_order_table,
)

_r = reservation_table.c
_l = loan_table.c
_lc = loan_connection_table.c
_c = connection_table.c
_EPOCH = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class ReportLoan:
    loan_id: str
    gse: bool
    status: str
    order_id: str
    data_as_of: datetime | None
    closing_date: date | None
    gse_window_start: datetime | None
    base_order_id: str | None


@dataclass(frozen=True, slots=True)
class LastReservation:
    """A loan's newest reservation before the period ends."""

    product: str
    outcome: str  # its outcome, else its state
    at: datetime


@dataclass(frozen=True, slots=True)
class SkipEntry:
    loan_id: str | None
    at: datetime
    detail: str  # JSON as the audit trail holds it


@dataclass(frozen=True, slots=True)
class ConnectionWait:
    """A loan's connection in a state only someone else can end (re-auth, a new order)."""

    loan_id: str
    token_hash: str
    reason: str | None
    since: datetime | None


@dataclass(frozen=True, slots=True)
class Hold:
    loan_id: str
    hold: str
    reason: str | None
    since: datetime | None


@dataclass(frozen=True, slots=True)
class DayOutcome:
    reserved_at: datetime
    state: str
    outcome: str | None


@dataclass(frozen=True, slots=True)
class FindingRow:
    loan_id: str
    rule: str
    severity: str
    confidence: str
    field: str | None
    before: str | None
    after: str | None
    order_id: str | None
    detected_at: datetime
    id: int
    disposition: str
    disposition_note: str | None
    disposition_by: str | None
    disposition_at: datetime | None


@dataclass(frozen=True, slots=True)
class Closing:
    """A loan closing in the period, with what pre-closing evidence needs of it."""

    loan_id: str
    gse: bool
    status: str
    order_id: str
    closing_date: date
    attributes: dict[str, str]
    evidence: LoanEvidence  # its verifications and findings (monitor.store.evidence_rows)


@dataclass(frozen=True, slots=True)
class PeriodRows:
    refreshed: dict[str, int]  # per loan: refreshes in the period that reached a refresh order
    billable: dict[str, int]  # per loan: of those, the billable ones
    last: dict[str, LastReservation]
    chains: dict[str, list[str]]  # per loan: its orders, oldest first
    report_ids: dict[str, ReportIds]  # per order, of every order
    loans: list[ReportLoan]
    skips: list[SkipEntry]  # in audit order
    needs_reauth: list[ConnectionWait]
    holds: list[Hold]
    deleted: list[ConnectionWait]  # connections whose link was deleted: a new order is needed
    failures: dict[str | None, int]  # failed refreshes in the period, by outcome
    days: list[DayOutcome]
    findings: list[FindingRow]
    closings: list[Closing]
    attributes: dict[str, dict[str, str]]  # per loan: its imported columns, which policies' `match` reads


def _per_loan(session: Session, *where: ColumnElement[bool]) -> dict[str, int]:
    q = select(_r.loan_id, func.count()).where(*where).group_by(_r.loan_id)
    return {loan_id: int(n) for loan_id, n in session.execute(q)}


def _last(session: Session, hi: datetime) -> dict[str, LastReservation]:
    out: dict[str, LastReservation] = {}
    q = select(_r.loan_id, _r.product, _r.state, _r.outcome, _r.reserved_at).where(_r.reserved_at < hi)
    for loan_id, product, state, outcome, at in session.execute(q.order_by(_r.reserved_at)):
        out[loan_id] = LastReservation(product, outcome or state, at)
    return out


def _chains(session: Session) -> dict[str, list[str]]:
    o = truv_order_table.c
    found: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    for loan_id, order_id, created in session.execute(select(o.loan_id, o.id, o.created_at)):
        found[loan_id].append((created or _EPOCH, order_id))
    return {loan_id: [order_id for _, order_id in sorted(orders)] for loan_id, orders in found.items()}


def _loans(session: Session) -> list[ReportLoan]:
    q = select(
        _l.loan_id,
        _l.gse,
        _l.status,
        _l.order_id,
        _l.data_as_of,
        _l.closing_date,
        _l.gse_window_start,
        _l.base_order_id,
    ).order_by(_l.loan_id)
    return [ReportLoan(*row) for row in session.execute(q)]


def _skips(session: Session, lo: datetime, hi: datetime) -> list[SkipEntry]:
    e = event_table.c
    q = select(e.loan_id, e.at, e.detail).where(e.kind == "skipped", e.at >= lo, e.at < hi).order_by(e.seq)
    return [SkipEntry(*row) for row in session.execute(q)]


def _waiting(session: Session, state: ConnectionState) -> list[ConnectionWait]:
    q = (
        select(_lc.loan_id, _c.token_hash, _c.reason, _c.since)
        .select_from(loan_connection_table.join(connection_table, _c.token_hash == _lc.token_hash))
        .where(_c.state == state.value)
        .order_by(_lc.loan_id)
    )
    return [ConnectionWait(*row) for row in session.execute(q)]


def _holds(session: Session) -> list[Hold]:
    q = (
        select(_l.loan_id, _l.hold, _l.hold_reason, _l.hold_since)
        .where(_l.hold.is_not(None), _l.status == "active")
        .order_by(_l.loan_id)
    )
    return [Hold(*row) for row in session.execute(q)]


def _findings(session: Session, lo: datetime, hi: datetime) -> list[FindingRow]:
    f = finding_table.c
    q = (
        select(
            f.loan_id,
            f.rule,
            f.severity,
            f.confidence,
            f.field,
            f.before,
            f.after,
            f.order_id,
            f.detected_at,
            f.id,
            f.disposition,
            f.disposition_note,
            f.disposition_by,
            f.disposition_at,
        )
        .where(f.detected_at >= lo, f.detected_at < hi)
        .order_by(f.loan_id, f.detected_at)
    )
    return [FindingRow(*row) for row in session.execute(q)]


def _closings(session: Session, start: date, end: date) -> list[Closing]:
    q = select(_l.loan_id, _l.gse, _l.status, _l.order_id, _l.closing_date).where(
        _l.closing_date.is_not(None), _l.closing_date >= start, _l.closing_date <= end
    )
    loans = session.execute(q).all()
    if not loans:
        return []
    ids = [row.loan_id for row in loans]
    attributes = loan_rows.attributes(session, ids)
    found = evidence_rows.evidence(session, ids)
    return [
        Closing(lid, gse, status, order_id, closing, attributes.get(lid, {}), found[lid])
        for lid, gse, status, order_id, closing in loans
    ]


def closings(session: Session, *, start: date, end: date) -> list[Closing]:
    """Loans closing from `start` to `end` (included), with their evidence: what the pre-closing rows read."""
    return _closings(session, start, end)


def period(session: Session, *, lo: datetime, hi: datetime, closing_from: date, closing_to: date) -> PeriodRows:
    """Everything the report reads of [lo, hi), and of the loans closing from `closing_from` to `closing_to`."""
    in_period = and_(_r.reserved_at >= lo, _r.reserved_at < hi)
    reached = _r.refresh_order_id.is_not(None)
    in_period_failed = select(_r.outcome, func.count()).where(in_period, _r.state == ReservationState.FAILED.value)
    return PeriodRows(
        refreshed=_per_loan(session, in_period, reached),
        billable=_per_loan(session, in_period, _r.billable.is_(True), reached),
        last=_last(session, hi),
        chains=_chains(session),
        report_ids=ledger_rows.report_ids(session),
        loans=_loans(session),
        skips=_skips(session, lo, hi),
        needs_reauth=_waiting(session, ConnectionState.NEEDS_REAUTH),
        holds=_holds(session),
        deleted=_waiting(session, ConnectionState.NEEDS_NEW_ORDER),
        failures={outcome: int(n) for outcome, n in session.execute(in_period_failed.group_by(_r.outcome))},
        days=[
            DayOutcome(*row) for row in session.execute(select(_r.reserved_at, _r.state, _r.outcome).where(in_period))
        ],
        findings=_findings(session, lo, hi),
        closings=_closings(session, closing_from, closing_to),
        attributes=loan_rows.attributes(session),
    )
