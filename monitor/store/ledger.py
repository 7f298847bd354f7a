"""The write-ahead ledger (DESIGN.md rule 3): check and reserve in one locked transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text, update
from sqlmodel import Session

from monitor.core.budget import (
    BILLABLE_WINDOW,
    GSE_WINDOW,
    TOKEN_WINDOW,
    Decision,
    GseTerms,
    Limits,
    TokenUsage,
    counts_from,
    decide,
    gse_terms,
)
from monitor.store.loans import IN_FLIGHT
from monitor.store.tables import Connection, Loan, Reservation, ReservationToken

# States in which a reservation no longer counts against any budget: it provably never left.
NOT_COUNTING = ("released",)


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
    **detail: Any,
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


def gse_uses(session: Session, *, loan_id: str, since: datetime) -> list[datetime]:
    """The loan's GSE reservations that count (every one that may have reached Truv) since `since`."""
    r = Reservation.__table__.c
    return list(
        session.execute(
            select(r.reserved_at).where(
                r.loan_id == loan_id, r.gse.is_(True), r.state.not_in(NOT_COUNTING), r.reserved_at >= since
            )
        ).scalars()
    )


def gse_standing(
    session: Session, *, limits: Limits, now: datetime, since: datetime | None = None, loan_id: str | None = None
) -> dict[str, GseTerms]:
    """Each GSE loan with counting uses (since `since`) and where it stands in its own free window.

    The one reading of rule 2 that `ledger`, `status` and the report share with the pass.
    """
    r = Reservation.__table__.c
    q = (
        select(r.loan_id, r.reserved_at, Loan.gse_window_start)
        .join(Loan, Loan.loan_id == r.loan_id)  # type: ignore[arg-type]
        .where(r.gse.is_(True), r.state.not_in(NOT_COUNTING))
    )
    if since is not None:
        q = q.where(r.reserved_at > since)
    if loan_id is not None:
        q = q.where(r.loan_id == loan_id)
    uses: dict[str, list[datetime]] = {}
    starts: dict[str, datetime | None] = {}
    for lid, at, start in session.execute(q):
        uses.setdefault(lid, []).append(at)
        starts[lid] = start
    return {lid: gse_terms(window_start=starts[lid], uses=times, limits=limits, now=now) for lid, times in uses.items()}


def usage(
    session: Session,
    *,
    tokens: Sequence[str],
    loan_id: str,
    gse: bool,
    limits: Limits,
    now: datetime,
    gse_window_start: datetime | None = None,
) -> dict[str, Any]:
    rt = ReservationToken.__table__.c
    token_rows = session.execute(
        select(rt.token_hash, rt.reserved_at).where(
            rt.token_hash.in_(list(tokens)), rt.counts.is_(True), rt.reserved_at > now - TOKEN_WINDOW
        )
    ).all()
    uses: dict[str, list[datetime]] = {t: [] for t in tokens}
    for token, at in token_rows:
        uses[token].append(at)
    blocked = dict(
        session.execute(
            select(Connection.token_hash, Connection.blocked_until).where(Connection.token_hash.in_(list(tokens)))  # type: ignore[attr-defined]
        ).all()
    )
    r = Reservation.__table__.c
    gse_list: list[datetime] = []
    if gse:
        gse_list = gse_uses(session, loan_id=loan_id, since=gse_window_start or now - GSE_WINDOW)
    billable_uses: list[datetime] = []
    if limits.billable_per_day is not None:
        billable_uses = list(
            session.execute(
                select(r.reserved_at).where(
                    r.billable.is_(True), r.state.not_in(NOT_COUNTING), r.reserved_at > now - BILLABLE_WINDOW
                )
            ).scalars()
        )
    return {
        "tokens": [TokenUsage(t, uses[t], blocked.get(t)) for t in tokens],
        "gse_uses": gse_list,
        "billable_uses": billable_uses,
    }


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
    u = usage(
        session, tokens=tokens, loan_id=loan_id, gse=gse, limits=limits, now=now, gse_window_start=gse_window_start
    )
    return decide(
        tokens=u["tokens"],
        gse=gse,
        gse_uses=u["gse_uses"],
        billable_uses=u["billable_uses"],
        limits=limits,
        now=now,
        gse_window_start=gse_window_start,
    )


def reserve(
    session: Session,
    *,
    run_id: str,
    job: str,
    policy: str,
    loan_id: str,
    product: str,
    parent_order_id: str,
    gse: bool,
    tokens: Sequence[str],
    suborders: dict[str, list[str]],
    limits: Limits,
    now: datetime,
    purpose: str | None = None,
    gse_window_start: datetime | None = None,
) -> Reserved:
    """Check every budget and write the reservation in the caller's single transaction.

    The caller commits before sending anything: from then on the reservation counts until its
    window passes, unless the request is shown never to have left (`release`).
    """
    names = [f"loan:{loan_id}", *(f"token:{t}" for t in tokens)]
    if gse:
        names.append(f"gse:{loan_id}")
    if limits.billable_per_day is not None:
        names.append("billable")
    lock(session, names)
    r = Reservation.__table__.c
    busy = session.execute(select(r.id).where(r.loan_id == loan_id, r.state.in_(IN_FLIGHT)).limit(1)).first()
    if busy is not None:
        return Reserved(Decision((), skip_reason="in_flight"), None)
    decision = check(
        session, loan_id=loan_id, gse=gse, tokens=tokens, limits=limits, now=now, gse_window_start=gse_window_start
    )
    if not decision.go:
        return Reserved(decision, None)
    allowed = set(decision.allowed_tokens)
    reservation_id = uuid.uuid4().hex
    picked = {k: v for k, v in suborders.items() if k in allowed}
    session.add(
        Reservation(
            id=reservation_id,
            run_id=run_id,
            job=job,
            policy=policy,
            loan_id=loan_id,
            product=product,
            parent_order_id=parent_order_id,
            gse=gse,
            billable=decision.billable,
            state="reserved",
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
        run_id=run_id,
        loan_id=loan_id,
        reservation_id=reservation_id,
        policy=policy,
        purpose=purpose,
        product=product,
        tokens=sorted(t[:12] for t in allowed),
        billable=decision.billable,
        partial=bool(decision.exhausted_tokens),
    )
    return Reserved(decision, reservation_id)


def set_state(session: Session, reservation_id: str, *, state: str, now: datetime, **values: Any) -> None:
    session.execute(
        update(Reservation.__table__).where(Reservation.__table__.c.id == reservation_id).values(state=state, **values)
    )
    if state in NOT_COUNTING:
        rt = ReservationToken.__table__.c
        session.execute(
            update(ReservationToken.__table__).where(rt.reservation_id == reservation_id).values(counts=False)
        )


def count_from(session: Session, reservation_id: str, at: datetime, *, sent: datetime | None = None) -> None:
    """Move the moment a reservation's token uses count from forward to `at` (never back, rule 12)."""
    rt = ReservationToken.__table__.c
    session.execute(
        update(ReservationToken.__table__)
        .where(rt.reservation_id == reservation_id, rt.reserved_at < at)
        .values(reserved_at=at)
    )
    if sent is not None:
        session.execute(
            update(Reservation.__table__).where(Reservation.__table__.c.id == reservation_id).values(sent_at=sent)
        )


def block_tokens(session: Session, tokens: Sequence[str], *, until: datetime, now: datetime) -> None:
    """Truv refused for its own per-token limit (refreshes made elsewhere count there too)."""
    from monitor.store.orders import locked_connection

    for token in sorted(tokens):
        row = locked_connection(session, token, now=now)
        row.blocked_until = max(row.blocked_until, until) if row.blocked_until else until
        row.updated_at = now
        session.add(row)
