"""Every sandbox fault, alone and mixed: the pass finishes, records each outcome, and converges.

In-process transport and a fixed clock (slow answers raise the client's timeout without waiting);
the sandbox's journal is the oracle.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Faults, Sandbox
from monitor.store.db import session
from monitor.store.tables import Reservation
from tests.conftest import T0
from tests.helpers import import_csv, seed_loans, services, write_csv

FAULTS = {
    "5xx": "5xx=0.3",
    "429 without Retry-After": "429=0.3",
    "429 with Retry-After": "429=0.3,retry_after=2",
    "slow past the timeout": "slow=0.3:60",
    "applied then dropped": "drop=0.5",
    "malformed JSON": "malformed=0.3",
    "404 for an order": "404=0.15",
    "all mixed": "5xx=0.1,429=0.1,retry_after=1,slow=0.1:60,drop=0.2,malformed=0.1,404=0.05",
}
SETTLED = {"completed", "failed", "lost", "refused", "released"}


def per_token_24h_max(created: list[dict]) -> int:
    uses: dict[str, list[datetime]] = defaultdict(list)
    for e in created:
        for t in e["token_hashes"]:
            uses[t].append(datetime.fromisoformat(e["at"].replace("Z", "+00:00")))
    worst = 0
    for times in uses.values():
        times.sort()
        for i, start in enumerate(times):
            worst = max(worst, sum(1 for t in times[i:] if t - start < timedelta(hours=24)))
    return worst


def run(svc):
    return JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()


@pytest.mark.parametrize("spec", list(FAULTS.values()), ids=list(FAULTS))
def test_fault(spec, sqlite_url, tmp_path):
    check_fault(spec, sqlite_url, tmp_path)


@pytest.mark.postgres
def test_mixed_faults_on_postgres(pg_url, tmp_path):
    check_fault(FAULTS["all mixed"], pg_url, tmp_path)


def check_fault(spec: str, db_url: str, tmp_path) -> None:
    clock = FixedClock(T0)
    sandbox = Sandbox(seed=21, clock=clock, completion_delay=5.0)
    specs = [{"loan_id": f"O{i}"} for i in range(12)]
    specs += [{"loan_id": f"S{i}", "employers": [("ok", f"shared-{i % 2}")]} for i in range(8)]
    svc = services(db_url, clock, sandbox)
    import_csv(svc, write_csv(tmp_path / "loans.csv", seed_loans(sandbox, specs, tmp_path, clock)))

    sandbox.faults = Faults.parse(spec + ",seed=4")
    faulty = run(svc)
    assert faulty.status == "finished"
    with session(svc.engine) as s:
        states = Counter(s.execute(select(Reservation.state)).scalars())
    # the pass finished, so each reservation it made has a recorded state: nothing is left "reserved"
    assert set(states) <= SETTLED | {"unknown", "accepted"}, states
    assert any(e.get("fault") for e in sandbox.journal()), "the fault was never injected"

    # Truv is healthy again: later passes (after the reconcile grace and a day) converge
    sandbox.faults = Faults()
    for hours in (0.2, 25, 1, 1):
        clock.advance(hours * 3600)
        assert run(svc).status == "finished"
    created = sandbox.refreshes()
    per_parent = Counter(e["parent_order_id"] for e in created)
    assert max(per_parent.values()) == 1, "a loan was refreshed twice for one staleness"
    assert len(per_parent) == 20, "every stale loan was refreshed once in the end"
    assert per_token_24h_max(created) <= 3
    assert [e for e in sandbox.journal() if e["status"] == 400] == []
    with session(svc.engine) as s:
        rows = s.execute(select(Reservation)).scalars().all()
    assert {e["created_order_id"] for e in created} <= {r.refresh_order_id for r in rows}
    assert all(r.state in SETTLED for r in rows), Counter(r.state for r in rows)
