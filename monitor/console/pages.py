"""The read-only pages. Each reads through the function the matching CLI command uses, so a page and
`monitor status --json`, `loans show`, `reauth list`, `changes`, `ledger` or `audit verify` cannot disagree."""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.console.web import Console
from monitor.core.changes import SEVERITY_ORDER, severities_from
from monitor.errors import InputError
from monitor.reports.ledger_view import ledger_view
from monitor.reports.loan_view import loan_list, loan_show
from monitor.reports.reauth import needing_reauth, set_aside
from monitor.reports.status import status
from monitor.store import audit, audit_pages, console_reads
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session
from monitor.store.monitoring import findings

PAGE = 50
LEDGER_PAGE = 200  # rows in every ledger section; the reservations page on
AUDIT_TTL = timedelta(minutes=10)  # walking the whole chain is the slowest read; it changes only by appending


def _flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "on", "true", "yes")


def _text(request: Request, name: str) -> str | None:
    value = request.query_params.get(name, "").strip()
    return value or None


def _day(request: Request, name: str) -> date | None:
    value = _text(request, name)
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InputError(name, "", f"expected a date YYYY-MM-DD, got {value!r}") from None


def _page_number(request: Request) -> int:
    raw = request.query_params.get("page", "1")
    # ASCII digits only (str.isdigit takes "²"), and few of them (int() refuses past 4,300 digits)
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        raise InputError("page", "", f"expected a page number, got {raw[:20]!r}")
    return max(1, int(raw))


@dataclass(frozen=True, slots=True)
class Pager:
    """Links to the first, previous, next and last page, the query's other parameters kept (None: here)."""

    page: int
    pages: int
    first: str | None
    previous: str | None
    next: str | None
    last: str | None


def _href(request: Request, **changed: object) -> str:
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in changed]
    kept += [(k, str(v)) for k, v in changed.items() if v is not None]
    return f"{request.url.path}?{urlencode(kept)}" if kept else request.url.path


def pager(request: Request, page: int, pages: int) -> Pager:
    def to(n: int) -> str | None:
        return None if n == page else _href(request, page=n)

    return Pager(
        page=page,
        pages=pages,
        first=to(1),
        previous=to(page - 1) if page > 1 else None,
        next=to(page + 1) if page < pages else None,
        last=to(pages),
    )


def _pages(total: int, size: int) -> int:
    return max(1, -(-total // size))


def audit_state(console: Console) -> tuple[datetime, dict[str, Any]]:
    def read() -> dict[str, Any]:
        with session(read_only(console.context.engine)) as s:
            return audit.verify(s, key=audit.audit_key())  # MONITOR_AUDIT_KEY, else the file _FILE names

    return console.cached.get("audit", console.now(), read, ttl=AUDIT_TTL)


def overview(console: Console, request: Request, me: SignedIn) -> Response:
    now = console.now()
    read_at, data = console.cached.get("status", now, lambda: status(console.context, now=now))
    failed: Counter[str] = Counter()
    throttled = 0
    for job in data["jobs"]:
        for run in job["last_passes"]:
            failed.update(run.get("failed") or {})
            throttled += run.get("throttled") or 0
    with session(read_only(console.context.engine)) as s:
        severity = console_reads.finding_counts(s)
    checked_at, chain = audit_state(console)
    return console.page(
        request,
        "overview.html",
        me,
        data=data,
        read_at=read_at,
        failed=dict(failed.most_common()),
        throttled=throttled,
        severity={s.value: severity.get(s.value, 0) for s in sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__)},
        chain=chain,
        chain_checked_at=checked_at,
    )


def loans(console: Console, request: Request, me: SignedIn) -> Response:
    now = console.now()
    query = _search_text(request)
    if query is not None:
        with session(read_only(console.context.engine)) as s:
            found = console_reads.find_loans(s, query)
        only = found.exact or (found.loan_ids[0] if len(found.loan_ids) == 1 else None)
        if only is not None:
            return RedirectResponse(f"/loans/{quote(only, safe='')}", status_code=303)
        return console.page(request, "loans.html", me, query=query, found=found, view=None, filters={})
    stale, policy, reason = _flag(request, "stale"), _text(request, "policy"), _text(request, "reason")
    needs, with_findings = _text(request, "needs"), _flag(request, "finding")
    filters: dict[str, object] = {
        "stale": stale,
        "policy": policy,
        "reason": reason,
        "needs": needs,
        "finding": with_findings,
    }
    among: set[str] | None = None
    if needs:
        among = _needing(console, needs, now)
    if with_findings:
        with session(read_only(console.context.engine)) as s:
            flagged = console_reads.loans_with_findings(s)
        among = flagged if among is None else among & flagged
    page = _page_number(request)
    # past the last page (a stale link, a narrower filter): the last page, as it says
    view = loan_list(
        console.context,
        now=now,
        stale=stale,
        policy=policy,
        reason=reason,
        limit=PAGE,
        offset=(page - 1) * PAGE,
        among=among,
    )
    pages = _pages(view["total"], PAGE)
    page = min(page, pages)
    return console.page(
        request,
        "loans.html",
        me,
        query=None,
        found=None,
        view=view,
        filters=filters,
        pager=pager(request, page, pages),
        read_at=now,
        policies=[p.name for p in console.context.config.policies],
        reasons=_reasons(),
    )


MAX_SEARCH = console_reads.MAX_SEARCH
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _search_text(request: Request) -> str | None:
    """What to search for: at most MAX_SEARCH characters, no control characters (no id holds one, and
    Postgres refuses a NUL in text)."""
    text = _text(request, "q")
    if text is not None and (len(text) > MAX_SEARCH or _CONTROL.search(text)):
        raise InputError("q", "", f"expected the start of a loan id or order id (at most {MAX_SEARCH} characters)")
    return text


def _needing(console: Console, needs: str, now: datetime) -> set[str]:
    """Loans waiting for the borrower (`reauth`) or set aside (`needs_new_order`, `manual_review`)."""
    if needs == "reauth":
        return {r["loan_id"] for r in needing_reauth(console.context, now=now)}
    return {r["loan_id"] for r in set_aside(console.context, now=now) if r["needs"] == needs}


def _reasons() -> list[str]:
    from monitor.core.states import SkipReason

    return [r.value for r in SkipReason]


def loan(console: Console, request: Request, me: SignedIn) -> Response:
    loan_id = request.path_params["loan_id"]
    try:
        view = loan_show(console.context, loan_id, now=console.now())
    except InputError as exc:
        return console.page(request, "error.html", me, status=404, title="No such loan", message=str(exc))
    return console.page(request, "loan.html", me, view=view)


def reauth(console: Console, request: Request, me: SignedIn) -> Response:
    now = console.now()
    rows = needing_reauth(console.context, now=now)
    with session(read_only(console.context.engine)) as s:
        issued = console_reads.tokens_issued(s, {r["loan_id"] for r in rows})
    return console.page(
        request,
        "reauth.html",
        me,
        rows=[{**r, "issued": _issued_for(r, issued)} for r in rows],
        aside=set_aside(console.context, now=now),
        can_act=me.role == "operator" and console.services is not None,
    )


def _issued_for(row: dict[str, Any], issued: list[console_reads.TokenIssued]) -> console_reads.TokenIssued | None:
    """The newest token issued for this connection since it began to need the borrower (newest first)."""
    for i in issued:
        if i.loan_id == row["loan_id"] and i.token == row["token"] and i.at >= row["since"]:
            return i
    return None


def changes(console: Console, request: Request, me: SignedIn) -> Response:
    severity = _text(request, "severity")
    wanted = None
    if severity is not None:
        try:
            wanted = severities_from(severity)
        except ValueError as exc:
            raise InputError("severity", "", str(exc)) from None
    since = _day(request, "since")
    start = datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None
    with session(read_only(console.context.engine)) as s:
        rows = findings(s, since=start, loan_id=_text(request, "loan"), severities=wanted, limit=500)
    return console.page(
        request,
        "changes.html",
        me,
        rows=rows,
        severity=severity,
        since=since,
        loan=_text(request, "loan"),
        can_act=me.role == "operator",
    )


def ledger(console: Console, request: Request, me: SignedIn) -> Response:
    since = _day(request, "since")
    now, page = console.now(), _page_number(request)
    exhausted, token, loan_id = _flag(request, "exhausted"), _text(request, "token"), _text(request, "loan")
    filters = {"exhausted": exhausted, "token": token, "loan": loan_id, "since": since}

    view = ledger_view(  # past the last page: the last page
        console.context,
        loan_id=loan_id,
        limit=LEDGER_PAGE,
        offset=(page - 1) * LEDGER_PAGE,
        now=now,
        exhausted=exhausted,
        token=token,
        since=datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None,
    )
    pages = _pages(view["totals"]["reservations"], LEDGER_PAGE)
    page = min(page, pages)
    return console.page(
        request,
        "ledger.html",
        me,
        view=view,
        filters=filters,
        pager=pager(request, page, pages),
        first_row=(page - 1) * LEDGER_PAGE + 1,
    )


AUDIT_PAGE = 50
_KIND = re.compile(r"[a-z_]{1,32}")


def _seq(request: Request, name: str) -> int | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 12):
        raise InputError(name, "", f"expected an entry number, got {raw[:20]!r}")
    return int(raw)


def _audit_filter(request: Request) -> audit_pages.AuditFilter:
    loan_id, kind = _text(request, "loan"), _text(request, "kind")
    if loan_id is not None and len(loan_id) > MAX_SEARCH:
        raise InputError("loan", "", f"expected a loan id (at most {MAX_SEARCH} characters)")
    if kind is not None and not _KIND.fullmatch(kind):
        raise InputError("kind", "", "expected a kind of entry such as reserved or outcome")
    start, end = _day(request, "from"), _day(request, "to")
    if start is not None and end is not None and end < start:
        raise InputError("to", "", f"{end} is before from {start}")
    return audit_pages.AuditFilter(
        loan_id=loan_id,
        kind=kind,
        start=datetime(start.year, start.month, start.day, tzinfo=UTC) if start else None,
        # `to` is a whole day: entries before the next midnight
        end=datetime(end.year, end.month, end.day, tzinfo=UTC) + timedelta(days=1) if end else None,
    )


def _entries(console: Console, request: Request) -> tuple[audit_pages.AuditPage, Pager]:
    """A page of the trail: the newest, the oldest (`last=1`), or older than `before` / newer than `after`."""
    wanted = _audit_filter(request)
    before, after = _seq(request, "before"), _seq(request, "after")
    direction: audit_pages.Direction = "oldest" if _flag(request, "last") else "newest"
    at_seq = before if before is not None else after
    with session(read_only(console.context.engine)) as s:
        cursor = audit_pages.cursor_of(s, at_seq) if at_seq is not None else None
        if cursor is not None:
            direction = "older" if before is not None else "newer"
        page = audit_pages.browse(s, wanted, direction=direction, cursor=cursor, limit=AUDIT_PAGE)
        if not page.entries and direction in ("older", "newer"):  # nothing past the end: the end itself
            direction = "oldest" if direction == "older" else "newest"
            page = audit_pages.browse(s, wanted, direction=direction, limit=AUDIT_PAGE)
    moves = ("before", "after", "last", "page")
    here: dict[str, object] = dict.fromkeys(moves)
    links = Pager(
        page=0,
        pages=0,
        first=_href(request, **here) if page.newer else None,
        previous=_href(request, **{**here, "after": page.entries[0].seq}) if page.newer else None,
        next=_href(request, **{**here, "before": page.entries[-1].seq}) if page.older else None,
        last=_href(request, **{**here, "last": 1}) if page.older else None,
    )
    return page, links


def audit_page(console: Console, request: Request, me: SignedIn) -> Response:
    if _flag(request, "refresh"):
        console.cached.forget("audit")
    checked_at, chain = audit_state(console)
    entries, links = _entries(console, request)

    def read_kinds() -> list[str]:
        with session(read_only(console.context.engine)) as s:
            return audit_pages.kinds(s)

    _, kinds = console.cached.get("audit_kinds", console.now(), read_kinds)
    with session(read_only(console.context.engine)) as s:
        checkpoints = console_reads.checkpoints(s)
    return console.page(
        request,
        "audit.html",
        me,
        chain=chain,
        checked_at=checked_at,
        checkpoints=checkpoints,
        entries=[_entry_row(e) for e in entries.entries],
        pager=links,
        kinds=kinds,
        filters={k: request.query_params.get(k, "") for k in ("loan", "kind", "from", "to")},
    )


def _entry_row(e: audit_pages.AuditEntry) -> dict[str, Any]:
    """As the loan page's timeline shows an entry: its detail read, every value escaped by the template."""
    try:
        detail: Any = json.loads(e.detail or "{}")
    except ValueError:
        detail = e.detail
    return {
        "seq": e.seq,
        "at": e.at,
        "kind": e.kind,
        "loan_id": e.loan_id,
        "run_id": e.run_id,
        "actor": e.actor,
        "detail": detail,
    }
