"""The report's monitoring parts: what changed (findings) and pre-closing evidence per loan.

Pre-closing (Fannie Mae B3-3.1-07, Freddie Mac 5102.4, FHA 4000.1): a loan is judged only when a policy
with a pre-closing window matches it, or the report's `--pre-closing-days` covers every loan; then it
needs VOE evidence (an income or employment verification) inside the window, and a matching assets
policy with a window adds a VOA row. The status itself is `monitor.core.preclosing.judge`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from monitor.config import PolicyConfig
from monitor.core.matching import matches
from monitor.core.preclosing import (
    PRODUCTS,
    AgencyWindow,
    BusinessDaysBefore,
    Evidence,
    FindingState,
    Kind,
    WindowRule,
    judge,
)
from monitor.reports.evidence_shapes import LoanFields, PreClosingFinding, PreClosingRow, loan_fields
from monitor.store.evidence_rows import LoanEvidence
from monitor.store.report_rows import Closing

NOT_COVERED = "not_covered"  # no policy with a pre-closing window matches the loan, and no --pre-closing-days
PRE_CLOSING_COLUMNS = (
    "loan_id",
    "evidence",
    "closing_date",
    "rule",
    "window_start",
    "window_end",
    "status",
    "exception",
    "order_id",
    "product",
    "outcome",
    "report_id",
    "data_as_of",
    "employers_verified",
    "findings",
)


def window_rule(policy: PolicyConfig, override: int | None) -> WindowRule | None:
    """The policy's pre-closing window (the override's length when given); None when it sets none."""
    if override is not None:
        return BusinessDaysBefore(override, f"--pre-closing-days, policy {policy.name}")
    preset = policy.rule() if policy.use is not None else None
    if preset is not None:  # an agency's rule: its unit of days, its holidays, its guide ids
        return AgencyWindow(preset, f"policy {policy.name}")
    if policy.pre_closing_business_days:
        return BusinessDaysBefore(policy.pre_closing_business_days, f"policy {policy.name}")
    return None


def rules_for(fields: LoanFields, policies: Sequence[PolicyConfig], *, override: int | None) -> dict[Kind, WindowRule]:
    """Which evidence the loan is judged on, and by which window. VOE: the first matching income or
    employment policy with a window, else the first matching policy of any product with one, else the
    override; VOA: the first matching assets policy with a window (the override's length when given)."""
    ruled = [(p, rule) for p in policies if matches(p.match, fields) and (rule := window_rule(p, override)) is not None]
    out: dict[Kind, WindowRule] = {}
    if (voe := _voe_rule(ruled, override)) is not None:
        out["voe"] = voe
    voa = [rule for p, rule in ruled if p.product in PRODUCTS["voa"]]
    if voa:
        out["voa"] = voa[0]
    return out


def _voe_rule(ruled: list[tuple[PolicyConfig, WindowRule]], override: int | None) -> WindowRule | None:
    voe = [rule for p, rule in ruled if p.product in PRODUCTS["voe"]] or [rule for _, rule in ruled]
    if voe:
        return voe[0]
    return BusinessDaysBefore(override, "--pre-closing-days") if override is not None else None


def _finding(f: FindingState) -> PreClosingFinding:
    return {
        "id": f.id,
        "rule": f.rule,
        "severity": f.severity,
        "disposition": f.disposition,
        "note": f.note,
        "by": f.by,
        "at": f.at,
    }


def row(loan_id: str, closing_date: date, e: Evidence) -> PreClosingRow:
    """One loan's evidence of one kind, as every output shows it."""
    v = e.verification
    return {
        "loan_id": loan_id,
        "evidence": e.kind,
        "closing_date": closing_date,
        "rule": e.rule,
        "window_start": e.window.start,
        "window_end": e.window.end,
        "status": e.status.value,
        "exception": e.exception,
        "order_id": v.order_id if v else None,
        "product": v.product if v else None,
        "outcome": v.outcome if v else None,
        "report_id": v.report_id if v else None,
        "data_as_of": v.data_at if v else None,
        "employers_verified": list(v.employers) if v else [],
        "findings": [_finding(f) for f in e.findings],
    }


def not_covered(loan_id: str, closing_date: date) -> PreClosingRow:
    return {
        "loan_id": loan_id,
        "evidence": "voe",
        "closing_date": closing_date,
        "rule": None,
        "window_start": None,
        "window_end": None,
        "status": NOT_COVERED,
        "exception": False,
        "order_id": None,
        "product": None,
        "outcome": None,
        "report_id": None,
        "data_as_of": None,
        "employers_verified": [],
        "findings": [],
    }


def loan_evidence(
    fields: LoanFields,
    closing_date: date,
    found: LoanEvidence,
    *,
    policies: Sequence[PolicyConfig],
    override: int | None,
    today: date,
) -> list[PreClosingRow]:
    """A loan's pre-closing rows: VOE (and VOA when an assets policy has a window), or one `not_covered`."""
    rules = rules_for(fields, policies, override=override)
    if not rules:
        return [not_covered(str(fields["loan_id"]), closing_date)]
    return [
        row(
            str(fields["loan_id"]),
            closing_date,
            judge(
                kind=kind,
                closing_date=closing_date,
                rule=rule,
                verifications=found.verifications,
                findings=found.findings,
                today=today,
            ),
        )
        for kind, rule in sorted(rules.items(), key=lambda kv: kv[0] != "voe")
    ]


def pre_closing(
    closings: Sequence[Closing], *, policies: list[PolicyConfig], override: int | None, today: date
) -> list[PreClosingRow]:
    """Loans closing in the period, each judged on its evidence (or shown as not covered)."""
    out: list[PreClosingRow] = []
    for loan in sorted(closings, key=lambda c: (c.closing_date, c.loan_id)):
        merged = loan_fields(
            gse=loan.gse, status=loan.status, loan_id=loan.loan_id, order_id=loan.order_id, attributes=loan.attributes
        )
        out += loan_evidence(
            merged, loan.closing_date, loan.evidence, policies=policies, override=override, today=today
        )
    return out


def findings_cell(findings: list[PreClosingFinding]) -> str:
    """`12 job_loss critical resolved by operator:ann@host: note; ...` for CSV and HTML cells."""
    parts = []
    for f in findings:
        word = f["disposition"] + (f" by {f['by']}: {f['note']}" if f["by"] else "")
        parts.append(f"{f['id']} {f['rule']} {f['severity']} {word}")
    return "; ".join(parts)
