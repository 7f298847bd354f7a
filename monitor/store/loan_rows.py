"""Reads behind `monitor loans show` / `loans list` and the report: loans, their attributes, orders and audit."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlmodel import Session

from monitor.core.budget import Limits
from monitor.core.refresh_choice import LoanToRefresh
from monitor.store import ledger, loan_refresh, usage
from monitor.store.ledger import Usage
from monitor.store.tables import event_table, loan_attribute_table, loan_table, reservation_table, truv_order_table

_l = loan_table.c
_e = event_table.c


@dataclass(frozen=True, slots=True)
class LoanRow:
    loan_id: str
    order_id: str
    original_order_id: str | None
    base_order_id: str | None
    gse: bool
    status: str
    closing_date: date | None
    data_as_of: datetime | None  # as imported until the order is read; then the oldest connection's
    data_as_of_employers: datetime | None
    data_as_of_accounts: datetime | None
    data_as_of_insurance: datetime | None
    gse_window_start: datetime | None
    hold: str | None
    hold_reason: str | None
    hold_since: datetime | None
    details_fetched_at: datetime | None
    next_attempt_at: datetime | None
    attention: str | None = None  # why the loan waits: Truv's last refusal, a 404 ...

    def data_date(self, scope: str) -> datetime | None:
        """The date selection judges the loan on for a product's scope: the imported one until its
        order is read (rule 11), then that scope's own (rule 10)."""
        if self.details_fetched_at is None:
            return self.data_as_of
        return {
            "employer": self.data_as_of_employers,
            "account": self.data_as_of_accounts,
            "insurance": self.data_as_of_insurance,
        }[scope]


@dataclass(frozen=True, slots=True)
class OrderRow:
    id: str
    initial_order: str | None
    refresh_order: str | None
    products: str
    created_at: datetime | None
    voie_report_id: str | None
    voa_report_id: str | None


@dataclass(frozen=True, slots=True)
class EventRow:
    id: int
    at: datetime
    kind: str
    run_id: str | None
    detail: str  # JSON as the audit trail holds it


@dataclass(frozen=True, slots=True)
class LastOutcome:
    at: datetime
    outcome: str  # the reservation's outcome, else its state


_LOAN_COLUMNS = (
    _l.loan_id,
    _l.order_id,
    _l.original_order_id,
    _l.base_order_id,
    _l.gse,
    _l.status,
    _l.closing_date,
    _l.data_as_of,
    _l.data_as_of_employers,
    _l.data_as_of_accounts,
    _l.data_as_of_insurance,
    _l.gse_window_start,
    _l.hold,
    _l.hold_reason,
    _l.hold_since,
    _l.details_fetched_at,
    _l.next_attempt_at,
    _l.attention,
)


def loan(session: Session, loan_id: str) -> LoanRow | None:
    row = session.execute(select(*_LOAN_COLUMNS).where(_l.loan_id == loan_id)).first()
    return LoanRow(*row) if row is not None else None


def loans(session: Session) -> list[LoanRow]:
    """Every loan, by loan_id."""
    return [LoanRow(*row) for row in session.execute(select(*_LOAN_COLUMNS).order_by(_l.loan_id))]


def attributes(session: Session, loan_ids: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """The lender's attributes per loan (of every loan when None), as the loans file spelt them."""
    a = loan_attribute_table.c
    q = select(a.loan_id, a.key, func.coalesce(a.shown, a.value))
    if loan_ids is not None:
        q = q.where(a.loan_id.in_(list(loan_ids)))
    out: dict[str, dict[str, str]] = defaultdict(dict)
    for loan_id, key, value in session.execute(q):
        out[loan_id][key] = value
    return dict(out)


def loan_orders(session: Session, loan_id: str) -> list[OrderRow]:
    """The loan's orders as Truv created them: the original, then its refreshes."""
    o = truv_order_table.c
    q = (
        select(o.id, o.initial_order, o.refresh_order, o.products, o.created_at, o.voie_report_id, o.voa_report_id)
        .where(o.loan_id == loan_id)
        .order_by(o.created_at, o.id)
    )
    return [OrderRow(*row) for row in session.execute(q)]


def loan_events(session: Session, loan_id: str, *, limit: int) -> list[EventRow]:
    """The loan's audit entries, newest first."""
    q = (
        select(_e.id, _e.at, _e.kind, _e.run_id, _e.detail)
        .where(_e.loan_id == loan_id)
        .order_by(_e.at.desc(), _e.id.desc())
        .limit(limit)
    )
    return [EventRow(*row) for row in session.execute(q)]


def last_outcomes(session: Session, loan_ids: Sequence[str] | None = None) -> dict[str, LastOutcome]:
    """Each loan's newest reservation: its outcome, or its state while it has none (of `loan_ids` only)."""
    r = reservation_table.c
    out: dict[str, LastOutcome] = {}
    q = select(r.loan_id, r.reserved_at, r.state, r.outcome)
    if loan_ids is not None:
        q = q.where(r.loan_id.in_(list(loan_ids)))
    for loan_id, at, state, outcome in session.execute(q):
        if loan_id not in out or at > out[loan_id].at:
            out[loan_id] = LastOutcome(at, outcome or state)
    return out


def last_skips(session: Session, loan_ids: Sequence[str] | None = None) -> dict[str, EventRow]:
    """Each loan's newest `skipped` audit entry (of `loan_ids` only)."""
    q = select(_e.id, _e.at, _e.kind, _e.run_id, _e.detail, _e.loan_id).where(
        _e.kind == "skipped", _e.loan_id.is_not(None)
    )
    if loan_ids is not None:
        q = q.where(_e.loan_id.in_(list(loan_ids)))
    out: dict[str, EventRow] = {}
    for eid, at, kind, run_id, detail, loan_id in session.execute(q):
        seen = out.get(loan_id)
        if seen is None or (at, eid or 0) > (seen.at, seen.id):
            out[loan_id] = EventRow(eid or 0, at, kind, run_id, detail)
    return out


@dataclass(frozen=True, slots=True)
class PassReading:
    """What the next pass would read of one loan, through the same store functions it uses."""

    in_flight: bool
    # The loan as the refresh choice reads it, per connection scope; None when its order is not on record.
    to_refresh: dict[str, LoanToRefresh | None]
    usage: Usage  # of the given tokens, and the loan's GSE and billable uses


def pass_reading(
    session: Session, loan: LoanRow, *, scopes: Iterable[str], tokens: Sequence[str], limits: Limits, now: datetime
) -> PassReading:
    return PassReading(
        in_flight=usage.loan_in_flight(session, loan.loan_id),
        to_refresh={scope: loan_refresh.to_refresh(session, loan.loan_id, scope=scope) for scope in set(scopes)},
        usage=ledger.read_usage(
            session,
            tokens=tokens,
            loan_id=loan.loan_id,
            gse=loan.gse,
            limits=limits,
            now=now,
            gse_window_start=loan.gse_window_start,
        ),
    )
