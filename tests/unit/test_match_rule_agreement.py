"""A policy's `match` is also written twice: as SQL in the store (which loans a pass selects and counts)
and as `monitor.core.matching.matches` (which policies `loans show` says apply to a loan). README:
"values compare case-insensitively"; the loans file reads `gse` as true or false. Both must agree.

jobs.yaml lets only true/false through for `gse` (a `yes` or `1` was read as true by the store and
as nothing by `loans show`); both readings still agree on such a value, and config refuses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete
from sqlalchemy.engine import Engine

from monitor.config import parse_config
from monitor.core.matching import matches
from monitor.core.selection import Selection
from monitor.errors import ConfigError
from monitor.store.db import make_engine, session, upgrade
from monitor.store.loan_selection import count_selectable, select_stale
from monitor.store.tables import loan_attribute_table, loan_table

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
LOANS = [
    {"loan_id": "G1", "gse": True, "status": "active", "program": "FHA"},
    {"loan_id": "G2", "gse": True, "status": "active", "program": "va"},
    {"loan_id": "N1", "gse": False, "status": "active", "program": "Jumbo"},
    {"loan_id": "N2", "gse": False, "status": "active", "program": None},
]


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    built = make_engine(f"sqlite:///{tmp_path_factory.mktemp('match') / 'monitor.db'}")
    upgrade(built)
    with session(built) as s:
        s.execute(
            loan_table.insert(),
            [
                {
                    "loan_id": x["loan_id"],
                    "order_id": f"o-{x['loan_id']}",
                    "gse": x["gse"],
                    "status": x["status"],
                    # no data date, order not read: every loan counts as `unknown`, whatever its dates
                    "imported_at": NOW,
                    "updated_at": NOW,
                }
                for x in LOANS
            ],
        )
        s.execute(
            loan_attribute_table.insert(),
            [
                {"loan_id": x["loan_id"], "key": "program", "value": str(x["program"]).lower()}
                for x in LOANS
                if x["program"] is not None
            ],
        )
    yield built
    with session(built) as s:
        s.execute(delete(loan_attribute_table))
        s.execute(delete(loan_table))
    built.dispose()


def selected_by_sql(engine: Engine, match: dict[str, Any]) -> set[str]:
    """What a pass selects (every loan qualifies but for `match`); its count agrees with what it reports."""
    sel = Selection(match=match, max_age_cutoff=NOW - timedelta(days=30), pre_closing_days=None)
    with session(engine) as s:
        selected = {c.loan_id for c in select_stale(s, sel, now=NOW, limit=None)}
        assert count_selectable(s, sel, now=NOW) == len(selected)
    return selected


def selected_by_core(match: dict[str, Any]) -> set[str]:
    return {x["loan_id"] for x in LOANS if matches(match, {k: v for k, v in x.items() if v is not None})}


NOT_BOOLEAN = [{"gse": 1}, {"gse": 0}, {"gse": "yes"}, {"gse": "no"}, {"gse": "y"}, {"gse": "yes please"}]


@pytest.mark.parametrize(
    "match",
    [
        {},
        {"gse": True},
        {"gse": False},
        {"gse": "true"},
        {"gse": "FALSE"},
        {"gse": [True, False]},
        {"program": "fha"},
        {"program": "FHA"},
        {"program": ["va", "jumbo"]},
        {"program": "usda"},
        {"gse": True, "program": "va"},
        {"status": "active"},
        {"status": "ACTIVE", "gse": False},
        {"loan_id": "g1"},
        # jobs.yaml refuses these (below); should one reach the store, it selects what `loans show` says
        *NOT_BOOLEAN,
    ],
    ids=str,
)
def test_the_store_and_loans_show_select_the_same_loans(engine, match):
    assert selected_by_sql(engine, match) == selected_by_core(match)


@pytest.mark.parametrize("value", [True, False, [True, False]], ids=str)
def test_config_accepts_gse_booleans_and_both_readings_agree_on_them(engine, value):
    policy = parse_config(
        f"policies: [{{name: p, product: income, max_age: 30d, match: {{gse: {str(value).lower()}}}}}]"
    ).policies[0]
    assert policy.match == {"gse": value}
    expected = {x["loan_id"] for x in LOANS if x["gse"] in (value if isinstance(value, list) else [value])}
    assert selected_by_sql(engine, policy.match) == selected_by_core(policy.match) == expected


@pytest.mark.parametrize("match", NOT_BOOLEAN, ids=str)
def test_config_refuses_a_gse_value_that_is_not_true_or_false(match):
    value = match["gse"]
    written = f'"{value}"' if isinstance(value, str) else str(value)
    with pytest.raises(ConfigError, match=r"policies\[0\]\.match\.gse \(line 1\): expected true or false"):
        parse_config(f"policies: [{{name: p, product: income, max_age: 30d, match: {{gse: {written}}}}}]")
