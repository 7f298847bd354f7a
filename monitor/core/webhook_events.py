"""What a Truv webhook means for us. Pure: a parsed payload in, an instruction out."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

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


def interpret(event: dict[str, Any]) -> Instruction:
    kind = str(event.get("event_type") or "")
    order_id, link_id = event.get("order_id"), event.get("link_id")
    employer_id, status = event.get("employer_id"), event.get("status")
    if kind in ("order-status-updated", "order-refresh-failed") and order_id and employer_id and status:
        return Instruction(
            Action.SUBORDER_STATUS,
            f"suborder:{order_id}:{employer_id}",
            order_id=order_id,
            suborder_id=employer_id,
            link_id=link_id,
            status=str(status).lower(),
        )
    if kind == "order-finalized" and order_id:
        return Instruction(Action.ORDER_FINALIZED, f"order:{order_id}", order_id=order_id)
    if kind == "link-deleted" and link_id:
        return Instruction(Action.LINK_DELETED, f"link:{link_id}", link_id=link_id)
    if kind == "link-disconnected" and link_id:
        return Instruction(Action.LINK_DISCONNECTED, f"link:{link_id}", link_id=link_id)
    if kind == "link-connected" and link_id:
        return Instruction(Action.LINK_CONNECTED, f"link:{link_id}", link_id=link_id)
    if kind == "task-status-updated" and link_id and status:
        return Instruction(Action.TASK_STATUS, f"link:{link_id}", link_id=link_id, status=str(status).lower())
    if kind in DATA_EVENTS:
        return Instruction(Action.DATA_CHANGED, None, link_id=link_id)
    return Instruction(Action.IGNORE, None)
