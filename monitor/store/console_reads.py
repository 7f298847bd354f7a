"""Small reads only the console needs: search by prefix of a loan or order id, findings per severity,
audit checkpoints, and which Bridge tokens were issued (when and by whom; never their value)."""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlmodel import Session

from monitor.store.tables import audit_checkpoint_table, event_table, finding_table, loan_table, truv_order_table

_l = loan_table.c
_o = truv_order_table.c
_f = finding_table.c
_cp = audit_checkpoint_table.c
_e = event_table.c

SEARCH_LIMIT = 50
MAX_SEARCH = 128  # the longest loan id; an order id is shorter
TOKEN_ISSUED = "reauth_token_created"


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    created_at: datetime
    removed_before: datetime
    through_seq: int
    removed_count: int
    actor: str


@dataclass(frozen=True, slots=True)
class Found:
    """Loans a search matched: by loan_id order, at most SEARCH_LIMIT; `more` when some were left out."""

    loan_ids: list[str]
    more: bool
    exact: str | None  # the one loan whose loan id or order id is the text itself


@dataclass(frozen=True, slots=True)
class TokenIssued:
    """An update-mode token handed out: the audit entry, never the token (it is not stored anywhere)."""

    event_id: int
    loan_id: str
    token: str | None  # the connection's short hash, as the queue shows it
    product: str | None
    at: datetime
    actor: str | None


def _after(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix`, in code-point order
    (None: there is none, every string from `prefix` on qualifies)."""
    chars = list(prefix)
    while chars:
        last = ord(chars.pop()) + 1
        if last <= 0x10FFFF:
            return "".join(chars) + chr(0xE000 if 0xD800 <= last <= 0xDFFF else last)
    return None


def _bytewise(s: Session, column: Any) -> Any:
    """`column` compared in code-point order: SQLite's BINARY collation, and on Postgres the "C" collation
    the prefix indexes of migration 0013 are built with (a language collation would put `L-1x` outside
    the range `L-1` .. `L-2`, or other ids inside it)."""
    return column.collate("C") if s.get_bind().dialect.name == "postgresql" else column


def starts_with(s: Session, column: Any, prefix: str) -> ColumnElement[bool]:
    """`column` starts with `prefix`, as a range an index answers."""
    bytewise = _bytewise(s, column)
    upper = _after(prefix)
    return and_(bytewise >= prefix, bytewise < upper) if upper is not None else bytewise >= prefix


def find_loans(s: Session, text: str) -> Found:
    """Loans whose loan id starts with `text`, or that own an order (imported, original, or a refresh)
    whose id starts with it; `exact` when one loan has that very loan id or order id."""
    ids = (_l.loan_id, _l.order_id, _l.original_order_id, _l.base_order_id)
    exact_loan = select(_l.loan_id).where(or_(*(_bytewise(s, c) == text for c in ids)))
    by_order = select(_o.loan_id).where(_bytewise(s, _o.id) == text)
    exact = set(s.execute(exact_loan).scalars()) | set(s.execute(by_order).scalars())
    found: set[str] = set()
    for column, owner in (
        (_l.loan_id, _l.loan_id),
        (_l.order_id, _l.loan_id),
        (_l.original_order_id, _l.loan_id),
        (_l.base_order_id, _l.loan_id),
        (_o.id, _o.loan_id),
    ):
        q = select(owner).where(starts_with(s, column, text)).order_by(owner).limit(SEARCH_LIMIT + 1)
        found.update(s.execute(q).scalars())
    ordered = sorted(found | exact)
    return Found(ordered[:SEARCH_LIMIT], len(ordered) > SEARCH_LIMIT, exact.pop() if len(exact) == 1 else None)


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


def tokens_issued(s: Session, loan_ids: Collection[str]) -> list[TokenIssued]:
    """The update-mode tokens issued for these loans, newest first (ix_event_loan finds each loan's)."""
    if not loan_ids:
        return []
    q = (
        select(_e.id, _e.loan_id, _e.detail, _e.at, _e.actor)
        .where(_e.loan_id.in_(sorted(set(loan_ids))), _e.kind == TOKEN_ISSUED)
        .order_by(_e.id.desc())
    )
    out = []
    for event_id, loan_id, detail, at, actor in s.execute(q):
        fields = _fields(detail)
        token, product = fields.get("token"), fields.get("product")
        out.append(
            TokenIssued(
                event_id=int(event_id),
                loan_id=str(loan_id),
                token=token if isinstance(token, str) else None,
                product=product if isinstance(product, str) else None,
                at=at,
                actor=actor,
            )
        )
    return out


def last_token_issued(s: Session, loan_id: str) -> int:
    """The newest update-mode token entry of this loan (0: none): what a confirmation form was shown after."""
    q = select(func.max(_e.id)).where(_e.loan_id == loan_id, _e.kind == TOKEN_ISSUED)
    return int(s.execute(q).scalar() or 0)


def _fields(detail: str | None) -> dict[str, object]:
    try:
        value = json.loads(detail or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
