"""What a comparison finds: the rules, their severities and the finding itself. Pure values."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any


class Rule(StrEnum):
    JOB_LOSS = "job_loss"
    EMPLOYER_CHANGE = "employer_change"
    INCOME_DROP = "income_drop"
    PAY_CHANGE = "pay_change"
    MISSED_PAY = "missed_pay"
    UNVERIFIED = "unverified"
    HOURS_DROP = "hours_drop"
    JOB_TYPE_CHANGE = "job_type_change"
    END_BEFORE_NOTE = "end_before_note"
    NEW_EMPLOYMENT = "new_employment"
    LEAVE_OF_ABSENCE = "leave_of_absence"
    RESCORE_REQUIRED = "rescore_required"
    RESUBMIT_REQUIRED = "resubmit_required"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    LARGE_DEPOSIT = "large_deposit"
    ACCOUNT_CLOSED = "account_closed"


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"


SEVERITY_ORDER = {Severity.MEDIUM: 1, Severity.HIGH: 2, Severity.CRITICAL: 3}


def severities_from(floor: str) -> frozenset[str]:
    """`medium`, `high` or `critical` (any case): that severity and every worse one. ValueError otherwise."""
    try:
        rank = SEVERITY_ORDER[Severity(floor.strip().lower())]
    except ValueError:
        raise ValueError(f"expected medium, high or critical, got {floor!r}") from None
    return frozenset(s.value for s, r in SEVERITY_ORDER.items() if r >= rank)


# Findings at or above this go to the lender through the outbox.
HANDOFF_SEVERITIES = frozenset({Severity.HIGH, Severity.CRITICAL})


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A fall of at least `review` is worth a look (medium); of at least `material`, high."""

    review: Decimal = Decimal("0.05")
    material: Decimal = Decimal("0.10")


@dataclass(frozen=True, slots=True)
class Finding:
    rule: Rule
    severity: Severity
    employment_id: str | None
    field: str | None
    before: str | None
    after: str | None
    confidence: str = "confirmed"  # "probable" when Truv inferred the field (derived_fields)
    # dataclasses.field: the name `field` is one of this class's own fields
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)


def unverified(status: str, *, employment_ids: tuple[str, ...] = ()) -> Finding:
    """A refresh that failed, needs the borrower, or came back empty: unverified, never "no change"."""
    return Finding(
        Rule.UNVERIFIED,
        Severity.HIGH,
        employment_ids[0] if len(employment_ids) == 1 else None,
        "status",
        None,
        status,
    )
