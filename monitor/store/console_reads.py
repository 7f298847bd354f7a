"""Small reads only the console needs: search by order id, findings per severity, audit checkpoints."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, or_, select
from sqlmodel import Session

from monitor.store.tables import audit_checkpoint_table, finding_table, loan_table, truv_order_table

_l = loan_table.c
_o = truv_order_table.c
_f = finding_table.c
_cp = audit_checkpoint_table.c

SEARCH_LIMIT = 50


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    created_at: datetime
    removed_before: datetime
    through_seq: int
    removed_count: int
    actor: str


def find_loans(s: Session, text: str) -> list[str]:
    """Loans whose loan_id is `text`, or that own the order `text` (imported, original, or a refresh)."""
    by_loan = select(_l.loan_id).where(
        or_(_l.loan_id == text, _l.order_id == text, _l.original_order_id == text, _l.base_order_id == text)
    )
    by_order = select(_o.loan_id).where(_o.id == text)
    found = set(s.execute(by_loan).scalars()) | set(s.execute(by_order).scalars())
    return sorted(found)[:SEARCH_LIMIT]


def finding_counts(s: Session) -> dict[str, int]:
    rows = s.execute(select(_f.severity, func.count()).group_by(_f.severity)).all()
    return {str(severity): int(n) for severity, n in rows}


def loans_with_findings(s: Session) -> set[str]:
    return set(s.execute(select(_f.loan_id).distinct()).scalars())


def checkpoints(s: Session, *, limit: int = 50) -> list[CheckpointRow]:
    q = (
        select(_cp.created_at, _cp.removed_before, _cp.through_seq, _cp.removed_count, _cp.actor)
        .order_by(_cp.through_seq.desc())
        .limit(limit)
    )
    return [CheckpointRow(*row) for row in s.execute(q).all()]
