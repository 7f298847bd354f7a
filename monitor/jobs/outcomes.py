"""Settling refreshes: polling refresh orders, reconciling unknown POSTs (DESIGN.md rules 4 and 6)."""

from __future__ import annotations

import contextvars
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import or_, select

from monitor.app import Services
from monitor.core.budget import counts_from
from monitor.core.changes import unverified
from monitor.core.outcomes import Outcome, classify, retry_at
from monitor.errors import TruvAuthError, TruvError, TruvNotFound
from monitor.store import ledger, monitoring, orders
from monitor.store.db import session
from monitor.store.outbox import enqueue_refresh_completed
from monitor.store.tables import Loan, Reservation
from monitor.truv.wire import OrderInfo

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


def _suborder_outcome(services: Services, sub_status: str | None, link_id: str | None) -> tuple[Outcome, str]:
    """An employer in `error` says nothing about why; the link's last task status does."""
    status = (sub_status or "").lower()
    if status == "error" and link_id and services.client is not None:
        try:
            link = services.client.get_link(link_id)
            return classify(link.status), link.status or "error"
        except TruvAuthError:
            raise
        except TruvError:
            return Outcome.RETRY, "error"
    return classify(status), status or "unknown"


def apply_refresh_order(services: Services, reservation_id: str, info: OrderInfo, stats: SettleStats) -> bool:
    """Record a refresh order's final state; False while any of its suborders is still working."""
    per_sub = [(sub, *_suborder_outcome(services, sub.status, sub.link_id)) for sub in info.suborders]
    if any(outcome is Outcome.PENDING for _, outcome, _ in per_sub):
        stats.pending += 1
        return False
    now = services.clock.now()
    with session(services.engine) as s:
        # Locked: a poll and a webhook (or two webhooks) may settle the same refresh at once.
        res = (
            s.execute(
                select(Reservation).where(Reservation.id == reservation_id).with_for_update()  # type: ignore[arg-type]
            )
            .scalars()
            .first()
        )
        if res is None or res.state != "accepted":
            return True
        loan = s.get(Loan, res.loan_id)
        orders.save_order(s, res.loan_id, info, now=now)
        orders.save_suborders(s, info)
        completed_at: dict[str, datetime] = {}
        statuses: list[str] = []
        for sub, outcome, status in per_sub:
            statuses.append(status)
            token = sub.token_hash
            if token is None:
                continue
            if outcome is Outcome.COMPLETED:
                completed_at[token] = info.data_date(sub) or sub.updated_at or now
                orders.set_connection_state(s, token, state="ok", reason=None, now=now)
                orders.mark_connection_data(s, res.loan_id, token, completed_at[token], kind=sub.kind)
                monitoring.enqueue_report(
                    s,
                    loan_id=res.loan_id,
                    token_hash=token,
                    link_id=sub.link_id,
                    product=res.product,
                    policy=res.policy,
                    refresh_order_id=info.id,
                    completed_at=completed_at[token],
                    now=now,
                )
                continue
            if res.product in monitoring.MONITORED_PRODUCTS:
                # A refresh that did not verify is recorded as unverified, never as "no change".
                monitoring.record_finding(
                    s,
                    unverified(status),
                    loan_id=res.loan_id,
                    order_id=info.id,
                    completed_at=None,
                    previous=None,
                    now=now,
                )
            if outcome is Outcome.REAUTH:
                orders.set_connection_state(s, token, state="needs_reauth", reason=status, now=now, failed=True)
                stats.needs_reauth += 1
            elif outcome is Outcome.RETRY:
                conn = orders.set_connection_state(s, token, state="retry_later", reason=status, now=now, failed=True)
                conn.retry_after = retry_at(conn.failures, now)
                if loan is not None:
                    loan.next_attempt_at = conn.retry_after
            else:
                orders.set_connection_state(s, token, state="manual_review", reason=status, now=now, failed=True)
        all_done = bool(per_sub) and len(completed_at) == len(per_sub)
        if loan is not None:
            if completed_at:
                # Rule 6: the newest completed refresh is where data is read; refreshes still go to the original.
                loan.base_order_id = info.id
            orders.refresh_data_date(s, loan)
            if all_done:
                enqueue_refresh_completed(s, loan=loan, order=info, product=res.product, now=now)
        outcome_text = "completed" if all_done else ",".join(sorted(set(statuses))) or "empty"
        ledger.set_state(
            s,
            reservation_id,
            state="completed" if all_done else "failed",
            now=now,
            settled_at=now,
            outcome=outcome_text[:32],
        )
        ledger.add_event(
            s,
            at=now,
            kind="outcome",
            run_id=res.run_id,
            loan_id=res.loan_id,
            reservation_id=reservation_id,
            refresh_order_id=info.id,
            outcome=outcome_text,
            voie_report_id=info.voie_report_id,
            voa_report_id=info.voa_report_id,
            suborders=[{"status": st, "token": (sb.token_hash or "")[:12]} for sb, _, st in per_sub],
        )
    if all_done:
        stats.completed += 1
    else:
        for status in statuses:
            if status not in ("done", "completed"):
                stats.failed[status] += 1
    return True


def poll(services: Services, *, run_id: str | None = None, limit: int = 10_000) -> SettleStats:
    """GET each accepted refresh order that has not settled (or only this run's, when given)."""
    stats = SettleStats()
    assert services.client is not None
    with session(services.engine) as s:
        query = select(Reservation.id, Reservation.refresh_order_id, Reservation.reserved_at).where(
            Reservation.state == "accepted",
            Reservation.refresh_order_id.is_not(None),  # type: ignore[union-attr]
        )
        if run_id is not None:
            query = query.where(Reservation.run_id == run_id)
        pending = s.execute(query.order_by(Reservation.reserved_at).limit(limit)).all()
    workers = max(1, min(services.config.truv.concurrency, len(pending)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
        # Polls run as wide as submissions: at ~1 s of latency a serial loop would idle the pace.
        context = contextvars.copy_context()
        for one in pool.map(lambda row: context.copy().run(_poll_one, services, *row), pending):
            stats.merge(one)
    return stats


def _poll_one(services: Services, reservation_id: str, order_id: str, reserved_at: datetime) -> SettleStats:
    stats = SettleStats()
    assert services.client is not None
    try:
        info = services.client.get_order(order_id, purpose="poll")
    except TruvAuthError:
        raise
    except TruvNotFound:
        # Truv itself named this order, so a 404 is more likely a hiccup than a deletion.
        # Settling it as failed would let the loan be refreshed again; wait a day first.
        if services.clock.now() - reserved_at > MISSING_AFTER:
            _settle_missing(services, reservation_id, order_id)
            stats.failed["order_not_found"] += 1
        else:
            stats.pending += 1
        return stats
    except TruvError as exc:
        log.warning("poll_failed", reservation=reservation_id, error=str(exc))
        stats.pending += 1
        return stats
    apply_refresh_order(services, reservation_id, info, stats)
    return stats


def _settle_missing(services: Services, reservation_id: str, order_id: str) -> None:
    now = services.clock.now()
    with session(services.engine) as s:
        ledger.set_state(s, reservation_id, state="failed", now=now, settled_at=now, outcome="order_not_found")
        ledger.add_event(
            s,
            at=now,
            kind="outcome",
            reservation_id=reservation_id,
            refresh_order_id=order_id,
            outcome="order_not_found",
        )


def reconcile(services: Services, *, current_run: str, now: datetime) -> SettleStats:
    """Unknown outcomes: ask the parent order which refresh Truv created, if any (rule 4).

    `reserved`/`sent` rows of other runs are included: a process killed between the reservation
    and the answer leaves exactly those behind.
    """
    stats = SettleStats()
    assert services.client is not None
    with session(services.engine) as s:
        rows = (
            s.execute(
                select(Reservation)
                .where(
                    or_(
                        Reservation.state == "unknown",
                        (Reservation.state.in_(("reserved", "sent"))) & (Reservation.run_id != current_run),  # type: ignore[attr-defined]
                    )
                )
                .order_by(Reservation.reserved_at)  # type: ignore[arg-type]
            )
            .scalars()
            .all()
        )
        known = set(
            s.execute(select(Reservation.refresh_order_id).where(Reservation.refresh_order_id.is_not(None))).scalars()
        )  # type: ignore[union-attr]
    for res in rows:
        try:
            parent = services.client.get_order(res.parent_order_id, purpose="reconcile")
        except TruvAuthError:
            raise
        except TruvError as exc:
            log.warning("reconcile_failed", reservation=res.id, error=str(exc))
            continue
        child = parent.refresh_order
        created_after = True
        child_created: datetime | None = None
        if child and child not in known and services.client is not None:
            # The original names only its latest refresh; make sure it is not older than our request.
            try:
                child_created = services.client.get_order(child, purpose="reconcile").created_at
                if child_created is not None:
                    created_after = child_created >= res.reserved_at - services.limits.clock_skew_margin
            except TruvError:
                pass  # unreadable child: adopt it on the parent's word
        with session(services.engine) as s:
            fresh = s.get(Reservation, res.id)
            if fresh is None or fresh.state not in ("unknown", "reserved", "sent"):
                continue
            if child and child not in known and created_after:
                ledger.set_state(
                    s, res.id, state="accepted", now=now, refresh_order_id=child, sent_at=fresh.sent_at or now
                )
                if child_created is not None:
                    ledger.count_from(
                        s, res.id, counts_from(fresh.sent_at or res.reserved_at, services.limits, child_created)
                    )
                ledger.add_event(
                    s,
                    at=now,
                    kind="reconciled",
                    run_id=current_run,
                    loan_id=res.loan_id,
                    reservation_id=res.id,
                    refresh_order_id=child,
                    found=True,
                )
                known.add(child)
                stats.reconciled += 1
            elif now - res.reserved_at >= RECONCILE_GRACE:
                # Truv shows no refresh: the loan may be tried again. The reservation still counts.
                ledger.set_state(s, res.id, state="lost", now=now, settled_at=now, outcome="not_created")
                ledger.add_event(
                    s,
                    at=now,
                    kind="reconciled",
                    run_id=current_run,
                    loan_id=res.loan_id,
                    reservation_id=res.id,
                    found=False,
                )
                stats.lost += 1
    return stats


REPORT_IDS_WITHIN = timedelta(days=7)


def fetch_report_ids(services: Services) -> int:
    """Read the new DU / LPA report ids of refreshes that settled by webhook, then hand them off.

    One GET per such refresh of a mortgage order (one whose original carries a report id); the
    lender needs the newest id to resubmit, and no webhook carries it.
    """
    assert services.client is not None
    now = services.clock.now()
    with session(services.engine) as s:
        missing = orders.refreshes_missing_report_ids(s, since=now - REPORT_IDS_WITHIN)
    done = 0
    for loan_id, order_id in missing:
        try:
            info = services.client.get_order(order_id, purpose="report_ids")
        except TruvAuthError:
            raise
        except TruvError as exc:
            log.warning("report_ids_read_failed", error=str(exc)[:200])
            continue
        with session(services.engine) as s:
            orders.save_order(s, loan_id, info, now=now)
            loan = s.get(Loan, loan_id)
            res = s.execute(select(Reservation.product).where(Reservation.refresh_order_id == order_id)).scalar()  # type: ignore[arg-type]
            if loan is not None and (info.voie_report_id or info.voa_report_id):
                enqueue_refresh_completed(s, loan=loan, order=info, product=res or "", now=now)
                done += 1
    return done
