"""A Bridge update-mode token asks for the connection's own product (issue 21 point 8; truv-api.md 6)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

import pytest

from monitor.config import parse_config
from monitor.core.products import bridge_product
from monitor.jobs.reauth import create_tokens
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.sandbox import wire as sandbox_wire
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 1}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
  - {name: assets-10d, match: {}, product: assets, max_age: 10d}
jobs:
  - {name: income, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 100}
  - {name: assets, schedule: "0 3 * * *", policies: [assets-10d], max_refreshes: 100}
"""


@pytest.mark.parametrize(
    ("kind", "products", "expected"),
    [
        ("employer", ["income"], "income"),
        ("employer", ["income", "assets"], "income"),
        ("employer", ["employment"], "employment"),
        ("account", ["assets"], "assets"),
        ("account", ["income", "assets"], "assets"),
        ("account", ["transactions"], "transactions"),
        ("insurance", ["insurance"], "insurance"),
    ],
)
def test_the_bridge_product_of_a_connection(kind, products, expected):
    assert bridge_product(kind, products) == expected


class RecordingSandbox(Sandbox):
    token_requests: list[dict[str, object]]

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = ""
    ) -> sandbox_wire.Response:
        if method.upper() == "POST" and "/users/" in path:
            self.token_requests.append(json.loads(body))
        return super().handle(method, path, headers, body, query)


def test_a_financial_accounts_token_asks_for_assets_and_an_employers_for_income(db_url, clock, tmp_path):
    sandbox = RecordingSandbox(seed=51, clock=clock, completion_delay=1.0)
    sandbox.token_requests = []
    order = sandbox.add_order(
        products=("income", "assets"),
        employers=[EmployerSpec(access_token="job", scenario="login_error")],
        financial_accounts=[EmployerSpec(access_token="bank", scenario="login_error")],
        created_at=clock.now() - timedelta(days=45),
    )
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", [{"loan_id": "L1", "order_id": order["id"]}]))
    for job in ("income", "assets"):
        assert JobPass(svc, svc.config.job(job), wait_seconds=30.0).run().needs_reauth == 1
    tokens = create_tokens(svc, loan_id="L1")
    assert sorted(t["product"] for t in tokens) == ["assets", "income"]
    assert sorted(str(r["product_type"]) for r in sandbox.token_requests) == ["assets", "income"]
    assert all("bridge_token" in t for t in tokens)
