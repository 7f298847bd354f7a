"""`monitor loans sync` as a user runs it, over real HTTP to the sandbox (issue 26 point 1)."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from monitor.clock import SystemClock
from monitor.sandbox import Sandbox
from tests.e2e.test_cli import GOOD, monitor
from tests.live import served


@pytest.fixture
def book(tmp_path: Path):  # type: ignore[no-untyped-def]
    sandbox = Sandbox(seed=26, clock=SystemClock(), completion_delay=0.0)
    now = SystemClock().now()
    rows = ["loan_id,order_id"]  # no data_as_of: Truv tells
    for i in range(5):
        rows.append(f"L{i},{sandbox.add_order(created_at=now - timedelta(days=40 + i))['id']}")
    (tmp_path / "loans.csv").write_text("\n".join(rows) + "\n")
    (tmp_path / "jobs.yaml").write_text(GOOD)
    with served(sandbox) as url:
        yield sandbox, {"TRUV_BASE_URL": url, "TRUV_CLIENT_ID": "cid", "TRUV_SECRET": "sandbox-sync-secret"}


def test_sync_learns_the_book_by_the_page_then_reads_only_what_changed(tmp_path, book):
    sandbox, env = book
    assert monitor("loans", "import", "loans.csv", cwd=tmp_path).returncode == 0

    first = monitor("loans", "sync", "--json", cwd=tmp_path, env=env)

    assert first.returncode == 0, first.stderr
    out = json.loads(first.stdout)
    assert (out["pages"], out["orders_seen"], out["loans_learned"], out["loans_read_singly"]) == (1, 5, 5, 0)
    assert out["updated_since"] is None and out["complete"] is True
    assert [e["path"] for e in sandbox.journal()] == ["/v1/orders/"]
    assert "page_size=100" in sandbox.journal()[0]["query"]
    assert "sandbox-sync-secret" not in first.stdout + first.stderr
    shown = json.loads(monitor("loans", "show", "L3", "--json", cwd=tmp_path).stdout)["loan"]
    completed = sandbox.order(shown["order_id"])["completed_at"]  # the data date a single read would give
    assert shown["details_fetched_at"] is not None
    assert shown["data_as_of"].replace("+00:00", "Z")[:19] == completed[:19]

    again = monitor("loans", "sync", cwd=tmp_path, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("synced orders updated since ") and ": 1 pages, 0 orders" in again.stdout
    assert "updated_at__gte=" in sandbox.journal()[-1]["query"]


def test_sync_help_teaches_and_without_credentials_exits_2(tmp_path):
    (tmp_path / "jobs.yaml").write_text(GOOD)
    helped = monitor("loans", "sync", "--help", cwd=tmp_path)
    assert helped.returncode == 0
    for words in ("order list", "--full", "one by one", "300 a minute"):
        assert words in " ".join(helped.stdout.split()), words
    bare = monitor("loans", "sync", cwd=tmp_path)
    assert bare.returncode == 2 and bare.stdout == ""
    assert "TRUV_CLIENT_ID" in bare.stderr
