"""`monitor schedule`: the APScheduler 3 daemon running jobs.yaml's jobs on their cron and timezone."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, timedelta

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from monitor.config import JobConfig
from monitor.core.schedule import missed_fire, trigger
from monitor.daemon_health import CATCH_UP_HORIZON, JobHealth, SchedulerHealth, job_health
from monitor.errors import MonitorError
from monitor.jobs.pass_summary import PassSummary
from monitor.jobs.refresh_pass import JobPass
from monitor.services import Context, Services
from monitor.store.job_history import last_finished

log = structlog.get_logger("monitor.scheduler")
# A pass that could not start on time (the machine was busy or asleep) still runs within this.
MISFIRE_GRACE = timedelta(hours=6)


def jobs_to_catch_up(services: Context, jobs: list[JobConfig]) -> list[JobConfig]:
    now = services.clock.now()
    return [
        j
        for j in jobs
        if missed_fire(
            trigger(j.schedule, j.timezone),
            last_finished=last_finished(services.engine, j.name),
            now=now,
            horizon=CATCH_UP_HORIZON,
        )
        is not None
    ]


class Daemon:
    def __init__(
        self,
        services: Services,
        *,
        stop: threading.Event | None = None,
        on_pass: Callable[[PassSummary], None] | None = None,
    ) -> None:
        self.s = services
        # Fire times before this are the catch-up's business, not overdue: a job added (with the daemon
        # restarted) a minute ago is not "overdue since" last night.
        self.started_at = services.clock.now()
        self.stop = stop or threading.Event()
        self.on_pass = on_pass
        self.scheduler = BackgroundScheduler(
            timezone=UTC,
            job_defaults={
                "coalesce": True,
                "max_instances": 1,
                "misfire_grace_time": int(MISFIRE_GRACE.total_seconds()),
            },
        )

    def run_job(self, name: str) -> None:
        """One pass; a failure is logged and the daemon goes on (the next fire time will try again)."""
        if self.stop.is_set():
            return
        job = self.s.config.job(name)
        try:
            summary = JobPass(self.s, job, stop=self.stop).run()
            log.info("scheduled_pass", job=name, status=summary.status, submitted=summary.submitted)
            if self.on_pass:
                self.on_pass(summary)
        except MonitorError as exc:
            log.error("scheduled_pass_failed", job=name, error=str(exc))

    def start(self) -> list[str]:
        for job in self.s.config.jobs:
            self.scheduler.add_job(
                self.run_job,
                trigger(job.schedule, job.timezone),
                args=[job.name],
                id=job.name,
                name=job.name,
                replace_existing=True,
            )
        caught_up = []
        for job in jobs_to_catch_up(self.s, self.s.config.jobs):
            self.scheduler.add_job(self.run_job, args=[job.name], id=f"{job.name}:catch-up", replace_existing=True)
            caught_up.append(job.name)
        self.scheduler.start()
        for job in self.scheduler.get_jobs():
            log.info("scheduled", job=job.id, next_run=str(job.next_run_time))
        return caught_up

    def health(self) -> tuple[bool, SchedulerHealth]:
        """Each job's next fire and last pass; not ok when a job's last pass failed or is overdue: a fire
        time since the daemon started (and since the job's last finished pass) older than the misfire grace
        with no pass finished after it."""
        now = self.s.clock.now()
        jobs: dict[str, JobHealth] = {}
        for job in self.s.config.jobs:
            scheduled = self.scheduler.get_job(job.name) if self.scheduler.running else None
            next_fire = scheduled.next_run_time if scheduled is not None else None
            jobs[job.name] = job_health(self.s, job, next_fire, since=self.started_at, now=now - MISFIRE_GRACE)
        ok = all(j["ok"] for j in jobs.values())
        return ok, {"scheduler": "running" if self.scheduler.running else "stopped", "jobs": jobs}

    def wait(self) -> None:
        self.stop.wait()
        # Running passes see the same stop event: they stop taking loans, record what is in flight
        # and release their lease; shutdown waits for them.
        self.scheduler.shutdown(wait=True)
