"""The reports page: a period's download form and its pre-closing evidence, or the report itself."""

from __future__ import annotations

from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response

from monitor.console.page_data import ReportsPage
from monitor.console.reports_download import download
from monitor.console.web import Console
from monitor.errors import InputError
from monitor.reports.compliance import pre_closing_rows
from monitor.reports.evidence import findings_cell
from monitor.store.console_users import SignedIn

REPORT_YEARS = (1900, 2200)  # the loan dates an import accepts; past them a report's date arithmetic overflows


def report(console: Console, request: Request, me: SignedIn) -> Response:
    params = request.query_params
    if "from" not in params:
        today = console.now().date()
        return _report_page(console, request, me, start=today.replace(day=1), end=_month_end(today))
    start, end = _period(params.get("from", ""), params.get("to", ""))
    if params.get("format") == "page":
        return _report_page(console, request, me, start=start, end=end)
    return download(console.context, start=start, end=end, fmt=params.get("format", "html"), now=console.now())


def _period(start_text: str, end_text: str) -> tuple[date, date]:
    try:
        start, end = date.fromisoformat(start_text), date.fromisoformat(end_text)
    except ValueError:
        raise InputError("from/to", "", "expected dates YYYY-MM-DD") from None
    if not (REPORT_YEARS[0] <= start.year and end.year <= REPORT_YEARS[1]):
        raise InputError("from/to", "", f"expected dates from {REPORT_YEARS[0]} to {REPORT_YEARS[1]}")
    if end < start:
        raise InputError("to", "", f"{end} is before from {start}")
    return start, end


def _month_end(day: date) -> date:
    first_next = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return first_next - timedelta(days=1)


def _report_page(console: Console, request: Request, me: SignedIn, *, start: date, end: date) -> Response:
    """The download form, and the pre-closing evidence of the loans closing in the period, as the report has it."""
    rows = pre_closing_rows(console.context, start=start, end=end, now=console.now())
    # shown as text: the findings with their disposition, note and who
    closing = [
        {
            **r,
            "findings": findings_cell(r["findings"]) or None,
            "employers_verified": "; ".join(r["employers_verified"]) or None,
        }
        for r in rows
    ]
    return console.page(request, "reports.html", me, ReportsPage(start=start, end=end, closing=closing))
