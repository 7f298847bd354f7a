"""A refresh Truv refuses outright made no order, so it spends nothing (DESIGN.md rule 15, truv-api.md 10).

Truv's refusal here is its documented error body (400 `incorrect_parameters`), answered for chosen orders
by a sandbox that otherwise behaves as usual; the budgets are read back through the ledger's own views.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import update

from monitor.config import parse_config
from monitor.core.budget import Limits
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.sandbox import wire as sandbox_wire
from monitor.store import usage
from monitor.store.db import session
from monitor.store.tables import loan_table
from monitor.truv.secrets import token_hash
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 1}
budgets: {per_token_per_24h: 3, gse_per_90d: 5, gse_overage: block}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
  - {name: gse-weekly, match: {gse: true}, product: income, max_age: 7d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 100}
  - {name: gse, schedule: "0 2 * * *", policies: [gse-weekly], max_refreshes: 100}
"""


class RefusingSandbox(Sandbox):
    """Answers a refresh POST to the orders in `refuse` with Truv's documented 400 error body."""

    refuse: set[str]

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = ""
    ) -> sandbox_wire.Response:
        order_id = path.strip("/").split("/")[-1]
        if method.upper() == "POST" and order_id in getattr(self, "refuse", set()):
            return sandbox_wire.bad_request("The order cannot be refreshed", [{"field": "products", "message": "x"}])
        return super().handle(method, path, headers, body, query)


def run(svc, job: str = "nightly"):
    return JobPass(svc, svc.config.job(job), wait_seconds=30.0).run()


def test_four_loans_on_one_token_the_first_refused_the_other_three_refreshed(db_url, clock, tmp_path):
    sandbox = RefusingSandbox(seed=31, clock=clock, completion_delay=1.0)
    old = clock.now() - timedelta(days=45)
    orders = [sandbox.add_order(employers=[EmployerSpec(access_token="shared")], created_at=old) for _ in range(4)]
    sandbox.refuse = {orders[0]["id"]}
    rows = [
        # The refused loan closes first, so it is the first one the pass works.
        {"loan_id": f"L{i}", "order_id": o["id"], "closing_date": (clock.now() + timedelta(days=10 + i)).date()}
        for i, o in enumerate(orders)
    ]
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    first = run(svc)
    assert first.skipped.get("truv_refused") == 1
    refreshed = {e["parent_order_id"] for e in sandbox.refreshes()}
    assert refreshed == {o["id"] for o in orders[1:]}  # the refusal did not take one of the token's 3
    with session(svc.engine) as s:
        uses = usage.token_uses(s, now=clock.now(), tokens=[token_hash("shared")])
    assert len(uses[token_hash("shared")]) == 3


def test_a_gse_loan_refused_on_six_nights_then_accepted_keeps_its_five_free(db_url, clock, tmp_path):
    sandbox = RefusingSandbox(seed=32, clock=clock, completion_delay=1.0)
    order = sandbox.add_order(employers=[EmployerSpec(access_token="gse-token")], created_at=clock.now())
    sandbox.refuse = {order["id"]}
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", [{"loan_id": "G1", "order_id": order["id"], "gse": "true"}]))
    start = clock.now() + timedelta(days=8)
    refusals = 0
    for night in range(6):
        clock.set(start + timedelta(days=night))
        # After each refusal the loan waits (1 day, 3 days, then a person); the operator releases it each
        # night so that Truv refuses it six nights in a row.
        with session(svc.engine) as s:
            s.execute(
                update(loan_table)
                .where(loan_table.c.loan_id == "G1")
                .values(hold=None, hold_reason=None, next_attempt_at=None)
            )
        refusals += run(svc, "gse").skipped.get("truv_refused", 0)
    assert refusals == 6 and sandbox.refreshes() == []
    sandbox.refuse = set()
    clock.set(start + timedelta(days=6))
    with session(svc.engine) as s:
        s.execute(update(loan_table).where(loan_table.c.loan_id == "G1").values(hold=None, next_attempt_at=None))
    assert run(svc, "gse").submitted == 1
    with session(svc.engine) as s:
        terms = usage.gse_standing(s, limits=Limits(), now=clock.now(), loan_id="G1")["G1"]
        billable = usage.billable_uses(s, now=clock.now())
    assert (terms.used, terms.free_left, terms.in_window) == (1, 4, True)
    assert billable == []  # no refusal was billed either
