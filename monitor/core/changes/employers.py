"""A new employment in a report: a second job, another employer, or a rehire by the same one."""

from __future__ import annotations

from monitor.core.changes.findings import Finding, Rule, Severity
from monitor.core.changes.readings import Employment


def new_employments(before: dict[str, Employment], after: dict[str, Employment]) -> list[Finding]:
    """A new active employment: another employer (or the same one again after a gap, a rehire) when an
    employment active before is no longer; a second job (`new_employment`) when every one still is."""
    replaced = any(old.active and not (after.get(i) is not None and after[i].active) for i, old in before.items())
    return [
        _new_employment(emp_id, new, before, replaced=replaced)
        for emp_id, new in after.items()
        if emp_id not in before and new.active
    ]


def _new_employment(emp_id: str, new: Employment, before: dict[str, Employment], *, replaced: bool) -> Finding:
    rehire = any(_same_employer(old, new) for old in before.values())
    if not replaced and not rehire:
        return Finding(
            Rule.NEW_EMPLOYMENT, Severity.MEDIUM, emp_id, "employment", None, new.company, detail={"ein": new.ein}
        )
    detail = {"rehire": rehire, "ein": new.ein}
    return Finding(Rule.EMPLOYER_CHANGE, Severity.HIGH, emp_id, "employment", None, new.company, detail=detail)


def _same_employer(a: Employment, b: Employment) -> bool:
    if a.ein and b.ein:
        return a.ein == b.ein
    return bool(a.company and b.company and a.company.strip().lower() == b.company.strip().lower())
