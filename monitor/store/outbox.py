"""The hand-off outbox: written in the same transaction as the state change it announces."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from monitor.store.db import upsert_insert
from monitor.store.tables import Loan, LoanConnection, Outbox, TruvOrder
from monitor.truv.secrets import short
from monitor.truv.wire import OrderInfo


def enqueue(session: Session, *, kind: str, key: str, payload: dict[str, Any], now: datetime) -> None:
    insert = partial(upsert_insert, session)
    session.execute(
        insert(Outbox.__table__)
        .values(
            kind=kind,
            idempotency_key=key[:160],
            payload=json.dumps(payload, default=str, sort_keys=True),
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )


def enqueue_reauth(session: Session, *, token: str, reason: str | None, since: datetime, now: datetime) -> None:
    """A connection now needs the borrower: tell the lender which loans, why, and since when."""
    rows = session.execute(
        select(LoanConnection.loan_id, Loan.closing_date)
        .join(Loan, Loan.loan_id == LoanConnection.loan_id)  # type: ignore[arg-type]
        .where(LoanConnection.token_hash == token, Loan.status == "active")
    ).all()
    if not rows:
        return
    payload = {
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


def enqueue_refresh_completed(session: Session, *, loan: Loan, order: OrderInfo, product: str, now: datetime) -> None:
    """A refresh completed: the lender gets the new report ids to resubmit to DU / LPA."""
    row = session.get(TruvOrder, order.id)
    voie = order.voie_report_id or (row.voie_report_id if row else None)
    voa = order.voa_report_id or (row.voa_report_id if row else None)
    original = session.get(TruvOrder, loan.original_order_id or loan.order_id)
    if not (voie or voa) and original is not None and (original.voie_report_id or original.voa_report_id):
        return  # a mortgage order's new report ids are not known yet: the next pass reads them, then hands off
    payload = {
        "type": "refresh.completed",
        "loan_id": loan.loan_id,
        "product": product,
        "refresh_order_id": order.id,
        "original_order_id": loan.original_order_id or loan.order_id,
        "voie_report_id": voie,
        "voa_report_id": voa,
        "data_as_of": loan.data_as_of,
        "next_step": "resubmit the newest report id to DU / LPA" if (voie or voa) else None,
    }
    enqueue(session, kind="refresh_completed", key=f"refresh_completed:{order.id}", payload=payload, now=now)


def enqueue_needs_new_order(
    session: Session, *, loan_ids: list[str], reason: str, since: datetime, now: datetime
) -> None:
    """Refreshing has ended for these loans (order finalized or expired, connection deleted)."""
    for loan_id in loan_ids:
        payload = {
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
