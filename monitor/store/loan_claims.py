"""Loan claims: which live pass works which loan, so `parallel: true` instances of a job take
different loans. A claim expires (its `ttl`, renewed by the pass's heartbeat) so a dead pass's
loans return to the pool."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from sqlalchemy import delete, exists, select, update
from sqlmodel import Session

from monitor.store.db import upsert_insert
from monitor.store.tables import loan_claim_table, loan_table, run_table


@dataclass(frozen=True, slots=True)
class Claim:
    run_id: str
    holder: str
    ttl: timedelta


def claimed(now: datetime) -> Any:
    """Loans a live pass has claimed."""
    c = loan_claim_table.c
    return exists().where(c.loan_id == loan_table.c.loan_id, c.expires_at > now)


def claim_loans(session: Session, loan_ids: list[str], claim: Claim, now: datetime) -> set[str]:
    """Insert claims, taking over only expired ones; the loans returned are this pass's alone.

    The row lock of `select_stale` is not the guarantee on Postgres: a row freed by a committing
    instance is re-checked without re-running the NOT EXISTS, so the conditional upsert decides.
    """
    t = loan_claim_table
    insert = partial(upsert_insert, session)
    won: set[str] = set()
    for loan_id in loan_ids:
        stmt = insert(t).values(loan_id=loan_id, run_id=claim.run_id, holder=claim.holder, expires_at=now + claim.ttl)
        row = session.execute(
            stmt.on_conflict_do_update(
                index_elements=["loan_id"],
                set_={
                    "run_id": stmt.excluded.run_id,
                    "holder": stmt.excluded.holder,
                    "expires_at": stmt.excluded.expires_at,
                },
                where=t.c.expires_at <= now,
            ).returning(t.c.loan_id)
        ).first()
        if row is not None:
            won.add(row[0])
    return won


def renew_claims(session: Session, run_id: str, until: datetime) -> None:
    t = loan_claim_table
    session.execute(update(t).where(t.c.run_id == run_id).values(expires_at=until))


def release_job_claims(session: Session, *, job: str, keep_run_id: str) -> None:
    """Claims of the job's other passes: holding the job's lease, this pass knows them dead."""
    t, r = loan_claim_table, run_table.c
    others = select(r.run_id).where(r.job == job, r.run_id != keep_run_id)
    session.execute(delete(t).where(t.c.run_id.in_(others)))


def release_loan_claims(session: Session, run_id: str, loan_ids: Iterable[str]) -> None:
    """Give back some of this pass's loans, e.g. for the job's next policy to select."""
    t = loan_claim_table
    ids = list(loan_ids)
    if ids:
        session.execute(delete(t).where(t.c.run_id == run_id, t.c.loan_id.in_(ids)))


def release_claims(session: Session, run_id: str) -> None:
    t = loan_claim_table
    session.execute(delete(t).where(t.c.run_id == run_id))
