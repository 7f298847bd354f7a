"""The hand-off outbox: written in the same transaction as the state change it announces."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast

from sqlalchemy import select, update
from sqlalchemy.engine import CursorResult, Engine
from sqlmodel import Session

from monitor.clock import Clock
from monitor.core.readable import json_default
from monitor.store import db
from monitor.store.db import upsert_insert
from monitor.store.handoff_payloads import HandOff, NeedsNewOrder, NeedsReauth, RefreshCompleted, ReportIds
from monitor.store.tables import Loan, TruvOrder, loan_connection_table, loan_table, outbox_table
from monitor.truv.secrets import short


def enqueue(session: Session, *, kind: str, key: str, payload: HandOff, now: datetime) -> None:
    insert = partial(upsert_insert, session)
    session.execute(
        insert(outbox_table)
        .values(
            kind=kind,
            idempotency_key=key[:160],
            payload=json.dumps(payload, default=json_default, sort_keys=True),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


def enqueue_reauth(session: Session, *, token: str, reason: str | None, since: datetime, now: datetime) -> None:
    """A connection now needs the borrower: tell the lender which loans, why, and since when."""
    lc, lt = loan_connection_table.c, loan_table.c
    rows = session.execute(
        select(lc.loan_id, lt.closing_date)
        .join(loan_table, lt.loan_id == lc.loan_id)
        .where(lc.token_hash == token, lt.status == "active")
    ).all()
    if not rows:
        return
    payload: NeedsReauth = {
        "type": "connection.needs_reauth",
        "connection": short(token),
        "reason": reason,
        "since": since,
        "loans": [{"loan_id": r[0], "closing_date": r[1]} for r in rows],
        "next_step": "monitor reauth token LOAN_ID creates a Bridge update-mode token (valid 6 h)",
    }
    enqueue(
        session, kind="needs_reauth", key=f"needs_reauth:{token[:32]}:{since.isoformat()}", payload=payload, now=now
    )


def enqueue_report_ids(
    session: Session, *, loan_id: str, order_id: str, voie: str | None, voa: str | None, now: datetime
) -> None:
    """A refresh's connection completed while others still run: Truv made a new report id for it ("a new
    VOIE or VOA report ID is generated after every additional connection reaches completed status"), which
    the lender may resubmit now. Each new id is handed off once."""
    payload: ReportIds = {
        "type": "refresh.report_ids",
        "loan_id": loan_id,
        "refresh_order_id": order_id,
        "voie_report_id": voie,
        "voa_report_id": voa,
        "complete": False,
    }
    key = f"report_ids:{order_id}:{voie or '-'}:{voa or '-'}"
    enqueue(session, kind="report_ids", key=key, payload=payload, now=now)


def enqueue_refresh_completed(session: Session, *, loan: Loan, order_id: str, product: str, now: datetime) -> None:
    """A refresh completed: the lender gets the new report ids to resubmit to DU / LPA.

    The ids are the refresh order's as recorded (`save_order` keeps what Truv's reads carried).
    """
    ids = _new_report_ids(session, loan, order_id)
    if ids is None:
        return  # a mortgage order's new report ids are not known yet: the next pass reads them, then hands off
    voie, voa = ids
    payload: RefreshCompleted = {
        "type": "refresh.completed",
        "loan_id": loan.loan_id,
        "product": product,
        "refresh_order_id": order_id,
        "original_order_id": loan.original_order_id or loan.order_id,
        "voie_report_id": voie,
        "voa_report_id": voa,
        "data_as_of": loan.data_as_of,
        "next_step": "resubmit the newest report id to DU / LPA" if (voie or voa) else None,
    }
    enqueue(session, kind="refresh_completed", key=f"refresh_completed:{order_id}", payload=payload, now=now)


def _new_report_ids(session: Session, loan: Loan, order_id: str) -> tuple[str | None, str | None] | None:
    """The refresh order's (VOIE, VOA) report ids; None when it has none yet but the loan's original
    order has some (a mortgage order, whose refresh makes new ones)."""
    row = session.get(TruvOrder, order_id)
    ids = (row.voie_report_id, row.voa_report_id) if row else (None, None)
    if any(ids):
        return ids
    original = session.get(TruvOrder, loan.original_order_id or loan.order_id)
    if original is not None and (original.voie_report_id or original.voa_report_id):
        return None
    return ids


def enqueue_needs_new_order(
    session: Session, *, loan_ids: list[str], reason: str, since: datetime, now: datetime
) -> None:
    """Refreshing has ended for these loans (order finalized or expired, connection deleted)."""
    for loan_id in loan_ids:
        payload: NeedsNewOrder = {
            "type": "loan.needs_new_order",
            "loan_id": loan_id,
            "reason": reason,
            "since": since,
            "next_step": "create a new Truv order for this loan and import its order_id",
        }
        enqueue(
            session,
            kind="needs_new_order",
            key=f"needs_new_order:{loan_id[:100]}:{reason}:{since.isoformat()}",
            payload=payload,
            now=now,
        )


# -- delivery: each hand-off claimed in one short transaction, its result recorded in another -------------

_O = outbox_table.c


@dataclass(frozen=True, slots=True)
class Claim:
    id: int
    key: str
    payload: str
    attempts: int


def claim_next(engine: Engine, clock: Clock, *, lease: timedelta) -> Claim | None:
    """The oldest due hand-off, claimed by moving its next attempt to the end of the lease: another pass
    skips it while it is in flight, and takes it up again only if this process dies."""
    for _ in range(100):  # each retry means another pass claimed the row first: take the next one
        now = clock.now()
        with db.session(engine) as s:
            due = select(_O.id, _O.idempotency_key, _O.payload, _O.attempts).where(
                _O.delivered_at.is_(None), _O.next_attempt_at <= now
            )
            if s.get_bind().dialect.name == "postgresql":
                due = due.with_for_update(skip_locked=True)
            row = s.execute(due.order_by(_O.id).limit(1)).first()
            if row is None:
                return None
            # The condition is checked again by the UPDATE itself: the claim, not the read, is the guarantee.
            claimed = s.execute(
                update(outbox_table)
                .where(_O.id == row.id, _O.delivered_at.is_(None), _O.next_attempt_at <= now)
                .values(next_attempt_at=now + lease)
            )
            if cast("CursorResult[Any]", claimed).rowcount:
                return Claim(id=row.id, key=row.idempotency_key, payload=row.payload, attempts=row.attempts)
    return None


def delivered(engine: Engine, claim: Claim, *, now: datetime) -> None:
    with db.session(engine) as s:
        done = update(outbox_table).where(_O.id == claim.id, _O.delivered_at.is_(None))
        s.execute(done.values(delivered_at=now, attempts=claim.attempts + 1, last_error=None))


def not_delivered(engine: Engine, claim: Claim, *, error: str, next_attempt_at: datetime) -> None:
    with db.session(engine) as s:
        # Only while the row is still ours: if the lease ran out and another pass took it, its word stands.
        retry = update(outbox_table).where(_O.id == claim.id, _O.delivered_at.is_(None), _O.attempts == claim.attempts)
        s.execute(retry.values(attempts=claim.attempts + 1, last_error=error, next_attempt_at=next_attempt_at))
