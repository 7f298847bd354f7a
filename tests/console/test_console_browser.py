"""The console in a real browser (Playwright driving Debian's Chromium) over real HTTP on loopback.

What an operator does: is sent to sign in, signs in, reads the overview (the figures `monitor status
--json` prints), finds a loan by its order id, creates an update-mode token; what a viewer may not do;
a POST without the CSRF token. Screenshots of each page go to MONITOR_SCREENSHOTS (docs/console in
the repository: `MONITOR_SCREENSHOTS=docs/console python -m pytest tests/console/test_console_browser.py`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from monitor.clock import FixedClock, SystemClock
from monitor.console.app import create_app
from monitor.listening import bind_port
from tests.console.world import PASSWORD, add_user, world
from tests.helpers import CONFIG

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is installed by .ci/run", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[dict]:
    """A seeded portfolio after one pass, served by the console on a free loopback port."""
    tmp = tmp_path_factory.mktemp("console")
    db = tmp / "monitor.db"
    # The world's clock starts at the real time so the CLI (system clock) reads the same figures.
    clock = FixedClock(SystemClock().now())
    svc, _ = world(f"sqlite:///{db}", clock, tmp)
    add_user(svc, "olga", "operator")
    add_user(svc, "vera", "viewer")
    (tmp / "jobs.yaml").write_text(
        CONFIG.replace("OVERAGE", "block")
        .replace("CONCURRENCY", "4")
        .replace("MAXREF", "1000")
        .replace("MAXAGE", "30d")
    )
    sock = bind_port("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(svc, services=svc), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # waiting for the socket to serve, not for a time rule
        assert time.monotonic() < deadline, "console did not start"
        time.sleep(0.02)
    yield {"url": f"http://127.0.0.1:{sock.getsockname()[1]}", "dir": tmp, "db": db}
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    assert CHROMIUM is not None, "chromium is missing: .ci/run installs Debian's chromium"
    with playwright_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield b
        b.close()


def _shots() -> Path | None:
    where = os.environ.get("MONITOR_SCREENSHOTS")
    return Path(where) if where else None


def _page(browser, console):
    context = browser.new_context(base_url=console["url"], viewport={"width": 1280, "height": 900})
    return context.new_page()


def _sign_in(page, name: str) -> None:
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")


def _shot(page, name: str, tmp_path: Path) -> None:
    target = (_shots() or tmp_path) / f"{name}.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(target), full_page=True)
    assert target.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_viewer_signs_in_and_the_overview_shows_what_status_json_prints(browser, console, tmp_path):
    page = _page(browser, console)
    page.goto("/ledger")
    assert "/login?next=%2Fledger" in page.url  # signed out: sent to the login page, then back
    _shot(page, "login", tmp_path)
    _sign_in(page, "vera")
    page.wait_for_url("**/ledger")
    assert page.locator("#me").inner_text() == "vera (viewer)"
    page.goto("/")
    status = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor",
                "--config",
                "jobs.yaml",
                "--database",
                f"sqlite:///{console['db']}",
                "--log-level",
                "error",
                "status",
                "--json",
            ],
            cwd=console["dir"],
            capture_output=True,
            text=True,
            timeout=120,
            check=True,
        ).stdout
    )
    shown = {
        key: int(page.locator(f"#{key}").inner_text())
        for key in ("tokens-at-limit", "tokens-blocked", "gse-at-limit", "billable", "needs-reauth", "needs-new-order")
    }
    budget = status["budget"]
    assert shown == {
        "tokens-at-limit": budget["tokens_at_24h_limit"],
        "tokens-blocked": budget["tokens_blocked_by_truv"],
        "gse-at-limit": budget["gse_loans_at_90d_limit"],
        "billable": budget["billable_last_24h"],
        "needs-reauth": status["connections_needing_reauth"],
        "needs-new-order": status["loans_needing_new_order"],
    }
    assert shown["tokens-at-limit"] >= 1 and shown["needs-reauth"] == 1  # figures that could have been 0
    for policy, line in status["jobs"][0]["backlog"]["policies"].items():
        row = page.locator(f'tr[data-policy="{policy}"]')
        assert row.locator("td.stale").inner_text() == str(line["stale"])
        assert row.locator("td.waiting").inner_text() == str(line["waiting"])
    _shot(page, "overview", tmp_path)
    for path, name in (
        ("/loans", "loans"),
        ("/changes", "changes"),
        ("/ledger", "ledger"),
        ("/audit", "audit"),
        ("/reports", "reports"),
    ):
        page.goto(path)
        assert page.locator("h1").count() == 1
        _shot(page, name, tmp_path)


def test_a_viewer_finds_a_loan_by_its_order_id_and_is_refused_the_action(browser, console, tmp_path):
    page = _page(browser, console)
    page.goto("/login")
    _sign_in(page, "vera")
    page.goto("/loans/L-EMP")
    order_id = page.locator("dt:has-text('order id') + dd").first.inner_text()
    page.goto("/loans")
    page.fill("input[name=q]", order_id)
    page.press("input[name=q]", "Enter")
    page.wait_for_url("**/loans/L-EMP")
    assert page.locator("#loan-id").inner_text() == "L-EMP"
    assert page.locator("#decisions tbody tr").count() == 1
    _shot(page, "loan", tmp_path)
    page.goto("/reauth")
    assert page.locator("a.action").count() == 0  # a viewer is not offered the action
    answer = page.goto("/reauth/L-REAUTH/token")
    assert answer is not None and answer.status == 403


def test_an_operator_creates_an_update_mode_token_and_a_post_without_csrf_is_refused(browser, console, tmp_path):
    page = _page(browser, console)
    page.goto("/login")
    _sign_in(page, "olga")
    page.wait_for_url(console["url"] + "/")
    # the page's own cookie, no CSRF field: refused, nothing created
    forged = page.request.post("/reauth/L-REAUTH/token", form={"product": "income", "confirm": "yes"}, max_redirects=0)
    assert forged.status == 403
    page.goto("/reauth")
    _shot(page, "reauth", tmp_path)
    page.click("a.action")
    page.check("input[name=confirm]")
    page.click("main button[type=submit]")
    token = page.locator("code.secret").first.inner_text()
    assert len(token) >= 16
    _shot(page, "token-once", tmp_path)
    page.goto("/reauth")
    assert token not in page.content()
