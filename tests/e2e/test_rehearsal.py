"""Rehearsing against the sandbox (issue 24 point 17): `sandbox serve` prints the environment `monitor`
needs, its --help names it, and --generate scripts a realistic share of changes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from monitor.cli.sandbox_serve import REHEARSAL_CHANGES, _feasible
from monitor.clock import FixedClock
from monitor.sandbox import Sandbox
from monitor.sandbox.scenario import generate_portfolio
from tests.e2e.test_cli import monitor


def exports(lines: list[str]) -> dict[str, str]:
    found = {}
    for line in lines:
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            found[name] = value
    return found


def test_serve_prints_the_export_lines_and_monitor_runs_with_them(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUV_", "MONITOR_"))}
    server = subprocess.Popen(
        [sys.executable, "-m", "monitor", "sandbox", "serve", "--port", "0", "--generate", "60"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        lines: list[str] = []
        while not any(line.startswith("export TRUV_SECRET=") for line in lines):
            line = server.stdout.readline()
            assert line, f"sandbox serve ended early: {lines}"
            lines.append(line.strip())
        found = exports(lines)
        assert set(found) == {"TRUV_BASE_URL", "TRUV_CLIENT_ID", "TRUV_SECRET"}, lines
        assert found["TRUV_BASE_URL"].startswith("http://127.0.0.1:") and found["TRUV_BASE_URL"].endswith("/v1/")
        assert (tmp_path / "sandbox-loans.csv").exists()
        assert monitor("init", "--from", "sandbox-loans.csv", cwd=tmp_path).returncode == 0
        assert monitor("loans", "import", "sandbox-loans.csv", cwd=tmp_path).returncode == 0
        ran = monitor("run", "--json", cwd=tmp_path, env=found)
        assert ran.returncode == 0, ran.stderr[-2000:]
        assert '"submitted": 0' not in ran.stdout  # it reached the sandbox and refreshed
    finally:
        server.terminate()
        server.communicate(timeout=10)  # reaps it and closes its stdout pipe


def test_serve_help_names_every_variable_run_needs(tmp_path: Path) -> None:
    shown = monitor("sandbox", "serve", "--help", cwd=tmp_path)
    for name in ("TRUV_BASE_URL", "TRUV_CLIENT_ID", "TRUV_SECRET", "--no-changes"):
        assert name in shown.stdout, name


def test_generate_scripts_a_realistic_share_of_changes() -> None:
    sandbox = Sandbox(seed=3, clock=FixedClock(datetime(2026, 12, 1, tzinfo=UTC)))
    counts = _feasible(REHEARSAL_CHANGES, 200)
    assert counts == {"job_loss": 4, "pay_cut": 8, "employer_change": 4, "missed_pay": 6}
    portfolio = generate_portfolio(sandbox, 200, seed=3, scripted_changes=counts, scripted_at_refresh=1)
    kinds = Counter(kind for changes in portfolio.scripted.values() for kind, _ in changes)
    assert kinds == counts
    assert {at for changes in portfolio.scripted.values() for _, at in changes} == {1}  # seen at the first refresh
    assert _feasible(REHEARSAL_CHANGES, 10) is None  # a book too small for any share: no error, no change
    assert _feasible(REHEARSAL_CHANGES, 50) == {"job_loss": 1, "pay_cut": 2, "employer_change": 1, "missed_pay": 2}
