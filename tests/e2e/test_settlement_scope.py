"""Settlement credits only what the refresh asked for (issue 21 point 5; DESIGN.md rules 1 and 6).

A refresh limited to some employers by the `employers` filter may come back as a refresh order that
lists others too; those get no new data date and do not hold the refresh open.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.sandbox import wire as sandbox_wire
from monitor.store.db import session
from monitor.store.tables import LoanConnection, Reservation
from monitor.truv.secrets import token_hash
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 1}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 100}
"""


class ChattySandbox(Sandbox):
    """Its refresh orders also list `extra`, an employer nobody asked to refresh, in `extra_status`."""

    extra: dict[str, object] | None = None
    extra_status = "completed"
    main_order = ""

    def handle(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, query: str = ""
    ) -> sandbox_wire.Response:
        answer = super().handle(method, path, headers, body, query)
        if answer.status != 200 or self.extra is None or not path.startswith("/v1/orders/"):
            return answer
        order = answer.json()
        if not isinstance(order, dict) or order.get("initial_order") != self.main_order:
            return answer
        order["employers"] = [*order.get("employers", []), {**self.extra, "status": self.extra_status}]
        return sandbox_wire.json_response(200, order)


def world(db_url, clock, tmp_path, extra_status: str):
    sandbox = ChattySandbox(seed=41, clock=clock, completion_delay=1.0)
    old = clock.now() - timedelta(days=45)
    main = sandbox.add_order(
        employers=[EmployerSpec(access_token="tok-a"), EmployerSpec(access_token="tok-b")], created_at=old
    )
    # Three loans on tok-b close sooner and take its three refreshes of the day: the main loan's refresh
    # then asks for employer A alone.
    others = [sandbox.add_order(employers=[EmployerSpec(access_token="tok-b")], created_at=old) for _ in range(3)]
    b_suborder = main["employers"][1]
    # As Truv documents a suborder: `created_at` is its only time (the refresh order's `completed_at` dates it).
    undocumented = ("completed_at", "updated_at", "finished_at", "last_task_status")
    sandbox.extra = {**{k: v for k, v in b_suborder.items() if k not in undocumented}, "id": "refresh-side-b"}
    sandbox.extra_status = extra_status
    sandbox.main_order = main["id"]
    rows = [{"loan_id": "MAIN", "order_id": main["id"], "closing_date": (clock.now() + timedelta(days=30)).date()}]
    rows += [
        {"loan_id": f"B{i}", "order_id": o["id"], "closing_date": (clock.now() + timedelta(days=5 + i)).date()}
        for i, o in enumerate(others)
    ]
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    return sandbox, svc


def dates(svc) -> dict[str, object]:
    with session(svc.engine) as s:
        rows = s.execute(
            select(LoanConnection.token_hash, LoanConnection.data_as_of).where(LoanConnection.loan_id == "MAIN")
        ).all()
    return dict(rows)


def test_a_suborder_not_asked_for_gets_no_new_data_date(db_url, clock, tmp_path):
    sandbox, svc = world(db_url, clock, tmp_path, "completed")
    JobPass(svc, svc.config.job("nightly"), wait_seconds=30.0).run()
    main_refresh = [e for e in sandbox.refreshes() if e["token_hashes"] == [token_hash("tok-a")]]
    assert len(main_refresh) == 1  # only tok-a was asked for: tok-b had its three of the day
    got = dates(svc)
    assert got[token_hash("tok-a")] > clock.now() - timedelta(days=1)  # refreshed
    assert got[token_hash("tok-b")] < clock.now() - timedelta(days=40)  # listed, completed, not asked for
    with session(svc.engine) as s:
        state = s.execute(select(Reservation.state).where(Reservation.loan_id == "MAIN")).scalar_one()
    assert state == "completed"


def test_a_pending_suborder_not_asked_for_does_not_hold_the_refresh_open(db_url, clock, tmp_path):
    _, svc = world(db_url, clock, tmp_path, "pending")
    summary = JobPass(svc, svc.config.job("nightly"), wait_seconds=30.0).run()
    assert summary.completed == 4
    with session(svc.engine) as s:
        state = s.execute(select(Reservation.state).where(Reservation.loan_id == "MAIN")).scalar_one()
    assert state == "completed"
