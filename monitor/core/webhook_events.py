"""What a Truv webhook means for us. Pure: a parsed payload in, an instruction out.

Also the schema an event must meet before anything acts on it (DESIGN.md rule 13): a signed event
that breaks it is kept as `invalid` with a reason, acknowledged, and never applied.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

DATA_EVENTS = frozenset(
    {
        "employment-updated",
        "profile-updated",
        "statements-updated",
        "shifts-updated",
        "bank-accounts-updated",
    }
)


class Action(StrEnum):
    SUBORDER_STATUS = "suborder_status"  # a refresh order's employer/account reached a status
    LINK_DISCONNECTED = "link_disconnected"  # the borrower must reconnect
    LINK_CONNECTED = "link_connected"  # reconnected: eligible again
    TASK_STATUS = "task_status"  # a task finished; `done` after a re-auth makes the link eligible again
    DATA_CHANGED = "data_changed"  # a refresh found new data: kept for reports
    ORDER_FINALIZED = "order_finalized"  # no further refresh of that order: the loan needs a new one
    # An order event naming no suborder (the data-refresh guide's own `order-status-updated` example):
    # the order is read once (by the next poll, or the next pass for an original order).
    ORDER_CHANGED = "order_changed"
    LINK_DELETED = "link_deleted"  # the connection is gone: its loans need a new order
    IGNORE = "ignore"  # a type we do not act on; stored and counted


@dataclass(frozen=True, slots=True)
class Instruction:
    action: Action
    target: str | None  # what `updated_at` ordering is kept per
    order_id: str | None = None
    suborder_id: str | None = None
    link_id: str | None = None
    status: str | None = None


ORDER_EVENTS = ("order-status-updated", "order-refresh-failed")
# Link events: each names what happened to the link, and its target is the link.
LINK_ACTIONS = {
    "link-deleted": Action.LINK_DELETED,
    "link-disconnected": Action.LINK_DISCONNECTED,
    "link-connected": Action.LINK_CONNECTED,
}


def interpret(event: Mapping[str, object]) -> Instruction:
    """What a validated event asks for (`validate` ran first: its ids and status are strings)."""
    kind = str(event.get("event_type") or "")
    link_id, status = _str(event.get("link_id")), _str(event.get("status"))
    if kind in ORDER_EVENTS or kind == "order-finalized":
        return _order_instruction(kind, event)
    if kind in LINK_ACTIONS and link_id:
        return Instruction(LINK_ACTIONS[kind], f"link:{link_id}", link_id=link_id)
    if kind == "task-status-updated" and link_id and status:
        return Instruction(Action.TASK_STATUS, f"link:{link_id}", link_id=link_id, status=status.lower())
    if kind in DATA_EVENTS:
        return Instruction(Action.DATA_CHANGED, None, link_id=link_id)
    return Instruction(Action.IGNORE, None)


def _order_instruction(kind: str, event: Mapping[str, object]) -> Instruction:
    """An order event: one employer's status, the whole order's (the guide's example names no employer),
    or its end of life."""
    order_id, employer_id = _str(event.get("order_id")), _str(event.get("employer_id"))
    status = _str(event.get("status"))
    if not order_id:
        return Instruction(Action.IGNORE, None)
    if kind == "order-finalized":
        return Instruction(Action.ORDER_FINALIZED, f"order:{order_id}", order_id=order_id)
    if not employer_id:
        return Instruction(Action.ORDER_CHANGED, f"order:{order_id}", order_id=order_id, status=_lower(status))
    if not status:
        return Instruction(Action.IGNORE, None)
    return Instruction(
        Action.SUBORDER_STATUS,
        f"suborder:{order_id}:{employer_id}",
        order_id=order_id,
        suborder_id=employer_id,
        link_id=_str(event.get("link_id")),
        status=status.lower(),
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _lower(value: str | None) -> str | None:
    return value.lower() if value else None


# Column sizes (monitor.store.tables): a value longer than its column cannot be one of ours, and
# Postgres would refuse to store it, so it is caught here rather than by the database.
MAX_WEBHOOK_ID = 255
MAX_EVENT_TYPE = 64
MAX_ID = 64  # Truv's ids are 32 hex characters; our order, suborder and link columns hold 64
MAX_STATUS = 32
ID_FIELDS = ("order_id", "link_id", "employer_id", "task_id")


def event_type_label(event_type: str) -> str:
    """What the event_type column counts an event under; an unusable type is the event's reason."""
    return event_type if len(event_type) <= MAX_EVENT_TYPE and event_type.isprintable() else "(invalid)"


class InvalidEvent(ValueError):
    """Why a signed event cannot be applied. The message names the field and the rule, never the value
    (it is stored, logged and shown by `webhooks status`; values may be personal data)."""


def envelope_problem(event: object) -> str | None:
    """Why a payload cannot even be stored (the receiver answers 400), or None.

    Storage needs an object with a usable `webhook_id` (the deduplication key) and an `event_type`.
    """
    if not isinstance(event, dict):
        return "expected a JSON object"
    webhook_id = event.get("webhook_id")
    if not isinstance(webhook_id, str) or not webhook_id:
        return "webhook_id: expected a non-empty string"
    if len(webhook_id) > MAX_WEBHOOK_ID:
        return f"webhook_id: longer than {MAX_WEBHOOK_ID} characters"
    if not webhook_id.isprintable():
        return "webhook_id: contains control or unencodable characters"
    event_type = event.get("event_type")
    if not isinstance(event_type, str) or not event_type:
        return "event_type: expected a non-empty string"
    return None


def ordered_by(event_type: str) -> str:
    """The field an event is ordered by per target (DESIGN.md rule 9): `updated_at`, except link events,
    which document none and are ordered by `event_created_at` (truv-api.md section 4)."""
    return "event_created_at" if event_type.startswith("link-") else "updated_at"


def validate(event: Mapping[str, object], *, now: datetime, skew: timedelta) -> datetime | None:
    """Check a stored event's fields; returns the moment it is ordered by, in UTC (None when it has none):
    its `updated_at`, or for a link event its `event_created_at`.

    Raises InvalidEvent. `skew` is budgets.clock_skew_margin: a moment further ahead of `now` than that
    would hold the target's cursor in the future and make every genuine event `stale`.
    """
    _text(event.get("event_type"), "event_type", MAX_EVENT_TYPE)
    for name in ID_FIELDS:
        if event.get(name) is not None:
            _text(event[name], name, MAX_ID)
    if event.get("status") is not None:
        _text(event["status"], "status", MAX_STATUS)
    updated_at = _moment(event.get("updated_at"), "updated_at")
    field = ordered_by(str(event["event_type"]))
    moment = updated_at if field == "updated_at" else _moment(event.get(field), field)
    for name, value in (("updated_at", updated_at), (field, moment)):
        if value is not None and value > now + skew:
            raise InvalidEvent(f"{name}: more than clock_skew_margin ({skew}) ahead of the receiver's clock")
    return moment


def _text(value: object, name: str, limit: int) -> None:
    if not isinstance(value, str):
        raise InvalidEvent(f"{name}: expected a string, got {_json_type(value)}")
    if len(value) > limit:
        raise InvalidEvent(f"{name}: longer than {limit} characters")
    if not value.isprintable():  # NUL, control characters, lone surrogates: no column can hold them all
        raise InvalidEvent(f"{name}: contains control or unencodable characters")


def _moment(value: object, name: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidEvent(f"{name}: expected an ISO-8601 string, got {_json_type(value)}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidEvent(f"{name}: not an ISO-8601 date and time") from None
    if parsed.tzinfo is None:
        raise InvalidEvent(f"{name}: has no UTC offset")
    try:
        return parsed.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+05:00 is before datetime.min in UTC
        raise InvalidEvent(f"{name}: out of range") from None


def _json_type(value: object) -> str:
    names = {dict: "object", list: "array", bool: "boolean", int: "number", float: "number", str: "string"}
    return "null" if value is None else names.get(type(value), type(value).__name__)
