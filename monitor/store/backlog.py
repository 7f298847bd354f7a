"""The backlog of one policy, read in one statement: what is stale, what a pass could take, what holds
the rest back. `monitor status` reads it live; a pass reads it at the start of each policy."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, func, not_, or_, select
from sqlmodel import Session

from monitor.core.selection import Selection
from monitor.store.loan_match import match_clause
from monitor.store.loan_selection import active, in_flight, selectable
from monitor.store.loan_staleness import stale_of, unknown_clause
from monitor.store.tables import loan_table

_L = loan_table.c


@dataclass(frozen=True, slots=True)
class StaleCounts:
    """How many loans a policy finds stale, and how many of those the selection leaves out and why."""

    stale: int = 0
    in_flight: int = 0
    backoff: int = 0
    held: int = 0
    unknown: int = 0  # data date nobody knows yet: their order is read before anything is decided


@dataclass(frozen=True, slots=True)
class PolicyBacklog:
    """Counts over the active loans the policy matches (a loan two policies match counts in both)."""

    stale: int = 0  # data date known and stale
    data_date_unknown: int = 0  # order never read and no imported date: the pass reads it first
    waiting: int = 0  # what a pass would select now (stale or unread, nothing in the way), claims aside
    waiting_gse: int = 0  # of those, GSE loans: free in their window, so outside a billable cap
    in_flight: int = 0  # stale, with a refresh under way
    retry_backoff: int = 0  # stale, waiting for a backoff to end
    held: dict[str, int] = field(default_factory=dict)  # stale and set aside, by hold reason
    stale_in_flight: int = 0  # stale with a refresh under way, set aside or not (`StaleCounts.in_flight`)

    def counts(self) -> StaleCounts:
        """The pass's stale counts, from the same one scan of the loans."""
        return StaleCounts(
            stale=self.stale,
            in_flight=self.stale_in_flight,
            backoff=self.retry_backoff,
            held=sum(self.held.values()),
            unknown=self.data_date_unknown,
        )


def policy_backlog(session: Session, sel: Selection, *, now: datetime) -> PolicyBacklog:
    stale = stale_of(sel, now.date())
    is_active = active(session)
    waiting = selectable(session, sel, now=now)
    flight = in_flight()
    backoff = and_(_L.next_attempt_at.is_not(None), _L.next_attempt_at > now)
    free = and_(stale, _L.hold.is_(None))

    def n(where: Any) -> Any:
        return func.sum(case((where, 1), else_=0))

    row = session.execute(
        select(
            n(stale),
            n(unknown_clause()),
            n(waiting),
            n(and_(waiting, _L.gse.is_(True))),
            n(and_(free, flight)),
            n(and_(free, not_(flight), backoff)),
            n(and_(stale, flight)),
        )
        # Every count is of stale or unread loans: the rest (most of a portfolio) are passed over by the
        # WHERE, tested once each, instead of by every CASE above.
        .where(is_active, match_clause(sel.match), or_(stale, unknown_clause()))
    ).one()
    reason = func.coalesce(_L.hold_reason, _L.hold)
    held = session.execute(
        select(reason, func.count())
        .where(_L.hold.is_not(None), is_active, match_clause(sel.match), stale)  # SQLite tests them in this order
        .group_by(reason)
        .order_by(reason)
    ).all()
    stale_n, unknown, waiting_n, gse, flying, backing_off, stale_flying = (int(x or 0) for x in row)
    return PolicyBacklog(
        stale=stale_n,
        data_date_unknown=unknown,
        waiting=waiting_n,
        waiting_gse=gse,
        in_flight=flying,
        retry_backoff=backing_off,
        held={str(r): int(c) for r, c in held},
        stale_in_flight=stale_flying,
    )
