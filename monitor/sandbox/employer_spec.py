"""What a test seeds as one connection of an order (`EmployerSpec`): an employer or a financial
account, the scenario of its link, and the scripted changes of its data."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from monitor.sandbox.employer_changes import EmployerChange, parse_changes
from monitor.sandbox.model import SCENARIOS, STATUS_STYLES, parse_time


@dataclass(frozen=True, slots=True)
class EmployerSpec:
    """One connection to seed: an employer (or a financial account) and its link's scenario.

    Employers sharing an `access_token` (or `link_id`) share one link, as Truv's links are
    one connection per provider per user.
    """

    access_token: str | None = None
    link_id: str | None = None
    scenario: str = "ok"
    company: str = "Sandbox Employer Inc."
    id: str | None = None
    suborder_number: str | None = None
    # When this connection's data was collected; None means the order's `completed_at`.
    completed_at: str | datetime | None = None
    status_style: str = "standard"
    # The link was deleted before the scenario starts (no `link-deleted` webhook is sent).
    link_deleted: bool = False
    # Scripted changes of this employer's data (employment.py): one mapping or a list, e.g.
    # {"at_refresh": 2, "job_loss": True}; kept as a sorted tuple of `EmployerChange`.
    changes: tuple[EmployerChange, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "changes", parse_changes(self.changes))
        if self.scenario not in SCENARIOS:
            raise ValueError(f"scenario: expected one of {', '.join(SCENARIOS)}, got {self.scenario!r}")
        if self.status_style not in STATUS_STYLES:
            raise ValueError(f"status_style: expected one of {', '.join(STATUS_STYLES)}, got {self.status_style!r}")
        if not isinstance(self.link_deleted, bool):
            raise ValueError(f"link_deleted: expected true or false, got {self.link_deleted!r}")
        if self.completed_at is not None:
            parse_time(self.completed_at)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "employer") -> EmployerSpec:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"{where}: unknown keys {unknown}; expected some of {sorted(known)}")
        for key in ("access_token", "link_id", "company", "id", "suborder_number", "status_style"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"{where}.{key}: expected a string (quote it in YAML), got {value!r}")
        moment = data.get("completed_at")
        if moment is not None and not isinstance(moment, str | datetime):
            raise ValueError(f"{where}.completed_at: expected an ISO-8601 timestamp, got {moment!r}")
        try:
            return cls(**dict(data))
        except ValueError as exc:
            raise ValueError(f"{where}.{exc}") from None
