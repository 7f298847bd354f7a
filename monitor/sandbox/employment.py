"""The employments a link report shows at a moment (truv-api.md section 9): a line's seeded job with
the scripted changes that happened by then (employer_changes.py says how a test writes them,
employment_lines.py draws the jobs, job_changes.py applies each kind, payroll_jobs.py pays them).

Each employer suborder seeds an `EmploymentLine`: one employer on one link, keyed by link id and
suborder_number like the `employment-updated` webhook's id. Its data is a pure function of the
sandbox seed, the line, a moment and the moments of the link's refreshes, so nothing here draws
from a shared RNG: reading a report changes no id anywhere. Employment number 0 is the seeded
job; `employer_change` and `rehire` add employment 1, 2, ... with their own ids.

A scripted change happens in the world at the completion of the link's Nth refresh task (1-based,
failed ones included) and shows in every report whose data is at least that recent; a refresh
that failed keeps showing the previous data, so the change then shows at the next successful one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from monitor.sandbox.employer_changes import ADDED_EMPLOYMENT_KINDS, EmployerChange
from monitor.sandbox.employment_lines import EmploymentLine, base_job, employment_id
from monitor.sandbox.job_changes import apply_change
from monitor.sandbox.payroll_jobs import Job


def change_moment(line: EmploymentLine, change: EmployerChange, refresh_moments: Sequence[datetime]) -> datetime | None:
    """When the change happens: the completion of the link's `at_refresh`th refresh task, once created."""
    if change.at_refresh > len(refresh_moments):
        return None
    return max(refresh_moments[change.at_refresh - 1], line.seeded_at)


def jobs_at(seed: int, line: EmploymentLine, moment: datetime, refresh_moments: Sequence[datetime]) -> list[Job]:
    """The line's employments as data collected at `moment` shows them (oldest first)."""
    if line.base is None:
        line.base = base_job(seed, line)
    jobs = [line.base.copy()]
    for change in line.changes:
        at = change_moment(line, change, refresh_moments)
        if at is None or at > moment:
            break
        previous = refresh_moments[change.at_refresh - 2] if change.at_refresh >= 2 else line.seeded_at
        apply_change(seed, line, jobs, change, at.date(), max(previous, line.seeded_at).date())
    return jobs


def changes_between(
    line: EmploymentLine, after: datetime | None, upto: datetime, refresh_moments: Sequence[datetime]
) -> bool:
    """Whether a change of the line happens in (after, upto]: its data then differs beyond new stubs."""
    for change in line.changes:
        at = change_moment(line, change, refresh_moments)
        if at is not None and (after is None or after < at) and at <= upto:
            return True
    return False


def scripted(seed: int, line: EmploymentLine) -> list[tuple[EmployerChange, str, str | None]]:
    """Each change of the line with the employment it applies to and, for employer_change and
    rehire, the id of the employment it starts."""
    out: list[tuple[EmployerChange, str, str | None]] = []
    index = 0
    for change in line.changes:
        new = None
        if change.kind in ADDED_EMPLOYMENT_KINDS:
            new = employment_id(seed, line, index + 1)
        out.append((change, employment_id(seed, line, index), new))
        if new is not None:
            index += 1
    return out
