"""Issue 24 points 14 and 15 over in-process HTTP, on SQLite and Postgres: the Bridge token page creates
only on a POST and never twice for one form; search by the start of a loan or order id; first, previous,
next and last pages on loans and the ledger; the audit page with its filters."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog
from sqlalchemy import MetaData, select, text

from monitor.console import pages
from monitor.store import ledger
from monitor.store.db import session
from monitor.store.tables import Event, Loan, TruvOrder
from tests.console.world import ACCESS_TOKENS, csrf_of, seen_of, signed_in, world


@pytest.fixture
def portfolio(db_url, clock, tmp_path):
    return world(db_url, clock, tmp_path)


def _issued(svc) -> list[tuple[str | None, str | None]]:
    with session(svc.engine) as s:
        q = select(Event.loan_id, Event.actor).where(Event.kind == "reauth_token_created").order_by(Event.id)
        return [tuple(r) for r in s.execute(q).all()]


def _bridge_calls(sandbox) -> int:
    return sum(1 for e in sandbox.journal() if e["method"] == "POST" and str(e["path"]).endswith("/tokens/"))


def _everything_stored(svc) -> str:
    """Every row of every table, as text: what a leaked secret would be found in."""
    meta = MetaData()
    meta.reflect(bind=svc.engine)
    with svc.engine.connect() as conn:
        return json.dumps(
            {t: [list(r) for r in conn.execute(meta.tables[t].select())] for t in meta.tables}, default=str
        )


# -- point 14: the token page --------------------------------------------------------------------------


def test_the_token_page_creates_only_on_a_post_and_a_reload_creates_nothing(portfolio, clock):
    svc, sandbox = portfolio
    c = signed_in(svc, "olga", "operator")
    for _ in range(2):  # a GET, and its reload, create nothing
        confirm = c.get("/reauth/L-REAUTH/token")
        assert confirm.status_code == 200 and 'id="issued"' not in confirm.text
    assert _issued(svc) == [] and _bridge_calls(sandbox) == 0
    form = {"csrf": csrf_of(confirm.text), "seen": seen_of(confirm.text), "product": "auto", "confirm": "yes"}
    with structlog.testing.capture_logs() as logs:
        made = c.post("/reauth/L-REAUTH/token", data=form)
        assert made.status_code == 200, made.text
        token = re.search(r'<code class="secret">([^<]+)</code>', made.text).group(1)
        clock.sleep(60)
        # the browser's reload of the answer sends the same form again: nothing new, the issued one named
        again = c.post("/reauth/L-REAUTH/token", data=form)
    assert again.status_code == 409 and 'id="not-created"' in again.text
    assert _issued(svc) == [("L-REAUTH", "console:olga")] and _bridge_calls(sandbox) == 1
    when = svc.clock.now() - timedelta(seconds=60)
    for html in (again.text, c.get("/reauth/L-REAUTH/token").text):
        issued = html.split('id="issued"')[1].split("</section>")[0]
        assert when.strftime("%Y-%m-%d %H:%M") in issued and "console:olga" in issued
        assert token not in html and "Create another token" in html
    queue = c.get("/reauth").text
    cell = re.search(r'<td class="issued">([^<]*)</td>', queue).group(1)
    assert when.strftime("%Y-%m-%d %H:%M") in cell and "console:olga" in cell
    # never stored, never logged
    assert token not in _everything_stored(svc)
    assert token not in json.dumps(logs, default=str)
    # a fresh form (it knows of the first token) creates another on purpose
    fresh = c.get("/reauth/L-REAUTH/token").text
    form = {"csrf": csrf_of(fresh), "seen": seen_of(fresh), "product": "auto", "confirm": "yes"}
    assert c.post("/reauth/L-REAUTH/token", data=form).status_code == 200
    assert len(_issued(svc)) == 2


def test_a_form_shown_before_another_operator_issued_a_token_creates_nothing(portfolio):
    svc, sandbox = portfolio
    olga, omar = signed_in(svc, "olga", "operator"), signed_in(svc, "omar", "operator")
    mine, theirs = olga.get("/reauth/L-REAUTH/token").text, omar.get("/reauth/L-REAUTH/token").text
    first = {"csrf": csrf_of(theirs), "seen": seen_of(theirs), "product": "auto", "confirm": "yes"}
    assert omar.post("/reauth/L-REAUTH/token", data=first).status_code == 200
    late = olga.post(
        "/reauth/L-REAUTH/token",
        data={"csrf": csrf_of(mine), "seen": seen_of(mine), "product": "auto", "confirm": "yes"},
    )
    assert late.status_code == 409 and "console:omar" in late.text
    assert _issued(svc) == [("L-REAUTH", "console:omar")] and _bridge_calls(sandbox) == 1


@pytest.mark.parametrize("seen", [None, "", "-1", "1e3", "²"])
def test_a_token_form_without_a_valid_seen_field_is_400_and_creates_nothing(portfolio, seen):
    svc, sandbox = portfolio
    c = signed_in(svc, "olga", "operator")
    data = {"csrf": csrf_of(c.get("/reauth/L-REAUTH/token").text), "product": "auto", "confirm": "yes"}
    answer = c.post("/reauth/L-REAUTH/token", data=data | ({"seen": seen} if seen is not None else {}))
    assert answer.status_code == 400 and _issued(svc) == [] and _bridge_calls(sandbox) == 0


# -- point 15: search by the start of an id ----------------------------------------------------------------


def _add_loans(svc, ids: dict[str, str]) -> None:
    now = svc.clock.now()
    with session(svc.engine) as s:
        for loan_id, order_id in ids.items():
            s.add(Loan(loan_id=loan_id, order_id=order_id, imported_at=now, updated_at=now))


def _found(answer) -> list[str]:
    assert answer.status_code == 200, answer.status_code
    return re.findall(r'<li><a href="/loans/[^"]+">([^<]+)</a></li>', answer.text)


def test_search_by_the_start_of_a_loan_id_or_an_order_id(portfolio):
    svc, _ = portfolio
    _add_loans(
        svc,
        {
            "ACME-100": "ord-a-100",
            "ACME-101": "ord-a-101",
            "ACME-2": "ord-b-2",
            "acme-3": "ord-b-3",
            "ACMF-1": "ord-c-1",
            "ACME\u00e9": "ord-d-1",
            "ACME\U0001f600": "ord-d-2",
            "ACME1-0": "zzz-1",  # a language collation ignoring the hyphen would sort this among ACME-1...
        },
    )
    c = signed_in(svc, "alice", "viewer")
    assert _found(c.get("/loans?q=ACME-1")) == ["ACME-100", "ACME-101"]
    assert _found(c.get("/loans?q=ACME")) == [
        "ACME-100",
        "ACME-101",
        "ACME-2",
        "ACME1-0",
        "ACME\u00e9",
        "ACME\U0001f600",
    ]
    assert _found(c.get("/loans?q=ord-b")) == ["ACME-2", "acme-3"]  # by the imported order id
    one = c.get("/loans?q=ord-c")
    assert one.status_code == 303 and one.headers["location"] == "/loans/ACMF-1"
    exact = c.get("/loans?q=ACME-2")  # the whole id: that loan, though none other starts with it
    assert exact.status_code == 303 and exact.headers["location"] == "/loans/ACME-2"
    # a refresh order Truv created (truv_order), found by its start too
    with session(svc.engine) as s:
        refresh = s.execute(select(TruvOrder.id).where(TruvOrder.loan_id == "L-EMP")).scalars().first()
    hit = c.get(f"/loans?q={refresh[:-2]}")
    assert hit.status_code == 303 and hit.headers["location"] == "/loans/L-EMP"
    assert "No loan id or order id starts with that" in c.get("/loans?q=NOPE").text


@pytest.mark.parametrize("query", ["%00", "A%00B", "x" * 129, "A%0AB"])
def test_a_search_text_no_id_could_hold_is_400(portfolio, query):
    svc, _ = portfolio
    assert signed_in(svc, "alice", "viewer").get(f"/loans?q={query}").status_code == 400


def test_the_prefix_search_reads_an_index_not_the_table(portfolio):
    from monitor.store.console_reads import starts_with
    from monitor.store.tables import loan_table, truv_order_table

    svc, _ = portfolio
    with session(svc.engine) as s:
        postgres = s.get_bind().dialect.name == "postgresql"
        if postgres:
            s.execute(text("SET LOCAL enable_seqscan = off"))  # a tiny table: the planner would scan it anyway
        for table, column in (
            (loan_table, "loan_id"),
            (loan_table, "order_id"),
            (loan_table, "original_order_id"),
            (loan_table, "base_order_id"),
            (truv_order_table, "id"),
        ):
            q = select(table.c[column]).where(starts_with(s, table.c[column], "ACME-1"))
            sql = str(q.compile(dialect=s.get_bind().dialect, compile_kwargs={"literal_binds": True}))
            plan = " ".join(str(r) for r in s.execute(text(("EXPLAIN " if postgres else "EXPLAIN QUERY PLAN ") + sql)))
            if postgres:
                assert "Index" in plan and "Seq Scan" not in plan, (column, plan)
            else:
                assert "USING" in plan and "INDEX" in plan and "SCAN" not in plan.replace("SCAN TABLE", "X"), plan


# -- point 15: pages --------------------------------------------------------------------------------------


def _links(html: str, label: str) -> dict[str, str | None]:
    nav = html.split(f'aria-label="{label}"')[1].split("</nav>")[0]
    out: dict[str, str | None] = {}
    for word in ("first", "previous", "next", "last"):
        found = re.search(rf'<a href="([^"]+)"[^>]*>{word}</a>', nav)
        out[word] = found.group(1).replace("&amp;", "&") if found else None
    return out


def _loan_ids(html: str) -> list[str]:
    table = html.split('id="loans"')[1].split("</table>")[0]
    return re.findall(r'<tr><td><a href="/loans/[^"]+">([^<]+)</a>', table)


def test_loans_page_first_previous_next_last_and_past_the_last(portfolio, monkeypatch):
    svc, _ = portfolio
    monkeypatch.setattr(pages, "PAGE", 3)
    _add_loans(svc, {f"P-{i:02}": f"ord-p-{i:02}" for i in range(10)})  # 8 + 10 = 18 loans: 6 pages
    c = signed_in(svc, "alice", "viewer")
    first = c.get("/loans").text
    links = _links(first, "Pages of loans")
    assert links["first"] is None and links["previous"] is None
    assert parse_qs(urlsplit(links["next"]).query)["page"] == ["2"]
    assert parse_qs(urlsplit(links["last"]).query)["page"] == ["6"]
    seen: list[str] = []
    page, html = 1, first
    while True:  # next, next, ... reads every loan once, in order
        seen += _loan_ids(html)
        following = _links(html, "Pages of loans")["next"]
        if following is None:
            break
        html, page = c.get(following).text, page + 1
    assert page == 6 and seen == sorted(seen) and len(seen) == len(set(seen)) == 18
    last = c.get(links["last"]).text
    assert _loan_ids(last) == seen[-3:] and _links(last, "Pages of loans")["next"] is None
    assert _loan_ids(c.get(_links(last, "Pages of loans")["previous"]).text) == seen[-6:-3]
    beyond = c.get("/loans?page=999")  # past the last: the last page, saying so
    assert beyond.status_code == 200 and _loan_ids(beyond.text) == seen[-3:]
    assert 'id="page">6<' in beyond.text
    among = c.get("/loans?needs=reauth&page=7")  # a filter read in Python pages the same way
    assert among.status_code == 200 and _loan_ids(among.text) == ["L-REAUTH"]
    # filters travel with the links
    policy = _links(c.get("/loans?policy=income-30d").text, "Pages of loans")
    assert parse_qs(urlsplit(policy["next"]).query) == {"policy": ["income-30d"], "page": ["2"]}


def test_ledger_reservations_page_newest_first_and_past_the_last(portfolio, monkeypatch):
    svc, _ = portfolio
    monkeypatch.setattr(pages, "LEDGER_PAGE", 2)
    c = signed_in(svc, "alice", "viewer")
    first = c.get("/ledger").text
    total = int(re.search(r'id="reservations-total">(\d+)<', first).group(1))
    assert total >= 5  # the world's pass reserved more than two pages' worth
    pages_count = -(-total // 2)
    rows, html = [], first
    while True:
        table = html.split('id="reservations"')[1].split("</table>")[0]
        rows += re.findall(r"<tr><td>([^<]+)</td>", table)
        nxt = _links(html, "Pages of reservations")["next"]
        if nxt is None:
            break
        html = c.get(nxt).text
    assert len(rows) == total and rows == sorted(rows, reverse=True)  # newest first, each once
    beyond = c.get(f"/ledger?page={pages_count + 5}")
    assert beyond.status_code == 200 and f'id="page">{pages_count}<' in beyond.text
    assert _links(beyond.text, "Pages of reservations")["next"] is None
    loan = c.get("/ledger?loan=L-OK").text  # a filter is kept in the form
    assert 'name="loan" value="L-OK"' in loan


# -- point 15: the audit page ----------------------------------------------------------------------------


def _entries(html: str) -> list[tuple[int, str, str]]:
    if 'id="entries"' not in html or "No entry matches" in html:
        return []
    table = html.split('<table id="entries">')[1].split("</table>")[0]
    return [
        (int(seq), kind, loan)
        for seq, kind, loan in re.findall(
            r"<tr><td>(\d+)</td><td>[^<]*</td><td>([^<]*)</td><td>(?:<a [^>]*>)?([^<]*)", table
        )
    ]


def test_the_audit_page_browses_every_entry_once_by_pages_both_ways(portfolio, monkeypatch):
    svc, _ = portfolio
    monkeypatch.setattr(pages, "AUDIT_PAGE", 4)
    c = signed_in(svc, "vera", "viewer")  # viewers read the trail too
    with session(svc.engine) as s:  # newest first: by time, then by seq
        every = list(s.execute(select(Event.seq).order_by(Event.at.desc(), Event.seq.desc())).scalars())
    html, shown = c.get("/audit").text, []
    assert _links(html, "Pages of entries")["first"] is None
    while True:
        shown += [seq for seq, _, _ in _entries(html)]
        nxt = _links(html, "Pages of entries")["next"]
        if nxt is None:
            break
        html = c.get(nxt).text
    assert shown == every  # each entry once, newest first
    last = c.get(_links(c.get("/audit").text, "Pages of entries")["last"]).text
    assert [seq for seq, _, _ in _entries(last)] == every[-4:]
    back = c.get(_links(last, "Pages of entries")["previous"]).text
    assert [seq for seq, _, _ in _entries(back)] == every[-8:-4]
    assert c.get("/audit?before=999999").status_code == 200  # an entry gone (purged): from the newest


def test_the_audit_page_filters_by_loan_kind_and_dates(portfolio, clock):
    svc, _ = portfolio
    c = signed_in(svc, "alice", "viewer")
    by_loan = _entries(c.get("/audit?loan=L-REAUTH").text)
    assert by_loan and {loan for _, _, loan in by_loan} == {"L-REAUTH"}
    html = c.get("/audit?kind=outcome").text
    outcomes = _entries(html)
    assert outcomes and {kind for _, kind, _ in outcomes} == {"outcome"}
    assert "<option selected>outcome</option>" in html and "<option>reserved</option>" in html
    both = _entries(c.get("/audit?kind=outcome&loan=L-OK").text)
    assert both and {(k, loan) for _, k, loan in both} == {("outcome", "L-OK")}
    today = svc.clock.now().date()
    assert _entries(c.get(f"/audit?from={today}&to={today}").text)
    assert _entries(c.get(f"/audit?to={today - timedelta(days=1)}").text) == []
    assert _entries(c.get(f"/audit?from={today + timedelta(days=1)}").text) == []
    clock.sleep(2 * 86400)
    with session(svc.engine) as s:
        ledger.add_event(s, at=svc.clock.now(), kind="released", loan_id="L-OK", detail={"reason": "later"})
    c = signed_in(svc, "alice", "viewer")  # the first session ended with its 8 hours
    later = _entries(c.get(f"/audit?from={today + timedelta(days=1)}").text)
    assert [(k, loan) for _, k, loan in later] == [("released", "L-OK")]


@pytest.mark.parametrize(
    "query",
    [
        "kind=Outcome",
        "kind=%3Cb%3E",
        "from=2026-13-01",
        "from=2026-06-05&to=2026-06-01",
        "before=x",
        "loan=" + "x" * 129,
    ],
)
def test_bad_audit_filters_are_400(portfolio, query):
    svc, _ = portfolio
    assert signed_in(svc, "alice", "viewer").get(f"/audit?{query}").status_code == 400


def test_the_audit_page_escapes_what_entries_hold_and_shows_no_access_token(portfolio):
    svc, _ = portfolio
    script = '<script>alert(1)</script>"><img src=x onerror=alert(2)>'
    with session(svc.engine) as s:
        ledger.add_event(s, at=svc.clock.now(), kind="skipped", loan_id=script, detail={"reason": script + "\u202e"})
    c = signed_in(svc, "alice", "operator")
    for path in ("/audit", "/audit?kind=skipped", "/audit?last=1", "/audit?loan=L-SH0"):
        html = c.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html and "\u202e" not in html, path
        for secret in (*ACCESS_TOKENS, "sandbox-test"):
            assert secret not in html, (path, secret)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in c.get("/audit").text
