"""Two reports of the same connection in, findings out, in a stable order (DESIGN.md rule 14)."""

from __future__ import annotations

import dataclasses
from datetime import date

from monitor.core.changes.employers import new_employments
from monitor.core.changes.employment import employment_signals, end_before_note, job_loss
from monitor.core.changes.findings import Finding, Thresholds
from monitor.core.changes.income import income_drops, pay_changes
from monitor.core.changes.pay_dates import missed_pay
from monitor.core.changes.readings import Employment, Snapshot
from monitor.core.changes.underwriting import Underwriting, against_underwriting, monthly_income


def compare(
    previous: Snapshot, current: Snapshot, thresholds: Thresholds, underwriting: Underwriting | None = None
) -> list[Finding]:
    """Findings between two reports of the same connection, in a stable order.

    The first report of a connection is a baseline: the caller records no comparison for it. With
    `underwriting` (the loan's optional columns), income is also measured against what was underwritten.
    """
    uw = underwriting or Underwriting()
    against_qualifying = uw.monthly_qualifying is not None and monthly_income(current) is not None
    before = {e.id: e for e in previous.employments}
    after = {e.id: e for e in current.employments}
    findings: list[Finding] = []
    for emp_id, old in before.items():
        new = after.get(emp_id)
        loss = _loss(old, new, uw.note_date)
        if loss is not None:
            findings.append(loss)
        elif new is not None:
            findings += income_drops(old, new, thresholds, skip_income=against_qualifying)
            findings += pay_changes(old, new)
            findings += employment_signals(old, new, uw.note_date)
            missed = missed_pay(old, new, current.as_of, previous.as_of)
            findings += [missed] if missed is not None else []
    findings += new_employments(before, after)
    findings += against_underwriting(previous, current, uw, thresholds)
    return findings


def _loss(old: Employment, new: Employment | None, note_date: date | None) -> Finding | None:
    """A job that was active and is lost: the one finding for that employment."""
    if not old.active:
        return None
    loss = job_loss(old, new)
    if loss is None:
        return None
    ended = end_before_note(old, new, note_date)
    if ended is None:
        return loss
    # One finding for one event: the loss says it ends before the note date.
    return dataclasses.replace(loss, detail={**loss.detail, **ended.detail, "ends_before_note": True})
