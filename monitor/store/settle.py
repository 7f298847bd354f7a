"""How refreshes end, on record: a settled refresh order, a reconciled unknown POST, a refresh Truv lost,
and the report ids a settled refresh hands off (DESIGN.md rules 4 and 6).

`settle_refresh` (the poll) and `settle_from_suborders` (the webhook pipeline) record the same
`monitor.core.settlement.Settlement`, each in one transaction that holds the reservation's row lock: a
poll and a webhook, or two webhooks, may settle the same refresh at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from monitor.core.budget import Limits, counts_from
from monitor.core.settlement import (
    ConnectionBefore,
    ConnectionChange,
    Settlement,
    Step,
    SuborderResult,
    awaits_link,
    judge,
    requested,
    settle,
)
from monitor.core.states import ConnectionState, ReservationState
from monitor.store import audit_details, ledger, monitoring, orders
from monitor.store.db import session
from monitor.store.outbox import enqueue_reauth, enqueue_refresh_completed, enqueue_report_ids
from monitor.store.tables import (
    Loan,
    TruvOrder,
    connection_table,
    order_suborder_table,
    outbox_table,
    reservation_table,
    truv_order_table,
)
from monitor.truv.wire import OrderInfo

_R = reservation_table.c
# Reconciliation looks at these: a POST whose answer never came (unknown), or a pass that died after
# reserving (reserved, sent).
UNSETTLED = (ReservationState.UNKNOWN, ReservationState.RESERVED, ReservationState.SENT)


@dataclass(frozen=True, slots=True)
class _Accepted:
    id: str
    loan_id: str
    run_id: str
    product: str
    policy: str
    refresh_order_id: str
    tokens: frozenset[str]  # the connections the refresh asked for


def _picked_tokens(suborders: str | None) -> frozenset[str]:
    try:
        picked = json.loads(suborders or "{}")
    except ValueError:
        return frozenset()
    return frozenset(picked) if isinstance(picked, dict) else frozenset()


def settle_refresh(
    engine: Engine, reservation_id: str, order: OrderInfo, results: Sequence[SuborderResult], *, now: datetime
) -> Settlement | None:
    """Settle an accepted refresh from Truv's read of its order (the poll), keeping that read too.

    None when there was nothing to settle: the reservation is no longer accepted (settled meanwhile),
    or a suborder is still working.
    """
    with session(engine) as s:
        res = _locked_accepted(s, reservation_id)
        if res is None:
            return None
        orders.save_order(s, res.loan_id, order, now=now)
        orders.save_suborders(s, order)
        report_ids = (order.voie_report_id, order.voa_report_id)
        return _record(s, res, order.id, results, now=now, report_ids=report_ids)


def record_progress(engine: Engine, reservation_id: str, order: OrderInfo, *, now: datetime) -> bool:
    """A refresh still running, read by the poll: keep the read, and hand off any new report id Truv made
    for the connections that completed so far (truv-api.md section 10). False when there was none new."""
    if not (order.voie_report_id or order.voa_report_id):
        return False
    with session(engine) as s:
        res = _locked_accepted(s, reservation_id)
        if res is None:
            return False
        row = s.get(TruvOrder, order.id)
        known = (row.voie_report_id, row.voa_report_id) if row is not None else (None, None)
        orders.save_order(s, res.loan_id, order, now=now)
        if (order.voie_report_id, order.voa_report_id) == known:
            return False
        enqueue_report_ids(
            s, loan_id=res.loan_id, order_id=order.id, voie=order.voie_report_id, voa=order.voa_report_id, now=now
        )
        ledger.add_event(
            s,
            at=now,
            kind="report_ids",
            run_id=res.run_id,
            loan_id=res.loan_id,
            reservation_id=res.id,
            detail=audit_details.ReportIds(
                refresh_order_id=order.id, voie_report_id=order.voie_report_id, voa_report_id=order.voa_report_id
            ),
        )
    return True


def settle_from_suborders(engine: Engine, reservation_id: str, *, at: datetime, now: datetime) -> Settlement | None:
    """Settle an accepted refresh from its suborders as webhooks left them; never calls Truv.

    `at` is the moment of the event that may have ended it. An employer in `error` with a link is not
    judged here: only its link's last task status says why, and reading it is a Truv call. The refresh
    stays accepted and the next pass's poll reads the order and the link and settles it. So the
    receiver settles alike however it was started (`webhooks serve`, or `schedule --webhooks`).
    """
    with session(engine) as s:
        res = _locked_accepted(s, reservation_id)
        if res is None:
            return None
        st = order_suborder_table.c
        rows = s.execute(
            select(st.kind, st.token_hash, st.link_id, st.status, st.updated_at).where(
                st.order_id == res.refresh_order_id
            )
        ).all()
        if res.tokens:
            rows = [row for row in rows if row.token_hash in res.tokens]
        if any(awaits_link(row.status, row.link_id) for row in rows):
            return None
        results = [
            SuborderResult(
                kind=row.kind,
                token_hash=row.token_hash,
                link_id=row.link_id,
                verdict=judge(row.status),
                data_date=row.updated_at or at,  # its last event's time, else this event's
            )
            for row in rows
        ]
        return _record(s, res, res.refresh_order_id, results, now=now)


def _locked_accepted(s: Session, reservation_id: str) -> _Accepted | None:
    row = s.execute(
        select(_R.id, _R.loan_id, _R.run_id, _R.product, _R.policy, _R.refresh_order_id, _R.state, _R.suborders)
        .where(_R.id == reservation_id)
        .with_for_update()
    ).first()
    if row is None or row.state != ReservationState.ACCEPTED or row.refresh_order_id is None:
        return None
    tokens = _picked_tokens(row.suborders)
    return _Accepted(row.id, row.loan_id, row.run_id, row.product, row.policy, row.refresh_order_id, tokens)


def _record(
    s: Session,
    res: _Accepted,
    order_id: str,
    results: Sequence[SuborderResult],
    *,
    now: datetime,
    report_ids: tuple[str | None, str | None] = (None, None),
) -> Settlement | None:
    """`report_ids`: the DU / LPA ids Truv's read carried (a webhook carries none), for the audit entry."""
    results = requested(results, res.tokens)
    before = _locked_connections(s, results, now=now)
    settlement = settle(results, before, monitored=res.product in monitoring.MONITORED_PRODUCTS, now=now)
    if settlement is None:
        return None
    for step in settlement.steps:
        _record_step(s, res, order_id, step, now=now)
    loan = s.get(Loan, res.loan_id)
    if loan is not None:
        if settlement.next_attempt_at is not None:
            loan.next_attempt_at = settlement.next_attempt_at
        if settlement.advances_base:
            # Rule 6: the newest completed refresh is where data is read; refreshes still go to the original.
            loan.base_order_id = order_id
        orders.refresh_data_date(s, loan)
        if settlement.completed:
            enqueue_refresh_completed(s, loan=loan, order_id=order_id, product=res.product, now=now)
    ledger.set_state(s, res.id, state=settlement.state, now=now, settled_at=now, outcome=settlement.outcome[:32])
    ledger.add_event(
        s,
        at=now,
        kind="outcome",
        run_id=res.run_id,
        loan_id=res.loan_id,
        reservation_id=res.id,
        detail=audit_details.Outcome(
            refresh_order_id=order_id,
            outcome=settlement.outcome,
            voie_report_id=report_ids[0],
            voa_report_id=report_ids[1],
            suborders=[
                {"status": step.result.verdict.status, "token": (step.result.token_hash or "")[:12]}
                for step in settlement.steps
            ],
        ),
    )
    return settlement


def _locked_connections(s: Session, results: Sequence[SuborderResult], *, now: datetime) -> dict[str, ConnectionBefore]:
    """Each named connection's state before, row-locked (created first if not on record), in token order."""
    c = connection_table.c
    before: dict[str, ConnectionBefore] = {}
    for token in sorted({r.token_hash for r in results if r.token_hash is not None}):
        orders.ensure_connection(s, token, now=now)
        row = s.execute(select(c.state, c.failures).where(c.token_hash == token).with_for_update()).one()
        before[token] = ConnectionBefore(row.state, row.failures or 0)
    return before


def _record_step(s: Session, res: _Accepted, order_id: str, step: Step, *, now: datetime) -> None:
    change, sub = step.connection, step.result
    if change is None:
        return
    if step.completed_at is not None:
        _write_connection(s, change, now=now)
        orders.mark_connection_data(s, res.loan_id, change.token_hash, step.completed_at, kind=sub.kind)
        monitoring.enqueue_report(
            s,
            loan_id=res.loan_id,
            token_hash=change.token_hash,
            link_id=sub.link_id,
            product=res.product,
            policy=res.policy,
            refresh_order_id=order_id,
            completed_at=step.completed_at,
            now=now,
        )
        return
    if step.finding is not None:
        monitoring.record_finding(
            s, step.finding, loan_id=res.loan_id, order_id=order_id, completed_at=None, previous=None, now=now
        )
    _write_connection(s, change, now=now)


def _write_connection(s: Session, change: ConnectionChange, *, now: datetime) -> None:
    c = connection_table.c
    values: dict[str, object] = {
        "state": change.state,
        "reason": change.reason,
        "retry_after": change.retry_after,
        "failures": change.failures,
        "updated_at": now,
    }
    if change.entered:
        values["since"] = now
    s.execute(update(connection_table).where(c.token_hash == change.token_hash).values(**values))
    if change.entered and change.state is ConnectionState.NEEDS_REAUTH:
        enqueue_reauth(s, token=change.token_hash, reason=change.reason, since=now, now=now)


# -- the poll's and reconciliation's reads and records ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class AcceptedRefresh:
    reservation_id: str
    refresh_order_id: str
    reserved_at: datetime
    tokens: frozenset[str] = frozenset()  # the connections it asked for (empty: every one, an old row)


def accepted_refreshes(engine: Engine, *, run_id: str | None = None, limit: int = 10_000) -> list[AcceptedRefresh]:
    """Accepted refreshes not settled yet, oldest first (only this run's, when given)."""
    query = select(_R.id, _R.refresh_order_id, _R.reserved_at, _R.suborders).where(
        _R.state == ReservationState.ACCEPTED, _R.refresh_order_id.is_not(None)
    )
    if run_id is not None:
        query = query.where(_R.run_id == run_id)
    with session(engine) as s:
        rows = s.execute(query.order_by(_R.reserved_at).limit(limit)).all()
    return [
        AcceptedRefresh(row.id, row.refresh_order_id, row.reserved_at, _picked_tokens(row.suborders)) for row in rows
    ]


def settle_missing(engine: Engine, reservation_id: str, order_id: str, *, now: datetime) -> None:
    """Truv has answered 404 for the refresh order it created for over a day: it is given up on."""
    with session(engine) as s:
        ledger.set_state(s, reservation_id, state="failed", now=now, settled_at=now, outcome="order_not_found")
        ledger.add_event(
            s,
            at=now,
            kind="outcome",
            reservation_id=reservation_id,
            detail=audit_details.Outcome(refresh_order_id=order_id, outcome="order_not_found"),
        )


@dataclass(frozen=True, slots=True)
class Unsettled:
    """A reservation whose POST's fate is unknown: reconciliation asks its parent order."""

    id: str
    loan_id: str
    parent_order_id: str
    reserved_at: datetime


def unsettled(engine: Engine, *, current_run: str) -> tuple[list[Unsettled], set[str]]:
    """Unknown reservations, and `reserved`/`sent` ones of other runs (a process killed between the
    reservation and the answer leaves exactly those), oldest first; with every refresh order on record."""
    stuck = or_(
        _R.state == ReservationState.UNKNOWN,
        _R.state.in_((ReservationState.RESERVED, ReservationState.SENT)) & (_R.run_id != current_run),
    )
    with session(engine) as s:
        rows = s.execute(
            select(_R.id, _R.loan_id, _R.parent_order_id, _R.reserved_at).where(stuck).order_by(_R.reserved_at)
        ).all()
        known = set(s.execute(select(_R.refresh_order_id).where(_R.refresh_order_id.is_not(None))).scalars())
    return [Unsettled(*row) for row in rows], known


def _unsettled_since(s: Session, reservation_id: str) -> tuple[bool, datetime | None]:
    """(still unsettled, its send time): reconciliation acts only on what nothing else settled meanwhile."""
    row = s.execute(select(_R.state, _R.sent_at).where(_R.id == reservation_id)).first()
    if row is None or row.state not in UNSETTLED:
        return False, None
    return True, row.sent_at


def adopt_refresh(
    engine: Engine,
    res: Unsettled,
    refresh_order_id: str,
    *,
    created_at: datetime | None,
    limits: Limits,
    run_id: str,
    now: datetime,
) -> bool:
    """The parent order names a refresh made for this reservation: it is accepted, and counts from Truv's
    creation time when that is later than the send (rule 12). False when it settled meanwhile."""
    with session(engine) as s:
        still, sent_at = _unsettled_since(s, res.id)
        if not still:
            return False
        ledger.set_state(
            s, res.id, state="accepted", now=now, refresh_order_id=refresh_order_id, sent_at=sent_at or now
        )
        if created_at is not None:
            ledger.count_from(s, res.id, counts_from(sent_at or res.reserved_at, limits, created_at))
        ledger.add_event(
            s,
            at=now,
            kind="reconciled",
            run_id=run_id,
            loan_id=res.loan_id,
            reservation_id=res.id,
            detail=audit_details.Reconciled(refresh_order_id=refresh_order_id, found=True),
        )
    return True


def mark_lost(engine: Engine, res: Unsettled, *, run_id: str, now: datetime) -> bool:
    """Truv shows no refresh for this reservation: the loan may be tried again; the use still counts.
    False when it settled meanwhile."""
    with session(engine) as s:
        if not _unsettled_since(s, res.id)[0]:
            return False
        ledger.set_state(s, res.id, state="lost", now=now, settled_at=now, outcome="not_created")
        ledger.add_event(
            s,
            at=now,
            kind="reconciled",
            run_id=run_id,
            loan_id=res.loan_id,
            reservation_id=res.id,
            detail=audit_details.Reconciled(found=False),
        )
    return True


# -- report ids of refreshes settled by webhook ----------------------------------------------------------


def refreshes_missing_report_ids(engine: Engine, *, since: datetime, limit: int = 1000) -> list[tuple[str, str]]:
    """(loan_id, refresh order id) of completed refreshes of mortgage orders whose new report ids we
    have not read: webhooks say a refresh completed, not which report ids it made (truv-api.md 4, 8)."""
    refresh, original = truv_order_table.alias("refresh"), truv_order_table.alias("original")
    with session(engine) as s:
        rows = s.execute(
            select(_R.loan_id, _R.refresh_order_id)
            .join(refresh, refresh.c.id == _R.refresh_order_id)
            .join(original, original.c.id == _R.parent_order_id)
            .where(
                _R.state == ReservationState.COMPLETED,
                _R.settled_at >= since,
                refresh.c.voie_report_id.is_(None),
                refresh.c.voa_report_id.is_(None),
                or_(original.c.voie_report_id.is_not(None), original.c.voa_report_id.is_not(None)),
            )
            .order_by(_R.settled_at)
            .limit(limit)
        ).all()
        o = outbox_table.c
        keys = [f"refresh_completed:{order_id}" for _, order_id in rows]
        handed = set(s.execute(select(o.idempotency_key).where(o.idempotency_key.in_(keys))).scalars())
    return [(loan_id, order_id) for loan_id, order_id in rows if f"refresh_completed:{order_id}" not in handed]


def record_report_ids(engine: Engine, loan_id: str, order: OrderInfo, *, now: datetime) -> bool:
    """Keep a settled refresh's order as read again, and hand its new report ids off; False when it
    carries none yet (or the loan is gone)."""
    with session(engine) as s:
        orders.save_order(s, loan_id, order, now=now)
        loan = s.get(Loan, loan_id)
        product = s.execute(select(_R.product).where(_R.refresh_order_id == order.id)).scalar()
        if loan is None or not (order.voie_report_id or order.voa_report_id):
            return False
        enqueue_refresh_completed(s, loan=loan, order_id=order.id, product=product or "", now=now)
    return True
