"""The loans page: a search by loan or order id (one match opens the loan), else the filtered list,
a page at a time (`loans list`'s read, with the console's "needs" and "with findings" filters)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from monitor.console.loan_filters import among
from monitor.console.page_data import LoansPage
from monitor.console.paging import page_count, pager
from monitor.console.query import flag, page_number, search_text, text
from monitor.console.web import Console
from monitor.core.states import SkipReason
from monitor.reports.loan_list import loan_list
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
        among=among(console, request, now),
    )
    pages = page_count(view["total"], size)
    shown = LoansPage(
        query=None,
        found=None,
        view=view,
        filters=filters,
        pager=pager(request, min(page, pages), pages),
        read_at=now,
        policies=[p.name for p in console.context.config.policies],
        reasons=[r.value for r in SkipReason],
    )
    return console.page(request, "loans.html", me, shown)


def _search(console: Console, request: Request, me: SignedIn, query: str) -> Response:
    with session(read_only(console.context.engine)) as s:
        found = console_reads.find_loans(s, query)
    only = found.exact or (found.loan_ids[0] if len(found.loan_ids) == 1 else None)
    if only is not None:
        return RedirectResponse(f"/loans/{quote(only, safe='')}", status_code=303)
    return console.page(request, "loans.html", me, LoansPage(query=query, found=found, view=None, filters={}))
