"""Truv's JSON -> our types. Access tokens are hashed here and go no further.

Where truv-api.md marks a field as inferred, every plausible form is read: `initial_order` as an id or
an object with one, financial accounts under `financial_accounts` or the older `bank`, a suborder's
final state in `status` or, while that still says `sent`, in `last_task_status`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.truv.secrets import token_hash

# Suborder statuses that say only "not finished yet" while the task behind it may already have ended.
_NOT_FINAL = frozenset({"sent", "pending"})
_COMPLETED = frozenset({"completed", "done"})
_FINAL_TASK = frozenset(
    {
        "done",
        "login_error",
        "mfa_error",
        "config_error",
        "account_locked",
        "unable_to_reset",
        "no_data",
        "unavailable",
        "error",
        "not_supported",
    }
)


@dataclass(frozen=True, slots=True)
class Suborder:
    kind: str  # employer | account | insurance
    id: str
    suborder_number: str | None
    status: str | None
    token_hash: str | None
    link_id: str | None
    updated_at: datetime | None
    completed_at: datetime | None = None  # not documented on suborders: a refinement where present

    @property
    def completed(self) -> bool:
        """The connection's data came in; `expired`, `canceled`, `skipped`, `no_data` never completed."""
        return (self.status or "").lower() in _COMPLETED


@dataclass(frozen=True, slots=True)
class OrderInfo:
    id: str
    products: tuple[str, ...]
    user_id: str | None
    order_number: str | None
    initial_order: str | None
    refresh_order: str | None
    created_at: datetime | None
    updated_at: datetime | None  # moves for reminders, edits, a refresh made from it: never a data date
    suborders: tuple[Suborder, ...]
    # The borrower invitation's expiry (72 h by default), not the end of the order's data (truv-api.md 3).
    is_expired: bool = False
    voie_report_id: str | None = None
    voa_report_id: str | None = None
    completed_at: datetime | None = None  # the documented data date of an order (orders_read)
    canceled_at: datetime | None = None

    def data_date(self, sub: Suborder) -> datetime | None:
        """When a completed suborder's data was collected (truv-api.md section 10), else None.

        The order's `completed_at` is the documented date; a suborder-level completion time, where an
        answer carries one, refines it. An order that shows a completed suborder but no completion time
        (not the documented shape) falls back to its `created_at`, the older bound: never `updated_at`,
        never the moment we read it.
        """
        if not sub.completed:
            return None
        return sub.completed_at or self.completed_at or self.created_at

    def first_completion(self) -> datetime | None:
        """The initial report's moment (the GSE window's start): when the order's data was first in.

        None while no suborder has completed: the budget then takes the stricter, rolling window.
        """
        dates = [d for d in (s.completed_at for s in self.suborders if s.completed) if d is not None]
        if dates:
            return min(dates)
        if not any(s.completed for s in self.suborders):
            return None
        return self.completed_at or self.created_at

    def completed_suborders(self) -> tuple[Suborder, ...]:
        return tuple(s for s in self.suborders if s.completed)


def connection_date(sub: Suborder, known: Iterable[datetime | None], imported: datetime | None) -> datetime | None:
    """One connection's data date: the newest of what Truv (or an earlier read) dated it and the imported
    `data_as_of`, which never moves it backwards. A suborder that never completed, and was never dated, has
    none (truv-api.md section 10): the imported date does not give it one."""
    dated = [d for d in known if d is not None]
    if not (sub.completed or dated):
        return None
    dated += [imported] if imported is not None else []
    return max(dated) if dated else None


def connection_dates(original: OrderInfo, newest: OrderInfo | None) -> dict[tuple[str, str], datetime]:
    """Per (kind, token): Truv's data date, from the newest refresh where it completed, else the original
    (truv-api.md section 10). A connection that never completed has none."""
    dates: dict[tuple[str, str], datetime] = {}
    for info in (original, newest):
        if info is None:
            continue
        for sub in info.suborders:
            when = info.data_date(sub)
            if sub.token_hash and when is not None:
                key = (sub.kind, sub.token_hash)
                dates[key] = max(dates[key], when) if key in dates else when
    return dates


@dataclass(frozen=True, slots=True)
class LinkInfo:
    id: str
    status: str | None
    updated_at: datetime | None
    deleted: bool = False


def parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed


def _text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _ref(value: Any) -> str | None:
    """An order reference given as an id or as an object carrying one."""
    if isinstance(value, dict):
        return _text(value.get("id"))
    return _text(value)


def effective_status(status: Any, last_task_status: Any) -> str | None:
    """A suborder may stay `sent` while its task has already ended: the task's status then decides."""
    plain = status.lower() if isinstance(status, str) else None
    task = last_task_status.lower() if isinstance(last_task_status, str) else None
    if task in _FINAL_TASK and (plain is None or plain in _NOT_FINAL):
        return task
    return plain


def _suborder(kind: str, item: dict[str, object]) -> Suborder:
    token = item.get("access_token")
    return Suborder(
        kind=kind,
        id=str(item.get("id")),
        suborder_number=_text(item.get("suborder_number")),
        status=effective_status(item.get("status"), item.get("last_task_status")),
        token_hash=token_hash(token) if isinstance(token, str) and token else None,
        link_id=_text(item.get("link_id")),
        updated_at=parse_time(item.get("updated_at")),
        completed_at=parse_time(item.get("completed_at")),
    )


def _items(body: dict[str, object], *keys: str) -> list[dict[str, object]]:
    for key in keys:
        value = body.get(key)
        if isinstance(value, list) and value:
            return [v for v in value if isinstance(v, dict) and v.get("id") is not None]
    return []


def parse_order(body: Any) -> OrderInfo:
    if not isinstance(body, dict) or not body.get("id"):
        raise ValueError("an order object needs an id")
    subs = [_suborder("employer", e) for e in _items(body, "employers")]
    subs += [_suborder("account", a) for a in _items(body, "financial_accounts", "bank", "bank_accounts")]
    subs += [_suborder("insurance", i) for i in _items(body, "insurance")]
    products = body.get("products")
    return OrderInfo(
        id=str(body["id"]),
        products=tuple(p for p in products if isinstance(p, str)) if isinstance(products, list) else (),
        user_id=_text(body.get("user_id")),
        order_number=_text(body.get("order_number")),
        initial_order=_ref(body.get("initial_order")),
        refresh_order=_ref(body.get("refresh_order")),
        created_at=parse_time(body.get("created_at")),
        updated_at=parse_time(body.get("updated_at")),
        suborders=tuple(subs),
        is_expired=body.get("is_expired") is True,
        voie_report_id=_text(body.get("voie_report_id")),
        voa_report_id=_text(body.get("voa_report_id")),
        completed_at=parse_time(body.get("completed_at")),
        canceled_at=parse_time(body.get("canceled_at")),
    )


def parse_link(body: Any) -> LinkInfo:
    if not isinstance(body, dict) or not body.get("id"):
        raise ValueError("a link object needs an id")
    return LinkInfo(
        id=str(body["id"]),
        status=_text(body.get("status")),
        updated_at=parse_time(body.get("updated_at")),
        deleted=bool(body.get("deleted_at")),
    )
