"""A pass's hold on its job: the run lease (DESIGN.md rule 8), its run row, and the heartbeat that keeps
the lease and the pass's loan claims alive while it works."""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime

import structlog

from monitor.config import JobConfig
from monitor.errors import MonitorError
from monitor.services import Context
from monitor.store import loan_claims, runs
from monitor.store.db import session
from monitor.store.runs import HeldLease


def this_holder() -> str:
    """Who holds a lease: this host and process, so a killed holder can be recognised."""
    return f"{socket.gethostname()}:{os.getpid()}"


def holder_is_dead(holder: str) -> bool:
    """A lease held by a process of this host that no longer exists (killed) is free at once.

    Holders on other hosts cannot be checked from here; their leases free when they expire.
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def begin(ctx: Context, job: JobConfig, *, run_id: str, holder: str, now: datetime) -> HeldLease | None:
    """Take the job's lease (unless the job is `parallel`) and write the run row; the live lease of
    another pass when that one holds it (then nothing is written)."""
    with session(ctx.engine) as s:
        if not job.parallel:
            held = runs.acquire_lease(
                s, job=job.name, holder=holder, run_id=run_id, now=now, holder_is_dead=holder_is_dead
            )
            if held is not None:
                return held
        runs.start_run(s, run_id=run_id, job=job.name, holder=holder, now=now)
        if not job.parallel:
            # Holding the lease, no other pass of this job is alive: claims left by a killed one
            # would otherwise hide its loans from this pass until they lapse.
            loan_claims.release_job_claims(s, job=job.name, keep_run_id=run_id)
    return None


class Heartbeat:
    """Renews the lease and the pass's claims from a thread of its own, in real time (not the clock's):
    a pass that stops beating, killed, frees both when they lapse."""

    def __init__(self, ctx: Context, job: JobConfig, run_id: str) -> None:
        self._ctx = ctx
        self._job = job
        self._run_id = run_id
        self._done = threading.Event()
        self._log = structlog.get_logger("monitor.pass").bind(run_id=run_id, job=job.name)

    @property
    def interval(self) -> float:
        ttl = min(runs.LEASE_TTL.total_seconds(), self._job.claim_ttl.total_seconds())
        return max(1.0, min(60.0, ttl / 3))

    def start(self) -> None:
        threading.Thread(target=self._beat, name="heartbeat", daemon=True).start()

    def stop(self) -> None:
        self._done.set()

    def _beat(self) -> None:
        while not self._done.wait(self.interval):
            try:
                with session(self._ctx.engine) as s:
                    now = self._ctx.clock.now()
                    if not self._job.parallel:
                        runs.renew_lease(s, job=self._job.name, run_id=self._run_id, now=now)
                    loan_claims.renew_claims(s, self._run_id, now + self._job.claim_ttl)
            except MonitorError as exc:
                self._log.warning("heartbeat_failed", error=str(exc))
