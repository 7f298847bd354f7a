"""The set-based selection of a policy's loans: what a pass may take (`selectable`), the batch it
claims (`select_stale`), the whole list the plan reads (`stream_stale`), and their count."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, exists, func, not_, or_, select
from sqlmodel import Session

from monitor.core.selection import Selection
from monitor.store import usage
from monitor.store.loan_claims import Claim, claim_loans, claimed
from monitor.store.loan_match import match_clause
from monitor.store.loan_staleness import data_date, stale_of, unknown_clause
from monitor.store.tables import loan_table, reservation_table

_L = loan_table.c
# Rows a streamed selection fetches at a time: a server-side cursor's page on Postgres.
STREAM_PAGE = 1000


@dataclass(frozen=True, slots=True)
class Candidate:
    loan_id: str
    order_id: str
    base_order_id: str | None
    gse: bool
    closing_date: date | None
    data_as_of: datetime | None
    details_fetched_at: datetime | None


def select_stale(
    session: Session,
    sel: Selection,
    *,
    now: datetime,
    limit: int | None,
    claim: Claim | None = None,
) -> list[Candidate]:
    """Active, matching, stale (or not yet read) loans with nothing in flight, no backoff, no hold.

    Ordered by closing date (soonest first, none last), then oldest data (never verified first).
    With `claim`, only loans no live pass has claimed, and the ones returned are claimed in the
    caller's transaction: on Postgres the rows are locked `FOR UPDATE SKIP LOCKED`, so instances
    selecting at the same moment take different loans; on SQLite the write transaction already
    excludes a second selector.
    """
    query = _stale_query(session, sel, now=now)
    if claim is not None:
        query = query.where(not_(claimed(now)))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True, of=loan_table)
    if limit is not None:
        query = query.limit(limit)
    found = [Candidate(*row) for row in session.execute(query)]
    if claim is not None and found:
        won = claim_loans(session, [x.loan_id for x in found], claim, now)
        found = [x for x in found if x.loan_id in won]
    return found


def stream_stale(session: Session, sel: Selection, *, now: datetime) -> Iterator[Candidate]:
    """`select_stale`'s loans without a limit or a claim, read as they are consumed (a server-side
    cursor on Postgres): 500k candidates of a 5M-loan book are not held at once (issue 26)."""
    query = _stale_query(session, sel, now=now)
    result = session.connection().execution_options(yield_per=STREAM_PAGE).execute(query)
    for row in result:
        yield Candidate(*row)


def _stale_query(session: Session, sel: Selection, *, now: datetime) -> Any:
    """The selectable loans as Candidates, in the order a pass works them."""
    return (
        select(
            _L.loan_id,
            _L.order_id,
            _L.base_order_id,
            _L.gse,
            _L.closing_date,
            data_date(sel.scope),
            _L.details_fetched_at,
        )
        .where(selectable(session, sel, now=now))
        .order_by(
            _L.closing_date.is_(None),
            _L.closing_date,
            data_date(sel.scope).is_not(None),
            data_date(sel.scope),
            _L.loan_id,
        )
    )


def count_selectable(
    session: Session,
    sel: Selection,
    *,
    now: datetime,
    unclaimed: bool = False,
    among: Collection[str] | None = None,
) -> int:
    """How many loans `select_stale` would return without a limit; with `unclaimed`, only those no
    live pass has claimed (what a pass that stopped early left unread); with `among`, only those."""
    where = selectable(session, sel, now=now)
    if unclaimed:
        where = and_(where, not_(claimed(now)))
    if among is not None:
        where = and_(where, _L.loan_id.in_(list(among)))
    return int(session.execute(select(func.count()).select_from(loan_table).where(where)).scalar_one())


def selectable(session: Session, sel: Selection, *, now: datetime) -> Any:
    """What a pass selects, claims aside: active, matching, stale (or not yet read), no hold, nothing
    in flight, no backoff. `select_stale` and `count_selectable` share it, so a count is a selection."""
    return and_(
        active(session),
        _L.hold.is_(None),
        match_clause(sel.match),
        or_(stale_of(sel, now.date()), unknown_clause()),
        not_(in_flight()),
        or_(_L.next_attempt_at.is_(None), _L.next_attempt_at <= now),
    )


def active(session: Session) -> Any:
    """Active loans, read on SQLite without an index.

    SQLite keeps no statistics here, so for `status = 'active'` it picks an `ix_loan_status_*` index and
    then fetches each row in that index's order: a random read per loan, about three times the cost of
    reading the table in order when most loans are active (a plan over 1M loans). `status || ''` tests
    the same thing and leaves SQLite the table scan, or the primary key when loan ids are given.
    Postgres weighs its statistics and needs no help.
    """
    if session.get_bind().dialect.name == "sqlite":
        return (_L.status + "") == "active"
    return _L.status == "active"


def in_flight() -> Any:
    """Loans with a refresh under way."""
    # The in-flight states are the ledger's (store.usage): one list for the pass, the views and selection.
    return exists().where(reservation_table.c.loan_id == _L.loan_id, usage.in_flight())
