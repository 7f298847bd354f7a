"""The read-only pages. Each reads through the function the matching CLI command uses, so a page and
`monitor status --json`, `loans show`, `reauth list`, `changes`, `ledger` or `audit verify` cannot disagree."""

from __future__ import annotations

from collections import Counter

from starlette.requests import Request
from starlette.responses import Response

from monitor.console.audit_trail import audit_state, entries, entry_row
from monitor.console.loans_page import loans_page
from monitor.console.page_data import (
    AuditPage,
    ChangesPage,
    LedgerPage,
    LoanPage,
    OverviewPage,
    QueueRow,
    ReauthPage,
)
from monitor.console.paging import page_count, pager
from monitor.console.query import day, flag, midnight, page_number, text
from monitor.console.web import Console
from monitor.core.changes import SEVERITY_ORDER, severities_from
from monitor.errors import InputError
from monitor.reports.ledger_view import ledger_view
from monitor.reports.loan_view import loan_show
from monitor.reports.reauth import needing_reauth, set_aside
from monitor.reports.reauth_shapes import WaitingConnection
from monitor.reports.status import status
from monitor.reports.status_shapes import StatusView
from monitor.store import audit_pages, console_reads
from monitor.store.console_reads import TokenIssued
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session
from monitor.store.monitoring import findings

PAGE = 50
LEDGER_PAGE = 200  # rows in every ledger section; the reservations page on
AUDIT_PAGE = 50


def overview(console: Console, request: Request, me: SignedIn) -> Response:
    now = console.now()
    read_at, data = console.cached.get("status", now, lambda: status(console.context, now=now))
    failed, throttled = _pass_troubles(data)
    with session(read_only(console.context.engine)) as s:
        severity = console_reads.finding_counts(s)
    checked_at, chain = audit_state(console)
    shown = OverviewPage(
        data=data,
        read_at=read_at,
        failed=failed,
        throttled=throttled,
        severity={s.value: severity.get(s.value, 0) for s in sorted(SEVERITY_ORDER, key=SEVERITY_ORDER.__getitem__)},
        chain=chain,
        chain_checked_at=checked_at,
    )
    return console.page(request, "overview.html", me, shown)


def _pass_troubles(data: StatusView) -> tuple[dict[str, int], int]:
    """The recent passes' failures by cause (most first), and how often Truv throttled them."""
    failed: Counter[str] = Counter()
    throttled = 0
    for job in data["jobs"]:
        for run in job["last_passes"]:
            failed.update(run["failed"] or {})
            throttled += run["throttled"] or 0
    return dict(failed.most_common()), throttled


def loans(console: Console, request: Request, me: SignedIn) -> Response:
    return loans_page(console, request, me, size=PAGE)


def loan(console: Console, request: Request, me: SignedIn) -> Response:
    loan_id = request.path_params["loan_id"]
    try:
        view = loan_show(console.context, loan_id, now=console.now())
    except InputError as exc:
        return console.error(request, me, status=404, title="No such loan", message=str(exc))
    return console.page(request, "loan.html", me, LoanPage(view=view))


def reauth(console: Console, request: Request, me: SignedIn) -> Response:
    now = console.now()
    rows = needing_reauth(console.context, now=now)
    with session(read_only(console.context.engine)) as s:
        issued = console_reads.tokens_issued(s, {r["loan_id"] for r in rows})
    queue: list[QueueRow] = [{**r, "issued": _issued_for(r, issued)} for r in rows]
    shown = ReauthPage(
        rows=queue,
        aside=set_aside(console.context, now=now),
        can_act=me.role == "operator" and console.services is not None,
    )
    return console.page(request, "reauth.html", me, shown)


def _issued_for(row: WaitingConnection, issued: list[TokenIssued]) -> TokenIssued | None:
    """The newest token issued for this connection since it began to need the borrower (newest first)."""
    since = row["since"]
    for i in issued:
        if i.loan_id == row["loan_id"] and i.token == row["token"] and since is not None and i.at >= since:
            return i
    return None


def changes(console: Console, request: Request, me: SignedIn) -> Response:
    severity = text(request, "severity")
    wanted = None
    if severity is not None:
        try:
            wanted = severities_from(severity)
        except ValueError as exc:
            raise InputError("severity", "", str(exc)) from None
    since = day(request, "since")
    with session(read_only(console.context.engine)) as s:
        rows = findings(s, since=midnight(since), loan_id=text(request, "loan"), severities=wanted, limit=500)
    shown = ChangesPage(
        rows=rows, severity=severity, since=since, loan=text(request, "loan"), can_act=me.role == "operator"
    )
    return console.page(request, "changes.html", me, shown)


def ledger(console: Console, request: Request, me: SignedIn) -> Response:
    since = day(request, "since")
    now, page = console.now(), page_number(request)
    exhausted, token, loan_id = flag(request, "exhausted"), text(request, "token"), text(request, "loan")
    view = ledger_view(  # past the last page: the last page
        console.context,
        loan_id=loan_id,
        limit=LEDGER_PAGE,
        offset=(page - 1) * LEDGER_PAGE,
        now=now,
        exhausted=exhausted,
        token=token,
        since=midnight(since),
    )
    pages = page_count(view["totals"]["reservations"], LEDGER_PAGE)
    page = min(page, pages)
    shown = LedgerPage(
        view=view,
        filters={"exhausted": exhausted, "token": token, "loan": loan_id, "since": since},
        pager=pager(request, page, pages),
        first_row=(page - 1) * LEDGER_PAGE + 1,
    )
    return console.page(request, "ledger.html", me, shown)


def audit_page(console: Console, request: Request, me: SignedIn) -> Response:
    if flag(request, "refresh"):
        console.cached.forget("audit")
    checked_at, chain = audit_state(console)
    trail, links = entries(console, request, limit=AUDIT_PAGE)

    def read_kinds() -> list[str]:
        with session(read_only(console.context.engine)) as s:
            return audit_pages.kinds(s)

    _, kinds = console.cached.get("audit_kinds", console.now(), read_kinds)
    with session(read_only(console.context.engine)) as s:
        checkpoints = console_reads.checkpoints(s)
    shown = AuditPage(
        chain=chain,
        checked_at=checked_at,
        checkpoints=checkpoints,
        entries=[entry_row(e) for e in trail.entries],
        pager=links,
        kinds=kinds,
        filters={k: request.query_params.get(k, "") for k in ("loan", "kind", "from", "to")},
    )
    return console.page(request, "audit.html", me, shown)
