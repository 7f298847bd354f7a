"""Hypothesis: random interleavings of passes (reserve, send), lost connections, 5xx and clock jumps
never make monitor ask for more than the budget, and every refresh Truv created ends in the ledger."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Faults, Sandbox
from monitor.store.db import session
from monitor.store.tables import Reservation
from tests.conftest import T0
from tests.e2e.test_fault_matrix import per_token_24h_max
from tests.helpers import config, import_csv, seed_loans, services, write_csv

FAULTS = ["", "drop=0.5", "5xx=0.5", "drop=0.3,5xx=0.3,malformed=0.2", "slow=0.5:60", "429=0.5,retry_after=1"]
step = st.one_of(
    st.tuples(st.just("pass"), st.sampled_from(FAULTS), st.integers(0, 10_000)),
    st.tuples(st.just("advance"), st.sampled_from([5, 60, 11 * 60, 3600, 6 * 3600, 23 * 3600, 25 * 3600]), st.just(0)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(step, min_size=3, max_size=12))
def test_random_interleavings_never_overspend(steps):
    with tempfile.TemporaryDirectory() as tmp:
        clock = FixedClock(T0)
        sandbox = Sandbox(seed=31, clock=clock, completion_delay=5.0)
        specs = [{"loan_id": f"K{i}", "employers": [("ok", "one-token")], "gse": i % 2 == 0} for i in range(5)]
        specs += [{"loan_id": "SOLO"}]
        svc = services(f"sqlite:///{Path(tmp) / 'p.db'}", clock, sandbox, config(max_age="1h"))
        import_csv(svc, write_csv(Path(tmp) / "l.csv", seed_loans(sandbox, specs, Path(tmp), clock)))
        for kind, value, seed in steps:
            if kind == "advance":
                clock.advance(value)
                continue
            sandbox.faults = Faults.parse(f"{value},seed={seed}") if value else Faults()
            JobPass(svc, svc.config.job("nightly"), wait_seconds=10).run()
        # Truv healthy again, the grace period over: settle everything
        sandbox.faults = Faults()
        clock.advance(11 * 60)
        JobPass(svc, svc.config.job("nightly"), wait_seconds=10).run()

        created = sandbox.refreshes()
        assert per_token_24h_max(created) <= 3
        assert [e for e in sandbox.journal() if e["status"] == 400] == []  # Truv never had to refuse
        # a run spans under 90 days, so a GSE loan's whole count must stay within 5 (gse_overage: block)
        per_loan = Counter(sandbox.order(e["parent_order_id"])["order_number"] for e in created)
        assert all(per_loan[f"K{i}"] <= 5 for i in range(0, 5, 2))
        with session(svc.engine) as s:
            ledgered = {r.refresh_order_id for r in s.execute(select(Reservation)).scalars()}
        assert {e["created_order_id"] for e in created} <= ledgered
        svc.engine.dispose()
