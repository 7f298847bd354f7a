"""Issue 24 point 16 in a real browser (Playwright driving Debian's Chromium): at 390 px no page is
wider than the screen, the compliance report's HTML included; at 1280 px and at 390 px every table is
either whole inside the page or scrolls inside its own box, never cut off and never widening the page.

The portfolio carries what widens pages in practice: a 128-character loan id, long attribute values and
reasons without a space to break at, and an audit entry with a long detail.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta

import pytest
import uvicorn

from monitor.clock import FixedClock, SystemClock
from monitor.console.app import create_app
from monitor.listening import bind_port
from monitor.store import ledger
from monitor.store.db import session
from monitor.store.tables import Loan, LoanAttribute
from tests.console.world import PASSWORD, add_user, world

CHROMIUM = shutil.which("chromium")
if CHROMIUM is None and not os.environ.get("CI"):
    pytest.skip("Debian's chromium is installed by .ci/run", allow_module_level=True)

playwright_api = pytest.importorskip("playwright.sync_api")

LONG_ID = "L-" + "7" * 126  # the longest loan id an import takes, with nowhere to break
WIDTHS = (390, 1280)

# What a page must not do: be wider than the window, or cut a table off instead of scrolling it.
PROBLEMS = """() => {
  const vw = document.documentElement.clientWidth;
  const problems = [];
  const page = document.documentElement.scrollWidth;
  if (page > vw) problems.push(`page is ${page} px wide in a ${vw} px window`);
  for (const table of document.querySelectorAll('table')) {
    const scrolls = (el) => ['auto', 'scroll'].includes(getComputedStyle(el).overflowX);
    const box = scrolls(table) ? table : table.parentElement;
    const name = table.id || table.className || 'table';
    const right = box.getBoundingClientRect().right;
    if (right > vw + 0.5) problems.push(`${name}: its box ends at ${right} px`);
    if (box.scrollWidth > box.clientWidth + 1 && !scrolls(box)) problems.push(`${name}: cut off, not scrolled`);
  }
  return problems;
}"""


@pytest.fixture(scope="module")
def console(tmp_path_factory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("widths")
    clock = FixedClock(SystemClock().now())
    svc, _ = world(f"sqlite:///{tmp / 'monitor.db'}", clock, tmp)
    now = clock.now()
    with session(svc.engine) as s:
        s.add(
            Loan(
                loan_id=LONG_ID,
                order_id="o" * 64,
                hold="manual_review",
                hold_reason="forbidden_" + "x" * 54,
                hold_since=now,
                closing_date=(now + timedelta(days=20)).date(),
                imported_at=now,
                updated_at=now,
            )
        )
        s.flush()
        s.add(LoanAttribute(loan_id=LONG_ID, key="branch_" + "b" * 60, value="Austin" * 80))
    with session(svc.engine) as s:
        ledger.add_event(
            s,
            at=now,
            kind="skipped",
            loan_id=LONG_ID,
            detail={"policy": None, "reason": "y" * 300, "error": "a long note " * 30},
        )
    add_user(svc, "olga", "operator")
    sock = bind_port("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(create_app(svc, services=svc), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # waiting for the socket to serve, not for a time rule
        assert time.monotonic() < deadline, "console did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def signed_in(console) -> Iterator[object]:
    """A Chromium context signed in as an operator (the pages an operator sees are a viewer's and more)."""
    assert CHROMIUM is not None, "chromium is missing: .ci/run installs Debian's chromium"
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        context = browser.new_context(base_url=console, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.goto("/login")
        assert page.evaluate(PROBLEMS) == []  # the sign-in page, signed out, at 1280
        page.set_viewport_size({"width": 390, "height": 844})
        assert page.evaluate(PROBLEMS) == []
        page.fill("input[name=name]", "olga")
        page.fill("input[name=password]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url(console + "/")
        yield page
        browser.close()


def _day(page) -> str:
    return page.evaluate("() => new Date().toISOString().slice(0, 10)")


PATHS = [
    "/",
    "/loans",
    "/loans?q=L-",
    "/loans/" + LONG_ID,
    "/loans/L-REAUTH",
    "/loans/NO-SUCH",
    "/reauth",
    "/reauth/L-REAUTH/token",
    "/changes",
    "/ledger",
    "/audit",
    "/audit?loan=" + LONG_ID,
    "/reports",
]


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("path", PATHS, ids=lambda path: path.replace(LONG_ID, "LONG-ID"))
def test_no_page_is_wider_than_the_window_and_no_table_is_cut_off(signed_in, path, width):
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    answer = page.goto(path)
    assert answer is not None and answer.status in (200, 404), (path, answer.status)
    assert page.locator("h1").count() == 1
    assert page.evaluate(PROBLEMS) == [], (path, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_compliance_reports_html_fits_the_window(signed_in, width, tmp_path):
    page = signed_in
    day = _day(page)
    answer = page.request.get(f"/reports?from={day[:8]}01&to={day}&format=html")
    assert answer.status == 200 and answer.body().startswith(b"<!doctype html>")
    page.set_viewport_size({"width": width, "height": 900})
    downloaded = tmp_path / "report.html"
    downloaded.write_bytes(answer.body())
    page.goto(downloaded.as_uri())  # opened as the downloaded file: its own styles, no console CSP
    assert page.locator("table").count() >= 5
    assert page.evaluate("() => getComputedStyle(document.querySelector('td')).overflowWrap") == "anywhere"
    problems = page.evaluate(PROBLEMS)
    assert problems == [], (width, problems)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_page_showing_a_new_token_fits_the_window(signed_in, width):
    page = signed_in
    page.set_viewport_size({"width": width, "height": 900})
    page.goto("/reauth/L-REAUTH/token")
    page.check("input[name=confirm]")
    page.click("main button[type=submit]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text().startswith("Update-mode token") or page.locator("#not-created").count()
    problems = page.evaluate(PROBLEMS)
    assert problems == [], (width, problems)
