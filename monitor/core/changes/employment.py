"""Employment rules: a job lost, an end before the note date, hours and leave, a new or changed employer."""

from __future__ import annotations

from datetime import date

from monitor.core.changes.findings import Finding, Rule, Severity
from monitor.core.changes.income import hours_drop
from monitor.core.changes.readings import Employment


def job_loss(old: Employment, new: Employment | None) -> Finding | None:
    if new is None:
        return Finding(Rule.JOB_LOSS, Severity.CRITICAL, old.id, "employment", "present", "gone")
    if new.is_active is False and old.is_active is not False:
        probable = "is_active" in new.derived_fields
        return Finding(
            Rule.JOB_LOSS,
            Severity.CRITICAL,
            old.id,
            "is_active",
            "true",
            "false",
            confidence="probable" if probable else "confirmed",
        )
    if new.end_date is not None and old.end_date is None:
        return Finding(Rule.JOB_LOSS, Severity.CRITICAL, old.id, "end_date", None, new.end_date.isoformat())
    return None


def end_before_note(old: Employment, new: Employment | None, note_date: date | None) -> Finding | None:
    """An employment that ends (or is to end) before the note date: the loan would close on income gone.

    On a job that was active this is a job loss, and said as one (its detail `ends_before_note`); on its
    own only when an employment already inactive gets an end date before the note date."""
    if new is None or new.end_date is None or note_date is None or new.end_date >= note_date:
        return None
    detail = {"note_date": note_date.isoformat()}
    return Finding(
        Rule.END_BEFORE_NOTE, Severity.CRITICAL, old.id, "end_date", None, new.end_date.isoformat(), detail=detail
    )


def employment_signals(old: Employment, new: Employment, note_date: date | None) -> list[Finding]:
    """An end before the note date set on an inactive job, fewer hours, a leave of absence."""
    ended = end_before_note(old, new, note_date)
    if ended is not None and old.end_date == new.end_date:
        ended = None
    return [f for f in (ended, hours_drop(old, new), _leave(old, new)) if f is not None]


def _leave(old: Employment, new: Employment) -> Finding | None:
    """The first leave earnings line: said once, when the previous report had none."""
    if any(s.leave for s in old.statements):
        return None
    fresh = [s for s in new.statements if s.leave]
    if not fresh:
        return None
    latest = max((s.pay_date for s in fresh if s.pay_date), default=None)
    return Finding(
        Rule.LEAVE_OF_ABSENCE,
        Severity.HIGH,
        new.id,
        "earnings",
        None,
        "leave",
        detail={"pay_date": latest.isoformat() if latest else None},
    )


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
