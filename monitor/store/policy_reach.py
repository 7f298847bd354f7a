"""Which policies reach no loan: a `match` that names a value no active loan has is a silent no-op
(`check-config` and `plan` warn, naming the closest values the loans do have)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from monitor.core.matching import normalise
from monitor.store.loan_match import COLUMNS, match_clause
from monitor.store.tables import loan_attribute_table, loan_table

_L = loan_table.c
_A = loan_attribute_table.c
_VALUES_READ = 500  # the most common values of a key considered for "closest"
_SHOWN = 3


def unmatched_policies(session: Session, policies: Sequence[tuple[str, Mapping[str, Any]]]) -> list[str]:
    """One warning per (name, match) that no active loan matches; nothing when no loan is active yet."""
    active = _L.status == "active"
    total = session.execute(select(func.count()).select_from(loan_table).where(active)).scalar_one()
    if not total:
        return []
    warnings = []
    for name, match in policies:
        if not match or _any(session, match):
            continue
        why = [part for key, wanted in match.items() if (part := _key_problem(session, key, wanted)) is not None]
        if not why:
            why = ["each of its match keys matches some loan, but no loan matches all of them"]
        warnings.append(f"policy {name} matches none of the {total} active loans: " + "; ".join(why))
    return warnings


def _any(session: Session, match: Mapping[str, Any]) -> bool:
    query = select(_L.loan_id).where(_L.status == "active", match_clause(dict(match))).limit(1)
    return session.execute(query).first() is not None


def _key_problem(session: Session, key: str, wanted: Any) -> str | None:
    if _any(session, {key: wanted}):
        return None
    found = _values(session, key)
    wanted_text = wanted if isinstance(wanted, list) else repr(wanted)
    if not found:
        return f"match.{key} {wanted_text}: no active loan has {key!r} at all"
    options = [normalise(o) for o in (wanted if isinstance(wanted, list) else [wanted])]
    close = _closest(found, options)
    label = "closest values in the loans" if close else "values found in the loans"
    listed = ", ".join(f"{value!r} ({count} loans)" for value, count in close or found[:_SHOWN])
    return f"match.{key} {wanted_text} matches none ({label}: {listed})"


def _closest(found: list[tuple[str, int]], options: list[str]) -> list[tuple[str, int]]:
    """The found values (as stored, with their counts) closest to any of the options, at most _SHOWN."""
    by_text: dict[str, tuple[str, int]] = {}
    for value, count in found:
        by_text.setdefault(normalise(value), (value, count))
    close: list[str] = []
    for option in options:
        close += [c for c in difflib.get_close_matches(option, list(by_text), n=_SHOWN, cutoff=0.6) if c not in close]
    return [by_text[c] for c in close[:_SHOWN]]


def _values(session: Session, key: str) -> list[tuple[str, int]]:
    """The key's most common values among active loans, as stored, with how many loans have each."""
    count = func.count().label("n")
    if key in COLUMNS:
        column = COLUMNS[key]
        query = select(column, count).where(_L.status == "active").group_by(column)
    else:
        query = (
            select(_A.value, count)
            .join(loan_table, _L.loan_id == _A.loan_id)
            .where(_A.key == key, _L.status == "active")
            .group_by(_A.value)
        )
    rows = session.execute(query.order_by(count.desc()).limit(_VALUES_READ)).all()
    return [(normalise(value) if isinstance(value, bool) else str(value), int(n)) for value, n in rows]
