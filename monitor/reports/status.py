"""`monitor status`: what an operator checks first — last passes, lease, next fire times, headroom."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from monitor.app import Services
from monitor.core.budget import GSE_WINDOW, TOKEN_WINDOW
from monitor.core.schedule import fire_times, trigger
from monitor.store.db import read_only, session
from monitor.store.ledger import gse_standing
from monitor.store.tables import Connection, Lease, Loan, ReservationToken, Run


def status(services: Services, *, now: datetime, passes: int = 5) -> dict[str, Any]:
    limits = services.limits
    out: dict[str, Any] = {"now": now, "jobs": []}
    with session(read_only(services.engine)) as s:
        for job in services.config.jobs:
            runs = (
                s.execute(
                    select(Run).where(Run.job == job.name).order_by(Run.started_at.desc()).limit(passes)  # type: ignore[attr-defined]
                )
                .scalars()
                .all()
            )
            lease = s.get(Lease, job.name)
            upcoming = list(fire_times(trigger(job.schedule, job.timezone), now, now + timedelta(days=8)))[:3]
            out["jobs"].append(
                {
                    "job": job.name,
                    "schedule": f"{job.schedule} {job.timezone}",
                    "next_fire_times": upcoming,
                    "lease": (
                        {"holder": lease.holder, "run_id": lease.run_id, "expires_at": lease.expires_at}
                        if lease is not None and lease.expires_at > now
                        else None
                    ),
                    "last_passes": [_run(r) for r in runs],
                }
            )
        rt = ReservationToken.__table__.c
        tokens_at_limit = s.execute(
            select(func.count()).select_from(
                select(rt.token_hash)
                .where(rt.counts.is_(True), rt.reserved_at > now - TOKEN_WINDOW)
                .group_by(rt.token_hash)
                .having(func.count() >= limits.per_token)
                .subquery()
            )
        ).scalar_one()
        # A loan whose free window is still open and used up (rule 2); after the window it is billable.
        standing = gse_standing(s, limits=limits, now=now, since=now - GSE_WINDOW)
        gse_at_limit = sum(1 for t in standing.values() if t.in_window and t.free_left <= 0)
        new_order = s.execute(
            select(func.count()).where(Loan.hold == "needs_new_order", Loan.status == "active")
        ).scalar_one()
        reauth = s.execute(select(func.count()).where(Connection.state == "needs_reauth")).scalar_one()
        blocked = s.execute(
            select(func.count()).where(Connection.blocked_until.is_not(None), Connection.blocked_until > now)  # type: ignore[union-attr,operator]
        ).scalar_one()
    out["connections_needing_reauth"] = reauth
    out["loans_needing_new_order"] = new_order
    out["budget"] = {
        "tokens_at_24h_limit": tokens_at_limit,
        "tokens_blocked_by_truv": blocked,
        "gse_loans_at_90d_limit": gse_at_limit,
        "per_token_per_24h": limits.per_token,
        "gse_per_90d": limits.gse,
    }
    return out


def _run(run: Run) -> dict[str, Any]:
    summary = json.loads(run.summary or "{}")
    return {
        "run_id": run.run_id,
        "status": run.status,
        "holder": run.holder,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "submitted": summary.get("submitted"),
        "completed": summary.get("completed"),
        "failed": summary.get("failed"),
        "skipped": summary.get("skipped"),
        "error": summary.get("error"),
    }
