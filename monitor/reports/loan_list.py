"""`monitor loans list`: one line per loan, by loan_id (the console's loans page too). Read-only.

Which loans, and how many, is decided in SQL with the pass's own clauses (monitor.store.loan_pages);
only the page is read, and each line judged stale as the pass would (monitor.reports.loan_staleness)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime

from monitor.config import PolicyConfig
from monitor.core.matching import matches
from monitor.core.products import scope_of
from monitor.errors import InputError
from monitor.reports.evidence_shapes import loan_fields
from monitor.reports.loan_sections import detail
from monitor.reports.loan_shapes import LoanList, LoanListRow
from monitor.reports.loan_staleness import is_stale
from monitor.services import Context
from monitor.store import loan_pages, loan_rows
from monitor.store.db import read_only, session
from monitor.store.loan_pages import PolicyTerms
from monitor.store.loan_rows import EventRow, LastOutcome, LoanRow


@dataclass(frozen=True, slots=True)
class _Page:
    loans: list[LoanRow]
    total: int
    attributes: dict[str, dict[str, str]]
    last_outcome: dict[str, LastOutcome]
    last_skip: dict[str, EventRow]


def loan_list(
    services: Context,
    *,
    now: datetime,
    stale: bool = False,
    policy: str | None = None,
    reason: str | None = None,
    limit: int = 200,
    offset: int = 0,
    among: Collection[str] | None = None,
) -> LoanList:
    """One line per loan, by loan_id; `stale` keeps loans stale for a matching policy (by their data date);
    `among`, only these loans (the console's "needs" and "with findings" filters)."""
    policies = _policies(services, policy)
    terms = [
        PolicyTerms(
            match=dict(p.match),
            max_age_cutoff=now - p.max_age,
            pre_closing_days=p.pre_closing_business_days,
            scope=scope_of(p.product),
        )
        for p in policies
    ]
    with session(read_only(services.engine)) as s:
        every_skip = None
        if reason is not None:  # the newest skip of each loan decides; few loans have one
            every_skip = loan_rows.last_skips(s)
            skipped = {loan_id for loan_id, e in every_skip.items() if _skip_reason(e) == reason}
            among = skipped if among is None else skipped & set(among)
        loans, total = loan_pages.page(
            s,
            policies=terms,
            matching=policy is not None,
            stale=stale,
            today=now.date(),
            offset=offset,
            limit=limit,
            among=among,
        )
        ids = [loan.loan_id for loan in loans]
        page = _Page(
            loans,
            total,
            attributes=loan_rows.attributes(s, ids),
            last_outcome=loan_rows.last_outcomes(s, ids),
            last_skip=every_skip if every_skip is not None else loan_rows.last_skips(s, ids),
        )
    rows = [_line(loan, page, policies, now) for loan in page.loans]
    return {"now": now, "loans": rows, "total": total, "truncated": total > offset + len(rows)}


def _policies(services: Context, policy: str | None) -> list[PolicyConfig]:
    policies = list(services.config.policies)
    if policy is None:
        return policies
    known = [p.name for p in policies]
    if policy not in known:
        raise InputError("--policy", "", f"no policy {policy!r} in jobs.yaml (policies: {', '.join(known) or 'none'})")
    return [p for p in policies if p.name == policy]


def _skip_reason(entry: EventRow | None) -> str | None:
    if entry is None:
        return None
    said = detail(entry.detail)
    reason = said.get("reason") if isinstance(said, dict) else None
    return None if reason is None else str(reason)


def _line(loan: LoanRow, page: _Page, policies: list[PolicyConfig], now: datetime) -> LoanListRow:
    fields = loan_fields(
        gse=loan.gse,
        status=loan.status,
        loan_id=loan.loan_id,
        order_id=loan.order_id,
        attributes=page.attributes.get(loan.loan_id, {}),
    )
    matched = [p for p in policies if matches(p.match, fields)]
    read = loan.details_fetched_at is not None
    last = page.last_outcome.get(loan.loan_id)
    return {
        "loan_id": loan.loan_id,
        "status": loan.status,
        "gse": loan.gse,
        "closing_date": loan.closing_date,
        "data_as_of": loan.data_as_of_employers if read else loan.data_as_of,
        "hold": loan.hold,
        "hold_reason": loan.hold_reason,
        "policies": [p.name for p in matched],
        "stale_for": [
            p.name for p in matched if is_stale(loan.data_date(scope_of(p.product)), loan, p, now, read=read)
        ],
        "last_outcome": last.outcome if last else None,
        "last_outcome_at": last.at if last else None,
        "last_skip_reason": _skip_reason(page.last_skip.get(loan.loan_id)),
    }
