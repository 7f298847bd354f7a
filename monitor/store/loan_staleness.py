"""DESIGN's staleness rule as SQL over the loans; it mirrors `monitor.core.staleness.assess`, and the
agreement of the two is tested (tests/unit/test_stale_rule_agreement.py)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, literal, or_

from monitor.core.selection import Selection
from monitor.core.staleness import pre_closing_windows, start_of_day_utc
from monitor.store.tables import loan_table

_L = loan_table.c
_SCOPE_DATES = {
    "employer": _L.data_as_of_employers,
    "account": _L.data_as_of_accounts,
    "insurance": _L.data_as_of_insurance,
}


def data_date(scope: str) -> Any:
    """SQL for a loan's data date for one product scope (DESIGN.md rules 10, 11).

    Before its order has been read: the imported `data_as_of`; after: the scope's own date.
    """
    return case((_L.details_fetched_at.is_(None), _L.data_as_of), else_=_SCOPE_DATES[scope])


def unknown_clause() -> Any:
    """Loans whose data date nobody knows yet: the order must be read before anything is decided."""
    return and_(_L.details_fetched_at.is_(None), _L.data_as_of.is_(None))


def stale_clause(
    *, max_age_cutoff: datetime, pre_closing_days: int | None, today: date, scope: str = "employer"
) -> Any:
    """SQL for DESIGN's staleness rule.

    A loan whose date is unknown only because its order was never read is not stale (rule 11):
    see `unknown_clause`. Once read, a product with a connection that never completed is.
    """
    when = data_date(scope)
    later = _window_limits(max_age_cutoff, pre_closing_days, today)
    typed = _L.data_as_of.type
    cutoff = literal(max_age_cutoff, typed)
    if not later:
        return or_(and_(_L.details_fetched_at.is_not(None), when.is_(None)), when < cutoff)
    before = case({d: literal(x, typed) for d, x in later.items()}, value=_L.closing_date, else_=cutoff)
    # The plain cutoff first, then the window's dates as one range: most loans are fresh and close
    # outside it, and never reach the per-date CASE.
    windows = _L.closing_date.between(min(later), max(later))
    return or_(and_(_L.details_fetched_at.is_not(None), when.is_(None)), when < cutoff, and_(windows, when < before))


def _window_limits(max_age_cutoff: datetime, pre_closing_days: int | None, today: date) -> dict[date, datetime]:
    """Per closing date in an open window, the time before which its loans are stale, when later than
    the max_age cutoff: a loan closing on a window's date is stale before the later of the two.

    One comparison against a per-row limit, not one OR-branch per open window: each branch repeated the
    data date's CASE, and a plan over 1M loans spent most of its scan evaluating them."""
    later: dict[date, datetime] = {}
    if pre_closing_days:
        for closing, start in pre_closing_windows(today, pre_closing_days):
            limit = max(start_of_day_utc(start), max_age_cutoff, later.get(closing, max_age_cutoff))
            if limit > max_age_cutoff:
                later[closing] = limit
    return later


def stale_of(sel: Selection, today: date) -> Any:
    """`stale_clause` for a policy's selection."""
    return stale_clause(
        max_age_cutoff=sel.max_age_cutoff, pre_closing_days=sel.pre_closing_days, today=today, scope=sel.scope
    )
