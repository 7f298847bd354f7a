"""The hand-off outbox: written in the same transaction as the state change it announces."""

from __future__ import annotations

import json
from datetime import datetime
from functools import partial
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from monitor.store.db import upsert_insert
from monitor.store.tables import Loan, LoanConnection, Outbox
from monitor.truv.secrets import short


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
