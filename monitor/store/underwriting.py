"""What a loan was underwritten on (the loans file's optional columns), for monitoring to compare with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from monitor.loans_file import UNDERWRITING
from monitor.store.tables import link_snapshot_table, loan_attribute_table, loan_table


@dataclass(frozen=True, slots=True)
class LoanTerms:
    closing_date: date | None
    columns: dict[str, str] = field(default_factory=dict)  # as imported (normalised), absent when empty


def loan_terms(session: Session, loan_id: str, *, token_hash: str) -> LoanTerms:
    """The loan's closing date and underwriting columns, as seen from one of its connections.

    When another connection of the loan has verified data, this connection's income is not the
    borrower's whole income: the columns are left out, and its income keeps the baseline comparison.
    """
    a = loan_attribute_table.c
    t = link_snapshot_table.c
    closing = session.execute(select(loan_table.c.closing_date).where(loan_table.c.loan_id == loan_id)).scalar()
    others = session.execute(
        select(func.count()).select_from(link_snapshot_table).where(t.loan_id == loan_id, t.token_hash != token_hash)
    ).scalar_one()
    if others:
        return LoanTerms(closing_date=closing)
    rows = session.execute(select(a.key, a.value).where(a.loan_id == loan_id, a.key.in_(UNDERWRITING))).all()
    return LoanTerms(closing_date=closing, columns={str(k): str(v) for k, v in rows})
