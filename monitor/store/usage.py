"""What counts in a budget window (DESIGN.md rules 1, 2, 3 and 12), written once.

The ledger's reservation and every view (`monitor ledger`, `status`, `loans show`, the compliance
report) read budget use through these predicates, so what a view shows is what the pass decides.
`core.budget` does the counting; this module only says which rows are uses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, exists, func, select
from sqlmodel import Session

from monitor.core.budget import (
    BILLABLE_WINDOW,
    TOKEN_WINDOW,
    GseTerms,
    Limits,
    TokenUsage,
    decide,
    gse_terms,
)
from monitor.core.states import ReservationState
from monitor.store.tables import connection_table, loan_table, reservation_table, reservation_token_table

_r = reservation_table.c
_rt = reservation_token_table.c
_c = connection_table.c

# A reservation stops counting only when its request provably never left (rule 3) or Truv refused it
# outright, making no order (rule 15).
NOT_COUNTING = (ReservationState.RELEASED.value, ReservationState.DECLINED.value)
# A refresh still under way: the loan's next one waits for it to settle.
IN_FLIGHT = (
    ReservationState.RESERVED.value,
    ReservationState.SENT.value,
    ReservationState.UNKNOWN.value,
    ReservationState.ACCEPTED.value,
)


def reservation_counts() -> ColumnElement[bool]:
    """A reservation whose request may have reached Truv: it counts against every budget it touched."""
    return _r.state.not_in(NOT_COUNTING)


def token_use_counts(now: datetime) -> ColumnElement[bool]:
    """A token use inside its 24 h window at `now`; it counts from when Truv may have counted it (rule 12)."""
    return and_(_rt.counts.is_(True), _rt.reserved_at > now - TOKEN_WINDOW)


def gse_use_counts() -> ColumnElement[bool]:
    """A loan's GSE use; which of them fall in its free window is `core.budget.gse_terms`'s reading."""
    return and_(_r.gse.is_(True), reservation_counts())


def billable_use_counts(now: datetime) -> ColumnElement[bool]:
    """A billable refresh inside the rolling day the optional daily cap bounds."""
    return and_(_r.billable.is_(True), reservation_counts(), _r.reserved_at > now - BILLABLE_WINDOW)


def truv_blocked(now: datetime) -> ColumnElement[bool]:
    """A connection Truv refused for its own per-token limit, still inside that block at `now`."""
    return and_(_c.blocked_until.is_not(None), _c.blocked_until > now)


def in_flight() -> ColumnElement[bool]:
    """A refresh of the loan may still be under way: one at a time per loan."""
    return _r.state.in_(IN_FLIGHT)


def loan_in_flight(session: Session, loan_id: str) -> bool:
    """A refresh of the loan is reserved, accepted or unknown: the next one waits for it."""
    return bool(session.execute(select(exists().where(_r.loan_id == loan_id, in_flight()))).scalar())


def _tokens_reserved_for(loan_id: str) -> Select[str]:
    return (
        select(_rt.token_hash)
        .join(reservation_table, _r.id == _rt.reservation_id)
        .where(_r.loan_id == loan_id)
        .distinct()
    )


def token_uses(
    session: Session, *, now: datetime, tokens: Iterable[str] | None = None, loan_id: str | None = None
) -> dict[str, list[datetime]]:
    """The counting uses per token at `now`: of `tokens`, of the tokens `loan_id` reserved on, or of all."""
    q = select(_rt.token_hash, _rt.reserved_at).where(token_use_counts(now))
    if tokens is not None:
        q = q.where(_rt.token_hash.in_(list(tokens)))
    if loan_id is not None:
        q = q.where(_rt.token_hash.in_(_tokens_reserved_for(loan_id)))
    uses: dict[str, list[datetime]] = defaultdict(list)
    for token, at in session.execute(q):
        uses[token].append(at)
    return dict(uses)


def truv_blocks(
    session: Session, *, now: datetime, tokens: Iterable[str] | None = None, loan_id: str | None = None
) -> dict[str, datetime]:
    """Until when Truv blocks each token still blocked at `now` (same scoping as `token_uses`)."""
    q = select(_c.token_hash, _c.blocked_until).where(truv_blocked(now))
    if tokens is not None:
        q = q.where(_c.token_hash.in_(list(tokens)))
    if loan_id is not None:
        q = q.where(_c.token_hash.in_(_tokens_reserved_for(loan_id)))
    return {row.token_hash: row.blocked_until for row in session.execute(q)}


def token_usage(session: Session, *, tokens: Sequence[str], now: datetime) -> list[TokenUsage]:
    """Each token's counting uses and Truv block: what the budget decision is made on."""
    uses = token_uses(session, now=now, tokens=tokens)
    blocked = truv_blocks(session, now=now, tokens=tokens)
    return [TokenUsage(t, uses.get(t, []), blocked.get(t)) for t in tokens]


def token_frees_at(usage: TokenUsage, limits: Limits, now: datetime) -> datetime | None:
    """When the pass may next spend on this token (None: now), by the pass's own decision.

    Asked of `core.budget.decide` for the token alone, so a view cannot call a token free while the
    pass skips it (a Truv block included). The billable cap is a loan's matter, not the token's.
    """
    decision = decide(
        tokens=[usage],
        gse=False,
        gse_uses=(),
        billable_uses=(),
        limits=replace(limits, billable_per_day=None),
        now=now,
    )
    return decision.exhausted_tokens.get(usage.token_hash)


def tokens_at_limit(session: Session, *, per_token: int, now: datetime) -> int:
    """How many tokens have used their whole 24 h budget at `now`."""
    full = (
        select(_rt.token_hash)
        .where(token_use_counts(now))
        .group_by(_rt.token_hash)
        .having(func.count() >= per_token)
        .subquery()
    )
    return int(session.execute(select(func.count()).select_from(full)).scalar_one())


def tokens_blocked(session: Session, *, now: datetime) -> int:
    return int(
        session.execute(select(func.count()).select_from(connection_table).where(truv_blocked(now))).scalar_one()
    )


def gse_uses(session: Session, *, loan_id: str, since: datetime) -> list[datetime]:
    """The loan's counting GSE uses from `since` on."""
    q = select(_r.reserved_at).where(_r.loan_id == loan_id, gse_use_counts(), _r.reserved_at >= since)
    return list(session.execute(q).scalars())


def billable_uses(session: Session, *, now: datetime) -> list[datetime]:
    return list(session.execute(select(_r.reserved_at).where(billable_use_counts(now))).scalars())


def gse_standing(
    session: Session, *, limits: Limits, now: datetime, since: datetime | None = None, loan_id: str | None = None
) -> dict[str, GseTerms]:
    """Each GSE loan with counting uses (from `since` on) and where it stands in its own free window."""
    loans = loan_table.c
    q = (
        select(_r.loan_id, _r.reserved_at, loans.gse_window_start)
        .join(loan_table, loans.loan_id == _r.loan_id)
        .where(gse_use_counts())
    )
    if since is not None:
        q = q.where(_r.reserved_at >= since)
    if loan_id is not None:
        q = q.where(_r.loan_id == loan_id)
    uses: dict[str, list[datetime]] = defaultdict(list)
    starts: dict[str, datetime | None] = {}
    for lid, at, start in session.execute(q):
        uses[lid].append(at)
        starts[lid] = start
    return {lid: gse_terms(window_start=starts[lid], uses=times, limits=limits, now=now) for lid, times in uses.items()}
