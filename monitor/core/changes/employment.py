"""Employment rules: a job lost, an end before the note date, fewer hours, a leave of absence."""

from __future__ import annotations

from datetime import date

from monitor.core.changes.findings import Finding, Rule, Severity
from monitor.core.changes.hours import hours_drop
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
