"""`loans list` one page at a time: which loans match, are stale, and how many, decided in SQL.

The clauses are the pass's own (`store.loan_staleness.stale_clause`, `store.loan_match.match_clause`), so a loan listed as
stale here is one the pass would find stale; only the page's rows are read into Python.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, func, or_, select, true
from sqlmodel import Session

from monitor.store.loan_match import match_clause
from monitor.store.loan_rows import _LOAN_COLUMNS, LoanRow
from monitor.store.loan_staleness import stale_clause
from monitor.store.tables import loan_table

_l = loan_table.c
CHUNK = 500  # loan ids per IN (...): far under SQLite's and Postgres's bound-parameter limits


@dataclass(frozen=True, slots=True)
class PolicyTerms:
    """What one policy selects: its match, and its staleness rule as of a given moment."""

    match: dict[str, object]
    max_age_cutoff: datetime
    pre_closing_days: int | None
    scope: str


def last_page_start(offset: int, total: int, limit: int) -> int:
    """`offset`, or the last page's start when it is past the last row (0 when there are none)."""
    if offset < total or total == 0 or limit <= 0:
        return offset if total else 0
    return (total - 1) // limit * limit


def _where(policies: Sequence[PolicyTerms], *, matching: bool, stale: bool, today: date) -> object:
    if stale:
        return or_(
            *(
                and_(
                    match_clause(dict(p.match)),
                    stale_clause(
                        max_age_cutoff=p.max_age_cutoff, pre_closing_days=p.pre_closing_days, today=today, scope=p.scope
                    ),
                )
                for p in policies
            )
        )
    if matching:
        return or_(*(match_clause(dict(p.match)) for p in policies))
    return true()


def page(
    session: Session,
    *,
    policies: Sequence[PolicyTerms],
    matching: bool,
    stale: bool,
    today: date,
    offset: int,
    limit: int,
    among: Collection[str] | None = None,
) -> tuple[list[LoanRow], int]:
    """(the loans of the page by loan_id, how many in all). `matching`: only loans one of `policies`
    matches; `stale`: only loans stale for one that matches; `among`: only these loan ids. An `offset`
    past the last loan reads the last page (a stale link to page 40 of what is now 3 pages)."""
    where = _where(policies, matching=matching, stale=stale, today=today)
    if not policies and (matching or stale):
        return [], 0
    if among is not None:
        rows: list[LoanRow] = []
        ids = sorted(set(among))
        for start in range(0, len(ids), CHUNK):
            q = select(*_LOAN_COLUMNS).where(where, _l.loan_id.in_(ids[start : start + CHUNK]))  # type: ignore[arg-type]
            rows.extend(LoanRow(*r) for r in session.execute(q))
        rows.sort(key=lambda r: r.loan_id)
        offset = last_page_start(offset, len(rows), limit)
        return rows[offset : offset + limit], len(rows)
    total = session.execute(select(func.count()).select_from(loan_table).where(where)).scalar_one()  # type: ignore[arg-type]
    offset = last_page_start(offset, int(total), limit)
    q = select(*_LOAN_COLUMNS).where(where).order_by(_l.loan_id).offset(offset).limit(limit)  # type: ignore[arg-type]
    return [LoanRow(*r) for r in session.execute(q)], int(total)
