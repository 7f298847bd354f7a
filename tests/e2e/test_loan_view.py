"""`monitor loans show` / `loans list` / `ledger` filters (issue 14, points 1 and 9).

The decision `loans show` gives for each loan is checked against what the next pass really does:
a reservation (refreshed), a `skipped` audit entry and its reason, or nothing (not stale).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor.clock import FixedClock
from monitor.errors import InputError
from monitor.jobs.refresh_pass import JobPass
from monitor.reports.ledger_view import ledger_view
from monitor.reports.loan_view import loan_list, loan_show
from monitor.sandbox import Sandbox
from monitor.store.db import session
from monitor.store.tables import Event, Loan, Reservation
from tests.e2e.test_cli import monitor
from tests.helpers import CONFIG, import_csv, seed_loans, services, write_csv

SPECS = [
    {"loan_id": "L-OK", "employers": [("ok", "tok-ok")], "gse": True},
    {"loan_id": "L-FRESH", "employers": [("ok", "tok-fresh")], "age_days": 3},
    {"loan_id": "L-EMP", "employers": [("ok", "tok-emp")], "products": ("employment",)},
    {"loan_id": "L-REAUTH", "employers": [("login_error", "tok-reauth")]},
    {"loan_id": "L-HELD", "employers": [("login_error", "tok-held")]},
    *({"loan_id": f"L-SH{i}", "employers": [("ok", "tok-shared")], "gse": True} for i in range(4)),
]


def run(svc, wait: float = 30.0):
    return JobPass(svc, svc.config.job("nightly"), wait_seconds=wait).run()


def world(db_url, clock, tmp_path):
    sandbox = Sandbox(seed=11, clock=clock, completion_delay=5.0)
    svc = services(db_url, clock, sandbox)
    import_csv(svc, write_csv(tmp_path / "loans.csv", seed_loans(sandbox, SPECS, tmp_path, clock)))
    return svc


def predicted(svc) -> dict[str, dict]:
    out = {}
    with session(svc.engine) as s:
        ids = list(s.execute(select(Loan.loan_id)).scalars())
    for loan_id in ids:
        view = loan_show(svc, loan_id, now=svc.clock.now())
        [decision] = view["decisions"]  # one policy in tests.helpers.CONFIG
        out[loan_id] = decision
    return out


def observed(svc, before: datetime) -> dict[str, str]:
    """What the pass did per loan: `refresh`, a skip reason, or nothing."""
    out: dict[str, str] = {}
    with session(svc.engine) as s:
        for loan_id in s.execute(select(Reservation.loan_id).where(Reservation.reserved_at >= before)).scalars():
            out[loan_id] = "refresh"
        for loan_id, detail in s.execute(
            select(Event.loan_id, Event.detail).where(Event.kind == "skipped", Event.at >= before)
        ):
            out.setdefault(loan_id, json.loads(detail)["reason"])
    return out


def assert_agree(svc) -> dict[str, dict]:
    want = predicted(svc)
    before = svc.clock.now()
    summary = run(svc)
    got = observed(svc, before)
    held = 0
    for loan_id, d in want.items():
        if d["decision"] == "refresh":
            assert got.get(loan_id) == "refresh", (loan_id, d, got.get(loan_id))
        elif d["decision"] == "skip" and d["reason"] in ("on_hold", "in_flight", "retry_backoff"):
            held += d["reason"] == "on_hold"  # counted by the pass, no audit entry per loan
            assert loan_id not in got, (loan_id, d, got.get(loan_id))
        elif d["decision"] == "skip":
            assert got.get(loan_id) == d["reason"], (loan_id, d, got.get(loan_id))
        else:
            assert d["decision"] == "none" and loan_id not in got, (loan_id, d, got.get(loan_id))
    assert summary.skipped.get("on_hold", 0) == held
    return want


def test_loans_show_decision_is_what_the_next_pass_does(db_url, clock, tmp_path):
    svc = world(db_url, clock, tmp_path)
    first = predicted(svc)
    assert {d["decision"] for d in first.values()} <= {"read_order", "none"}  # orders are read first
    assert first["L-FRESH"]["decision"] == "none"  # imported date 3 days old: nothing to read
    run(svc)
    with session(svc.engine) as s:  # set aside by a person after the first pass
        held = s.get(Loan, "L-HELD")
        held.hold, held.hold_reason, held.hold_since = "manual_review", "forbidden", clock.now()

    clock.set(clock.now() + timedelta(hours=1))
    want = assert_agree(svc)
    assert (want["L-HELD"]["decision"], want["L-HELD"]["reason"]) == ("skip", "on_hold")
    assert want["L-REAUTH"]["reason"] == "needs_reauth"
    assert want["L-OK"]["reason"] == "not_stale"
    assert want["L-OK"]["next_eligible"] is not None
    assert want["L-EMP"]["reason"] == "product_not_allowed"
    shared = [want[f"L-SH{i}"] for i in range(4)]
    assert [d["reason"] for d in shared].count("token_budget") == 1  # three refreshed on the shared token
    [blocked] = [d for d in shared if d["reason"] == "token_budget"]
    assert blocked["next_eligible"] > clock.now()

    # Past the token's window the blocked loan is refreshed, as predicted.
    clock.set(blocked["next_eligible"] + timedelta(minutes=1))
    want = assert_agree(svc)
    assert [want[f"L-SH{i}"]["decision"] for i in range(4)].count("refresh") == 1

    view = loan_show(svc, "L-SH0", now=clock.now())
    assert view["policies"] == ["income-30d"]
    assert view["connections"][0]["kind"] == "employer"
    assert view["connections"][0]["uses_24h"] >= 1
    assert view["orders"] and view["outcomes"] and view["timeline"]
    assert view["timeline"][0]["at"] >= view["timeline"][-1]["at"]  # newest first


def test_loans_list_filters(db_url, clock, tmp_path):
    svc = world(db_url, clock, tmp_path)
    run(svc)
    clock.set(clock.now() + timedelta(hours=1))
    everything = loan_list(svc, now=clock.now())
    assert everything["total"] == len(SPECS) and not everything["truncated"]
    assert {r["loan_id"] for r in loan_list(svc, now=clock.now(), reason="product_not_allowed")["loans"]} == {"L-EMP"}
    stale = {r["loan_id"] for r in loan_list(svc, now=clock.now(), stale=True)["loans"]}
    assert "L-FRESH" not in stale and "L-OK" not in stale
    assert "L-EMP" in stale
    cut = loan_list(svc, now=clock.now(), limit=2)
    assert len(cut["loans"]) == 2 and cut["total"] == len(SPECS) and cut["truncated"]
    assert loan_list(svc, now=clock.now(), policy="income-30d")["total"] == len(SPECS)
    with pytest.raises(InputError):
        loan_list(svc, now=clock.now(), policy="nope")


def test_ledger_unknown_loan_and_limit_on_every_section(db_url, clock, tmp_path):
    svc = world(db_url, clock, tmp_path)
    run(svc)
    with pytest.raises(InputError, match="no such loan"):
        ledger_view(svc, loan_id="NOPE", limit=10, now=clock.now())
    view = ledger_view(svc, loan_id=None, limit=2, now=clock.now())
    assert {k: len(view[k]) for k in ("reservations", "tokens", "gse_loans")} == {
        "reservations": 2,
        "tokens": 2,
        "gse_loans": 2,
    }
    assert all(view["truncated"].values())
    assert view["totals"]["reservations"] > 2 and view["totals"]["gse_loans"] == 4  # L-OK and three on the shared token
    exhausted = ledger_view(svc, loan_id=None, limit=50, now=clock.now(), exhausted=True)
    assert [t["used_24h"] for t in exhausted["tokens"]] == [3]
    prefix = exhausted["tokens"][0]["token"][:6]
    only = ledger_view(svc, loan_id=None, limit=50, now=clock.now(), token=prefix)
    assert [t["token"][:6] for t in only["tokens"]] == [prefix]
    assert len(only["reservations"]) == 3
    later = ledger_view(svc, loan_id=None, limit=50, now=clock.now(), since=clock.now() + timedelta(days=1))
    assert later["reservations"] == [] and later["totals"]["reservations"] == 0


def test_cli_exit_codes_and_json(tmp_path):
    """The real CLI in a subprocess (its clock is the system's: the world is built at the real now)."""
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2))
    db = tmp_path / "monitor.db"
    url = f"sqlite:///{db}"
    svc = world(url, clock, tmp_path)
    run(svc)
    (tmp_path / "jobs.yaml").write_text(
        CONFIG.replace("OVERAGE", "block").replace("CONCURRENCY", "2").replace("MAXREF", "100").replace("MAXAGE", "30d")
    )
    base = ("--database", url)
    for args in (("loans", "show", "NOPE"), ("ledger", "--loan", "NOPE")):
        result = monitor(*base, *args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert result.stderr.strip() == "error: loan: NOPE: no such loan (see monitor loans list)"
        assert result.stdout == ""
    shown = monitor(*base, "loans", "show", "L-SH0", "--json", cwd=tmp_path)
    assert shown.returncode == 0, shown.stderr
    data = json.loads(shown.stdout)
    assert data["loan"]["loan_id"] == "L-SH0" and data["policies"] == ["income-30d"]
    assert monitor(*base, "loans", "show", "L-SH0", cwd=tmp_path).returncode == 0
    listed = monitor(*base, "loans", "list", "--limit", "3", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["truncated"] is True
    assert monitor(*base, "loans", "list", cwd=tmp_path).returncode == 0

    ledger = monitor(*base, "ledger", "--limit", "2", "--json", cwd=tmp_path)
    assert ledger.returncode == 0, ledger.stderr
    out = json.loads(ledger.stdout)
    assert {"reservations", "tokens", "gse_loans", "now", "totals", "truncated"} <= set(out)
    for key in ("reservations", "tokens", "gse_loans"):
        assert len(out[key]) == 2, key
        assert out["totals"][key] > 2, key
        assert out["truncated"][key] is True, key
    text = monitor(*base, "ledger", "--limit", "2", "--exhausted", "--since", "2026-01-01", cwd=tmp_path)
    assert text.returncode == 0, text.stderr
    assert "truncated" in text.stdout or "of" in text.stdout
    bad = monitor(*base, "ledger", "--since", "yesterday", cwd=tmp_path)
    assert bad.returncode == 2
