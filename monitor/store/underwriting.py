"""What a loan was underwritten on (the loans file's optional columns), for monitoring to compare with."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select
from sqlmodel import Session

from monitor.loans_file import UNDERWRITING
from monitor.store.tables import loan_attribute_table, loan_connection_table, loan_table


@dataclass(frozen=True, slots=True)
class LoanTerms:
    closing_date: date | None
    columns: dict[str, str] = field(default_factory=dict)  # as imported (normalised), absent when empty


def loan_terms(session: Session, loan_id: str, *, token_hash: str | None) -> LoanTerms:
    """The loan's closing date and underwriting columns, as seen from one of its connections.

    When the loan has another employer connection, this connection's income is not the borrower's
    whole income: the columns are left out, and its income keeps the baseline comparison. With
    `token_hash` None (accounts: balances and deposits are the loan's), the columns always.
    """
    a = loan_attribute_table.c
    c = loan_connection_table.c
    closing = session.execute(select(loan_table.c.closing_date).where(loan_table.c.loan_id == loan_id)).scalar()
    others = (
        token_hash is not None
        and session.execute(
            select(func.count())
            .select_from(loan_connection_table)
            .where(c.loan_id == loan_id, c.kind == "employer", c.token_hash != token_hash)
        ).scalar_one()
    )
    if others:
        return LoanTerms(closing_date=closing)
    rows = session.execute(select(a.key, a.value).where(a.loan_id == loan_id, a.key.in_(UNDERWRITING))).all()
    return LoanTerms(closing_date=closing, columns={str(k): str(v) for k, v in rows})
