"""The audit trail a page at a time, newest first, for the console: filtered by loan, kind and time.

Pages are keyed by the last entry shown (time, then seq), not by an offset: a page deep in a trail of
millions reads as fast as the first (ix_event_at_seq, ix_event_kind_at, ix_event_loan), and entries
appended meanwhile do not shift what "older" means.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import and_, exists, func, or_, select
from sqlmodel import Session

from monitor.store.tables import event_table

_e = event_table.c
_COLUMNS = (_e.seq, _e.at, _e.kind, _e.loan_id, _e.run_id, _e.actor, _e.detail)
Direction = Literal["newest", "older", "newer", "oldest"]


@dataclass(frozen=True, slots=True)
class AuditFilter:
    loan_id: str | None = None
    kind: str | None = None
    start: datetime | None = None  # from this moment on
    end: datetime | None = None  # before this moment


@dataclass(frozen=True, slots=True)
class Cursor:
    """An entry's place in the order pages are read in."""

    at: datetime
    seq: int


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: datetime
    kind: str
    loan_id: str | None
    run_id: str | None
    actor: str | None
    detail: str  # JSON as the trail holds it

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.at, self.seq)


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: list[AuditEntry]  # newest first
    newer: bool  # entries matching the filter newer than the first shown
    older: bool  # entries matching the filter older than the last shown


def _where(f: AuditFilter) -> list[Any]:
    clauses: list[Any] = [_e.seq.is_not(None)]
    if f.loan_id is not None:
        clauses.append(_e.loan_id == f.loan_id)
    if f.kind is not None:
        clauses.append(_e.kind == f.kind)
    if f.start is not None:
        clauses.append(_e.at >= f.start)
    if f.end is not None:
        clauses.append(_e.at < f.end)
    return clauses


def _before(c: Cursor) -> Any:
    return or_(_e.at < c.at, and_(_e.at == c.at, _e.seq < c.seq))


def _after(c: Cursor) -> Any:
    return or_(_e.at > c.at, and_(_e.at == c.at, _e.seq > c.seq))


def browse(
    s: Session, f: AuditFilter, *, direction: Direction = "newest", cursor: Cursor | None = None, limit: int = 50
) -> AuditPage:
    """One page: the newest entries, the oldest, or those just older or newer than `cursor`."""
    where = _where(f)
    ascending = direction in ("newer", "oldest")
    if cursor is not None and direction in ("older", "newer"):
        where.append(_before(cursor) if direction == "older" else _after(cursor))
    order = (_e.at.asc(), _e.seq.asc()) if ascending else (_e.at.desc(), _e.seq.desc())
    rows = [AuditEntry(*row) for row in s.execute(select(*_COLUMNS).where(*where).order_by(*order).limit(limit))]
    if ascending:
        rows.reverse()
    if not rows:
        return AuditPage([], newer=False, older=False)
    base = _where(f)

    def any_where(extra: Any) -> bool:
        return bool(s.execute(select(exists().where(*base, extra))).scalar())

    return AuditPage(rows, newer=any_where(_after(rows[0].cursor)), older=any_where(_before(rows[-1].cursor)))


def kinds(s: Session) -> list[str]:
    """The kinds of entry the trail holds, each found by one probe of ix_event_kind_at (a loose index
    scan) rather than a DISTINCT over every entry."""
    k = select(func.min(_e.kind).label("kind")).cte("k", recursive=True)
    following = select(_e.kind).where(_e.kind > k.c.kind).order_by(_e.kind).limit(1).scalar_subquery()
    k = k.union_all(select(following.label("kind")).where(k.c.kind.is_not(None)))
    return [str(v) for v in s.execute(select(k.c.kind).where(k.c.kind.is_not(None))).scalars()]


def cursor_of(s: Session, seq: int) -> Cursor | None:
    """Where entry `seq` stands (None: no such entry, e.g. purged since the link was made)."""
    row = s.execute(select(_e.at, _e.seq).where(_e.seq == seq)).first()
    return Cursor(row[0], int(row[1])) if row is not None else None
