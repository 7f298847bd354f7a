"""The loans page: a search by loan or order id (one match opens the loan), else the filtered list,
a page at a time (`loans list`'s read, with the console's "needs" and "with findings" filters)."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.console.paging import page_count, pager
from monitor.console.query import flag, page_number, search_text, text
from monitor.console.web import Console
from monitor.core.states import SkipReason
from monitor.reports.loan_list import loan_list
from monitor.reports.reauth import needing_reauth, set_aside
from monitor.store import console_reads
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session


def loans_page(console: Console, request: Request, me: SignedIn, *, size: int) -> Response:
    query = search_text(request)
    if query is not None:
        return _search(console, request, me, query)
    now = console.now()
    stale, policy, reason = flag(request, "stale"), text(request, "policy"), text(request, "reason")
    filters: dict[str, object] = {
        "stale": stale,
        "policy": policy,
        "reason": reason,
        "needs": text(request, "needs"),
        "finding": flag(request, "finding"),
    }
    page = page_number(request)
    # past the last page (a stale link, a narrower filter): the last page, as it says
    view = loan_list(
        console.context,
        now=now,
        stale=stale,
        policy=policy,
        reason=reason,
        limit=size,
        offset=(page - 1) * size,
        among=_among(console, request, now),
    )
    pages = page_count(view["total"], size)
    shown = {
        "query": None,
        "found": None,
        "view": view,
        "filters": filters,
        "pager": pager(request, min(page, pages), pages),
        "read_at": now,
        "policies": [p.name for p in console.context.config.policies],
        "reasons": [r.value for r in SkipReason],
    }
    return console.page(request, "loans.html", me, shown)


def _search(console: Console, request: Request, me: SignedIn, query: str) -> Response:
    with session(read_only(console.context.engine)) as s:
        found = console_reads.find_loans(s, query)
    only = found.exact or (found.loan_ids[0] if len(found.loan_ids) == 1 else None)
    if only is not None:
        return RedirectResponse(f"/loans/{quote(only, safe='')}", status_code=303)
    return console.page(request, "loans.html", me, {"query": query, "found": found, "view": None, "filters": {}})


def _among(console: Console, request: Request, now: datetime) -> set[str] | None:
    """Only the loans the "needs" and "with findings" filters keep (None: no such filter)."""
    needs, with_findings = text(request, "needs"), flag(request, "finding")
    among: set[str] | None = None
    if needs:
        among = _needing(console, needs, now)
    if with_findings:
        with session(read_only(console.context.engine)) as s:
            flagged = console_reads.loans_with_findings(s)
        among = flagged if among is None else among & flagged
    return among


def _needing(console: Console, needs: str, now: datetime) -> set[str]:
    """Loans waiting for the borrower (`reauth`) or set aside (`needs_new_order`, `manual_review`)."""
    if needs == "reauth":
        return {r["loan_id"] for r in needing_reauth(console.context, now=now)}
    return {r["loan_id"] for r in set_aside(console.context, now=now) if r["needs"] == needs}
