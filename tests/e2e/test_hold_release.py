"""`monitor loans hold|release` (issue 24 point 13): an operator sets a loan aside and lets it go, audited."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Sandbox
from monitor.store.db import session
from monitor.store.tables import Event, Loan
from tests.helpers import import_csv, services, write_csv

CONFIG = """\
truv: {requests_per_minute: 100000, concurrency: 1}
policies:
  - {name: income-30d, match: {}, product: income, max_age: 30d}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [income-30d], max_refreshes: 100}
"""


def cli(tmp_path, db_url, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "jobs.yaml").write_text(CONFIG, encoding="utf-8")
    base = [sys.executable, "-m", "monitor", "--config", str(tmp_path / "jobs.yaml"), "--database", db_url]
    return subprocess.run([*base, *args], capture_output=True, text=True, timeout=120, check=False)


def test_a_held_loan_is_not_refreshed_until_released(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=81, clock=clock, completion_delay=1.0)
    order = sandbox.add_order(created_at=clock.now() - timedelta(days=45))
    svc = services(db_url, clock, sandbox, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", [{"loan_id": "L1", "order_id": order["id"]}]))

    held = cli(tmp_path, db_url, "loans", "hold", "L1", "--reason", "borrower disputes employer")
    assert held.returncode == 0, held.stderr
    assert JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run().submitted == 0
    shown = json.loads(cli(tmp_path, db_url, "loans", "show", "L1", "--json").stdout)["loan"]
    assert (shown["hold"], shown["hold_reason"], shown["attention"]) == (
        "manual_review",
        "operator_hold",
        "borrower disputes employer",
    )

    released = cli(tmp_path, db_url, "loans", "release", "L1", "--reason", "dispute settled")
    assert released.returncode == 0 and "released from manual_review" in released.stdout
    assert JobPass(svc, svc.config.job("nightly"), wait_seconds=0).run().submitted == 1
    with session(svc.engine) as s:
        kinds = [e.kind for e in s.execute(select(Event).order_by(Event.id)).scalars()]
        assert s.get(Loan, "L1").hold is None
    assert kinds.count("held") == 1 and kinds.count("released") == 1


def test_bad_hold_input_is_exit_2_and_changes_nothing(db_url, clock, tmp_path):
    svc = services(db_url, clock, None, parse_config(CONFIG))
    import_csv(svc, write_csv(tmp_path / "loans.csv", [{"loan_id": "L1", "order_id": "o1"}]))
    missing = cli(tmp_path, db_url, "loans", "hold", "NOPE", "--reason", "x")
    assert missing.returncode == 2 and "NOPE" in missing.stderr and "Traceback" not in missing.stderr
    blank = cli(tmp_path, db_url, "loans", "hold", "L1", "--reason", "  ")
    assert blank.returncode == 2 and "--reason" in blank.stderr
    with session(svc.engine) as s:
        assert s.get(Loan, "L1").hold is None
