"""Storing webhooks (before the 2xx) and applying them in `updated_at` order per target."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

import structlog
from sqlalchemy import case, func, or_, select, update

from monitor.app import Services
from monitor.core.outcomes import Outcome, classify
from monitor.core.webhook_events import Action, Instruction, interpret
from monitor.jobs.outcomes import SettleStats, apply_refresh_order
from monitor.store import ledger
from monitor.store.db import session, upsert_insert
from monitor.store.orders import set_hold
from monitor.store.outbox import enqueue_needs_new_order, enqueue_reauth
from monitor.store.tables import (
    Connection,
    Loan,
    LoanConnection,
    OrderSuborder,
    Reservation,
    TruvOrder,
    WebhookCursor,
    WebhookEvent,
)
from monitor.truv.wire import OrderInfo, Suborder, parse_time

log = structlog.get_logger("monitor.webhooks")


def store(services: Services, body: bytes, event: dict[str, Any]) -> tuple[int | None, bool]:
    """Insert the raw event only; returns (row id, is_new)."""
    with session(services.engine) as s:
        event_id = _insert(s, body, event, services.clock.now())
        return event_id, event_id is not None


def _insert(s: Any, body: bytes, event: dict[str, Any], now: datetime) -> int | None:
    """The raw event as received; a repeated webhook_id only counts one more delivery (None)."""
    instruction = interpret(event)
    webhook_id = str(event["webhook_id"])[:64]
    insert = partial(upsert_insert, s)
    t = WebhookEvent.__table__
    result = s.execute(
        insert(t)
        .values(
            webhook_id=webhook_id,
            event_type=str(event["event_type"])[:64],
            target=instruction.target,
            updated_at=parse_time(event.get("updated_at")),
            received_at=now,
            deliveries=1,
            state="received",
            body=body.decode("utf-8", errors="replace"),
        )
        .on_conflict_do_nothing(index_elements=["webhook_id"])
        .returning(t.c.id)
    ).first()
    if result is not None:
        return int(result[0])
    s.execute(update(t).where(t.c.webhook_id == webhook_id).values(deliveries=t.c.deliveries + 1))
    return None


def apply_pending(services: Services, *, limit: int = 10_000) -> dict[str, int]:
    """Apply stored events not yet applied (a receiver stopped between storing and applying)."""
    with session(services.engine) as s:
        ids = list(
            s.execute(
                select(WebhookEvent.id)
                .where(WebhookEvent.state == "received")
                .order_by(WebhookEvent.updated_at, WebhookEvent.id)
                .limit(limit)  # type: ignore[arg-type]
            ).scalars()
        )
    counts: dict[str, int] = {}
    for event_id in ids:
        state = apply_event(services, event_id)
        counts[state] = counts.get(state, 0) + 1
    return counts


def receive(services: Services, body: bytes, event: dict[str, Any]) -> str:
    """Store and apply in one transaction; the store survives a failed apply (a savepoint).

    Returns the event's state, or "duplicate" for a webhook_id already stored.
    """
    now = services.clock.now()
    settle: tuple[str, OrderInfo] | None = None
    with session(services.engine) as s:
        event_id = _insert(s, body, event, now)
        if event_id is None:
            return "duplicate"
        try:
            with s.begin_nested():
                state, settle = _apply(s, event_id, event, now)
        except Exception as exc:
            log.error("webhook_apply_failed", error=str(exc)[:300], webhook_id=event.get("webhook_id"))
            return "received"
    if settle is not None:
        apply_refresh_order(services, settle[0], settle[1], SettleStats())
    return state


def apply_event(services: Services, event_id: int) -> str:
    now = services.clock.now()
    t = WebhookEvent.__table__
    with session(services.engine) as s:
        row = s.execute(select(t.c.state, t.c.body).where(t.c.id == event_id).with_for_update()).first()
        if row is None or row.state != "received":
            return row.state if row else "missing"
        state, settle = _apply(s, event_id, json.loads(row.body), now)
    if settle is not None:
        apply_refresh_order(services, settle[0], settle[1], SettleStats())
    return state


def _apply(s: Any, event_id: int, event: dict[str, Any], now: datetime) -> tuple[str, tuple[str, OrderInfo] | None]:
    """Apply one stored event (Core statements: this is the receiver's hot path)."""
    settle: tuple[str, OrderInfo] | None = None
    instruction = interpret(event)
    updated_at = parse_time(event.get("updated_at"))
    if instruction.target is not None:
        ledger.lock(s, [f"webhook:{instruction.target}"])  # Postgres: one target's events one at a time
    state = "applied"
    if instruction.action is Action.IGNORE:
        state = "ignored"
    elif instruction.target is not None and _is_stale(s, instruction.target, updated_at):
        state = "stale"
    elif instruction.action is Action.SUBORDER_STATUS:
        state, settle = _suborder_status(s, instruction, updated_at or now)
    elif instruction.action in (Action.LINK_DISCONNECTED, Action.LINK_CONNECTED, Action.TASK_STATUS):
        state = _link_event(s, instruction, now)
    elif instruction.action is Action.ORDER_FINALIZED:
        state = _order_finalized(s, instruction, now)
    elif instruction.action is Action.LINK_DELETED:
        state = _link_deleted(s, instruction, now)
    elif instruction.action is Action.DATA_CHANGED:
        state = "recorded"
        loans = list(
            s.execute(select(LoanConnection.loan_id).where(LoanConnection.link_id == instruction.link_id)).scalars()
        )  # type: ignore[arg-type]
        for loan_id in loans:
            ledger.add_event(
                s,
                at=now,
                kind="data_changed",
                loan_id=loan_id,
                webhook=event.get("webhook_id"),
                event_type=event.get("event_type"),
            )
    if state == "applied" and instruction.target is not None and updated_at is not None:
        _advance(s, instruction.target, updated_at)
    t = WebhookEvent.__table__
    s.execute(update(t).where(t.c.id == event_id).values(state=state, applied_at=now))
    return state, settle


def _is_stale(s: Any, target: str, updated_at: datetime | None) -> bool:
    if updated_at is None:
        return False
    c = WebhookCursor.__table__.c
    newest = s.execute(select(c.updated_at).where(c.target == target)).scalar()
    return newest is not None and updated_at < newest


def _advance(s: Any, target: str, updated_at: datetime) -> None:
    t = WebhookCursor.__table__
    insert = partial(upsert_insert, s)
    stmt = insert(t).values(target=target, updated_at=updated_at)
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=["target"],
            set_={
                "updated_at": case(
                    (stmt.excluded.updated_at > t.c.updated_at, stmt.excluded.updated_at), else_=t.c.updated_at
                )
            },
        )
    )


def _suborder_status(s: Any, ins: Instruction, at: datetime) -> tuple[str, tuple[str, OrderInfo] | None]:
    sub = s.get(OrderSuborder, (ins.order_id, ins.suborder_id))
    if sub is None:
        return "unmatched", None
    sub.status = ins.status
    sub.updated_at = at
    s.add(sub)
    s.flush()
    res = s.execute(select(Reservation).where(Reservation.refresh_order_id == ins.order_id)).scalars().first()  # type: ignore[arg-type]
    if res is None or res.state != "accepted":
        return "applied", None
    subs = list(s.execute(select(OrderSuborder).where(OrderSuborder.order_id == ins.order_id)).scalars())  # type: ignore[arg-type]
    if any(classify(x.status) is Outcome.PENDING for x in subs):
        return "applied", None
    info = OrderInfo(
        id=ins.order_id or "",
        products=(res.product,),
        user_id=None,
        order_number=None,
        initial_order=res.parent_order_id,
        refresh_order=None,
        created_at=None,
        updated_at=at,
        suborders=tuple(
            Suborder(
                kind=x.kind,
                id=x.suborder_id,
                suborder_number=None,
                status=x.status,
                token_hash=x.token_hash,
                link_id=x.link_id,
                updated_at=x.updated_at,
            )
            for x in subs
        ),
    )
    return "applied", (res.id, info)


def _link_event(s: Any, ins: Instruction, now: datetime) -> str:
    t = Connection.__table__
    if s.execute(select(t.c.token_hash).where(t.c.link_id == ins.link_id).limit(1)).first() is None:
        return "unmatched"
    if ins.action is Action.LINK_DISCONNECTED:
        changed = (
            s.execute(
                update(t)
                .where(t.c.link_id == ins.link_id, t.c.state != "needs_reauth")
                .values(state="needs_reauth", reason="link_disconnected", since=now, updated_at=now)
                .returning(t.c.token_hash)
            )
            .scalars()
            .all()
        )
        for token in changed:
            enqueue_reauth(s, token=token, reason="link_disconnected", since=now, now=now)
    elif ins.action is Action.LINK_CONNECTED or ins.status == "done":
        # reconnected through Bridge (or a task succeeded after it): refreshes may resume
        s.execute(
            update(t)
            .where(t.c.link_id == ins.link_id, t.c.state == "needs_reauth")
            .values(state="ok", reason=None, since=now, failures=0, updated_at=now)
        )
    return "applied"


def _order_finalized(s: Any, ins: Instruction, now: datetime) -> str:
    """`order-finalized`: "no further data collection or refresh occurs" for that order.

    Refreshes go to the original order, so a finalized original ends the loan's refreshing; a
    finalized refresh order only closes that refresh (recorded, nothing else changes).
    """
    original = or_(Loan.order_id == ins.order_id, Loan.original_order_id == ins.order_id)  # type: ignore[arg-type]
    rows = list(s.execute(select(Loan).where(original, Loan.status == "active")).scalars())
    if not rows:
        known = s.execute(select(TruvOrder.id).where(TruvOrder.id == ins.order_id)).first()  # type: ignore[arg-type]
        return "recorded" if known else "unmatched"
    changed = [
        loan.loan_id for loan in rows if set_hold(loan, hold="needs_new_order", reason="order_finalized", now=now)
    ]
    for loan_id in changed:
        ledger.add_event(s, at=now, kind="needs_new_order", loan_id=loan_id, reason="order_finalized")
    enqueue_needs_new_order(s, loan_ids=changed, reason="order_finalized", since=now, now=now)
    return "applied"


def _link_deleted(s: Any, ins: Instruction, now: datetime) -> str:
    """`link-deleted`: data and credentials removed; no refresh can use that connection again."""
    t = Connection.__table__
    tokens = list(
        s.execute(
            update(t)
            .where(t.c.link_id == ins.link_id, t.c.state != "needs_new_order")
            .values(state="needs_new_order", reason="link_deleted", since=now, updated_at=now)
            .returning(t.c.token_hash)
        ).scalars()
    )
    if not tokens:
        known = s.execute(select(t.c.token_hash).where(t.c.link_id == ins.link_id).limit(1)).first()
        return "applied" if known else "unmatched"
    loan_ids = sorted(
        set(s.execute(select(LoanConnection.loan_id).where(LoanConnection.token_hash.in_(tokens))).scalars())  # type: ignore[attr-defined]
    )
    for loan_id in loan_ids:
        ledger.add_event(s, at=now, kind="needs_new_order", loan_id=loan_id, reason="link_deleted")
    enqueue_needs_new_order(s, loan_ids=loan_ids, reason="link_deleted", since=now, now=now)
    return "applied"


def counts(services: Services) -> dict[str, dict[str, int]]:
    with session(services.engine) as s:
        rows = s.execute(
            select(
                WebhookEvent.event_type, WebhookEvent.state, func.count(), func.sum(WebhookEvent.deliveries)
            ).group_by(WebhookEvent.event_type, WebhookEvent.state)
        ).all()
    by_state: dict[str, int] = {}
    by_type: dict[str, int] = {}
    duplicates = 0
    for event_type, state, n, deliveries in rows:
        by_state[state] = by_state.get(state, 0) + n
        by_type[event_type] = by_type.get(event_type, 0) + n
        duplicates += int(deliveries or 0) - n
    return {"by_state": by_state, "by_type": by_type, "duplicate_deliveries": {"count": duplicates}}


def reapply_unmatched(services: Services, order_id: str) -> int:
    """Events about a refresh order that arrived before we had recorded the order (a fast refresh
    can finish, and Truv can tell us, before our POST's answer is written down): apply them now."""
    t = WebhookEvent.__table__
    with session(services.engine) as s:
        ids = list(
            s.execute(
                update(t)
                .where(t.c.state == "unmatched", t.c.target.like(f"suborder:{order_id}:%"))
                .values(state="received")
                .returning(t.c.id)
            ).scalars()
        )
    for event_id in sorted(ids):
        apply_event(services, event_id)
    return len(ids)
