"""A policy's `match` as SQL over the loans; it mirrors `monitor.core.matching.matches`, and the
agreement of the two is tested (tests/unit/test_match_rule_agreement.py)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, exists, func, true

from monitor.core.matching import normalise
from monitor.store.tables import loan_attribute_table, loan_table

_L = loan_table.c
# The keys that name a loan's own column; any other key is one of its attributes.
COLUMNS = {"gse": _L.gse, "status": _L.status, "loan_id": _L.loan_id, "order_id": _L.order_id}


def match_clause(match: Mapping[str, Any]) -> Any:
    return and_(true(), *(_key_clause(key, wanted) for key, wanted in match.items()))


def _key_clause(key: str, wanted: object) -> Any:
    options = wanted if isinstance(wanted, list) else [wanted]
    values = [normalise(o) for o in options]
    if key == "gse":
        # As core.matching reads it: the text "true" or "false" (jobs.yaml only lets booleans through).
        flags = {v == "true" for v in values if v in ("true", "false")}
        return _L.gse.in_(sorted(flags))
    if key in COLUMNS:
        return func.lower(COLUMNS[key]).in_(values)
    a = loan_attribute_table.c
    return exists().where(a.loan_id == _L.loan_id, a.key == key, a.value.in_(values))
