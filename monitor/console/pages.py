"""The read-only pages. Each reads through the function the matching CLI command uses, so a page and
`monitor status --json`, `loans show`, `reauth list`, `changes`, `ledger` or `audit verify` cannot disagree."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from monitor.console.web import Console
from monitor.core.changes import SEVERITY_ORDER, severities_from
from monitor.errors import InputError
from monitor.reports.ledger_view import ledger_view
from monitor.reports.loan_view import loan_list, loan_show
from monitor.reports.reauth import needing_reauth, set_aside
from monitor.reports.status import status
from monitor.store import audit, console_reads
from monitor.store.console_users import SignedIn
from monitor.store.db import read_only, session
from monitor.store.monitoring import findings

PAGE = 50
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


def audit_state(console: Console) -> tuple[datetime, dict[str, Any]]:
    def read() -> dict[str, Any]:
        with session(read_only(console.context.engine)) as s:
            return audit.verify(s, key=os.environ.get(audit.KEY_ENV) or None)

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
    query = _text(request, "q")
    if query is not None:
        with session(read_only(console.context.engine)) as s:
            found = console_reads.find_loans(s, query)
        if len(found) == 1:
            from starlette.responses import RedirectResponse

            return RedirectResponse(f"/loans/{found[0]}", status_code=303)
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
    pages = max(1, -(-view["total"] // PAGE))
    return console.page(
        request,
        "loans.html",
        me,
        query=None,
        found=None,
        view=view,
        filters=filters,
        page=page,
        pages=pages,
        read_at=now,
        policies=[p.name for p in console.context.config.policies],
        reasons=_reasons(),
    )


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
    return console.page(
        request,
        "reauth.html",
        me,
        rows=needing_reauth(console.context, now=now),
        aside=set_aside(console.context, now=now),
        can_act=me.role == "operator" and console.services is not None,
    )


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
    view = ledger_view(
        console.context,
        loan_id=_text(request, "loan"),
        limit=200,
        now=console.now(),
        exhausted=_flag(request, "exhausted"),
        token=_text(request, "token"),
        since=datetime(since.year, since.month, since.day, tzinfo=UTC) if since else None,
    )
    return console.page(request, "ledger.html", me, view=view, exhausted=_flag(request, "exhausted"))


def audit_page(console: Console, request: Request, me: SignedIn) -> Response:
    if _flag(request, "refresh"):
        console.cached.forget("audit")
    checked_at, chain = audit_state(console)
    with session(read_only(console.context.engine)) as s:
        checkpoints = console_reads.checkpoints(s)
    return console.page(request, "audit.html", me, chain=chain, checked_at=checked_at, checkpoints=checkpoints)
