"""Prometheus metrics, read from the database at scrape time so every process reports the same truth.

Served at /metrics by `monitor schedule` and `monitor webhooks serve`; written as a node-exporter
textfile by one-shot passes (`monitor run --metrics-file PATH`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest, write_to_textfile
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.core.readable import failures_by_status
from monitor.core.states import RunState
from monitor.services import Context
from monitor.store.db import read_only, session
from monitor.store.status_rows import MetricFacts, RunRow, metric_facts


class DatabaseCollector(Collector):
    def __init__(self, services: Context) -> None:
        self.services = services

    def collect(self) -> Iterator[Any]:
        with session(read_only(self.services.engine)) as s:
            facts = metric_facts(s)
        yield from _ledger_families(facts)
        yield from _pass_families(facts.last_finished, facts.last_success)
        yield _backlog_family(facts.last_finished)


def _ledger_families(facts: MetricFacts) -> Iterator[Any]:
    refreshes = CounterMetricFamily("monitor_refreshes", "Refresh requests in the ledger, by state.", labels=["state"])
    for state, n in facts.reservations_by_state.items():
        refreshes.add_metric([state], n)
    yield refreshes
    failures = CounterMetricFamily(
        "monitor_refresh_failures", "Failed refreshes by the Truv status of each failed suborder.", labels=["status"]
    )
    # One label per status: a refresh whose employers ended `completed` and `mfa_error` counts under mfa_error.
    for status, n in failures_by_status(facts.failures_by_outcome).items():
        failures.add_metric([status], n)
    yield failures
    yield GaugeMetricFamily(
        "monitor_connections_needing_reauth",
        "Connections waiting for the borrower.",
        value=facts.connections_needing_reauth,
    )
    hooks = CounterMetricFamily("monitor_webhooks", "Webhooks received, by state.", labels=["state"])
    # `invalid` always reported (0 included): an alert on it must not depend on one having arrived
    for state, n in sorted({"invalid": 0, **facts.webhooks_by_state}.items()):
        hooks.add_metric([state], n)
    yield hooks
    findings = CounterMetricFamily(
        "monitor_findings", "Income monitoring findings, by rule and severity.", labels=["rule", "severity"]
    )
    for (rule, severity), n in facts.findings_by_rule.items():
        findings.add_metric([rule, severity], n)
    yield findings
    yield GaugeMetricFamily(
        "monitor_loans_needing_new_order",
        "Loans whose order's life ended (finalized, expired).",
        value=facts.loans_needing_new_order,
    )


def _pass_families(last: dict[str, RunRow], last_ok: dict[str, datetime]) -> Iterator[Any]:
    duration = GaugeMetricFamily("monitor_last_pass_duration_seconds", "Duration of the last pass.", labels=["job"])
    skipped = GaugeMetricFamily(
        "monitor_last_pass_skipped", "Loans skipped in the last pass, by reason.", labels=["job", "reason"]
    )
    submitted = GaugeMetricFamily(
        "monitor_last_pass_submitted", "Refreshes submitted in the last pass.", labels=["job"]
    )
    throttled = GaugeMetricFamily("monitor_last_pass_http_429", "429 answers in the last pass.", labels=["job"])
    failed = GaugeMetricFamily("monitor_last_pass_failed", "1 when the last pass could not finish.", labels=["job"])
    success = GaugeMetricFamily("monitor_last_success_timestamp_seconds", "When a pass last finished.", labels=["job"])
    for job, run in last.items():
        if run.finished_at is not None:
            duration.add_metric([job], (run.finished_at - run.started_at).total_seconds())
        for reason, n in (run.summary.get("skipped") or {}).items():
            skipped.add_metric([job, reason], n)
        submitted.add_metric([job], run.summary.get("submitted", 0))
        throttled.add_metric([job], run.summary.get("throttled", 0))
        failed.add_metric([job], 1 if run.status == RunState.FAILED else 0)
        if job in last_ok:
            success.add_metric([job], last_ok[job].timestamp())
    yield from (duration, skipped, submitted, throttled, failed, success)


def _backlog_family(last: dict[str, RunRow]) -> GaugeMetricFamily:
    """The backlog each policy's last pass left: stale, not reached (max_refreshes), and blocked by reason."""
    backlog = GaugeMetricFamily(
        "monitor_backlog_loans",
        "Loans the last pass of each policy left: stale, not_reached (max_refreshes), or blocked by reason.",
        labels=["policy", "reason"],
    )
    # A policy two jobs run is reported once, as the newer pass left it (a label set appears once).
    lines: dict[str, dict[str, Any]] = {}
    for run in sorted(last.values(), key=lambda r: r.started_at):
        lines.update(run.summary.get("backlog") or {})
    for policy, line in sorted(lines.items()):
        backlog.add_metric([policy, "stale"], line.get("stale", 0))
        backlog.add_metric([policy, "not_reached"], line.get("not_reached", 0))
        for reason, n in (line.get("blocked") or {}).items():
            backlog.add_metric([policy, reason], n)
    return backlog


def registry(services: Context, extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """`extra`: a process's own collectors (the receiver's rejected-webhook counter) beside the database's."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(services))
    for collector in extra:
        reg.register(collector)
    return reg


def render(services: Context, extra: Iterable[Collector] = ()) -> bytes:
    return generate_latest(registry(services, extra))


def write_textfile(services: Context, path: Path) -> None:
    """Atomic (temp file, then rename), as node-exporter's textfile collector needs."""
    write_to_textfile(str(path), registry(services))
