"""Learn many loans' connections and data dates per call: walk Truv's order list page by page (issue 26).

Each order on a page is matched to the imported loans by id (the loan's order or its original); a loan's
details are recorded exactly as a single-order read records them (`loan_refresh.record_details`: the
original order and the newest refresh it names, each connection dated by Truv's `completed_at`). Where
the list cannot serve, the loan's orders are read one by one, as before:
- a loan imported with a refresh order's id whose original was never read (its original is needed);
- an original naming a newest refresh the walk did not list, or a listed refresh whose original was not.

The cursor is where the last complete walk began; the next walk asks only for orders updated since then,
less `OVERLAP` (our clock against Truv's, and orders changed while a walk ran). The filter is asked for,
never trusted: when Truv lists an order older than it, or refuses it, the walk reads the whole list.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog

from monitor.errors import StorageError, TruvNotFound, TruvRefused
from monitor.jobs.order_reads import read_orders
from monitor.jobs.pass_lease import holder_is_dead, this_holder
from monitor.progress import Progress
from monitor.services import Services
from monitor.store import loan_refresh, order_sync, runs
from monitor.store.db import read_only, session
from monitor.truv.orders_page import PAGE_SIZE, OrdersPage, Query, filter_honoured, first_query
from monitor.truv.wire import OrderInfo

log = structlog.get_logger("monitor.sync")

OVERLAP = timedelta(hours=1)
# One walk at a time, whoever starts it (`loans sync`, or the passes of a job shared by instances): the
# lease table's row under a name no job can have (job names are jobs.yaml keys).
LEASE = "(order list sync)"


@dataclass
class SyncSummary:
    run_id: str
    started_at: datetime
    updated_since: datetime | None  # None: the whole list was asked for
    finished_at: datetime | None = None
    complete: bool = False  # the walk reached the list's end (only then does the cursor move)
    pages: int = 0
    orders_seen: int = 0
    loans_learned: int = 0  # loans whose details came from the list
    loans_read_singly: int = 0  # loans the list could not serve: their orders were read one by one
    filter_ignored: bool = False  # Truv listed orders older than asked for (or refused the filter)
    busy_with: str | None = None  # another sync holds the lease (its holder): this one read nothing
    requests: int = 0
    requests_by_endpoint: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, object]:
        out: dict[str, object] = asdict(self)
        times = {"started_at": self.started_at, "updated_since": self.updated_since, "finished_at": self.finished_at}
        out.update({key: value.isoformat() if value is not None else None for key, value in times.items()})
        return out


def worth_a_full_walk(lacking: int, active: int, page_size: int = PAGE_SIZE) -> bool:
    """Walk the whole list rather than read each order singly: more loans lack details than a page holds,
    and than the walk's pages (reckoned at two orders, an original and a refresh, per loan)."""
    return lacking > max(page_size, math.ceil(2 * active / page_size))


def sync_if_worth(services: Services, *, run_id: str | None = None) -> SyncSummary | None:
    """A whole walk when many loans lack details (`worth_a_full_walk`), else None: what a pass (and an
    online plan, so that it says what the run will do) does before its work."""
    with session(read_only(services.engine)) as s:
        lacking, active = order_sync.lacking_details(s)
    if not worth_a_full_walk(lacking, active):
        return None
    return OrderSync(services, full=True, run_id=run_id).run()


class OrderSync:
    """One walk of the order list. `full`: ignore the cursor and read every order."""

    def __init__(
        self, services: Services, *, full: bool = False, run_id: str | None = None, progress: Progress | None = None
    ) -> None:
        self.s = services
        self.full = full
        self.run_id = run_id or uuid.uuid4().hex
        self.progress = progress
        self._originals: dict[str, OrderInfo] = {}  # listed originals waiting for the refresh they name
        self._refreshes: dict[str, OrderInfo] = {}  # listed refresh orders of loans not yet recorded
        self._single: set[str] = set()  # loans whose orders are read one by one once the walk ends
        self._seen_roots: set[str] = set()  # originals listed in this walk (a later refresh of one is not news)

    def run(self) -> SyncSummary:
        now = self.s.clock.now()
        held = self._lease(now)
        if held is not None:
            log.info("order_sync_busy", holder=held)
            return SyncSummary(self.run_id, now, None, finished_at=now, busy_with=held)
        with session(read_only(self.s.engine)) as s:
            last = None if self.full else order_sync.cursor(s)
        since = last.walk_started_at - OVERLAP if last is not None else None
        summary = SyncSummary(self.run_id, now, since)
        before = self.s.client.stats
        try:
            self._walk(summary, since)
            self._leftovers(summary)
            summary.complete = True
            with session(self.s.engine) as s:
                order_sync.save_cursor(s, walk_started_at=now, orders_seen=summary.orders_seen, now=self.s.clock.now())
        finally:
            after = self.s.client.stats
            summary.requests = after.requests - before.requests
            summary.requests_by_endpoint = {
                k: v - before.by_endpoint.get(k, 0)
                for k, v in after.by_endpoint.items()
                if v - before.by_endpoint.get(k, 0)
            }
            summary.finished_at = self.s.clock.now()
            with session(self.s.engine) as s:
                runs.release_lease(s, job=LEASE, run_id=self.run_id)
            if self.progress is not None:
                self.progress.close()
            log.info("order_sync_finished", **{k: v for k, v in summary.as_dict().items() if k != "run_id"})
        return summary

    def _lease(self, now: datetime) -> str | None:
        """Take the sync's lease; the holder of the live one when another sync holds it."""
        try:
            with session(self.s.engine) as s:
                held = runs.acquire_lease(
                    s, job=LEASE, holder=this_holder(), run_id=self.run_id, now=now, holder_is_dead=holder_is_dead
                )
        except StorageError:
            return "another sync (it took the lease as this one asked)"  # two first inserts raced
        return held.holder if held is not None else None

    # -- the walk --------------------------------------------------------------------------------

    def _walk(self, summary: SyncSummary, since: datetime | None) -> None:
        query: Query | None = first_query(updated_since=since)
        asked: set[Query] = set()
        while query is not None and query not in asked:
            asked.add(query)
            page = self._list(query, summary, since=since)
            if page is None:
                # The filter's name or format is not Truv's: the safe reading is the whole list.
                since, query = None, first_query(updated_since=None)
                continue
            self._took(page, summary, since=since)
            query = page.next_query

    def _list(self, query: Query, summary: SyncSummary, *, since: datetime | None) -> OrdersPage | None:
        """One page; None when Truv refused the first page's `updated_since` filter (marked ignored)."""
        try:
            return self.s.client.list_orders(query)
        except TruvRefused as exc:
            if since is None or summary.pages or exc.status != 400:
                raise
            summary.filter_ignored = True
            return None

    def _took(self, page: OrdersPage, summary: SyncSummary, *, since: datetime | None) -> None:
        summary.pages += 1
        if not summary.filter_ignored and not filter_honoured(page, since):
            summary.filter_ignored = True
            log.warning("order_list_filter_ignored")
        if self.progress is not None and summary.pages == 1 and page.count is not None and page.results:
            self.progress.expect(math.ceil(page.count / len(page.results)))
        self._page(page, summary)
        if self.progress is not None:
            self.progress.step(orders=summary.orders_seen, loans=summary.loans_learned)

    def _page(self, page: OrdersPage, summary: SyncSummary) -> None:
        summary.orders_seen += len(page.results)
        wanted = {o.id for o in page.results} | {_root(o) for o in page.results}
        now = self.s.clock.now()
        with session(self.s.engine) as s:
            runs.renew_lease(s, job=LEASE, run_id=self.run_id, now=now)
            loans = order_sync.loans_for_orders(s, wanted)
            for order in page.results:
                root = _root(order)
                if root == order.id:
                    self._seen_roots.add(order.id)
                    self._original(s, order, loans.get(order.id, []), summary, now)
                    continue
                # A loan imported with this refresh's id whose original it does not know yet: read singly.
                # (One that knows it is found under the original's id, and learned from the original.)
                self._single.update(set(loans.get(order.id, [])) - set(loans.get(root, [])))
                waiting = self._originals.get(root)
                if waiting is not None and waiting.refresh_order == order.id:
                    del self._originals[root]
                    self._record(s, waiting, order, loans.get(root, []), summary, now)
                elif root in loans and root not in self._seen_roots:
                    self._refreshes[order.id] = order  # listed before its original, or its original not at all

    def _original(self, s: Any, order: OrderInfo, loan_ids: list[str], summary: SyncSummary, now: datetime) -> None:
        if not loan_ids:
            return
        newest_id = order.refresh_order if order.refresh_order and order.refresh_order != order.id else None
        if newest_id is None:
            self._record(s, order, None, loan_ids, summary, now)
        elif newest_id in self._refreshes:
            self._record(s, order, self._refreshes.pop(newest_id), loan_ids, summary, now)
        else:
            self._originals[order.id] = order

    def _record(
        self,
        s: Any,
        original: OrderInfo,
        newest: OrderInfo | None,
        loan_ids: list[str],
        summary: SyncSummary,
        now: datetime,
    ) -> None:
        for loan_id in loan_ids:
            if loan_refresh.record_details(s, loan_id, original, newest, run_id=self.run_id, now=now):
                summary.loans_learned += 1
                self._single.discard(loan_id)

    # -- what the list could not serve -------------------------------------------------------------

    def _leftovers(self, summary: SyncSummary) -> None:
        for original in list(self._originals.values()):
            # Its newest refresh was not listed (it did not change since the cursor): read that one.
            newest = self._read(original.refresh_order)
            with session(self.s.engine) as s:
                loans = order_sync.loans_for_orders(s, [original.id]).get(original.id, [])
                self._record(s, original, newest, loans, summary, self.s.clock.now())
        self._originals.clear()
        # Refreshes whose original was not listed (it did not change since the cursor): read singly.
        roots = {_root(o) for o in self._refreshes.values()} - self._seen_roots
        self._refreshes.clear()
        with session(read_only(self.s.engine)) as s:
            for loan_ids in order_sync.loans_for_orders(s, roots).values():
                self._single.update(loan_ids)
        for loan_id in sorted(self._single):
            self._read_singly(loan_id, summary)
        self._single.clear()

    def _read(self, order_id: str | None) -> OrderInfo | None:
        if order_id is None:
            return None
        try:
            return self.s.client.get_order(order_id, purpose="details")
        except TruvNotFound:
            return None

    def _read_singly(self, loan_id: str, summary: SyncSummary) -> None:
        with session(read_only(self.s.engine)) as s:
            order_id = order_sync.order_of(s, loan_id)
        if order_id is None:
            return
        try:
            original, newest = read_orders(self.s.client, order_id)
        except TruvNotFound:
            return  # the pass puts the loan off when it meets the same answer
        with session(self.s.engine) as s:
            if loan_refresh.record_details(s, loan_id, original, newest, run_id=self.run_id, now=self.s.clock.now()):
                summary.loans_read_singly += 1


def _root(order: OrderInfo) -> str:
    return order.initial_order if order.initial_order and order.initial_order != order.id else order.id
