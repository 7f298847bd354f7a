"""Storing webhooks (before the 2xx) and applying them in `updated_at` order per target.

One event never stops the others (DESIGN.md rule 13): an event that breaks the schema, or whose
apply raises, is kept as `invalid` with its reason and never applied again; the receiver, every
other event and every pass go on. Only the database itself failing (a lost connection, a lock
timeout) leaves an event `received`, to be applied at the next start or pass.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import structlog
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.exc import DBAPIError, OperationalError

from monitor.app import Services
from monitor.core.outcomes import Outcome, classify
from monitor.core.webhook_events import MAX_EVENT_TYPE, Action, Instruction, InvalidEvent, interpret, validate
from monitor.errors import StorageError
from monitor.jobs.outcomes import SettleStats, apply_refresh_order
from monitor.store import ledger
from monitor.store.db import read_only, session, upsert_insert
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
from monitor.truv.wire import OrderInfo, Suborder

log = structlog.get_logger("monitor.webhooks")


Settle = tuple[str, OrderInfo]  # a reservation whose refresh order the event completed, and that order


def store(services: Services, body: str, event: dict[str, Any]) -> tuple[int | None, bool]:
    """Insert the raw event only; returns (row id, is_new)."""
    with session(services.engine) as s:
        event_id, _state, _reason = _insert(s, body, event, services.clock.now(), _skew(services))
        return event_id, event_id is not None


def _skew(services: Services) -> timedelta:
    return services.config.budgets.clock_skew_margin


def _insert(
    s: Any, body: str, event: dict[str, Any], now: datetime, skew: timedelta
) -> tuple[int | None, str, str | None]:
    """The raw event as received, checked first: (row id, state, reason); a repeated webhook_id only
    counts one more delivery (id None, "duplicate").

    `event` has passed `envelope_problem`. Every value written here is one the schema allows, so the
    insert itself cannot fail on what the event holds (a failing insert is a 503, retried for ever).
    """
    state, reason, target, updated_at = "received", None, None, None
    try:
        updated_at = validate(event, now=now, skew=skew)
        target = interpret(event).target
    except InvalidEvent as exc:
        state, reason = "invalid", str(exc)
    webhook_id = event["webhook_id"]
    insert = partial(upsert_insert, s)
    t = WebhookEvent.__table__
    result = s.execute(
        insert(t)
        .values(
            webhook_id=webhook_id,
            event_type=event_type_label(event["event_type"]),
            target=target,
            updated_at=updated_at,
            received_at=now,
            deliveries=1,
            state=state,
            reason=reason,
            applied_at=now if state == "invalid" else None,
            body=body,
        )
        .on_conflict_do_nothing(index_elements=["webhook_id"])
        .returning(t.c.id)
    ).first()
    if result is not None:
        return int(result[0]), state, reason
    s.execute(update(t).where(t.c.webhook_id == webhook_id).values(deliveries=t.c.deliveries + 1))
    return None, "duplicate", None


def event_type_label(event_type: str) -> str:
    """What the event_type column counts an event under; an unusable type is the event's reason."""
    return event_type if len(event_type) <= MAX_EVENT_TYPE and event_type.isprintable() else "(invalid)"


def apply_pending(services: Services, *, limit: int = 10_000) -> dict[str, int]:
    """Apply stored events not yet applied (a receiver stopped between storing and applying).

    Called at every receiver start and every pass, so it never raises: a bad event becomes `invalid`;
    a database that fails leaves the rest `received` for next time (counted as "deferred").
    """
    try:
        with session(read_only(services.engine)) as s:  # listing only: each event is locked as it is applied
            ids = list(
                s.execute(
                    select(WebhookEvent.id)
                    .where(WebhookEvent.state == "received")
                    .order_by(WebhookEvent.updated_at, WebhookEvent.id)
                    .limit(limit)  # type: ignore[arg-type]
                ).scalars()
            )
    except StorageError as exc:
        log.warning("webhooks_apply_deferred", error=_reason(exc), pending="unknown")
        return {}
    return _apply_each(services, ids)


def _apply_each(services: Services, ids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for done, event_id in enumerate(ids):
        try:
            state = apply_event(services, event_id)
        except Exception as exc:  # the database, not the event (apply_event isolates the event's own faults)
            log.warning("webhooks_apply_deferred", error=_reason(exc), pending=len(ids) - done)
            counts["deferred"] = len(ids) - done
            break
        counts[state] = counts.get(state, 0) + 1
    return counts


def receive(services: Services, body: str, event: dict[str, Any]) -> tuple[str, str | None]:
    """Store and apply in one transaction; the store survives a failed apply (a savepoint).

    Returns the event's state and, for `invalid`, why; "duplicate" for a webhook_id already stored.
    """
    now = services.clock.now()
    settle: Settle | None = None
    with session(services.engine) as s:
        event_id, state, reason = _insert(s, body, event, now, _skew(services))
        if event_id is None:
            return state, None
        if state == "invalid":
            _log_invalid(event_id, event["event_type"], reason)
            return state, reason
        try:
            state, reason, settle = _apply_isolated(s, event_id, event, now, _skew(services))
        except Exception as exc:  # the database: stored, applied later (apply_pending)
            log.warning("webhook_apply_deferred", row=event_id, error=_reason(exc))
            return "received", None
    _settle(services, settle)
    return state, reason


def apply_event(services: Services, event_id: int) -> str:
    now = services.clock.now()
    t = WebhookEvent.__table__
    with session(services.engine) as s:
        row = s.execute(select(t.c.state, t.c.body).where(t.c.id == event_id).with_for_update()).first()
        if row is None or row.state != "received":
            return row.state if row else "missing"
        try:
            event = json.loads(row.body)
        except (ValueError, RecursionError):
            event = None
        if not isinstance(event, dict):  # only a row written by hand or by an old version
            return _mark_invalid(s, event_id, "(unknown)", "stored body is not a JSON object", now)
        state, _reason_text, settle = _apply_isolated(s, event_id, event, now, _skew(services))
    _settle(services, settle)
    return state


def _apply_isolated(
    s: Any, event_id: int, event: dict[str, Any], now: datetime, skew: timedelta
) -> tuple[str, str | None, Settle | None]:
    """`_apply` in a savepoint: whatever it raises about this event leaves it `invalid`, not pending.

    A failure of the database itself is re-raised: the event is fine and must be applied later.
    """
    try:
        with s.begin_nested():
            state, settle = _apply(s, event_id, event, now, skew)
            return state, None, settle
    except InvalidEvent as exc:
        reason = str(exc)
    except Exception as exc:
        if _transient(exc):
            raise
        reason = f"apply failed: {_reason(exc)}"
    _mark_invalid(s, event_id, event.get("event_type"), reason, now)
    return "invalid", reason, None


def _transient(exc: BaseException) -> bool:
    """A lost connection, a lock or statement timeout, a deadlock: the database's fault, not the event's."""
    return isinstance(exc, (OperationalError, StorageError)) or (
        isinstance(exc, DBAPIError) and exc.connection_invalidated
    )


def _reason(exc: BaseException) -> str:
    """The exception's class (and the driver's, for a database error), never its message: messages quote
    values (a key, a too-long string) and values may be personal data."""
    orig = getattr(exc, "orig", None) or exc.__cause__
    return type(exc).__name__ + (f" ({type(orig).__name__})" if orig is not None else "")


def _mark_invalid(s: Any, event_id: int, event_type: Any, reason: str, now: datetime) -> str:
    t = WebhookEvent.__table__
    s.execute(update(t).where(t.c.id == event_id).values(state="invalid", reason=reason[:300], applied_at=now))
    _log_invalid(event_id, event_type, reason)
    return "invalid"


def _log_invalid(event_id: int, event_type: Any, reason: str | None) -> None:
    label = event_type_label(event_type) if isinstance(event_type, str) and event_type else "(invalid)"
    log.warning("webhook_invalid", row=event_id, event_type=label, reason=reason)


def _settle(services: Services, settle: Settle | None) -> None:
    """Settle the reservation an applied event completed. Its own transaction, after the event's: if it
    fails, the event stays applied and the next pass's poll settles the reservation instead."""
    if settle is None:
        return
    try:
        apply_refresh_order(services, settle[0], settle[1], SettleStats())
    except Exception as exc:
        log.warning("webhook_settle_deferred", reservation=settle[0], error=_reason(exc))


def _apply(s: Any, event_id: int, event: dict[str, Any], now: datetime, skew: timedelta) -> tuple[str, Settle | None]:
    """Apply one stored event (Core statements: this is the receiver's hot path).

    Checked again here: rows stored before the schema existed, or re-applied later, meet it too.
    """
    settle: Settle | None = None
    updated_at = validate(event, now=now, skew=skew)
    instruction = interpret(event)
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


def _suborder_status(s: Any, ins: Instruction, at: datetime) -> tuple[str, Settle | None]:
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
    """By state and type, and why events are `invalid`. A read that never takes SQLite's write lock:
    /healthz calls it, and a probe must answer while a pass or a burst of webhooks is writing."""
    with session(read_only(services.engine)) as s:
        rows = s.execute(
            select(
                WebhookEvent.event_type, WebhookEvent.state, func.count(), func.sum(WebhookEvent.deliveries)
            ).group_by(WebhookEvent.event_type, WebhookEvent.state)
        ).all()
        reasons = s.execute(
            select(WebhookEvent.reason, func.count())
            .where(WebhookEvent.state == "invalid")
            .group_by(WebhookEvent.reason)
        ).all()
    by_state: dict[str, int] = {"invalid": 0}  # always present, so an alert can watch it
    by_type: dict[str, int] = {}
    duplicates = 0
    for event_type, state, n, deliveries in rows:
        by_state[state] = by_state.get(state, 0) + n
        by_type[event_type] = by_type.get(event_type, 0) + n
        duplicates += int(deliveries or 0) - n
    return {
        "by_state": by_state,
        "by_type": by_type,
        "invalid_by_reason": {reason or "(none)": n for reason, n in reasons},
        "duplicate_deliveries": {"count": duplicates},
    }


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
    _apply_each(services, sorted(ids))
    return len(ids)
