"""The audit page's reads: the chain's check (cached: walking it all is the slowest read), a page of the
trail by filter and cursor, and each entry as the loan page's timeline shows it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime, timedelta

from starlette.requests import Request

from monitor.console.page_data import AuditRow
from monitor.console.paging import Pager, href
from monitor.console.query import day, flag, midnight, seq, text
from monitor.console.web import Console
from monitor.errors import InputError
from monitor.store import audit, audit_pages
from monitor.store.console_reads import MAX_SEARCH
from monitor.store.db import read_only, session

AUDIT_TTL = timedelta(minutes=10)  # walking the whole chain is the slowest read; it changes only by appending
_KIND = re.compile(r"[a-z_]{1,32}")


def audit_state(console: Console) -> tuple[datetime, Mapping[str, object]]:
    """When the chain was last checked, and what the check found (`audit verify`'s answer)."""

    def read() -> Mapping[str, object]:
        with session(read_only(console.context.engine)) as s:
            return audit.verify(s, key=audit.audit_key())  # MONITOR_AUDIT_KEY, else the file _FILE names

    checked_at, chain = console.cached.get("audit", console.now(), read, ttl=AUDIT_TTL)
    return checked_at, chain


def audit_filter(request: Request) -> audit_pages.AuditFilter:
    loan_id, kind = text(request, "loan"), text(request, "kind")
    if loan_id is not None and len(loan_id) > MAX_SEARCH:
        raise InputError("loan", "", f"expected a loan id (at most {MAX_SEARCH} characters)")
    if kind is not None and not _KIND.fullmatch(kind):
        raise InputError("kind", "", "expected a kind of entry such as reserved or outcome")
    start, end = day(request, "from"), day(request, "to")
    if start is not None and end is not None and end < start:
        raise InputError("to", "", f"{end} is before from {start}")
    until = midnight(end)
    # `to` is a whole day: entries before the next midnight
    return audit_pages.AuditFilter(
        loan_id=loan_id, kind=kind, start=midnight(start), end=until + timedelta(days=1) if until else None
    )


def entries(console: Console, request: Request, *, limit: int) -> tuple[audit_pages.AuditPage, Pager]:
    """A page of the trail: the newest, the oldest (`last=1`), or older than `before` / newer than `after`."""
    page = _browse(console, request, limit)
    here: dict[str, object] = dict.fromkeys(("before", "after", "last", "page"))
    links = Pager(
        page=0,
        pages=0,
        first=href(request, **here) if page.newer else None,
        previous=href(request, **{**here, "after": page.entries[0].seq}) if page.newer else None,
        next=href(request, **{**here, "before": page.entries[-1].seq}) if page.older else None,
        last=href(request, **{**here, "last": 1}) if page.older else None,
    )
    return page, links


def _browse(console: Console, request: Request, limit: int) -> audit_pages.AuditPage:
    wanted = audit_filter(request)
    before, after = seq(request, "before"), seq(request, "after")
    direction: audit_pages.Direction = "oldest" if flag(request, "last") else "newest"
    at_seq = before if before is not None else after
    with session(read_only(console.context.engine)) as s:
        cursor = audit_pages.cursor_of(s, at_seq) if at_seq is not None else None
        if cursor is not None:
            direction = "older" if before is not None else "newer"
        page = audit_pages.browse(s, wanted, direction=direction, cursor=cursor, limit=limit)
        if not page.entries and direction in ("older", "newer"):  # nothing past the end: the end itself
            direction = "oldest" if direction == "older" else "newest"
            page = audit_pages.browse(s, wanted, direction=direction, limit=limit)
    return page


def entry_row(e: audit_pages.AuditEntry) -> AuditRow:
    """As the loan page's timeline shows an entry: its detail read, every value escaped by the template."""
    try:
        detail: object = json.loads(e.detail or "{}")
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
