"""What each kind of scripted change does to a line's employments when it happens: one function per
kind, on the day the link's refresh that shows it completes (`prev`: the previous data's day)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from monitor.sandbox.employer_changes import EmployerChange
from monitor.sandbox.employment_lines import REHIRE_END_DAYS, EmploymentLine, new_job
from monitor.sandbox.payroll_jobs import HOURS_CUT, HOURS_PER_PERIOD, STEP_DAYS, Job, Segment, cents


def _end(job: Job, end: date) -> None:
    """The job ended on `end` unless it already had."""
    if job.end is None:
        job.end = end
        job.is_active = False
        job.stop = min(job.stop, end) if job.stop else end


def _stop_pay(job: Job, previous: date) -> None:
    """No pay after the last pay date the previous data showed."""
    job.stop = min(job.stop, previous) if job.stop else previous


@dataclass(frozen=True, slots=True)
class _Happening:
    """One scripted change landing on a line's employments: on `day`, the previous data from `prev`."""

    seed: int
    line: EmploymentLine
    jobs: list[Job]
    change: EmployerChange
    day: date
    prev: date

    @property
    def job(self) -> Job:
        return self.jobs[-1]

    def startnew_job(self) -> None:
        self.jobs.append(new_job(self.seed, self.line, self.job, self.change.kind, self.day))


def _job_loss(event: _Happening) -> None:
    _end(event.job, event.day - timedelta(days=1))


def _derived_inactive(event: _Happening) -> None:
    event.job.is_active = False
    event.job.derived = ["is_active"]
    _stop_pay(event.job, event.prev)


def _missed_pay(event: _Happening) -> None:
    _stop_pay(event.job, event.prev)


def _job_type_change(event: _Happening) -> None:
    event.job.job_type = "P"


def _pay_cut(event: _Happening) -> None:
    job, cut = event.job, event.change.pay_cut
    assert cut is not None
    job.income = cents(job.income * (1 - cut))
    last = job.segments[-1]
    job.segments.append(Segment(event.day, last.anchor, last.step, job.pay_rate, last.hours))


def _pay_frequency_change(event: _Happening) -> None:
    # Weekly from the last bi-weekly pay date on; the yearly income stays the same.
    job = event.job
    base = job.last_pay_date(event.day) or event.day
    job.frequency = "W"
    job.segments.append(Segment(event.day, base, STEP_DAYS["W"], job.pay_rate, HOURS_PER_PERIOD["W"]))


def _hours_or_leave(event: _Happening) -> None:
    job, kind = event.job, event.change.kind
    last = job.segments[-1]
    hours = cents(last.hours * (1 - HOURS_CUT)) if kind == "hours_cut" else last.hours
    # From the last moment the previous data showed: the stubs this refresh brings show it.
    since = max(event.prev, last.after)
    job.segments.append(Segment(since, last.anchor, last.step, last.gross, hours, leave=kind == "leave" or last.leave))


def _second_job(event: _Happening) -> None:
    event.startnew_job()


def _employer_change(event: _Happening) -> None:
    _end(event.job, event.day - timedelta(days=1))
    event.startnew_job()


def _rehire(event: _Happening) -> None:
    _end(event.job, event.day - timedelta(days=REHIRE_END_DAYS))
    event.startnew_job()


_APPLY: dict[str, Callable[[_Happening], None]] = {
    "job_loss": _job_loss,
    "derived_inactive": _derived_inactive,
    "missed_pay": _missed_pay,
    "job_type_change": _job_type_change,
    "pay_cut": _pay_cut,
    "pay_frequency_change": _pay_frequency_change,
    "hours_cut": _hours_or_leave,
    "leave": _hours_or_leave,
    "second_job": _second_job,
    "employer_change": _employer_change,
    "rehire": _rehire,
}


def apply_change(
    seed: int, line: EmploymentLine, jobs: list[Job], change: EmployerChange, day: date, prev: date
) -> None:
    """Change `jobs` (the line's, oldest first; the last is current) as `change` does on `day`."""
    _APPLY[change.kind](_Happening(seed, line, jobs, change, day, prev))
