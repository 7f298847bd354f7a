"""The write-ahead ledger (DESIGN.md rule 3): check and reserve in one locked transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TypedDict, Unpack

from sqlalchemy import select, text, update
from sqlmodel import Session

from monitor.core.budget import GSE_WINDOW, Decision, Limits, ReservationRequest, TokenUsage, counts_from, decide
from monitor.core.states import ReservationState, SkipReason
from monitor.store import audit_details, usage
from monitor.store.audit_details import AuditDetail
from monitor.store.tables import Reservation, ReservationToken, reservation_table, reservation_token_table
from monitor.store.usage import NOT_COUNTING

_r = reservation_table.c
_rt = reservation_token_table.c


def _lock_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def lock(session: Session, names: Sequence[str]) -> None:
    """Postgres: transaction-scoped advisory locks in a fixed order (no deadlocks between passes).

    SQLite needs nothing here: every write transaction starts with BEGIN IMMEDIATE, which already
    serialises the check and the insert across processes.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for key in sorted({_lock_key(n) for n in names}):
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": key})


def add_event(
    session: Session,
    *,
    at: datetime,
    kind: str,
    run_id: str | None = None,
    loan_id: str | None = None,
    reservation_id: str | None = None,
    purpose: str | None = None,
    detail: AuditDetail | None = None,
) -> None:
    """One audit entry (see monitor.store.audit): chained, never updated."""
    from monitor.store.audit import append

    append(
        session,
        at=at,
        kind=kind,
        run_id=run_id,
        loan_id=loan_id,
        reservation_id=reservation_id,
        purpose=purpose,
        detail=detail,
    )


@dataclass(frozen=True, slots=True)
class Usage:
    """What one loan's budget decision is made on."""

    tokens: list[TokenUsage]
    gse_uses: list[datetime]
    billable_uses: list[datetime]

    def decide(
        self, *, tokens: Sequence[str], gse: bool, limits: Limits, now: datetime, gse_window_start: datetime | None
    ) -> Decision:
        """The budget decision for `tokens`, some of the ones read (a loan's chosen connections)."""
        wanted = set(tokens)
        return decide(
            tokens=[u for u in self.tokens if u.token_hash in wanted],
            gse=gse,
            gse_uses=self.gse_uses,
            billable_uses=self.billable_uses,
            limits=limits,
            now=now,
            gse_window_start=gse_window_start,
        )


def read_usage(
    session: Session,
    *,
    tokens: Sequence[str],
    loan_id: str,
    gse: bool,
    limits: Limits,
    now: datetime,
    gse_window_start: datetime | None = None,
) -> Usage:
    """Every use the loan's budget decision counts (`monitor.store.usage` says which rows those are)."""
    return Usage(
        tokens=usage.token_usage(session, tokens=tokens, now=now),
        gse_uses=usage.gse_uses(session, loan_id=loan_id, since=gse_window_start or now - GSE_WINDOW) if gse else [],
        billable_uses=usage.billable_uses(session, now=now) if limits.billable_per_day is not None else [],
    )


@dataclass(frozen=True)
class Reserved:
    decision: Decision
    reservation_id: str | None


def check(
    session: Session,
    *,
    loan_id: str,
    gse: bool,
    tokens: Sequence[str],
    limits: Limits,
    now: datetime,
    gse_window_start: datetime | None = None,
) -> Decision:
    """The decision a reservation would make now, without reserving (plan, dry runs)."""
    u = read_usage(
        session, tokens=tokens, loan_id=loan_id, gse=gse, limits=limits, now=now, gse_window_start=gse_window_start
    )
    return u.decide(tokens=tokens, gse=gse, limits=limits, now=now, gse_window_start=gse_window_start)


def reserve(session: Session, request: ReservationRequest, *, limits: Limits, now: datetime) -> Reserved:
    """Check every budget and write the reservation in the caller's single transaction.

    The caller commits before sending anything: from then on the reservation counts until its
    window passes, unless the request is shown never to have left or Truv refused it outright.
    """
    r = request
    tokens = r.tokens
    names = [f"loan:{r.loan_id}", *(f"token:{t}" for t in tokens)]
    if r.gse:
        names.append(f"gse:{r.loan_id}")
    if limits.billable_per_day is not None:
        names.append("billable")
    lock(session, names)
    if usage.loan_in_flight(session, r.loan_id):
        return Reserved(Decision((), skip_reason=SkipReason.IN_FLIGHT.value), None)
    decision = check(
        session,
        loan_id=r.loan_id,
        gse=r.gse,
        tokens=tokens,
        limits=limits,
        now=now,
        gse_window_start=r.gse_window_start,
    )
    if not decision.go:
        return Reserved(decision, None)
    allowed = set(decision.allowed_tokens)
    reservation_id = uuid.uuid4().hex
    picked = {k: list(v) for k, v in r.suborders.items() if k in allowed}
    session.add(
        Reservation(
            id=reservation_id,
            run_id=r.run_id,
            job=r.job,
            policy=r.policy,
            loan_id=r.loan_id,
            product=r.product,
            parent_order_id=r.parent_order_id,
            gse=r.gse,
            billable=decision.billable,
            state=ReservationState.RESERVED.value,
            reserved_at=now,
            suborders=json.dumps(picked, sort_keys=True),
        )
    )
    session.flush()
    # The POST follows at once; its send time moves this forward (`count_from`) if it is later.
    start = counts_from(now, limits)
    for token in sorted(allowed):
        session.add(ReservationToken(reservation_id=reservation_id, token_hash=token, reserved_at=start))
    add_event(
        session,
        at=now,
        kind="reserved",
        run_id=r.run_id,
        loan_id=r.loan_id,
        reservation_id=reservation_id,
        purpose=r.purpose,
        detail=audit_details.Reserved(
            policy=r.policy,
            product=r.product,
            tokens=sorted(t[:12] for t in allowed),
            billable=decision.billable,
            partial=bool(decision.exhausted_tokens),
        ),
    )
    return Reserved(decision, reservation_id)


class StateChange(TypedDict, total=False):
    """The columns a state change sets besides the state; a column not named keeps its value."""

    settled_at: datetime | None
    outcome: str
    detail: str
    refresh_order_id: str
    sent_at: datetime


def set_state(
    session: Session, reservation_id: str, *, state: str, now: datetime, **values: Unpack[StateChange]
) -> None:
    session.execute(update(reservation_table).where(_r.id == reservation_id).values(state=state, **values))
    if state in NOT_COUNTING:
        session.execute(
            update(reservation_token_table).where(_rt.reservation_id == reservation_id).values(counts=False)
        )


def declines_in_a_row(session: Session, loan_id: str) -> int:
    """How many of the loan's latest reservations Truv refused outright, back to the last one it did not."""
    states = session.execute(
        select(_r.state).where(_r.loan_id == loan_id).order_by(_r.reserved_at.desc(), _r.id.desc()).limit(50)
    ).scalars()
    count = 0
    for state in states:
        if state in (ReservationState.RELEASED, ReservationState.RESERVED, ReservationState.SENT):
            continue  # never left, or the request being answered now: neither says what Truv answered before
        if state != ReservationState.DECLINED:
            break
        count += 1
    return count


def count_from(session: Session, reservation_id: str, at: datetime, *, sent: datetime | None = None) -> None:
    """Move the moment a reservation's token uses count from forward to `at` (never back, rule 12)."""
    session.execute(
        update(reservation_token_table)
        .where(_rt.reservation_id == reservation_id, _rt.reserved_at < at)
        .values(reserved_at=at)
    )
    if sent is not None:
        session.execute(update(reservation_table).where(_r.id == reservation_id).values(sent_at=sent))


def block_tokens(session: Session, tokens: Sequence[str], *, until: datetime, now: datetime) -> None:
    """Truv refused for its own per-token limit (refreshes made elsewhere count there too)."""
    from monitor.store.orders import locked_connection

    for token in sorted(tokens):
        row = locked_connection(session, token, now=now)
        row.blocked_until = max(row.blocked_until, until) if row.blocked_until else until
        row.updated_at = now
        session.add(row)
