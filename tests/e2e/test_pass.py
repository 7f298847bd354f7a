"""Whole passes over a real database (SQLite file and Postgres) and the in-process sandbox."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.errors import TruvAuthError
from monitor.jobs.plan import Plan
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Faults, Sandbox
from monitor.store.db import session
from monitor.store.tables import Connection, Loan, Reservation
from tests.helpers import accepted_per_token, config, import_csv, seed_loans, services, write_csv


def run_pass(svc, *, job="nightly", wait=30.0, dry_run=False):
    if dry_run:
        return Plan(svc, svc.config.job(job)).run()
    return JobPass(svc, svc.config.job(job), wait_seconds=wait).run()


@pytest.fixture
def sandbox(clock: FixedClock) -> Sandbox:
    return Sandbox(seed=3, clock=clock, completion_delay=5.0)


def setup(db_url, clock, sandbox, tmp_path, specs, **cfg):
    svc = services(db_url, clock, sandbox, config(**cfg))
    import_csv(svc, write_csv(tmp_path / "loans.csv", seed_loans(sandbox, specs, tmp_path, clock)))
    return svc


def test_stale_loans_are_refreshed_and_fresh_ones_left_alone(db_url, clock, sandbox, tmp_path):
    svc = setup(
        db_url,
        clock,
        sandbox,
        tmp_path,
        [
            {"loan_id": "stale", "age_days": 40},
            {"loan_id": "fresh", "age_days": 2},
        ],
    )
    summary = run_pass(svc)
    assert (summary.selected, summary.submitted, summary.completed) == (1, 1, 1)
    refreshed = sandbox.refreshes()
    assert len(refreshed) == 1
    with session(svc.engine) as s:
        loan = s.get(Loan, "stale")
        res = s.execute(select(Reservation)).scalars().one()
    assert res.state == "completed" and res.refresh_order_id == refreshed[0]["created_order_id"]
    assert loan.base_order_id == res.refresh_order_id  # the chain advanced (rule 6)
    assert loan.data_as_of is not None and clock.now() - loan.data_as_of < timedelta(minutes=5)
    # the next pass finds nothing stale and sends no refresh
    again = run_pass(svc)
    assert again.selected == 0 and len(sandbox.refreshes()) == 1


def test_shared_token_never_gets_a_fourth_refresh_in_24h(db_url, clock, sandbox, tmp_path):
    specs = [{"loan_id": f"L{i}", "employers": [("ok", "shared-token")]} for i in range(5)]
    svc = setup(db_url, clock, sandbox, tmp_path, specs)
    first = run_pass(svc)
    assert first.submitted == 3 and first.skipped["token_budget"] == 2
    per_token = accepted_per_token(sandbox)
    assert [len(v) for v in per_token.values()] == [3]
    # 23 h later the token is still spent; at 24 h too, since a use counts from its send time plus the
    # clock-skew margin (5 min, DESIGN.md rule 12); just past that it frees
    clock.advance(23 * 3600)
    assert run_pass(svc).submitted == 0
    clock.advance(3600)
    assert run_pass(svc).submitted == 0
    clock.advance(5 * 60 + 1)
    assert run_pass(svc).submitted == 2


def test_partial_refresh_uses_the_employers_filter(db_url, clock, sandbox, tmp_path):
    specs = [{"loan_id": f"S{i}", "employers": [("ok", "shared")]} for i in range(3)]
    specs.append({"loan_id": "TWO", "employers": [("ok", "shared"), ("ok", "own-token")]})
    svc = setup(db_url, clock, sandbox, tmp_path, specs, concurrency=1)
    summary = run_pass(svc)
    assert summary.submitted == 4 and summary.partial == 1
    two = [e for e in sandbox.refreshes() if len(e["token_hashes"]) == 1 and e["parent_order_id"]]
    tokens = accepted_per_token(sandbox)
    assert sorted(len(v) for v in tokens.values()) == [1, 3]
    assert two


def test_gse_sixth_within_90_days_is_blocked_then_paid(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "G", "gse": True, "age_days": 40}], max_age="1d")
    for _ in range(5):
        assert run_pass(svc).submitted == 1
        clock.advance(2 * 86400)
    blocked = run_pass(svc)
    assert blocked.submitted == 0 and blocked.skipped["gse_budget"] == 1
    assert len(sandbox.refreshes()) == 5
    paid = services(
        str(svc.engine.url.render_as_string(hide_password=False)), clock, sandbox, config(overage="paid", max_age="1d")
    )
    assert run_pass(paid).submitted == 1
    with session(paid.engine) as s:
        newest = s.execute(select(Reservation).order_by(Reservation.reserved_at.desc())).scalars().first()
    assert newest.billable and newest.gse


def test_login_error_marks_reauth_and_stops_refreshing_that_connection(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "B", "employers": [("login_error", None)]}])
    first = run_pass(svc)
    assert first.submitted == 1 and first.needs_reauth == 1 and first.failed["login_error"] == 1
    with session(svc.engine) as s:
        conn = s.execute(select(Connection)).scalars().one()
    assert conn.state == "needs_reauth" and conn.reason == "login_error"
    clock.advance(86400)
    second = run_pass(svc)
    assert second.submitted == 0 and second.skipped["needs_reauth"] == 1
    assert len(sandbox.refreshes()) == 1


def test_provider_unavailable_retries_later_with_backoff(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "U", "employers": [("flaky", None)]}])
    first = run_pass(svc)
    assert first.failed["unavailable"] == 1
    clock.advance(3600)
    assert run_pass(svc).submitted == 0  # backing off (6 h)
    clock.advance(6 * 3600)
    again = run_pass(svc)
    assert again.submitted == 1 and again.completed == 1


def test_employment_order_is_not_refreshed_as_income(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "E", "products": ("employment",)}])
    summary = run_pass(svc)
    assert summary.skipped["product_not_allowed"] == 1 and summary.submitted == 0
    assert sandbox.refreshes() == []


def test_lost_answer_is_reconciled_not_resent(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "D"}])
    sandbox.faults = Faults(drop_after_apply_rate=1.0)
    first = run_pass(svc, wait=0)
    assert first.unknown == 1 and len(sandbox.refreshes()) == 1
    sandbox.faults = Faults()
    second = run_pass(svc)
    assert second.reconciled == 1
    assert len(sandbox.refreshes()) == 1  # never sent twice
    clock.advance(10)
    third = run_pass(svc)
    with session(svc.engine) as s:
        res = s.execute(select(Reservation)).scalars().one()
    assert res.refresh_order_id == sandbox.refreshes()[0]["created_order_id"]
    assert res.state == "completed" and third.submitted == 0


def test_unknown_with_nothing_created_waits_for_grace_then_retries(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "X"}])
    assert run_pass(svc).completed == 1
    clock.advance(31 * 86400)
    sandbox.faults = Faults(error_5xx_rate=1.0)  # 5xx: refused before anything is applied
    first = run_pass(svc, wait=0)
    assert first.unknown == 1 and len(sandbox.refreshes()) == 1
    sandbox.faults = Faults()
    assert run_pass(svc).submitted == 0  # inside the grace period: still unknown, not resent
    clock.advance(11 * 60)
    third = run_pass(svc)
    assert third.submitted == 1 and len(sandbox.refreshes()) == 2
    with session(svc.engine) as s:
        states = sorted(r.state for r in s.execute(select(Reservation)).scalars())
    assert states == ["completed", "completed", "lost"]


def test_auth_failure_stops_the_pass(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": f"A{i}"} for i in range(5)])
    svc.client.http.headers["X-Access-Secret"] = "prod-wrong-environment"
    with pytest.raises(TruvAuthError):
        run_pass(svc)
    # 403 on every call is the key's fault, found within the first 5 calls (DESIGN.md rule 13) ...
    assert len([e for e in sandbox.journal() if e["status"] in (401, 403)]) <= 5
    # ... and no loan is left set aside for it
    with session(svc.engine) as s:
        assert [x.hold for x in s.execute(select(Loan)).scalars()] == [None] * 5


def test_plan_sends_nothing_and_writes_nothing(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "P"}])
    run_pass(svc)  # details known now
    clock.advance(31 * 86400)
    before = len(sandbox.journal())
    plan_svc = services(str(svc.engine.url.render_as_string(hide_password=False)), clock, None)
    summary = run_pass(plan_svc, dry_run=True)
    assert summary.submitted == 1 and len(sandbox.journal()) == before
    with session(svc.engine) as s:
        assert len(s.execute(select(Reservation)).scalars().all()) == 1


def test_max_refreshes_caps_the_pass(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": f"M{i}"} for i in range(6)], max_refreshes=4)
    summary = run_pass(svc)
    assert summary.submitted == 4 and summary.skipped["max_refreshes"] == 2
    assert len(sandbox.refreshes()) == 4


def test_truv_refusal_for_its_limit_blocks_the_token(db_url, clock, sandbox, tmp_path):
    svc = setup(db_url, clock, sandbox, tmp_path, [{"loan_id": "T", "employers": [("ok", "busy-token")]}])
    # three refreshes made outside monitor (the lender's dashboard) spend Truv's limit
    order_id = sandbox.refreshes() or None
    root = next(iter(sandbox.oldest_completed_at()))
    for _ in range(3):
        sandbox.handle(
            "POST",
            f"/v1/orders/{root}/",
            {
                "X-Access-Client-Id": "x",
                "X-Access-Secret": "sandbox-x",
                "Accept": "application/json",
                "Content-Type": "application/json",
            },
            b'{"products": ["income"]}',
        )
    assert order_id is None and len(sandbox.refreshes()) == 3
    summary = run_pass(svc)
    assert summary.skipped["truv_refresh_limit"] == 1
    with session(svc.engine) as s:
        conn = s.execute(select(Connection)).scalars().one()
    assert conn.blocked_until is not None and conn.blocked_until > clock.now() + timedelta(hours=23)
    clock.advance(3600)
    assert run_pass(svc).skipped["token_budget"] == 1
    assert len(sandbox.refreshes()) == 3
