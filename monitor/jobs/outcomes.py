"""Settling refreshes: polling refresh orders, reconciling unknown POSTs (DESIGN.md rules 4 and 6).

Every Truv read happens here, before anything is recorded; the settlement itself is
`monitor.core.settlement`, recorded by `monitor.store.settle`, exactly as a webhook settles.
"""

from __future__ import annotations

import contextvars
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from monitor.core.settlement import (
    LINK_UNREADABLE,
    Settlement,
    SuborderResult,
    Verdict,
    awaits_link,
    judge,
    judge_by_link,
    pending,
)
from monitor.errors import TruvAuthError, TruvError, TruvNotFound
from monitor.services import Services
from monitor.store import settle
from monitor.store.settle import Unsettled
from monitor.truv.client import TruvClient
from monitor.truv.wire import OrderInfo, Suborder

log = structlog.get_logger("monitor.outcomes")

# How long a reservation whose POST may have been sent waits before "Truv shows no refresh" is
# believed: long enough for another live instance to finish its own POST and record it.
RECONCILE_GRACE = timedelta(minutes=10)
# A refresh order Truv created but now answers 404 for is only given up on after this long.
MISSING_AFTER = timedelta(hours=24)


@dataclass
class SettleStats:
    completed: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    needs_reauth: int = 0
    reconciled: int = 0
    lost: int = 0
    pending: int = 0

    def merge(self, other: SettleStats) -> None:
        self.completed += other.completed
        self.failed.update(other.failed)
        self.needs_reauth += other.needs_reauth
        self.reconciled += other.reconciled
        self.lost += other.lost
        self.pending += other.pending

    def count(self, settlement: Settlement) -> None:
        if settlement.completed:
            self.completed += 1
        self.failed.update(settlement.failed_statuses)
        self.needs_reauth += settlement.needs_reauth


def _verdict(client: TruvClient, sub: Suborder) -> Verdict:
    """An employer in `error` says nothing about why; the link's last task status does."""
    if sub.link_id and awaits_link(sub.status, sub.link_id):
        try:
            return judge_by_link(client.get_link(sub.link_id).status)
        except TruvAuthError:
            raise
        except TruvError:
            return LINK_UNREADABLE
    return judge(sub.status)


def _settle_order(services: Services, refresh: settle.AcceptedRefresh, info: OrderInfo) -> SettleStats:
    """Settle a refresh order as read from Truv (a no-op when something settled it meanwhile)."""
    stats = SettleStats()
    reservation_id, asked = refresh.reservation_id, refresh.tokens
    # Only what the refresh asked for is judged: another suborder's link is never read for it.
    subs = [sub for sub in info.suborders if not asked or sub.token_hash in asked]
    results = [
        SuborderResult(sub.kind, sub.token_hash, sub.link_id, _verdict(services.client, sub), info.data_date(sub))
        for sub in subs
    ]
    if pending(results):
        # Connections completed so far each bring a new report id: handed off now, not at the end.
        settle.record_progress(services.engine, reservation_id, info, now=services.clock.now())
        stats.pending += 1
        return stats
    settlement = settle.settle_refresh(services.engine, reservation_id, info, results, now=services.clock.now())
    if settlement is not None:
        stats.count(settlement)
    return stats


def poll(services: Services, *, run_id: str | None = None, limit: int = 10_000) -> SettleStats:
    """GET each accepted refresh order that has not settled (or only this run's, when given)."""
    stats = SettleStats()
    accepted = settle.accepted_refreshes(services.engine, run_id=run_id, limit=limit)
    workers = max(1, min(services.config.truv.concurrency, len(accepted)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
        # Polls run as wide as submissions: at ~1 s of latency a serial loop would idle the pace.
        context = contextvars.copy_context()
        for one in pool.map(lambda refresh: context.copy().run(_poll_one, services, refresh), accepted):
            stats.merge(one)
    return stats


def _poll_one(services: Services, refresh: settle.AcceptedRefresh) -> SettleStats:
    stats = SettleStats()
    try:
        info = services.client.get_order(refresh.refresh_order_id, purpose="poll")
    except TruvAuthError:
        raise
    except TruvNotFound:
        # Truv itself named this order, so a 404 is more likely a hiccup than a deletion.
        # Settling it as failed would let the loan be refreshed again; wait a day first.
        now = services.clock.now()
        if now - refresh.reserved_at > MISSING_AFTER:
            settle.settle_missing(services.engine, refresh.reservation_id, refresh.refresh_order_id, now=now)
            stats.failed["order_not_found"] += 1
        else:
            stats.pending += 1
        return stats
    except TruvError as exc:
        log.warning("poll_failed", reservation=refresh.reservation_id, error=str(exc))
        stats.pending += 1
        return stats
    return _settle_order(services, refresh, info)


def reconcile(services: Services, *, current_run: str, now: datetime) -> SettleStats:
    """Unknown outcomes: ask the parent order which refresh Truv created, if any (rule 4).

    `reserved`/`sent` rows of other runs are included: a process killed between the reservation
    and the answer leaves exactly those behind.
    """
    stats = SettleStats()
    rows, known = settle.unsettled(services.engine, current_run=current_run)
    for res in rows:
        try:
            parent = services.client.get_order(res.parent_order_id, purpose="reconcile")
        except TruvAuthError:
            raise
        except TruvError as exc:
            log.warning("reconcile_failed", reservation=res.id, error=str(exc))
            continue
        _reconcile_one(services, res, parent.refresh_order, known, stats, current_run=current_run, now=now)
    return stats


def _reconcile_one(
    services: Services,
    res: Unsettled,
    child: str | None,
    known: set[str],
    stats: SettleStats,
    *,
    current_run: str,
    now: datetime,
) -> None:
    """Adopt the refresh the parent names when it is ours; else, after the grace, the reservation is lost."""
    adopt, created_at = _ours(services, res, child) if child and child not in known else (False, None)
    if child and adopt:
        limits = services.limits
        if settle.adopt_refresh(
            services.engine, res, child, created_at=created_at, limits=limits, run_id=current_run, now=now
        ):
            known.add(child)
            stats.reconciled += 1
    elif now - res.reserved_at >= RECONCILE_GRACE and settle.mark_lost(
        services.engine, res, run_id=current_run, now=now
    ):
        # Truv shows no refresh: the loan may be tried again. The reservation still counts.
        stats.lost += 1


def _ours(services: Services, res: Unsettled, child: str) -> tuple[bool, datetime | None]:
    """Whether the refresh the original names was made for this reservation, and when Truv created it.

    The original names only its latest refresh: one created before our request is someone else's.
    """
    try:
        created = services.client.get_order(child, purpose="reconcile").created_at
    except TruvError:
        return True, None  # unreadable child: adopt it on the parent's word
    if created is None:
        return True, None
    return created >= res.reserved_at - services.limits.clock_skew_margin, created


REPORT_IDS_WITHIN = timedelta(days=7)


def fetch_report_ids(services: Services) -> int:
    """Read the new DU / LPA report ids of refreshes that settled by webhook, then hand them off.

    One GET per such refresh of a mortgage order (one whose original carries a report id); the
    lender needs the newest id to resubmit, and no webhook carries it.
    """
    now = services.clock.now()
    done = 0
    for loan_id, order_id in settle.refreshes_missing_report_ids(services.engine, since=now - REPORT_IDS_WITHIN):
        try:
            info = services.client.get_order(order_id, purpose="report_ids")
        except TruvAuthError:
            raise
        except TruvError as exc:
            log.warning("report_ids_read_failed", error=str(exc)[:200])
            continue
        if settle.record_report_ids(services.engine, loan_id, info, now=now):
            done += 1
    return done
