"""`loans list` decides in SQL which loans match and are stale; the answer must be the one the rules
in Python give loan by loan (core.matching + core.staleness), on both databases, page after page."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from monitor.config import parse_config
from monitor.core.matching import matches
from monitor.core.staleness import assess
from monitor.reports.loan_view import loan_list
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
loans: {attributes: [program]}
policies:
  - {name: fha, match: {program: [fha]}, product: income, max_age: 30d, pre_closing_business_days: 10}
  - {name: gse, match: {gse: true}, product: income, max_age: 60d}
  - {name: all, match: {}, product: income, max_age: 90d, pre_closing_business_days: 5}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [fha, gse, all]}
"""


def _portfolio(n: int, now, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        age = timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 23))
        closing = now.date() + timedelta(days=rng.randint(-3, 25)) if rng.random() < 0.7 else None
        rows.append(
            {
                "loan_id": f"P{i:04d}",
                "order_id": f"o{i:04d}",
                "gse": rng.choice(["true", "false"]),
                "status": "active",
                "closing_date": closing.isoformat() if closing else "",
                "data_as_of": (now - age).isoformat() if rng.random() < 0.9 else "",
                "program": rng.choice(["fha", "va", "conventional"]),
            }
        )
    return rows


@pytest.mark.parametrize("seed", [1, 2])
def test_the_sql_listing_agrees_with_the_rules_loan_by_loan(db_url, clock, tmp_path, seed):
    cfg = parse_config(CONFIG)
    svc = services(db_url, clock, None, cfg)
    rows = _portfolio(240, clock.now(), seed)
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    now = clock.now()

    def stale_for(row: dict[str, str], policy) -> bool:
        fields = {
            "gse": row["gse"] == "true",
            "status": "active",
            "loan_id": row["loan_id"],
            "order_id": row["order_id"],
            "program": row["program"],
        }
        if not matches(policy.match, fields) or not row["data_as_of"]:
            return False  # an unknown date before the order is read is not stale (rule 11)
        from datetime import date, datetime

        return assess(
            data_as_of=datetime.fromisoformat(row["data_as_of"]),
            closing_date=date.fromisoformat(row["closing_date"]) if row["closing_date"] else None,
            max_age=policy.max_age,
            pre_closing_business_days=policy.pre_closing_business_days,
            now=now,
        ).stale

    for policy_name in (None, "fha", "gse", "all"):
        policies = [p for p in cfg.policies if policy_name in (None, p.name)]
        want = sorted(r["loan_id"] for r in rows if any(stale_for(r, p) for p in policies))
        assert 0 < len(want) < len(rows)  # the filter keeps some and drops some: the comparison can fail
        got, offset = [], 0
        while True:
            view = loan_list(svc, now=now, stale=True, policy=policy_name, limit=37, offset=offset)
            assert view["total"] == len(want), policy_name
            got += [r["loan_id"] for r in view["loans"]]
            offset += 37
            if not view["truncated"]:
                break
        assert got == want, policy_name
        for r in view["loans"]:  # each listed row names the policies it is stale for, as the rules say
            row = next(x for x in rows if x["loan_id"] == r["loan_id"])
            assert r["stale_for"] == [p.name for p in policies if stale_for(row, p)]
    fha = loan_list(svc, now=now, policy="fha", limit=1000)
    assert [r["loan_id"] for r in fha["loans"]] == sorted(r["loan_id"] for r in rows if r["program"] == "fha")
    some = {rows[3]["loan_id"], rows[7]["loan_id"], "NOT-A-LOAN"}
    assert [r["loan_id"] for r in loan_list(svc, now=now, among=some)["loans"]] == sorted(some - {"NOT-A-LOAN"})
