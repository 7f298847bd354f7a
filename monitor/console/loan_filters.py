"""The loans page's filters no SQL clause of `loans list` has: loans waiting for the borrower or set
aside (`needs`), and loans with findings (`finding`)."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request

from monitor.console.query import flag, text
from monitor.console.web import Console
from monitor.reports.reauth import needing_reauth, set_aside
from monitor.store import console_reads
from monitor.store.db import read_only, session


def among(console: Console, request: Request, now: datetime) -> set[str] | None:
    """Only the loans the "needs" and "with findings" filters keep (None: no such filter)."""
    needs, with_findings = text(request, "needs"), flag(request, "finding")
    kept: set[str] | None = None
    if needs:
        kept = _needing(console, needs, now)
    if with_findings:
        with session(read_only(console.context.engine)) as s:
            flagged = console_reads.loans_with_findings(s)
        kept = flagged if kept is None else kept & flagged
    return kept


def _needing(console: Console, needs: str, now: datetime) -> set[str]:
    """Loans waiting for the borrower (`reauth`) or set aside (`needs_new_order`, `manual_review`)."""
    if needs == "reauth":
        return {r["loan_id"] for r in needing_reauth(console.context, now=now)}
    return {r["loan_id"] for r in set_aside(console.context, now=now) if r["needs"] == needs}
