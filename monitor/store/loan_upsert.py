"""The upsert both import paths compile: what a loans file's row sets on a loan already stored."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, case, or_

from monitor.store.tables import loan_table

# The loan columns an import writes, in the order both loaders send them.
COPY_COLUMNS = ("loan_id", "order_id", "gse", "status", "closing_date", "data_as_of", "imported_at", "updated_at")
# What was learned from a loan's order: a new order is a new start, where none of it applies.
_LEARNED = (
    "base_order_id",
    "original_order_id",
    "details_fetched_at",
    "data_as_of_employers",
    "data_as_of_accounts",
    "data_as_of_insurance",
    "gse_window_start",
    "hold",
    "hold_reason",
    "hold_since",
)


def upsert_set(stmt: Any) -> dict[str, object]:
    """The `set_` of an `ON CONFLICT (loan_id) DO UPDATE` for the insert `stmt`."""
    table = loan_table
    ex = stmt.excluded
    changed_order = ex.order_id != table.c.order_id
    return {
        "order_id": ex.order_id,
        "gse": ex.gse,
        "status": ex.status,
        "closing_date": ex.closing_date,
        # A data date never moves backwards, unless the order changed.
        "data_as_of": case(
            (changed_order, ex.data_as_of),
            (table.c.data_as_of.is_(None), ex.data_as_of),
            (ex.data_as_of > table.c.data_as_of, ex.data_as_of),
            else_=table.c.data_as_of,
        ),
        **{name: case((changed_order, None), else_=table.c[name]) for name in _LEARNED},
        "imported_at": ex.imported_at,
        # Only a change moves updated_at: an import counts its unchanged loans by it (`stamped_now`).
        "updated_at": case((_changed(ex, changed_order), ex.updated_at), else_=table.c.updated_at),
    }


def _changed(ex: Any, changed_order: Any) -> Any:
    """Whether the file's row changes a loan field, its data date as the upsert will set it included."""
    t = loan_table.c
    newer_date = or_(t.data_as_of.is_(None), ex.data_as_of > t.data_as_of)
    return or_(
        changed_order,
        ex.gse != t.gse,
        ex.status != t.status,
        ex.closing_date.is_distinct_from(t.closing_date),
        and_(ex.data_as_of.is_not(None), newer_date, ex.data_as_of.is_distinct_from(t.data_as_of)),
    )
