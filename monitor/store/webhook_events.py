"""Storing webhooks (before the 2xx) and applying them in `updated_at` order per target.

The whole pipeline (stored event -> `monitor.core.webhook_events` interpretation -> record, and a refresh
the event ended -> `monitor.store.settle`) lives here, below both of its callers: the receiver
(`monitor.webhooks.receiver`) and every pass apply events the same way, and neither imports the other.
Applying never calls Truv.

One event never stops the others (DESIGN.md rule 13): an event that breaks the schema, or whose
apply raises, is kept as `invalid` with its reason and never applied again; the receiver, every
other event and every pass go on. Only the database itself failing (a lost connection, a lock
timeout) leaves an event `received`, to be applied at the next start or pass.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Protocol, TypedDict

import structlog
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlmodel import Session

from monitor.clock import Clock
from monitor.core.budget import Limits
from monitor.core.outcomes import Outcome, classify
from monitor.core.settlement import awaits_link
from monitor.core.states import ConnectionState, LoanHold, ReservationState, WebhookAnswer, WebhookState
from monitor.core.webhook_events import Action, Instruction, InvalidEvent, event_type_label, interpret, validate
from monitor.errors import StorageError
from monitor.store import ledger, settle
from monitor.store.audit_details import DataChanged, NeedsNewOrder
from monitor.store.db import read_only, session, upsert_insert
from monitor.store.orders import set_hold
from monitor.store.outbox import enqueue_needs_new_order, enqueue_reauth
from monitor.store.tables import (
    Loan,
    connection_table,
    loan_connection_table,
    loan_table,
    order_suborder_table,
    reservation_table,
    truv_order_table,
    webhook_cursor_table,
    webhook_event_table,
)

log = structlog.get_logger("monitor.webhooks")
_E = webhook_event_table.c
# An event as the receiver parsed it from the wire: `envelope_problem` has checked its envelope (a
# string webhook_id and event_type), every other value is narrowed where it is read.
WireEvent = dict[str, object]
# What one stored event is answered: (row id, state, reason); id None for a duplicate.
_Stored = tuple[int | None, str, str | None]


class _EventRow(TypedDict):
    """A webhook_event row as inserted."""

    webhook_id: str
    event_type: str
    target: str | None
    updated_at: datetime | None
    received_at: datetime
    deliveries: int
    state: str
    reason: str | None
    applied_at: datetime | None
    body: str


class WebhookServices(Protocol):
    """What storing and applying events needs of the composition root (monitor.app.Services has it)."""

    @property
    def engine(self) -> Engine: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def limits(self) -> Limits: ...


@dataclass(frozen=True, slots=True)
class _SettleLater:
    """A refresh an applied event may have ended, settled in its own transaction after the event's."""

    reservation_id: str
    at: datetime


def store(services: WebhookServices, body: str, event: WireEvent) -> tuple[int | None, bool]:
    """Insert the raw event only; returns (row id, is_new)."""
    with session(services.engine) as s:
        event_id, _state, _reason = _insert(s, body, event, services.clock.now(), _skew(services))
        return event_id, event_id is not None


def _skew(services: WebhookServices) -> timedelta:
    return services.limits.clock_skew_margin


def _row(body: str, event: WireEvent, now: datetime, skew: timedelta) -> _EventRow:
    """The stored row of a received event: checked first, so an invalid one is kept as `invalid`, settled."""
    state, reason, target, updated_at = WebhookState.RECEIVED, None, None, None
    try:
        updated_at = validate(event, now=now, skew=skew)
        target = interpret(event).target
    except InvalidEvent as exc:
        state, reason = WebhookState.INVALID, str(exc)
    return {
        "webhook_id": _webhook_id(event),
        "event_type": event_type_label(str(event["event_type"])),
        "target": target,
        "updated_at": updated_at,
        "received_at": now,
        "deliveries": 1,
        "state": state,
        "reason": reason,
        "applied_at": now if state == WebhookState.INVALID else None,
        "body": body,
    }


def _webhook_id(event: WireEvent) -> str:
    return str(event["webhook_id"])  # a string: `envelope_problem` let no other through


def _insert(s: Session, body: str, event: WireEvent, now: datetime, skew: timedelta) -> _Stored:
    """The raw event as received, checked first: (row id, state, reason); a repeated webhook_id only
    counts one more delivery (id None, "duplicate").

    `event` has passed `envelope_problem`. Every value written here is one the schema allows, so the
    insert itself cannot fail on what the event holds (a failing insert is a 503, retried for ever).
    """
    row = _row(body, event, now, skew)
    webhook_id = row["webhook_id"]
    insert = partial(upsert_insert, s)
    result = s.execute(
        insert(webhook_event_table).values(**row).on_conflict_do_nothing(index_elements=["webhook_id"]).returning(_E.id)
    ).first()
    if result is not None:
        return int(result[0]), row["state"], row["reason"]
    s.execute(update(webhook_event_table).where(_E.webhook_id == webhook_id).values(deliveries=_E.deliveries + 1))
    return None, WebhookAnswer.DUPLICATE, None


def _insert_many(s: Session, events: Sequence[tuple[str, WireEvent]], now: datetime, skew: timedelta) -> list[_Stored]:
    """`_insert` for a batch in one statement (a statement costs more than the row it writes): each
    event's (row id, state, reason), in order. A webhook_id seen earlier in the batch or already stored
    is a duplicate and counts one more delivery, as when the events come one by one."""
    if len(events) == 1:
        return [_insert(s, events[0][0], events[0][1], now, skew)]
    rows: dict[str, _EventRow] = {}
    repeats: Counter[str] = Counter()
    for body, event in events:
        webhook_id = _webhook_id(event)
        if webhook_id in rows:
            repeats[webhook_id] += 1
            continue
        rows[webhook_id] = _row(body, event, now, skew)
    # executemany with RETURNING: SQLAlchemy sends it as one multi-row INSERT, compiled once for all batches.
    stmt = (
        upsert_insert(s, webhook_event_table)
        .on_conflict_do_nothing(index_elements=["webhook_id"])
        .returning(_E.webhook_id, _E.id)
    )
    inserted = {str(r[0]): int(r[1]) for r in s.execute(stmt, list(rows.values())).all()}
    repeats.update(webhook_id for webhook_id in rows if webhook_id not in inserted)
    for webhook_id, n in repeats.items():
        s.execute(update(webhook_event_table).where(_E.webhook_id == webhook_id).values(deliveries=_E.deliveries + n))
    return _answers(events, rows, inserted)


def _answers(
    events: Sequence[tuple[str, WireEvent]], rows: dict[str, _EventRow], inserted: dict[str, int]
) -> list[_Stored]:
    """Each event's answer, in order: the first with a newly inserted webhook_id is stored, the rest duplicates."""
    answers: list[_Stored] = []
    first: set[str] = set()
    for _body, event in events:
        webhook_id = _webhook_id(event)
        row = rows[webhook_id]
        if webhook_id in inserted and webhook_id not in first:
            first.add(webhook_id)
            answers.append((int(inserted[webhook_id]), row["state"], row["reason"]))
        else:
            answers.append((None, WebhookAnswer.DUPLICATE, None))
    return answers


def apply_pending(services: WebhookServices, *, limit: int = 10_000) -> dict[str, int]:
    """Apply stored events not yet applied (a receiver stopped between storing and applying).

    Called at every receiver start and every pass, so it never raises: a bad event becomes `invalid`;
    a database that fails leaves the rest `received` for next time (counted as "deferred").
    """
    try:
        with session(read_only(services.engine)) as s:  # listing only: each event is locked as it is applied
            ids = list(
                s.execute(
                    select(_E.id).where(_E.state == WebhookState.RECEIVED).order_by(_E.updated_at, _E.id).limit(limit)
                ).scalars()
            )
    except StorageError as exc:
        log.warning("webhooks_apply_deferred", error=_reason(exc), pending="unknown")
        return {}
    return _apply_each(services, ids)


def _apply_each(services: WebhookServices, ids: list[int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for done, event_id in enumerate(ids):
        try:
            state = apply_event(services, event_id)
        except Exception as exc:  # the database, not the event (apply_event isolates the event's own faults)
            log.warning("webhooks_apply_deferred", error=_reason(exc), pending=len(ids) - done)
            counts[WebhookAnswer.DEFERRED] = len(ids) - done
            break
        counts[state] = counts.get(state, 0) + 1
    return counts


def receive(services: WebhookServices, body: str, event: WireEvent) -> tuple[str, str | None]:
    """Store and apply in one transaction; the store survives a failed apply (a savepoint).

    Returns the event's state and, for `invalid`, why; "duplicate" for a webhook_id already stored.
    """
    return _receive_many(services, [(body, event)])[0]


def receive_batch(
    services: WebhookServices, events: Sequence[tuple[str, WireEvent]]
) -> list[tuple[str, str | None] | Exception]:
    """`receive` for several events with one commit (the receiver's batches): each event's answer, in
    order, or the exception that kept it from being stored. Nothing is answered before the commit.

    The database failing (a lost connection, a lock) fails the whole batch, each event with it: every
    one is retried by its sender. Any other failure is retried event by event, so that one event the
    batch cannot store never costs the others theirs.
    """
    try:
        return list(_receive_many(services, events))
    except Exception as exc:
        if len(events) == 1 or _transient(exc.__cause__ or exc):
            return [exc] * len(events)
        log.warning("webhook_batch_failed", events=len(events), error=_reason(exc))
    answers: list[tuple[str, str | None] | Exception] = []
    for one in events:
        try:
            answers.append(_receive_many(services, [one])[0])
        except Exception as exc:
            answers.append(exc)
    return answers


class _RedoIsolated(Exception):
    """An event's apply raised in a batch applied without savepoints: the batch is redone with them."""


def _receive_many(services: WebhookServices, events: Sequence[tuple[str, WireEvent]]) -> list[tuple[str, str | None]]:
    # A savepoint per event costs about as much as applying it, and almost no event ever needs one: the
    # batch goes without, and only if an apply raises is the whole transaction undone and redone with
    # them (the answers are the same either way; the first attempt is rolled back, nothing of it stays).
    try:
        return _receive_once(services, events, isolated=False)
    except _RedoIsolated:
        return _receive_once(services, events, isolated=True)


def _receive_once(
    services: WebhookServices, events: Sequence[tuple[str, WireEvent]], *, isolated: bool
) -> list[tuple[str, str | None]]:
    now, skew = services.clock.now(), _skew(services)
    answers: list[tuple[str, str | None]] = []
    settle_later: list[_SettleLater] = []
    invalid: list[tuple[int, object, str | None]] = []
    deferred = False
    with session(services.engine) as s:
        for (_body, event), (event_id, state, reason) in zip(events, _insert_many(s, events, now, skew), strict=True):
            if event_id is None:
                answers.append((state, None))
            elif state == WebhookState.INVALID:
                invalid.append((event_id, event["event_type"], reason))
                answers.append((state, reason))
            elif deferred:  # the database failed applying an earlier one: store, apply later
                answers.append((WebhookState.RECEIVED, None))
            else:
                answer, later, deferred = _apply_stored(s, event_id, event, now, skew, isolated=isolated)
                answers.append(answer)
                if later is not None:
                    settle_later.append(later)
    for row in invalid:  # once, after the commit: a first attempt redone would have logged them twice
        _log_invalid(*row)
    for later in settle_later:
        _settle(services, later)
    return answers


def _apply_stored(
    s: Session, event_id: int, event: WireEvent, now: datetime, skew: timedelta, *, isolated: bool
) -> tuple[tuple[str, str | None], _SettleLater | None, bool]:
    """Apply an event just stored: its answer, the refresh it may have ended, and whether the database
    failed (then it stays stored, applied later by `apply_pending`, and so do the batch's next ones)."""
    if not isolated:
        try:
            state, later = _apply(s, event_id, event, now, skew)
        except Exception as exc:
            raise _RedoIsolated from exc
        return (state, None), later, False
    try:
        state, reason, later = _apply_isolated(s, event_id, event, now, skew)
    except Exception as exc:  # the database: stored, applied later (apply_pending)
        log.warning("webhook_apply_deferred", row=event_id, error=_reason(exc))
        return (WebhookState.RECEIVED, None), None, True
    return (state, reason), later, False


def apply_event(services: WebhookServices, event_id: int) -> str:
    now = services.clock.now()
    with session(services.engine) as s:
        row = s.execute(select(_E.state, _E.body).where(_E.id == event_id).with_for_update()).first()
        if row is None or row.state != WebhookState.RECEIVED:
            return str(row.state) if row else WebhookAnswer.MISSING
        try:
            event = json.loads(row.body)
        except (ValueError, RecursionError):
            event = None
        if not isinstance(event, dict):  # only a row written by hand or by an old version
            return _mark_invalid(s, event_id, "(unknown)", "stored body is not a JSON object", now)
        state, _reason_text, later = _apply_isolated(s, event_id, event, now, _skew(services))
    _settle(services, later)
    return state


def _apply_isolated(
    s: Session, event_id: int, event: WireEvent, now: datetime, skew: timedelta
) -> tuple[str, str | None, _SettleLater | None]:
    """`_apply` in a savepoint: whatever it raises about this event leaves it `invalid`, not pending.

    A failure of the database itself is re-raised: the event is fine and must be applied later.
    """
    try:
        with s.begin_nested():
            state, later = _apply(s, event_id, event, now, skew)
            return state, None, later
    except InvalidEvent as exc:
        reason = str(exc)
    except Exception as exc:
        if _transient(exc):
            raise
        reason = f"apply failed: {_reason(exc)}"
    _mark_invalid(s, event_id, event.get("event_type"), reason, now)
    return WebhookState.INVALID, reason, None


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


def _mark_invalid(s: Session, event_id: int, event_type: object, reason: str, now: datetime) -> str:
    s.execute(
        update(webhook_event_table)
        .where(_E.id == event_id)
        .values(state=WebhookState.INVALID, reason=reason[:300], applied_at=now)
    )
    _log_invalid(event_id, event_type, reason)
    return WebhookState.INVALID


def _log_invalid(event_id: int, event_type: object, reason: str | None) -> None:
    label = event_type_label(event_type) if isinstance(event_type, str) and event_type else "(invalid)"
    log.warning("webhook_invalid", row=event_id, event_type=label, reason=reason)


def _settle(services: WebhookServices, later: _SettleLater | None) -> None:
    """Settle the refresh an applied event may have ended. Its own transaction, after the event's: if it
    fails, the event stays applied and the next pass's poll settles the reservation instead."""
    if later is None:
        return
    try:
        settle.settle_from_suborders(services.engine, later.reservation_id, at=later.at, now=services.clock.now())
    except Exception as exc:
        log.warning("webhook_settle_deferred", reservation=later.reservation_id, error=_reason(exc))


def _apply(
    s: Session, event_id: int, event: WireEvent, now: datetime, skew: timedelta
) -> tuple[str, _SettleLater | None]:
    """Apply one stored event (Core statements: this is the receiver's hot path).

    Checked again here: rows stored before the schema existed, or re-applied later, meet it too.
    """
    updated_at = validate(event, now=now, skew=skew)
    instruction = interpret(event)
    if instruction.target is not None:
        ledger.lock(s, [f"webhook:{instruction.target}"])  # Postgres: one target's events one at a time
    later: _SettleLater | None = None
    if instruction.action is Action.IGNORE:
        state: str = WebhookState.IGNORED
    elif instruction.target is not None and _is_stale(s, instruction.target, updated_at):
        state = WebhookState.STALE
    elif instruction.action is Action.SUBORDER_STATUS:
        state, later = _suborder_status(s, instruction, updated_at or now)
    else:
        state = _act(s, instruction, event, now)
    if state == WebhookState.APPLIED and instruction.target is not None and updated_at is not None:
        _advance(s, instruction.target, updated_at)
    s.execute(update(webhook_event_table).where(_E.id == event_id).values(state=state, applied_at=now))
    return state, later


def _act(s: Session, instruction: Instruction, event: WireEvent, now: datetime) -> str:
    """Events about links, orders and data; the state the event is left in."""
    if instruction.action in (Action.LINK_DISCONNECTED, Action.LINK_CONNECTED, Action.TASK_STATUS):
        return _link_event(s, instruction, now)
    if instruction.action is Action.ORDER_FINALIZED:
        return _order_finalized(s, instruction, now)
    if instruction.action is Action.ORDER_CHANGED:
        return _order_changed(s, instruction)
    if instruction.action is Action.LINK_DELETED:
        return _link_deleted(s, instruction, now)
    if instruction.action is Action.DATA_CHANGED:
        return _data_changed(s, instruction, event, now)
    return WebhookState.APPLIED  # not reached: `interpret` gives no other action


def _is_stale(s: Session, target: str, updated_at: datetime | None) -> bool:
    if updated_at is None:
        return False
    c = webhook_cursor_table.c
    newest = s.execute(select(c.updated_at).where(c.target == target)).scalar()
    return newest is not None and updated_at < newest


def _advance(s: Session, target: str, updated_at: datetime) -> None:
    c = webhook_cursor_table.c
    insert = partial(upsert_insert, s)
    stmt = insert(webhook_cursor_table).values(target=target, updated_at=updated_at)
    s.execute(
        stmt.on_conflict_do_update(
            index_elements=["target"],
            set_={
                "updated_at": case(
                    (stmt.excluded.updated_at > c.updated_at, stmt.excluded.updated_at), else_=c.updated_at
                )
            },
        )
    )


def _suborder_status(s: Session, ins: Instruction, at: datetime) -> tuple[str, _SettleLater | None]:
    st = order_suborder_table.c
    known = s.execute(
        update(order_suborder_table)
        .where(st.order_id == ins.order_id, st.suborder_id == ins.suborder_id)
        .values(status=ins.status, updated_at=at)
        .returning(st.order_id)
    ).first()
    if known is None:
        return WebhookState.UNMATCHED, None
    r = reservation_table.c
    res = s.execute(select(r.id, r.state).where(r.refresh_order_id == ins.order_id)).first()
    if res is None or res.state != ReservationState.ACCEPTED:
        return WebhookState.APPLIED, None
    subs = s.execute(select(st.status, st.link_id).where(st.order_id == ins.order_id)).all()
    if any(classify(x.status) is Outcome.PENDING or awaits_link(x.status, x.link_id) for x in subs):
        return WebhookState.APPLIED, None  # still working, or an `error` only the next poll can judge
    return WebhookState.APPLIED, _SettleLater(res.id, at)


def _link_event(s: Session, ins: Instruction, now: datetime) -> str:
    c = connection_table.c
    if s.execute(select(c.token_hash).where(c.link_id == ins.link_id).limit(1)).first() is None:
        return WebhookState.UNMATCHED
    if ins.action is Action.LINK_DISCONNECTED:
        changed = (
            s.execute(
                update(connection_table)
                .where(c.link_id == ins.link_id, c.state != ConnectionState.NEEDS_REAUTH)
                .values(state=ConnectionState.NEEDS_REAUTH, reason="link_disconnected", since=now, updated_at=now)
                .returning(c.token_hash)
            )
            .scalars()
            .all()
        )
        for token in changed:
            enqueue_reauth(s, token=token, reason="link_disconnected", since=now, now=now)
    elif ins.action is Action.LINK_CONNECTED or ins.status == "done":
        # reconnected through Bridge (or a task succeeded after it): refreshes may resume
        s.execute(
            update(connection_table)
            .where(c.link_id == ins.link_id, c.state == ConnectionState.NEEDS_REAUTH)
            .values(state=ConnectionState.OK, reason=None, since=now, failures=0, updated_at=now)
        )
    return WebhookState.APPLIED


def _order_finalized(s: Session, ins: Instruction, now: datetime) -> str:
    """`order-finalized`: "no further data collection or refresh occurs" for that order.

    Refreshes go to the original order, so a finalized original ends the loan's refreshing; a
    finalized refresh order only closes that refresh (recorded, nothing else changes).
    """
    lt = loan_table.c
    original = or_(lt.order_id == ins.order_id, lt.original_order_id == ins.order_id)
    rows = list(s.execute(select(Loan).where(original, lt.status == "active")).scalars())
    if not rows:
        ot = truv_order_table.c
        known = s.execute(select(ot.id).where(ot.id == ins.order_id)).first()
        return WebhookState.RECORDED if known else WebhookState.UNMATCHED
    reason = "order_finalized"
    changed = [loan.loan_id for loan in rows if set_hold(loan, hold=LoanHold.NEEDS_NEW_ORDER, reason=reason, now=now)]
    for loan_id in changed:
        ledger.add_event(s, at=now, kind="needs_new_order", loan_id=loan_id, detail=NeedsNewOrder(reason=reason))
    enqueue_needs_new_order(s, loan_ids=changed, reason=reason, since=now, now=now)
    return WebhookState.APPLIED


def _order_changed(s: Session, ins: Instruction) -> str:
    """An order event that names no suborder: the order is read once, never guessed at (the receiver
    calls no one). A refresh still accepted is read by the next poll anyway, which settles it; a loan's
    original order is read again by the loan's next pass, for its connections and data date."""
    rt = reservation_table.c
    accepted = s.execute(
        select(rt.id).where(rt.refresh_order_id == ins.order_id, rt.state == ReservationState.ACCEPTED).limit(1)
    ).first()
    if accepted is not None:
        return WebhookState.RECORDED
    lt = loan_table.c
    original = or_(lt.order_id == ins.order_id, lt.original_order_id == ins.order_id)
    reread = s.execute(
        update(loan_table).where(original, lt.status == "active").values(details_fetched_at=None).returning(lt.loan_id)
    ).all()
    if reread:
        return WebhookState.APPLIED
    ot = truv_order_table.c
    known = s.execute(select(ot.id).where(ot.id == ins.order_id)).first()
    return WebhookState.RECORDED if known else WebhookState.UNMATCHED


def _link_deleted(s: Session, ins: Instruction, now: datetime) -> str:
    """`link-deleted`: data and credentials removed; no refresh can use that connection again."""
    c = connection_table.c
    tokens = list(
        s.execute(
            update(connection_table)
            .where(c.link_id == ins.link_id, c.state != ConnectionState.NEEDS_NEW_ORDER)
            .values(state=ConnectionState.NEEDS_NEW_ORDER, reason="link_deleted", since=now, updated_at=now)
            .returning(c.token_hash)
        ).scalars()
    )
    if not tokens:
        known = s.execute(select(c.token_hash).where(c.link_id == ins.link_id).limit(1)).first()
        return WebhookState.APPLIED if known else WebhookState.UNMATCHED
    lc = loan_connection_table.c
    loan_ids = sorted(set(s.execute(select(lc.loan_id).where(lc.token_hash.in_(tokens))).scalars()))
    for loan_id in loan_ids:
        detail = NeedsNewOrder(reason="link_deleted")
        ledger.add_event(s, at=now, kind="needs_new_order", loan_id=loan_id, detail=detail)
    enqueue_needs_new_order(s, loan_ids=loan_ids, reason="link_deleted", since=now, now=now)
    return WebhookState.APPLIED


def _data_changed(s: Session, ins: Instruction, event: WireEvent, now: datetime) -> str:
    """A `*-updated` hint: kept in each loan's audit trail; the next report read does the comparing."""
    lc = loan_connection_table.c
    loans = list(s.execute(select(lc.loan_id).where(lc.link_id == ins.link_id)).scalars())
    for loan_id in loans:
        ledger.add_event(
            s,
            at=now,
            kind="data_changed",
            loan_id=loan_id,
            detail=DataChanged(webhook=event.get("webhook_id"), event_type=event.get("event_type")),
        )
    return WebhookState.RECORDED


def alive(services: WebhookServices) -> None:
    """The database answers: one constant-time read (no table scanned), never SQLite's write lock."""
    with session(read_only(services.engine)) as s:
        s.execute(select(1)).scalar_one()


def counts(services: WebhookServices) -> dict[str, dict[str, int]]:
    """By state and type, and why events are `invalid`. A read that never takes SQLite's write lock:
    /healthz calls it, and a probe must answer while a pass or a burst of webhooks is writing."""
    with session(read_only(services.engine)) as s:
        rows = s.execute(
            select(_E.event_type, _E.state, func.count(), func.sum(_E.deliveries)).group_by(_E.event_type, _E.state)
        ).all()
        reasons = s.execute(
            select(_E.reason, func.count()).where(_E.state == WebhookState.INVALID).group_by(_E.reason)
        ).all()
    by_state: dict[str, int] = {WebhookState.INVALID: 0}  # always present, so an alert can watch it
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


def reapply_unmatched(services: WebhookServices, order_id: str) -> int:
    """Events about a refresh order that arrived before we had recorded the order (a fast refresh
    can finish, and Truv can tell us, before our POST's answer is written down): apply them now."""
    with session(services.engine) as s:
        ids = list(
            s.execute(
                update(webhook_event_table)
                .where(
                    _E.state == WebhookState.UNMATCHED,
                    or_(_E.target.like(f"suborder:{order_id}:%"), _E.target == f"order:{order_id}"),
                )
                .values(state=WebhookState.RECEIVED)
                .returning(_E.id)
            ).scalars()
        )
    _apply_each(services, sorted(ids))
    return len(ids)
