"""Readable output (issue 14, points 10 to 12): ISO times, one labelled zone per table, counts as lines,
one failure label per status, rejected webhooks counted, and a report an operator can read."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import structlog

from monitor.clock import SystemClock
from monitor.core.calendar import subtract_business_days
from monitor.core.readable import duration_text, failures_by_status
from monitor.jobs.refresh_pass import JobPass
from monitor.metrics import render
from monitor.reports.compliance import build, render_html
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.webhooks.receiver import create_app
from tests.e2e.test_webhooks import METRICS, METRICS_TOKEN, SECRET, truv_sign
from tests.e2e.test_webhooks_hostile import serving
from tests.helpers import CONFIG, config, import_csv, seed_loans, services, write_csv
from tests.live import cli_env, monitor_ok, served

# A time as str(datetime) or isoformat() writes it: the first shows a space where ISO 8601 has `T`.
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")


def portfolio(db_url: str, clock, tmp_path: Path, *, max_refreshes: int = 2, cfg=None):
    """Five stale loans, one employment-only order (never an income refresh), one connection half failing;
    a pass whose max_refreshes leaves some loans unreached, outcomes polled."""
    sandbox = Sandbox(seed=7, clock=clock, completion_delay=5.0)
    specs = [
        {"loan_id": "MIX", "employers": [("ok", None), ("mfa_error", None)]},
        {"loan_id": "EMP", "products": ("employment",)},
        *({"loan_id": f"L{i}"} for i in range(3)),
    ]
    svc = services(db_url, clock, sandbox, cfg or config(max_refreshes=max_refreshes, concurrency=1))
    import_csv(svc, write_csv(tmp_path / "loans.csv", seed_loans(sandbox, specs, tmp_path, clock)))
    summary = JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
    assert summary.status == "finished"
    return svc, sandbox, summary


def jobs_yaml(tmp_path: Path, max_refreshes: int = 2) -> Path:
    text = CONFIG.replace("OVERAGE", "block").replace("CONCURRENCY", "1").replace("MAXREF", str(max_refreshes))
    path = tmp_path / "jobs.yaml"
    path.write_text(text.replace("MAXAGE", "30d"))
    return path


def cli(tmp_path: Path, db_url: str, *args: str) -> str:
    return monitor_ok(["--config", str(jobs_yaml(tmp_path)), "--database", db_url, *args], cwd=tmp_path, env=cli_env())


def times_in(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [t for v in value.values() for t in times_in(v)]
    if isinstance(value, list):
        return [t for v in value for t in times_in(v)]
    return [value] if isinstance(value, str) and TIME.match(value) else []


# -- 10. one time format, one zone per table ------------------------------------------------------------


def test_json_times_are_iso_8601_with_t(sqlite_url, clock, tmp_path):
    portfolio(sqlite_url, clock, tmp_path)
    day = clock.now().date().isoformat()
    outputs = {
        "status": json.loads(cli(tmp_path, sqlite_url, "status", "--json")),
        "ledger": json.loads(cli(tmp_path, sqlite_url, "ledger", "--json")),
    }
    cli(tmp_path, sqlite_url, "report", "--from", day, "--to", day, "--out", str(tmp_path / "r.json"))
    outputs["report"] = json.loads((tmp_path / "r.json").read_text())
    for name, data in outputs.items():
        found = times_in(data)
        assert found, name  # the check below must have something to check
        for text in found:
            assert "T" in text, (name, text)
            assert datetime.fromisoformat(text).tzinfo is not None, (name, text)


# `str(datetime)` anywhere in a JSON text, even inside a longer string: the space ISO 8601 has no room for.
SPACED_TIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}")

WATCHED = """\
truv: {requests_per_minute: 6000}
policies:
  - name: watched
    match: {status: active}
    product: income
    max_age: 30d
    monitoring: {income_drop_review: 5%, income_drop_material: 10%}
jobs:
  - {name: nightly, schedule: "0 2 * * *", policies: [watched]}
"""


def test_every_json_output_writes_times_as_iso_8601_with_t(tmp_path):
    """Each command whose JSON once went through `default=str`, run as a user runs it, over real HTTP."""
    sandbox = Sandbox(seed=5, clock=SystemClock(), completion_delay=0.0)
    now = SystemClock().now()
    rows = ["loan_id,order_id,gse,status,data_as_of"]
    for loan_id, scenario in (("OK", "ok"), ("LOGIN", "login_error")):
        order = sandbox.add_order(
            order_number=loan_id,
            employers=[EmployerSpec(scenario=scenario, access_token=f"token-{loan_id}")],
            created_at=now - timedelta(days=60),
        )
        rows.append(f"{loan_id},{order['id']},false,active,{(now - timedelta(days=40)).isoformat()}")
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "jobs.yaml").write_text(WATCHED)
    with served(sandbox) as url:
        env = cli_env(TRUV_BASE_URL=url, TRUV_CLIENT_ID="cid", TRUV_SECRET="sandbox-very-secret-value")

        def json_of(*args: str) -> str:
            return monitor_ok(["--log-level", "error", *args], cwd=tmp_path, env=env, timeout=180)

        monitor_ok(["loans", "import", "loans.csv"], cwd=tmp_path, env=env)
        texts = {"plan": json_of("plan", "--json"), "run": json_of("run", "--json", "--wait", "20")}
        texts |= {
            "loans show": json_of("loans", "show", "LOGIN", "--json"),
            "loans list": json_of("loans", "list", "--json"),
            "changes": json_of("changes", "--json"),
            "audit verify": json_of("audit", "verify", "--json"),
            "reauth list": json_of("reauth", "list", "--json"),
            "reauth token": json_of("reauth", "token", "LOGIN", "--json"),
        }
    texts["demo"] = json_of("demo", "--dir", str(tmp_path / "demo"), "--json")
    for name, text in texts.items():
        assert not SPACED_TIME.search(text), (name, SPACED_TIME.search(text))
        found = times_in(json.loads(text))
        # audit verify names entries by number; every other output carries times, so the check has something to check
        assert found or name == "audit verify", name
        for value in found:
            assert "T" in value, (name, value)
            assert datetime.fromisoformat(value).tzinfo is not None, (name, value)
    # the pass did what the outputs describe: a failed refresh on a watched loan, needing the borrower
    assert [f["rule"] for f in json.loads(texts["changes"])] == ["unverified"]
    assert [t["loan_id"] for t in json.loads(texts["reauth token"])] == ["LOGIN"]
    # the demo shows `loans show` for a loan tonight's pass refreshed
    shown = json.loads(texts["demo"])["loan_show"]
    assert shown["loan"]["loan_id"] == "L-1002" and shown["outcomes"][0]["outcome"] == "completed"


@pytest.fixture
def logging_restored():
    """`configure` binds structlog and the root logger to this test's captured stderr: put them back after."""
    import logging

    saved, handlers = structlog.get_config(), logging.getLogger().handlers[:]
    yield
    structlog.configure(**saved)
    logging.getLogger().handlers[:] = handlers


def test_a_log_line_renders_datetimes_as_iso(capsys, logging_restored):
    from monitor.log import configure

    until = datetime(2026, 11, 30, 17, 54, 25, tzinfo=UTC)
    configure(json_logs=True)
    structlog.get_logger().info("lease_held", until=until, nested={"at": until})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["until"] == line["nested"]["at"] == "2026-11-30T17:54:25+00:00"
    configure(json_logs=False)
    structlog.get_logger().info("lease_held", until=until)
    console = capsys.readouterr().err
    assert "2026-11-30T17:54:25+00:00" in console and "datetime.datetime" not in console


def test_tables_show_one_zone_named_in_their_titles(sqlite_url, clock, tmp_path):
    portfolio(sqlite_url, clock, tmp_path)
    utc = cli(tmp_path, sqlite_url, "ledger")
    assert "times UTC" in utc
    ny = cli(tmp_path, sqlite_url, "ledger", "--tz", "America/New_York")
    assert "times America/New_York" in ny and "times UTC" not in ny
    reserved = json.loads(cli(tmp_path, sqlite_url, "ledger", "--json"))["reservations"][0]["reserved_at"]
    at = datetime.fromisoformat(reserved)
    assert at.strftime("%Y-%m-%d %H:%M") in utc
    assert at.astimezone(ZoneInfo("America/New_York")).strftime("%Y-%m-%d %H:%M") in ny
    status = cli(tmp_path, sqlite_url, "status", "--tz", "Europe/Paris")
    assert "last passes (times Europe/Paris)" in status
    bad = monitor_status(tmp_path, sqlite_url, "status", "--tz", "Mars/Olympus")
    assert bad.returncode == 2
    assert "--tz: expected an IANA time zone like UTC or America/New_York, got 'Mars/Olympus'" in bad.stderr


def test_loans_show_and_list_show_their_times_in_the_zone_asked_for(sqlite_url, clock, tmp_path):
    portfolio(sqlite_url, clock, tmp_path)
    ny = ZoneInfo("America/New_York")
    shown = json.loads(cli(tmp_path, sqlite_url, "loans", "show", "L0", "--json"))
    reserved = datetime.fromisoformat(shown["outcomes"][0]["reserved_at"])
    assert reserved.utcoffset() == timedelta(0)  # JSON stays UTC whatever --tz says
    as_json_ny = json.loads(cli(tmp_path, sqlite_url, "loans", "show", "L0", "--json", "--tz", "America/New_York"))
    assert as_json_ny["outcomes"][0]["reserved_at"] == shown["outcomes"][0]["reserved_at"]
    utc_text = cli(tmp_path, sqlite_url, "loans", "show", "L0")
    ny_text = cli(tmp_path, sqlite_url, "loans", "show", "L0", "--tz", "America/New_York")
    assert "refreshes, newest first (times UTC)" in utc_text
    assert "refreshes, newest first (times America/New_York)" in ny_text and "times UTC" not in ny_text
    # June: New York is 4 hours behind, so the two renderings of the reservation differ
    assert reserved.strftime("%Y-%m-%d %H:%M") in utc_text
    assert reserved.astimezone(ny).strftime("%Y-%m-%d %H:%M") in ny_text
    assert reserved.strftime("%Y-%m-%d %H:%M") not in ny_text

    listed = json.loads(cli(tmp_path, sqlite_url, "loans", "list", "--json"))
    data_as_of = datetime.fromisoformat(next(r for r in listed["loans"] if r["loan_id"] == "L1")["data_as_of"])
    list_utc = cli(tmp_path, sqlite_url, "loans", "list")
    list_ny = cli(tmp_path, sqlite_url, "loans", "list", "--tz", "America/New_York")
    assert "loans (times UTC" in list_utc and "loans (times America/New_York" in list_ny
    assert data_as_of.strftime("%Y-%m-%d %H:%M") in list_utc
    assert data_as_of.astimezone(ny).strftime("%Y-%m-%d %H:%M") in list_ny
    for args in (("loans", "show", "L0"), ("loans", "list")):
        bad = monitor_status(tmp_path, sqlite_url, *args, "--tz", "Mars/Olympus")
        assert bad.returncode == 2 and bad.stdout == ""
        assert "--tz: expected an IANA time zone like UTC or America/New_York, got 'Mars/Olympus'" in bad.stderr


def monitor_status(tmp_path: Path, db_url: str, *args: str):
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-m", "monitor", "--config", str(jobs_yaml(tmp_path)), "--database", db_url, *args],
        cwd=tmp_path,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


# -- 11. counts as lines, one label per status, rejected webhooks counted -------------------------------


def test_status_shows_skips_and_failures_as_reason_count_lines(sqlite_url, clock, tmp_path):
    _, _, summary = portfolio(sqlite_url, clock, tmp_path)
    assert summary.skipped  # the pass skipped something, so the column has content
    shown = cli(tmp_path, sqlite_url, "status")
    assert "{" not in shown and "}" not in shown
    for reason, n in summary.skipped.items():
        assert re.search(rf"\b{reason} {n}\b", shown), (reason, shown)


TWO_POLICIES = (
    CONFIG.replace("OVERAGE", "block")
    .replace("CONCURRENCY", "1")
    .replace("MAXREF", "1")
    .replace("MAXAGE", "30d")
    .replace("policies: [income-30d]", "policies: [income-30d, employment-30d]")
    .replace(
        "policies:\n",
        "policies:\n  - {name: employment-30d, match: {status: active}, product: employment, max_age: 30d}\n",
        1,
    )
)


def test_status_shows_the_backlog_of_each_policy(sqlite_url, clock, tmp_path):
    from monitor.config import parse_config

    portfolio(sqlite_url, clock, tmp_path, cfg=parse_config(TWO_POLICIES))
    (tmp_path / "jobs.yaml").write_text(TWO_POLICIES)
    args = ["--config", str(tmp_path / "jobs.yaml"), "--database", sqlite_url, "status"]
    backlog = json.loads(monitor_ok([*args, "--json"], cwd=tmp_path, env=cli_env()))["jobs"][0]["backlog"]
    shown = monitor_ok(args, cwd=tmp_path, env=cli_env())
    assert f"backlog per policy (a pass can take about {backlog['capacity_per_night']} a night)" in shown
    policies = backlog["policies"]
    assert set(policies) == {"income-30d", "employment-30d"}
    # max_refreshes 1: the first policy took the pass's only refresh, the second was left its whole backlog
    assert policies["employment-30d"]["last_pass"]["not_reached"] > 0
    for name, b in policies.items():
        cells = [c.strip() for c in next(line for line in shown.splitlines() if f" {name} " in line).split("│")]
        assert cells[1:6] == [name, str(b["stale"]), str(b["waiting"]), str(b["in_flight"]), str(b["retry_backoff"])]
        assert cells[8] == str(b["nights_to_clear"]), (name, cells)
        assert f"not_reached {b['last_pass']['not_reached']}" in cells[7], (name, cells)


def test_a_failed_refresh_counts_once_per_failed_status(db_url, clock, tmp_path):
    svc, _, _ = portfolio(db_url, clock, tmp_path, max_refreshes=10)
    metrics = render(svc).decode()
    failures = re.findall(r'^monitor_refresh_failures_total\{status="([^"]*)"\} (\S+)$', metrics, re.M)
    assert ("mfa_error", "1.0") in failures
    assert all("," not in status and status != "completed" for status, _ in failures)
    report = build(svc, start=clock.now().date(), end=clock.now().date(), now=clock.now())
    assert report["exceptions"]["failures_by_status"] == {"mfa_error": 1}
    assert failures_by_status({"completed,mfa_error": 2, "login_error,mfa_error": 1, None: 1}) == {
        "login_error": 1,
        "mfa_error": 3,
        "unknown": 1,
    }


def test_rejected_webhooks_are_counted_by_reason_over_http(sqlite_url, clock):
    svc = services(sqlite_url, clock, None, config())
    with serving(create_app(svc, secret=SECRET, metrics_token=METRICS_TOKEN)) as port:
        base = f"http://127.0.0.1:{port}"

        def rejected() -> dict[str, float]:
            text = httpx.get(f"{base}/metrics", headers=METRICS, timeout=10).text
            return {
                r: float(n) for r, n in re.findall(r'monitor_webhooks_rejected_total\{reason="(\w+)"\} (\S+)', text)
            }

        assert rejected() == {"signature": 0, "invalid": 0, "too_large": 0, "timeout": 0, "disconnected": 0}
        body = b'{"webhook_id": "w1", "event_type": "order-status-updated"}'
        bad = httpx.post(f"{base}/webhooks/truv", content=body, headers={"X-WEBHOOK-SIGN": "v1=" + "0" * 64})
        assert bad.status_code == 401
        assert rejected()["signature"] == 1
        not_json = b"not json"
        invalid = httpx.post(f"{base}/webhooks/truv", content=not_json, headers={"X-WEBHOOK-SIGN": truv_sign(not_json)})
        assert invalid.status_code == 400
        after = rejected()
        assert after["signature"] == 1 and after["invalid"] == 1 and after["too_large"] == 0


def test_webhooks_status_is_a_table_unless_json(sqlite_url, clock, tmp_path):
    services(sqlite_url, clock, None, config())
    table = cli(tmp_path, sqlite_url, "webhooks", "status")
    assert "webhooks by state" in table and "invalid" in table and "{" not in table
    as_json = json.loads(cli(tmp_path, sqlite_url, "webhooks", "status", "--json"))
    assert as_json["by_state"] == {"invalid": 0}


# -- 12. the report ---------------------------------------------------------------------------------------


def test_the_daily_chart_has_one_bar_per_day_of_the_period(sqlite_url, clock, tmp_path):
    svc, _, _ = portfolio(sqlite_url, clock, tmp_path)
    end = clock.now().date() + timedelta(days=15)
    start = end - timedelta(days=29)
    report = build(svc, start=start, end=end, now=clock.now())
    assert len(report["daily"]) == 30 and next(iter(report["daily"])) == start.isoformat()
    page = render_html(report)
    assert page.count('<g class="day"') == 30
    # the pass's reservations all fall on its one day; the other 29 bars are there, empty
    assert [day for day, c in report["daily"].items() if c] == [clock.now().date().isoformat()]


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [
        (None, "-"),
        (-30, "0 min"),
        (0, "0 min"),
        (40 * 60, "40 min"),
        (3600, "1 h"),
        (5 * 3600 + 10 * 60, "5 h"),
        (47 * 3600, "47 h"),
        (48 * 3600, "2.0 d"),
        (2.3 * 86400, "2.3 d"),
        (30 * 86400, "30.0 d"),
    ],
)
def test_durations_read_in_minutes_hours_or_days(seconds, shown):
    assert duration_text(seconds) == shown


def test_each_policys_pre_closing_window_is_used_unless_overridden(sqlite_url, clock, tmp_path):
    closing = (clock.now() + timedelta(days=20)).date()
    text = CONFIG.replace("pre_closing_business_days: 10", "pre_closing_business_days: 3")
    cfg_text = text.replace("OVERAGE", "block").replace("CONCURRENCY", "1").replace("MAXREF", "10")
    from monitor.config import parse_config

    cfg = parse_config(cfg_text.replace("MAXAGE", "30d"))
    sandbox = Sandbox(seed=3, clock=clock)
    svc = services(sqlite_url, clock, sandbox, cfg)
    rows = seed_loans(sandbox, [{"loan_id": "C1", "closing_date": closing.isoformat()}], tmp_path, clock)
    import_csv(svc, write_csv(tmp_path / "c.csv", rows))
    day = clock.now().date()
    own = build(svc, start=day, end=closing, now=clock.now())
    (loan,) = own["loans"]
    assert loan["pre_closing_window_days"] == 3
    assert loan["pre_closing_window_start"] == subtract_business_days(closing, 3)
    assert own["pre_closing"][0]["rule"] == "3 business days before closing (policy income-30d)"
    assert "income-30d 3" in render_html(own)
    forced = build(svc, start=day, end=closing, now=clock.now(), pre_closing_days=7)
    assert forced["loans"][0]["pre_closing_window_start"] == subtract_business_days(closing, 7)
    assert forced["pre_closing"][0]["rule"].startswith("7 business days before closing (--pre-closing-days")


def test_the_backlog_and_persistent_skips_are_exceptions(sqlite_url, clock, tmp_path):
    svc, _, _ = portfolio(sqlite_url, clock, tmp_path, max_refreshes=1)
    report = build(svc, start=clock.now().date(), end=clock.now().date(), now=clock.now())
    e = report["exceptions"]
    refreshed = {r["loan_id"] for r in report["loans"] if r["refreshes_in_period"]}
    backlog = {x["loan_id"]: x["reason"] for x in e["backlog"]["loans"]}
    assert len(refreshed) == 1 and not refreshed & set(backlog)
    # max_refreshes 1: of the four income loans, three were never reached and no pass said why per loan
    assert sum(1 for r in backlog.values() if r == "not_reached") == 3
    assert backlog["EMP"] == "product_not_allowed"
    assert e["backlog"]["total"] == len(backlog) == sum(e["backlog"]["by_reason"].values())
    assert [(p["loan_id"], p["reason"], p["times"]) for p in e["persistent_skips"]] == [
        ("EMP", "product_not_allowed", 1)
    ]
    page = render_html(report)
    assert "stale but blocked" not in page and "backlog (stale now, no refresh in the period): 4" in page
    assert "<script" not in page
    # the per-loan table folds away, its cells never wrap
    assert re.search(r"<h2>Per loan</h2>\s*<details><summary>5 loans", page)
    assert '<table class="nowrap"><tr><th>loan id</th>' in page


def test_reauth_waits_read_in_hours_in_the_report(sqlite_url, clock, tmp_path):
    svc, _, _ = portfolio(sqlite_url, clock, tmp_path, max_refreshes=10)
    later = clock.now() + timedelta(hours=5)
    report = build(svc, start=clock.now().date(), end=later.date(), now=later)
    (wait,) = report["exceptions"]["needs_reauth"]
    assert wait["loan_id"] == "MIX" and wait["waiting"] == "5 h"
    assert "<td>5 h</td>" in render_html(report)
