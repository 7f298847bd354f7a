"""New report ids are handed off as each connection of a refresh completes (issue 21 point 4).

Truv: "A new VOIE or VOA report ID is generated after every additional connection reaches completed
status". Here employer B of a two-employer refresh is still running while A has completed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs import outcomes
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.sandbox import wire as sandbox_wire
from monitor.store.db import session
from monitor.store.tables import Outbox
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 1}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 100}
"""


class SlowSecondEmployer(Sandbox):
    """While `b_running`, a refresh order shows its second employer still pending (and no completed_at)."""

    b_running = True

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = ""
    ) -> sandbox_wire.Response:
        answer = super().handle(method, path, headers, body, query)
        if not self.b_running or method.upper() != "GET" or answer.status != 200:
            return answer
        order = answer.json()
        if not isinstance(order, dict) or not order.get("initial_order") or len(order.get("employers", [])) < 2:
            return answer
        order["employers"][1] = {**order["employers"][1], "status": "pending", "last_task_status": None}
        order["completed_at"] = None
        return sandbox_wire.json_response(200, order)


def handoffs(svc) -> list[dict]:
    with session(svc.engine) as s:
        return [json.loads(p) for p in s.execute(select(Outbox.payload).order_by(Outbox.id)).scalars()]


def test_a_report_id_is_handed_off_when_the_first_connection_completes(db_url, clock, tmp_path):
    sandbox = SlowSecondEmployer(seed=71, clock=clock, completion_delay=1.0)
    order = sandbox.add_order(
        employers=[EmployerSpec(access_token="a"), EmployerSpec(access_token="b")],
        created_at=clock.now() - timedelta(days=45),
    )
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", [{"loan_id": "TWO", "order_id": order["id"]}]))
    summary = JobPass(svc, svc.config.job("nightly"), wait_seconds=10.0).run()
    assert summary.submitted == 1 and summary.completed == 0
    partial = [h for h in handoffs(svc) if h["type"] == "refresh.report_ids"]
    refresh_id = sandbox.refreshes()[0]["created_order_id"]
    voie = sandbox.order(refresh_id)["voie_report_id"]
    assert voie and [(h["refresh_order_id"], h["voie_report_id"]) for h in partial] == [(refresh_id, voie)]
    outcomes.poll(svc)  # read again, nothing new: no second hand-off
    assert len([h for h in handoffs(svc) if h["type"] == "refresh.report_ids"]) == 1
    sandbox.b_running = False
    clock.advance(60)
    assert outcomes.poll(svc).completed == 1
    done = [h for h in handoffs(svc) if h["type"] == "refresh.completed"]
    assert [h["voie_report_id"] for h in done] == [voie]
