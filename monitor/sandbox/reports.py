"""Link income / employment reports (truv-api.md section 9) and the data webhooks that go with them.

`link_report` answers `GET /v1/links/{id}/income/report/` and `.../employment/report/` from the
link's `EmploymentLine`s as of its newest `done` task; `data_events` tells the webhook outbox,
when a refresh is created, what that refresh's data will show (employment ids, counts), so the
`employment-updated` / `statements-updated` events agree with the report read after them.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from monitor.sandbox.employment import changes_between, jobs_at
from monitor.sandbox.employment_lines import EmploymentLine
from monitor.sandbox.link_report_shapes import EmploymentJson, LinkReportJson
from monitor.sandbox.model import Link, Suborder, Task, data_source_of, iso, provider_of
from monitor.sandbox.payroll_jobs import Job

REPORT_PRODUCTS = ("income", "employment")


def refresh_moments(link: Link) -> list[datetime]:
    return [task.finishes_at for task in link.refresh_tasks]


def link_jobs(seed: int, link: Link, lines: Sequence[EmploymentLine], moment: datetime) -> list[Job]:
    """Every employment of the link that data collected at `moment` shows, line by line."""
    moments = refresh_moments(link)
    return [job for line in lines if line.seeded_at <= moment for job in jobs_at(seed, line, moment, moments)]


def report_id(seed: int, link: Link, product: str, moment: datetime | None) -> str:
    """One id per link, product and data version: the same data read twice has the same id."""
    stamp = iso(moment) if moment is not None else "none"
    return f"{random.Random(f'sandbox-link-report:{seed}:{link.id}:{product}:{stamp}').getrandbits(128):032x}"


def link_report(seed: int, link: Link, lines: Sequence[EmploymentLine], product: str, now: datetime) -> LinkReportJson:
    data = link.last_data_task(now)
    last = link.last_task(now)
    moment = data.finishes_at if data is not None else None
    income = product == "income"
    employments: list[EmploymentJson] = []
    if moment is not None:
        for job in link_jobs(seed, link, lines, moment):
            item = job.fields(income)
            if income:
                item["statements"] = job.statements(seed, moment.date())
            employments.append(item)
    provider_id, _ = provider_of(link.kind)
    return {
        "id": report_id(seed, link, product, moment),
        # The last finished task's status (a seeded link's connection ended `done`).
        "status": last.status if last is not None else "done",
        "completed_at": iso(moment) if moment is not None else None,
        "finished_at": iso(last.finishes_at) if last is not None else None,
        # Truv returns the link's token here; a client must not store it.
        "access_token": link.access_token,
        "tracking_info": None,
        "is_suspicious": False,
        "provider": provider_id,
        "data_source": data_source_of(link.kind),
        "employments": employments,
    }


@dataclass(frozen=True, slots=True)
class DataEvents:
    """What one employer suborder's `done` refresh task announces."""

    employment_ids: tuple[str, ...]  # employment-updated, one event each
    employments_count: int  # employment-updated objects_count: the link's employments
    statements: tuple[tuple[str, int], ...]  # statements-updated: (employment id, stub count)


def data_events(
    seed: int, link: Link, lines: dict[str, EmploymentLine], suborders: Sequence[Suborder], task: Task
) -> dict[str, DataEvents]:
    """Per employer suborder (by id) of a refresh task that will end `done`: the employments whose
    data differs from the link's previous data (plus the current one, always), the link's
    employment count, and the employments whose stub count changed."""
    moment = task.finishes_at
    earlier = [t.finishes_at for t in link.tasks if t.status == "done" and t.finishes_at < moment]
    span = _Span(seed, max(earlier, default=None), moment, refresh_moments(link))
    shown = {number: span.jobs(line, moment) for number, line in lines.items() if line.seeded_at <= moment}
    count = sum(len(jobs) for jobs in shown.values())
    out: dict[str, DataEvents] = {}
    for suborder in suborders:
        now_jobs = shown.get(suborder.suborder_number)
        if now_jobs and suborder.kind == "employer":
            before = span.before(lines[suborder.suborder_number], now_jobs)
            out[suborder.id] = DataEvents(span.updated(now_jobs, before), count, span.stubs(now_jobs, before))
    return out


@dataclass(frozen=True, slots=True)
class _Span:
    """From the link's previous data (`previous`, None for none) to a refresh's (`moment`)."""

    seed: int
    previous: datetime | None
    moment: datetime
    moments: list[datetime]  # the link's refresh moments

    def jobs(self, line: EmploymentLine, at: datetime) -> list[Job]:
        return jobs_at(self.seed, line, at, self.moments)

    def before(self, line: EmploymentLine, now_jobs: list[Job]) -> dict[str, Job]:
        """The line's employments as the previous data showed them (none before the line's seeding)."""
        if self.previous is None or line.seeded_at > self.previous:
            return {}
        changed = changes_between(line, self.previous, self.moment, self.moments)
        return {job.id: job for job in (self.jobs(line, self.previous) if changed else now_jobs)}

    @staticmethod
    def updated(now_jobs: list[Job], before: dict[str, Job]) -> tuple[str, ...]:
        """The current employment, and every other one that is new or whose fields changed."""
        return tuple(
            job.id
            for job in now_jobs
            if job is now_jobs[-1] or job.id not in before or job.fields(True) != before[job.id].fields(True)
        )

    def stubs(self, now_jobs: list[Job], before: dict[str, Job]) -> tuple[tuple[str, int], ...]:
        """(employment id, stub count) for each employment whose stub count changed."""
        out = []
        for job in now_jobs:
            was = before[job.id].stub_count(self.previous.date()) if job.id in before and self.previous else 0
            now_count = job.stub_count(self.moment.date())
            if now_count != was:
                out.append((job.id, now_count))
        return tuple(out)
