"""Assets monitoring in a pass: after a VOA refresh, read the refresh order's assets report and compare
the connection's accounts with its previous report and with what closing needs (issue 22 point 5)."""

from __future__ import annotations

from decimal import Decimal
from typing import Protocol

import structlog

from monitor.core.assets import AssetTerms, compare_assets
from monitor.core.changes import money
from monitor.core.states import ReportState
from monitor.errors import TruvAuthError, TruvError, TruvNotFound
from monitor.services import Services
from monitor.store import monitoring, underwriting
from monitor.store.db import session

log = structlog.get_logger("monitor.monitoring")


class Stats(Protocol):
    read: int
    baselines: int
    findings: int
    failed: int


def asset_terms(columns: dict[str, str]) -> AssetTerms:
    """funds_to_close, reserves and the monthly qualifying income from the loan's columns."""
    qualifying = money(columns.get("qualifying_income"))
    if qualifying is not None and columns.get("qualifying_income_unit") == "yearly":
        qualifying = qualifying / Decimal(12)
    return AssetTerms(
        funds_to_close=money(columns.get("funds_to_close")),
        reserves=money(columns.get("reserves")),
        monthly_qualifying=qualifying,
    )


def read_assets(services: Services, item: monitoring.Due, stats: Stats) -> None:
    """One GET of the refresh order's VOA report; a read that cannot be made yet is tried again later."""
    with session(services.engine) as s:
        ref = monitoring.voa_report(s, item.refresh_order_id)
    try:
        if ref is None:
            raise TruvError("the refresh order's user or VOA report id is not known yet")
        snapshot = services.client.get_assets_report(
            ref[0], ref[1], link_id=item.link_id, fallback_as_of=item.completed_at
        )
    except TruvAuthError:
        raise
    except (TruvNotFound, TruvError) as exc:
        log.warning("report_read_failed", due=item.id, error=str(exc)[:200])
        with session(services.engine) as s:
            monitoring.failed_attempt(s, item.id)
        stats.failed += 1
        return
    now = services.clock.now()
    with session(services.engine) as s:
        if monitoring.already_seen(s, item, snapshot.as_of):
            monitoring.mark_report(s, item.id, state=ReportState.READ)
            return
        previous = monitoring.previous_assets(
            s, loan_id=item.loan_id, token_hash=item.token_hash, before=snapshot.as_of
        )
        monitoring.save_assets(s, item, snapshot, now=now)
        if previous is None:
            stats.baselines += 1
        else:
            terms = asset_terms(underwriting.loan_terms(s, item.loan_id, token_hash=None).columns)
            for finding in compare_assets(previous.snapshot, snapshot, terms):
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
