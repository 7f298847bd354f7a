"""Attributes keep the case the loans file gave them and match a policy whatever its case (issue 24 point
12): `Austin` is shown as `Austin`, and `match: {city: [austin]}` (or `[AUSTIN]`) selects it, in SQL and
in core.matching alike, on both databases."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from monitor.config import parse_config
from monitor.core.matching import matches
from monitor.store.db import session
from monitor.store.loan_match import match_clause
from monitor.store.loan_rows import attributes
from monitor.store.tables import loan_table
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
loans: {attributes: [city]}
policies:
  - {name: lower, match: {city: [austin]}, product: income, max_age: 30d}
  - {name: upper, match: {city: AUSTIN}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [lower, upper]}
"""


def test_case_is_kept_and_matching_ignores_it(db_url, clock, tmp_path: Path) -> None:
    cfg = parse_config(CONFIG, "jobs.yaml")
    svc = services(db_url, clock, None, cfg)
    rows = [
        {"loan_id": "A1", "order_id": "o1", "city": "Austin"},
        {"loan_id": "A2", "order_id": "o2", "city": "austin"},
        {"loan_id": "D1", "order_id": "o3", "city": "Dallas"},
    ]
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    with session(svc.engine) as s:
        shown = attributes(s)
        assert {loan: a["city"] for loan, a in shown.items()} == {"A1": "Austin", "A2": "austin", "D1": "Dallas"}
        for policy in cfg.policies:
            selected = s.execute(select(loan_table.c.loan_id).where(match_clause(policy.match))).scalars().all()
            assert sorted(selected) == ["A1", "A2"], policy.name
            # core.matching (loans show, the report's evidence) agrees with the SQL on the shown values
            assert sorted(loan for loan, a in shown.items() if matches(policy.match, a)) == ["A1", "A2"]
