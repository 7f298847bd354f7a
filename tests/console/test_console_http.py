"""The console over HTTP (in-process transport), from the operator's and the compliance officer's side:
sign-in, roles, CSRF, headers, what pages may never show, and figures equal to the CLI's reads."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sqlite3
import zipfile
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor.console.security import Access
from monitor.core.passwords import hash_password
from monitor.reports.loan_view import loan_list
from monitor.reports.status import status
from monitor.store import console_users
from monitor.store.db import session
from monitor.store.tables import Event
from tests.console.world import (
    ACCESS_TOKENS,
    PASSWORD,
    add_user,
    client,
    csrf_of,
    login,
    seen_of,
    signed_in,
    world,
)

PAGES = ["/", "/loans", "/loans/L-OK", "/reauth", "/changes", "/ledger", "/audit", "/reports"]


@pytest.fixture
def portfolio(sqlite_url, clock, tmp_path):
    return world(sqlite_url, clock, tmp_path)


@pytest.mark.parametrize("path", [*PAGES, "/loans?stale=1", "/reauth/L-REAUTH/token"])
def test_a_signed_out_request_is_sent_to_the_login_page_and_back(portfolio, path):
    svc, _ = portfolio
    answer = client(svc).get(path)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location.startswith("/login?next=")
    from urllib.parse import parse_qs, urlsplit

    assert parse_qs(urlsplit(location).query)["next"] == [path]


def test_a_signed_out_post_creates_nothing(portfolio):
    svc, sandbox = portfolio
    before = len(sandbox.journal()) if hasattr(sandbox, "journal") else None
    answer = client(svc).post("/reauth/L-REAUTH/token", data={"csrf": "x", "confirm": "yes"})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    with session(svc.engine) as s:
        assert not list(s.execute(select(Event.id).where(Event.kind == "reauth_token_created")).scalars())
    if before is not None:
        assert len(sandbox.journal()) == before


def test_login_sets_a_strict_httponly_session_and_returns_to_the_page_asked_for(portfolio):
    svc, _ = portfolio
    add_user(svc, "alice", "viewer")
    c = client(svc)
    wrong = login(c, "alice", "not the password at all")
    assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
    ok = login(c, "alice", next_path="/ledger")
    assert ok.status_code == 303 and ok.headers["location"] == "/ledger"
    cookie = next(v for k, v in ok.headers.multi_items() if k == "set-cookie" and v.startswith("monitor_session="))
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "samesite", "path"} <= attributes
    assert "samesite=strict" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP on loopback: a Secure cookie would never come back
    assert c.get("/ledger").status_code == 200


def test_the_session_cookie_is_secure_over_https(portfolio):
    svc, _ = portfolio
    add_user(svc, "alice", "viewer")
    c = client(svc, base_url="https://testserver")
    ok = login(c, "alice")
    cookie = next(v for k, v in ok.headers.multi_items() if k == "set-cookie" and v.startswith("monitor_session="))
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}
    assert "max-age=31536000" in c.get("/login").headers["strict-transport-security"]


def test_an_unknown_user_is_told_the_same_as_a_wrong_password(portfolio):
    svc, _ = portfolio
    add_user(svc, "alice", "viewer")
    c = client(svc)
    nobody, wrong = login(c, "nobody", PASSWORD), login(c, "alice", "wrong password 123")
    assert nobody.status_code == wrong.status_code == 401
    assert re.sub(r'value="[^"]*"', "", nobody.text) == re.sub(r'value="[^"]*"', "", wrong.text)


def test_logins_are_rate_limited_per_address_and_name_then_allowed_after_the_window(portfolio, clock):
    svc, _ = portfolio
    add_user(svc, "alice", "viewer")
    c = client(svc)
    for _ in range(5):
        assert login(c, "alice", "wrong password 123").status_code == 401
    # the sixth try is refused before the password is even checked, right or not
    refused = login(c, "alice")
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
    assert login(c, "bob", "whatever password").status_code == 401  # another name: its own count
    clock.sleep(15 * 60 + 1)
    assert login(c, "alice").status_code == 303


def test_an_scrypt_hash_still_signs_in_and_is_replaced_by_argon2id(portfolio):
    svc, _ = portfolio
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(PASSWORD.encode(), salt=salt, n=2**14, r=8, p=1, dklen=32)
    old = f"scrypt$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
    with session(svc.engine) as s:
        console_users.put_user(s, name="olga", role="viewer", password_hash=old, now=svc.clock.now())
    assert login(client(svc), "olga").status_code == 303
    with session(svc.engine) as s:
        stored = console_users.user(s, "olga")
    assert stored is not None and stored.password_hash is not None
    assert stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert login(client(svc), "olga").status_code == 303  # the new hash holds the same password


def test_a_forwarded_address_is_believed_only_from_a_trusted_proxy(portfolio):
    svc, _ = portfolio
    add_user(svc, "alice", "viewer")
    direct = client(svc)  # not a proxy: its X-Forwarded-For is the client's own words
    for i in range(5):
        direct.headers["x-forwarded-for"] = f"203.0.113.{i}"
        assert login(direct, "alice", "wrong password 123").status_code == 401
    assert login(direct, "alice").status_code == 429
    proxied = client(svc, access=Access(trusted_proxies=frozenset({"testclient"})))
    proxied.headers["x-forwarded-for"] = "198.51.100.1, 203.0.113.1"  # the proxy appended what it saw
    for _ in range(5):
        assert login(proxied, "alice", "wrong password 123").status_code == 401
    assert login(proxied, "alice").status_code == 429  # counted against 203.0.113.1, not the spoofable left
    proxied.headers["x-forwarded-for"] = "203.0.113.2"
    assert login(proxied, "alice").status_code == 303


def test_a_login_without_the_forms_csrf_token_is_refused(portfolio):
    svc, _ = portfolio
    add_user(svc, "alice", "viewer")
    c = client(svc)
    c.get("/login")
    answer = c.post("/login", data={"name": "alice", "password": PASSWORD})
    assert answer.status_code == 403
    assert "monitor_session" not in answer.headers.get("set-cookie", "")


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_login_never_redirects_off_the_console(portfolio, target):
    svc, _ = portfolio
    add_user(svc, "alice", "viewer")
    answer = login(client(svc), "alice", next_path=target)
    assert answer.status_code == 303 and answer.headers["location"] == "/"


@pytest.mark.parametrize("path", [*PAGES, "/login", "/static/console.css", "/nope"])
def test_every_response_carries_the_security_headers(portfolio, path):
    svc, _ = portfolio
    answer = signed_in(svc, "alice", "viewer").get(path)
    csp = answer.headers["content-security-policy"]
    assert "script-src" not in csp and "default-src 'none'" in csp  # no script may run at all
    assert "frame-ancestors 'none'" in csp
    assert answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
    assert answer.headers["cache-control"] == "no-store"


def test_pages_hold_no_inline_script_or_style(portfolio):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "operator")
    for path in [*PAGES, "/reauth/L-REAUTH/token", "/login"]:
        html = c.get(path).text
        assert "<script" not in html.lower(), path
        assert " style=" not in html.lower() and "<style" not in html.lower(), path


def test_no_page_shows_an_access_token_or_the_secret(portfolio):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "operator")
    paths = [*PAGES, "/reauth/L-REAUTH/token", *(f"/loans/{loan}" for loan in ("L-REAUTH", "L-SH0", "L-EMP"))]
    paths += ["/ledger?exhausted=1", "/loans?stale=1", "/changes?severity=medium"]
    for path in paths:
        html = c.get(path).text
        assert c.get(path).status_code == 200, path
        for secret in (*ACCESS_TOKENS, "sandbox-test"):
            assert secret not in html, (path, secret)


def _number(html: str, element_id: str) -> int:
    found = re.search(rf'id="{element_id}">(\d+)<', html)
    assert found is not None, element_id
    return int(found.group(1))


def test_the_overview_shows_what_status_reads(portfolio):
    svc, _ = portfolio
    html = signed_in(svc, "alice", "viewer").get("/").text
    want = status(svc, now=svc.clock.now())
    budget = want["budget"]
    assert _number(html, "tokens-at-limit") == budget["tokens_at_24h_limit"]
    assert _number(html, "gse-at-limit") == budget["gse_loans_at_90d_limit"]
    assert _number(html, "billable") == budget["billable_last_24h"]
    assert _number(html, "needs-reauth") == want["connections_needing_reauth"] == 1
    assert _number(html, "needs-new-order") == want["loans_needing_new_order"]
    # the tokens shared by four loans are spent: the figure is not zero, so the comparison means something
    assert budget["tokens_at_24h_limit"] >= 1
    for job in want["jobs"]:
        for policy, line in job["backlog"]["policies"].items():
            row = re.search(
                rf'data-policy="{policy}"><td>[^<]*</td><td class="stale">(\d+)</td><td class="waiting">(\d+)', html
            )
            assert row is not None
            assert (int(row.group(1)), int(row.group(2))) == (line["stale"], line["waiting"])
        assert str(job["last_passes"][0]["submitted"]) in html


def test_loan_search_by_loan_id_and_by_order_id(portfolio):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "viewer")
    assert c.get("/loans?q=L-EMP").headers["location"] == "/loans/L-EMP"
    order_id = c.get("/loans/L-EMP").text.split("<dt>order id</dt><dd>")[1].split("<")[0]
    assert c.get(f"/loans?q={order_id}").headers["location"] == "/loans/L-EMP"
    missing = c.get("/loans?q=NO-SUCH")
    assert missing.status_code == 200 and "No loan id or order id starts with that" in missing.text
    assert c.get("/loans/NO-SUCH").status_code == 404


def test_the_loans_filters_count_what_loans_list_counts(portfolio):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "viewer")
    for query, kwargs in (
        ("", {}),
        ("stale=1", {"stale": True}),
        ("policy=income-30d&stale=1", {"stale": True, "policy": "income-30d"}),
    ):
        total = int(re.search(r'id="total">(\d+)<', c.get(f"/loans?{query}").text).group(1))
        assert total == loan_list(svc, now=svc.clock.now(), **kwargs)["total"], query
    needs = c.get("/loans?needs=reauth").text
    assert re.search(r'id="total">1<', needs) and "L-REAUTH" in needs


def test_an_operator_creates_an_update_mode_token_shown_once_never_stored_and_audited(portfolio, sqlite_url):
    svc, _ = portfolio
    c = signed_in(svc, "olga", "operator")
    queue = c.get("/reauth").text
    assert 'href="/reauth/L-REAUTH/token"' in queue
    confirm = c.get("/reauth/L-REAUTH/token")
    assert confirm.status_code == 200
    unconfirmed = c.post("/reauth/L-REAUTH/token", data={"csrf": csrf_of(confirm.text), "product": "income"})
    assert unconfirmed.status_code == 400
    form = {"csrf": csrf_of(confirm.text), "seen": seen_of(confirm.text), "product": "income", "confirm": "yes"}
    made = c.post("/reauth/L-REAUTH/token", data=form)
    assert made.status_code == 200, made.text
    assert made.headers["cache-control"] == "no-store"
    token = re.search(r'<code class="secret">([^<]+)</code>', made.text).group(1)
    assert len(token) >= 16
    # never stored: not in any table of the database file, not in the next page
    db_path = sqlite_url.removeprefix("sqlite:///")
    with closing(sqlite3.connect(db_path)) as raw:
        tables = [r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            assert token not in json.dumps(raw.execute(f'SELECT * FROM "{table}"').fetchall(), default=str), table
    assert token not in c.get("/reauth").text and token not in c.get("/loans/L-REAUTH").text
    with session(svc.engine) as s:
        [(actor,)] = s.execute(select(Event.actor).where(Event.kind == "reauth_token_created")).all()
    assert actor == "console:olga"


def test_a_viewer_is_refused_the_action(portfolio, sandbox_tokens=None):
    svc, _ = portfolio
    c = signed_in(svc, "vera", "viewer")
    assert 'href="/reauth/L-REAUTH/token"' not in c.get("/reauth").text
    assert c.get("/reauth/L-REAUTH/token").status_code == 403
    csrf = csrf_of(c.get("/").text)  # the viewer's own, valid token: the role is what refuses
    answer = c.post("/reauth/L-REAUTH/token", data={"csrf": csrf, "product": "income", "confirm": "yes"})
    assert answer.status_code == 403
    with session(svc.engine) as s:
        assert not list(s.execute(select(Event.id).where(Event.kind == "reauth_token_created")).scalars())


@pytest.mark.parametrize("csrf", [None, "", "forged-token-value"])
def test_a_post_without_the_sessions_csrf_token_is_refused(portfolio, csrf):
    svc, _ = portfolio
    c = signed_in(svc, "olga", "operator")
    data = {"product": "income", "confirm": "yes"} | ({"csrf": csrf} if csrf is not None else {})
    assert c.post("/reauth/L-REAUTH/token", data=data).status_code == 403
    assert c.post("/logout", data=data).status_code == 403
    with session(svc.engine) as s:
        assert not list(s.execute(select(Event.id).where(Event.kind == "reauth_token_created")).scalars())


def test_signing_out_and_disabling_end_the_session(portfolio):
    from monitor.store import console_users

    svc, _ = portfolio
    c = signed_in(svc, "alice", "viewer")
    out = c.post("/logout", data={"csrf": csrf_of(c.get("/").text)})
    assert out.status_code == 303 and c.get("/").status_code == 303
    d = signed_in(svc, "dora", "viewer")
    assert d.get("/").status_code == 200
    with session(svc.engine) as s:
        console_users.disable_user(s, "dora", now=svc.clock.now())
    assert d.get("/").status_code == 303


def test_an_expired_session_is_signed_out(portfolio, clock):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "viewer")
    clock.sleep(8 * 3600 + 1)
    assert c.get("/").status_code == 303


def test_the_proxy_header_is_believed_only_from_the_trusted_proxy(portfolio):
    svc, _ = portfolio
    add_user(svc, "pat", "operator", password=False)
    trusting = Access(trusted_user_header="X-Forwarded-User", trusted_proxies=frozenset({"testclient"}))
    elsewhere = Access(trusted_user_header="X-Forwarded-User", trusted_proxies=frozenset({"10.0.0.5"}))
    ok = client(svc, access=trusting).get("/", headers={"X-Forwarded-User": "pat"})
    assert ok.status_code == 200 and "pat (operator)" in ok.text
    assert client(svc, access=elsewhere).get("/", headers={"X-Forwarded-User": "pat"}).status_code == 303
    assert client(svc, access=trusting).get("/", headers={"X-Forwarded-User": "mallory"}).status_code == 303
    # a proxy-only user has no password to guess
    assert login(client(svc), "pat", "").status_code == 401


def test_the_report_downloads_in_each_format(portfolio):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "viewer")
    day = svc.clock.now().date()
    period = f"from={day - timedelta(days=30)}&to={day}"
    csv_zip = c.get(f"/reports?{period}&format=csv")
    assert csv_zip.status_code == 200 and "attachment" in csv_zip.headers["content-disposition"]
    names = zipfile.ZipFile(io.BytesIO(csv_zip.content)).namelist()
    assert len(names) == 4 and any(n.endswith("-exceptions.csv") for n in names)
    assert any(n.endswith("-preclosing.csv") for n in names)
    as_json = json.loads(c.get(f"/reports?{period}&format=json").content)
    assert as_json["totals"]["loans"] == len(
        {"L-OK", "L-FRESH", "L-EMP", "L-REAUTH", "L-SH0", "L-SH1", "L-SH2", "L-SH3"}
    )
    assert c.get(f"/reports?{period}&format=html").content.startswith(b"<!doctype html>")
    assert c.get(f"/reports?{period}&format=pdf").status_code == 400
    assert c.get(f"/reports?from={day}&to={day - timedelta(days=1)}").status_code == 400


def test_the_console_reads_postgres_too(pg_url, clock, tmp_path):
    svc, _ = world(pg_url, clock, tmp_path)
    c = signed_in(svc, "alice", "viewer")
    for path in PAGES:
        assert c.get(path).status_code == 200, path
    assert _number(c.get("/").text, "needs-reauth") == status(svc, now=svc.clock.now())["connections_needing_reauth"]


def test_pages_are_owner_only_files_nowhere(portfolio, tmp_path):
    """Downloads are built in a private temporary folder that is gone before the answer leaves."""
    import tempfile

    svc, _ = portfolio
    before = {p.name for p in Path(tempfile.gettempdir()).glob("monitor-console-*")}
    day = svc.clock.now().date()
    signed_in(svc, "alice", "viewer").get(f"/reports?from={day}&to={day}&format=csv")
    assert {p.name for p in Path(tempfile.gettempdir()).glob("monitor-console-*")} == before


def test_without_truv_credentials_an_operator_reads_and_is_told_why_there_is_no_action(portfolio):
    from starlette.testclient import TestClient

    from monitor.console.app import create_app
    from monitor.console.security import SESSION_COOKIE

    svc, _ = portfolio
    reading = signed_in(svc, "olga", "operator")
    raw = reading.cookies[SESSION_COOKIE]
    c = TestClient(create_app(svc, services=None), follow_redirects=False)  # `monitor console` without credentials
    c.cookies.set(SESSION_COOKIE, raw)
    queue = c.get("/reauth").text
    assert 'href="/reauth/L-REAUTH/token"' not in queue
    assert "started without Truv credentials" in queue
    csrf = csrf_of(queue)
    form = {"csrf": csrf, "seen": "0", "product": "income", "confirm": "yes"}
    refused = c.post("/reauth/L-REAUTH/token", data=form)
    assert refused.status_code == 409 and "no Truv client" in refused.text


def test_hostile_loan_ids_and_reasons_are_shown_as_text(sqlite_url, clock):
    """What a lender's file or an employer's name could carry: markup, quotes, bidi overrides."""
    from monitor.store.tables import Loan
    from tests.e2e.test_hostile_outputs import RLO, SHOWN_RLO, hostile_portfolio

    svc, _ = hostile_portfolio(sqlite_url, clock)
    now = clock.now()
    script = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    with session(svc.engine) as s:
        s.add(
            Loan(
                loan_id=script,
                order_id="order-x",
                hold="manual_review",
                hold_reason="<b>forbidden</b>",
                hold_since=now,
                imported_at=now,
                updated_at=now,
            )
        )
    c = signed_in(svc, "alice", "viewer")
    pages = [c.get(p).text for p in ("/loans", "/reauth", "/loans?needs=manual_review")]
    pages.append(c.get("/loans/" + script.replace("?", "%3F")).text)
    for html in pages:
        assert "<script>alert" not in html and "<img src=x" not in html and "<b>forbidden" not in html
        assert "\u202e" not in html  # the override is written out, never applied
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in pages[0]
    assert SHOWN_RLO in pages[0] and RLO not in pages[0]


def test_a_repeated_identity_header_is_400_never_the_first_copy(portfolio):
    svc, _ = portfolio
    add_user(svc, "alice", "operator", password=False)
    add_user(svc, "bob", "viewer", password=False)
    c = client(svc, access=Access(trusted_user_header="X-Forwarded-User", trusted_proxies=frozenset({"testclient"})))
    twice = c.get("/", headers=[("X-Forwarded-User", "alice"), ("X-Forwarded-User", "bob")])
    assert twice.status_code == 400 and "sent more than once" in twice.text
    assert twice.headers["content-security-policy"] and twice.headers["cache-control"] == "no-store"
    assert c.get("/", headers={"X-Forwarded-User": "bob"}).status_code == 200


def test_no_proxy_is_trusted_unless_configured():
    from monitor.cli.console import access_from
    from monitor.errors import InputError

    assert Access().trusted_proxies == frozenset()
    with pytest.raises(InputError, match="needs --trusted-proxy"):
        access_from("X-Forwarded-User", None, None, host="127.0.0.1")
    hosts = access_from(None, None, None, host="10.0.0.7").allowed_hosts
    assert hosts == {"10.0.0.7", "localhost", "127.0.0.1", "::1"}


def test_a_new_password_ends_the_users_sessions(portfolio):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "viewer")
    assert c.get("/").status_code == 200
    with session(svc.engine) as s:  # what `console add-user alice` does with a new password
        console_users.put_user(
            s, name="alice", role="viewer", password_hash=hash_password("a new password 2"), now=svc.clock.now()
        )
    assert c.get("/").status_code == 303


def test_a_500_carries_the_security_headers_too(portfolio, monkeypatch):
    from starlette.testclient import TestClient

    from monitor.console import pages
    from monitor.console.app import create_app

    svc, _ = portfolio

    def broken(*_args: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(pages, "changes", broken)
    c = signed_in(svc, "alice", "viewer")
    c = TestClient(create_app(svc, services=svc), raise_server_exceptions=False, cookies=c.cookies)
    answer = c.get("/changes")
    assert answer.status_code == 500 and "a bug" not in answer.text
    assert answer.headers["content-security-policy"] and answer.headers["x-frame-options"] == "DENY"
    assert answer.headers["cache-control"] == "no-store"
