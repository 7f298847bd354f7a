"""Income monitoring in a pass: read each completed refresh's report and say what changed (rule 14)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

import structlog

from monitor.core.agency_rules import AGENCY_OF
from monitor.core.changes import Thresholds, Underwriting, compare, underwriting_of
from monitor.core.states import ReportState
from monitor.errors import TruvAuthError, TruvError, TruvNotFound, TruvUnreachable
from monitor.jobs.assets_monitoring import read_assets
from monitor.services import Context, Services
from monitor.store import monitoring, underwriting
from monitor.store.db import session

log = structlog.get_logger("monitor.monitoring")


@dataclass
class ReadStats:
    read: int = 0
    baselines: int = 0
    findings: int = 0
    failed: int = 0


def thresholds_for(ctx: Context, policy_name: str) -> Thresholds:
    """The refreshing policy's `monitoring` thresholds; the defaults (5% / 10%) otherwise."""
    policy = next((p for p in ctx.config.policies if p.name == policy_name), None)
    if policy is None or policy.monitoring is None:
        return Thresholds()
    return Thresholds(
        review=Decimal(str(policy.monitoring.income_drop_review)),
        material=Decimal(str(policy.monitoring.income_drop_material)),
    )


def underwriting_for(ctx: Context, policy_name: str, terms: underwriting.LoanTerms) -> Underwriting:
    """The loan's underwriting columns and note date, and the refreshing policy's agency (FHA rescores)."""
    policy = next((p for p in ctx.config.policies if p.name == policy_name), None)
    agency = AGENCY_OF.get(policy.use) if policy is not None and policy.use else None
    return underwriting_of(terms.columns, note_date=terms.closing_date, agency=agency)


def read_reports(services: Services, *, limit: int = 5000) -> ReadStats:
    """One GET per connection whose refresh completed, compared with its previous snapshot.

    Spends no budget, so a failed read is simply tried again by a later pass (a few times).
    """
    stats = ReadStats()
    with session(services.engine) as s:
        due = monitoring.due_reports(s, limit=limit)
    for item in due:
        if item.product == "assets":
            read_assets(services, item, stats)
            continue
        try:
            snapshot = services.client.get_link_report(
                item.link_id, product=item.product, fallback_as_of=item.completed_at
            )
        except TruvAuthError:
            raise
        except (TruvNotFound, TruvError) as exc:
            log.warning("report_read_failed", due=item.id, error=str(exc)[:200])
            with session(services.engine) as s:
                monitoring.failed_attempt(s, item.id)
            stats.failed += 1
            continue
        thresholds = thresholds_for(services, item.policy)
        now = services.clock.now()
        with session(services.engine) as s:
            if monitoring.already_seen(s, item, snapshot.as_of):
                monitoring.mark_report(s, item.id, state=ReportState.READ)
                continue
            previous = monitoring.previous_snapshot(
                s, loan_id=item.loan_id, token_hash=item.token_hash, before=snapshot.as_of
            )
            monitoring.save_snapshot(s, item, snapshot, now=now)
            if previous is None:
                stats.baselines += 1  # the first report of a connection is a baseline, not a finding
            else:
                terms = underwriting_for(
                    services, item.policy, underwriting.loan_terms(s, item.loan_id, token_hash=item.token_hash)
                )
                for finding in compare(previous.snapshot, snapshot, thresholds, terms):
                    monitoring.record_finding(
                        s,
                        finding,
                        loan_id=item.loan_id,
                        order_id=item.refresh_order_id,
                        completed_at=snapshot.as_of,
                        previous=previous,
                        now=now,
                    )
                    stats.findings += 1
            monitoring.mark_report(s, item.id, state=ReportState.READ)
        stats.read += 1
    return stats


def read_baselines(services: Services, *, loan_id: str, order_id: str, product: str, tokens: Collection[str]) -> int:
    """Before a connection's first refresh, its verified data (the original order's, through the link's report)
    becomes its baseline, so the first refresh's changes are findings (DESIGN.md rule 16). One paced GET per
    connection, once: a kept report is never read again. A read that fails leaves the first refresh's report
    as the baseline, as before; a failure about the pass (401, Truv unreachable) propagates. Returns the reads kept.
    """
    if product not in monitoring.MONITORED_PRODUCTS:
        return 0
    with session(services.engine) as s:
        unread = monitoring.without_baseline(s, loan_id, tokens)
    kept = 0
    for conn in unread:
        try:
            snapshot = services.client.get_link_report(
                conn.link_id, product=product, fallback_as_of=conn.data_as_of or services.clock.now(), baseline=True
            )
        except (TruvAuthError, TruvUnreachable):
            raise
        except TruvError as exc:
            log.warning("baseline_read_failed", error=str(exc)[:200])
            continue
        with session(services.engine) as s:
            kept += monitoring.save_baseline(
                s,
                loan_id=loan_id,
                token_hash=conn.token_hash,
                order_id=order_id,
                snapshot=snapshot,
                now=services.clock.now(),
            )
    return kept
