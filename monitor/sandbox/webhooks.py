"""Truv's webhooks from the sandbox: the events a refresh (or a link's or an order's change) causes.

`WebhookOutbox` builds the events (truv-api.md section 4) when a refresh order is created,
a link reconnected or deleted, or an order finalized, each scheduled for the moment its change happens; `Sandbox` owns
one and hands out the due ones from `Sandbox.due_webhooks()` under its lock, so nothing
here runs on a timer. webhook_delivery.py makes the bytes a receiver gets, webhook_pump.py POSTs them for `serve`.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Mapping
from datetime import UTC, datetime

from monitor.sandbox.model import (
    Link,
    Order,
    Suborder,
    Task,
    allowed_products_of,
    data_source_of,
    iso,
)
from monitor.sandbox.reports import DataEvents
from monitor.sandbox.webhook_delivery import DeliveryFaults, Scheduled, Webhook

# Failures after which the borrower must reconnect (Bridge update mode): link-disconnected.
DISCONNECTING = frozenset({"login_error", "mfa_error", "account_locked"})
# bank-accounts-updated objects_count before a link's first refresh (employers use the report's
# counts instead: see `_employment_data`).
BASE_OBJECTS_COUNT = 26
# Account Link events (docs.truv.com/api-reference/links/events): no `updated_at` in their fields.
LINK_EVENTS = frozenset({"link-connected", "link-disconnected", "link-deleted"})
# Task statuses that make a refresh order fail (`order-refresh-failed`); done and no_data do not.
SUCCEEDED = frozenset({"done", "no_data"})


def updated_at_text(moment: datetime) -> str:
    """`updated_at` as Truv's webhook examples write it: ISO-8601 ending in `+00:00`."""
    return moment.astimezone(UTC).isoformat()


class WebhookOutbox:
    """Scheduled events and the state their fields need; not locked: `Sandbox` holds its lock.

    Ids come from `random.Random(f"sandbox-webhooks:{seed}")`, drawn when an event is
    scheduled (at the API request that causes it), so they depend only on the request
    sequence and not on when anyone polls; faults use a second RNG of their own.
    """

    def __init__(self, seed: int) -> None:
        self._ids = random.Random(f"sandbox-webhooks:{seed}")
        self._delivery = DeliveryFaults(seed)
        # Events added with the link reports (statements-updated, employment-updated for an
        # employment a change superseded) draw ids and duplicate rolls from RNGs of their own,
        # so every other webhook keeps the id and duplication it had before.
        self._data_ids = random.Random(f"sandbox-webhooks-data:{seed}")
        self._pending: list[Scheduled] = []  # heap by (moment, seq)
        self._seq = 0
        self._employment_ids: dict[tuple[str, str], str] = {}
        self._objects: dict[str, int] = {}
        self._last_product: dict[str, str] = {}

    def _new_id(self) -> str:
        return f"{self._ids.getrandbits(128):032x}"

    def _push(
        self, moment: datetime, event_type: str, user_id: str, fields: Mapping[str, object], *, data: bool = False
    ) -> None:
        webhook_id = f"{self._data_ids.getrandbits(128):032x}" if data else self._new_id()
        if data:
            self._delivery.mark_data(webhook_id)
        payload: dict[str, object] = {
            "webhook_id": webhook_id,
            "event_type": event_type,
            "event_created_at": iso(moment),
            "updated_at": updated_at_text(moment),
            "user_id": user_id,
            **fields,
            "template_id": None,
        }
        if event_type in LINK_EVENTS:
            # Link events document no `updated_at`: receivers order them by event_created_at.
            del payload["updated_at"]
        self._seq += 1
        heapq.heappush(self._pending, (moment, self._seq, payload))

    # ---- scheduling ---------------------------------------------------------------

    def refresh_created(self, order: Order, product: str, data: Mapping[str, DataEvents] | None = None) -> None:
        """Schedule the events of a new refresh order, at its tasks' `finishes_at`.

        `data` (per employer suborder id) says what a `done` task's data shows: which
        employments `employment-updated` names and the stub counts `statements-updated` carries.
        """
        groups: dict[int, tuple[Task, list[Suborder]]] = {}
        for suborder in order.suborders():
            groups.setdefault(id(suborder.task), (suborder.task, []))[1].append(suborder)
        # Exactly one `order-refresh-failed` per failed refresh order: the first failing task's.
        failing = [task for task, _ in groups.values() if task.status not in SUCCEEDED]
        first_failure = min(failing, key=lambda task: task.finishes_at, default=None)
        for task, suborders in groups.values():
            self._task_finished(order, product, task, suborders, data or {}, reports_failure=task is first_failure)

    def _task_finished(
        self,
        order: Order,
        product: str,
        task: Task,
        suborders: list[Suborder],
        data: Mapping[str, DataEvents],
        *,
        reports_failure: bool = False,
    ) -> None:
        link = suborders[0].link
        moment, status = task.finishes_at, task.status
        self._last_product[link.id] = product
        task_id = self._new_id()
        source = data_source_of(link.kind)
        common = {"link_id": link.id, "product": product, "data_source": source}
        self._push(
            moment,
            "task-status-updated",
            order.user_id,
            {"task_id": task_id, **common, "tracking_info": None, "status": status},
        )
        # order-status-updated per suborder that changed to completed / no_data; a failure is one
        # order-refresh-failed for the whole refresh order (its first failing suborder's).
        reported = suborders if status in SUCCEEDED else suborders[:1] if reports_failure else []
        for suborder in reported:
            event_type = "order-status-updated" if status in SUCCEEDED else "order-refresh-failed"
            self._push(
                moment,
                event_type,
                order.user_id,
                {
                    "order_id": order.id,
                    "order_number": order.order_number,
                    "employer_id": suborder.id,
                    **common,
                    "status": "completed" if status == "done" else status,
                },
            )
        if status in DISCONNECTING:
            self._push(moment, "link-disconnected", order.user_id, {**common, "tracking_info": None})
        if status == "done":
            self._objects[link.id] = self._objects.get(link.id, BASE_OBJECTS_COUNT) + 1
            for suborder in suborders:
                events = data.get(suborder.id)
                if events is None:
                    self._push(moment, *self._data_updated(order.user_id, task_id, link, suborder, common))
                else:
                    self._employment_data(moment, order.user_id, task_id, link, suborder, common, events)

    def _data_updated(
        self, user_id: str, task_id: str, link: Link, suborder: Suborder, common: dict[str, str]
    ) -> tuple[str, str, dict[str, object]]:
        """`employment-updated` for an employer, `bank-accounts-updated` for an account."""
        key = (link.id, suborder.suborder_number)
        if key not in self._employment_ids:
            # The same employment (or account) object across refreshes of one connection.
            self._employment_ids[key] = self._new_id()
        object_key = "employment_id" if suborder.kind == "employer" else "object_id"
        event_type = "employment-updated" if suborder.kind == "employer" else "bank-accounts-updated"
        fields: dict[str, object] = {
            "task_id": task_id,
            **common,
            "tracking_info": None,
            object_key: self._employment_ids[key],
            "objects_count": self._objects[link.id],
        }
        return event_type, user_id, fields

    def _employment_data(
        self,
        moment: datetime,
        user_id: str,
        task_id: str,
        link: Link,
        suborder: Suborder,
        common: dict[str, str],
        events: DataEvents,
    ) -> None:
        """`employment-updated` per employment the refresh shows changed (the current one always),
        then `statements-updated` per employment whose stub count changed (`objects_count` = its
        stubs); ids are the report's (employment.py), not drawn here."""
        key = (link.id, suborder.suborder_number)
        if key not in self._employment_ids:
            # Drawn and unused since employment ids come from the report data: keeps every later
            # webhook id what it was before the reports existed.
            self._employment_ids[key] = self._new_id()
        base = {"task_id": task_id, **common, "tracking_info": None}
        current = events.employment_ids[-1]
        for employment_id in events.employment_ids:
            fields = {**base, "employment_id": employment_id, "objects_count": events.employments_count}
            # The current employment's event is the one every done refresh sent before reports existed.
            self._push(moment, "employment-updated", user_id, fields, data=employment_id != current)
        for employment_id, stubs in events.statements:
            fields = {**base, "employment_id": employment_id, "objects_count": stubs}
            self._push(moment, "statements-updated", user_id, fields, data=True)

    def link_connected(self, link: Link, moment: datetime) -> None:
        """Bridge update mode succeeded: `link-connected`, then the task's `done`."""
        product = self._last_product.get(link.id) or allowed_products_of(link.kind)[0]
        common = {"link_id": link.id, "product": product, "data_source": data_source_of(link.kind)}
        self._push(moment, "link-connected", link.user_id, {**common, "tracking_info": None})
        self._push(
            moment,
            "task-status-updated",
            link.user_id,
            {"task_id": self._new_id(), **common, "tracking_info": None, "status": "done"},
        )

    def link_deleted(self, link: Link, moment: datetime) -> None:
        """The connection is gone (data and credentials removed): `link-deleted`."""
        product = self._last_product.get(link.id) or allowed_products_of(link.kind)[0]
        common = {"link_id": link.id, "product": product, "data_source": data_source_of(link.kind)}
        self._push(moment, "link-deleted", link.user_id, {**common, "tracking_info": None})

    def order_finalized(self, order: Order, moment: datetime) -> None:
        """No further data collection or refresh for this order: `order-finalized`."""
        self._push(
            moment,
            "order-finalized",
            order.user_id,
            # employer_id, link_id, product, data_source and status appear only in order-created,
            # order-status-updated and order-refresh-failed (docs.truv.com/api-reference/orders/events).
            {"order_id": order.id, "order_number": order.order_number},
        )

    # ---- delivery -----------------------------------------------------------------

    def due(self, now: datetime, *, secret: str | None, duplicates: float, reorder: bool) -> list[Webhook]:
        """Pop every event due at `now` in (moment, scheduling) order, then apply faults."""
        taken: list[Scheduled] = []
        while self._pending and self._pending[0][0] <= now:
            taken.append(heapq.heappop(self._pending))
        if reorder and len(taken) > 1:
            taken = self._delivery.reordered(taken)
        return [webhook for _, _, payload in taken for webhook in self._delivery.copies(payload, secret, duplicates)]

    def pending(self) -> int:
        return len(self._pending)
