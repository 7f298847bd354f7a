"""Prometheus metrics, read from the database at scrape time so every process reports the same truth.

Served at /metrics by `monitor schedule` and `monitor webhooks serve`; written as a node-exporter
textfile by one-shot passes (`monitor run --metrics-file PATH`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from monitor.app import Services
from monitor.store.db import read_only, session
from monitor.store.tables import Connection, Finding, Loan, Reservation, Run, WebhookEvent


class DatabaseCollector(Collector):
    def __init__(self, services: Services) -> None:
        self.services = services

    def collect(self) -> Iterator[Any]:
        with session(read_only(self.services.engine)) as s:
            by_state = s.execute(select(Reservation.state, func.count()).group_by(Reservation.state)).all()
            by_outcome = s.execute(
                select(Reservation.outcome, func.count())
                .where(Reservation.state == "failed")
                .group_by(Reservation.outcome)
            ).all()
            reauth = s.execute(select(func.count()).where(Connection.state == "needs_reauth")).scalar_one()
            webhooks = s.execute(select(WebhookEvent.state, func.count()).group_by(WebhookEvent.state)).all()
            found = s.execute(
                select(Finding.rule, Finding.severity, func.count()).group_by(Finding.rule, Finding.severity)
            ).all()
            new_order = s.execute(
                select(func.count()).where(Loan.hold == "needs_new_order", Loan.status == "active")
            ).scalar_one()
            jobs = [j for (j,) in s.execute(select(Run.job).distinct())]
            last: dict[str, Run] = {}
            last_ok: dict[str, Any] = {}
            for job in jobs:
                row = (
                    s.execute(
                        select(Run)
                        .where(Run.job == job, Run.finished_at.is_not(None))  # type: ignore[union-attr]
                        .order_by(Run.finished_at.desc())
                        .limit(1)  # type: ignore[union-attr]
                    )
                    .scalars()
                    .first()
                )
                if row is not None:
                    last[job] = row
                last_ok[job] = s.execute(
                    select(func.max(Run.finished_at)).where(Run.job == job, Run.status == "finished")
                ).scalar()
        refreshes = CounterMetricFamily(
            "monitor_refreshes", "Refresh requests in the ledger, by state.", labels=["state"]
        )
        for state, n in by_state:
            refreshes.add_metric([state], n)
        yield refreshes
        failures = CounterMetricFamily(
            "monitor_refresh_failures", "Failed refreshes by Truv status.", labels=["status"]
        )
        for outcome, n in by_outcome:
            failures.add_metric([outcome or "unknown"], n)
        yield failures
        yield GaugeMetricFamily(
            "monitor_connections_needing_reauth", "Connections waiting for the borrower.", value=reauth
        )
        hooks = CounterMetricFamily("monitor_webhooks", "Webhooks received, by state.", labels=["state"])
        # `invalid` always reported (0 included): an alert on it must not depend on one having arrived
        for state, n in sorted({"invalid": 0, **dict(webhooks)}.items()):
            hooks.add_metric([state], n)
        yield hooks
        findings = CounterMetricFamily(
            "monitor_findings", "Income monitoring findings, by rule and severity.", labels=["rule", "severity"]
        )
        for rule, severity, n in found:
            findings.add_metric([rule, severity], n)
        yield findings
        yield GaugeMetricFamily(
            "monitor_loans_needing_new_order", "Loans whose order's life ended (finalized, expired).", value=new_order
        )
        duration = GaugeMetricFamily("monitor_last_pass_duration_seconds", "Duration of the last pass.", labels=["job"])
        skipped = GaugeMetricFamily(
            "monitor_last_pass_skipped", "Loans skipped in the last pass, by reason.", labels=["job", "reason"]
        )
        submitted = GaugeMetricFamily(
            "monitor_last_pass_submitted", "Refreshes submitted in the last pass.", labels=["job"]
        )
        throttled = GaugeMetricFamily("monitor_last_pass_http_429", "429 answers in the last pass.", labels=["job"])
        failed = GaugeMetricFamily("monitor_last_pass_failed", "1 when the last pass could not finish.", labels=["job"])
        success = GaugeMetricFamily(
            "monitor_last_success_timestamp_seconds", "When a pass last finished.", labels=["job"]
        )
        for job, run in last.items():
            summary = json.loads(run.summary or "{}")
            if run.finished_at is not None:
                duration.add_metric([job], (run.finished_at - run.started_at).total_seconds())
            for reason, n in (summary.get("skipped") or {}).items():
                skipped.add_metric([job, reason], n)
            submitted.add_metric([job], summary.get("submitted", 0))
            throttled.add_metric([job], summary.get("throttled", 0))
            failed.add_metric([job], 1 if run.status == "failed" else 0)
            if last_ok.get(job) is not None:
                success.add_metric([job], last_ok[job].timestamp())
        yield from (duration, skipped, submitted, throttled, failed, success)


def registry(services: Services) -> CollectorRegistry:
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(services))
    return reg


def render(services: Services) -> bytes:
    return generate_latest(registry(services))


def write_textfile(services: Services, path: Path) -> None:
    """Atomic (temp file, then rename), as node-exporter's textfile collector needs."""
    write_to_textfile(str(path), registry(services))
