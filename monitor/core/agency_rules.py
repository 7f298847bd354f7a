"""Agency pre-closing rules (truv-api.md section 11) as values, and the pure judgment of one verification.

A rule says how far before the note date a verification of employment may be dated, in which days
(business days skip weekends and, with `holidays="us-federal"`, US federal holidays as observed),
how old any document may be at the note date, the self-employed window, Freddie Mac's AIM date
(report date + 14 calendar days), and whether a verification made after closing still counts until
the loan is delivered (Fannie Mae B3-3.1-07). `judge_window` answers whether a verification is inside
and which rule said so, for the report to print.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Literal

from monitor.core.calendar import is_business_day

Unit = Literal["business", "calendar"]
Holidays = Literal["us-federal", "none"]
AgeUnit = Literal["days", "months"]


@dataclass(frozen=True, slots=True)
class AgencyRule:
    """One pre-closing rule; every field a preset sets can be overridden in jobs.yaml."""

    preset: str  # fannie-preclose, ..., or "custom" (a policy's own `pre_closing_business_days`)
    guide: str  # the guide ids cited wherever this rule judged a loan
    window: int  # days before the note date a VOE may be dated
    unit: Unit = "business"
    holidays: Holidays = "us-federal"
    document_age: int | None = None  # no document older than this at the note date
    document_age_unit: AgeUnit = "days"
    self_employed_window: int | None = None  # calendar days before the note date
    aim_days: int | None = None  # Freddie Mac AIM: close by the report date + this many calendar days
    after_closing_until_delivery: bool = False

    def with_overrides(self, **changes: object) -> AgencyRule:
        """The same rule with the given fields replaced (None leaves a field as the preset set it)."""
        given = {k: v for k, v in changes.items() if v is not None}
        return replace(self, **given)  # type: ignore[arg-type]

    @property
    def window_text(self) -> str:
        days = "business days" if self.unit == "business" else "calendar days"
        return f"{self.window} {days} before the note date"


PRESETS: dict[str, AgencyRule] = {
    "fannie-preclose": AgencyRule(
        preset="fannie-preclose",
        guide="Fannie Mae B3-3.1-07, B1-1-03",
        window=10,
        unit="business",
        document_age=4,
        document_age_unit="months",
        self_employed_window=120,
        after_closing_until_delivery=True,
    ),
    "freddie-preclose": AgencyRule(
        preset="freddie-preclose",
        guide="Freddie Mac 5102.4, 5302.2",
        window=10,
        unit="business",
        document_age=120,
        self_employed_window=120,
        aim_days=14,
    ),
    "fha-preclose": AgencyRule(
        preset="fha-preclose",
        guide="FHA 4000.1",
        window=10,
        unit="calendar",
    ),
    "va-preclose": AgencyRule(preset="va-preclose", guide="VA", window=120, unit="calendar", document_age=120),
    "usda-preclose": AgencyRule(preset="usda-preclose", guide="USDA", window=120, unit="calendar", document_age=120),
}

# Which agency's income rules a preset brings (FHA rescores past 5% below the scored income).
AGENCY_OF = {
    "fannie-preclose": "fannie",
    "freddie-preclose": "freddie",
    "fha-preclose": "fha",
    "va-preclose": "va",
    "usda-preclose": "usda",
}


def custom(business_days: int) -> AgencyRule:
    """A policy's own `pre_closing_business_days` (or the report's `--pre-closing-days`) as a rule."""
    return AgencyRule(preset="custom", guide="policy pre_closing_business_days", window=business_days)


def _business_day(day: date, holidays: Holidays) -> bool:
    return is_business_day(day) if holidays == "us-federal" else day.weekday() < 5


def window_start(rule: AgencyRule, note_date: date, *, self_employed: bool = False) -> date:
    """The first day a verification may be dated: inside is [start, note_date]."""
    if self_employed and rule.self_employed_window is not None:
        return note_date - timedelta(days=rule.self_employed_window)
    if rule.unit == "calendar":
        return note_date - timedelta(days=rule.window)
    current, remaining = note_date, rule.window
    while remaining > 0 and current > date.min:
        current -= timedelta(days=1)
        if _business_day(current, rule.holidays):
            remaining -= 1
    return current


def document_limit(rule: AgencyRule, note_date: date) -> date | None:
    """The oldest date a document may carry at the note date (B1-1-03's 4 months, 120 days), or None."""
    if rule.document_age is None:
        return None
    if rule.document_age_unit == "days":
        return note_date - timedelta(days=rule.document_age)
    months = note_date.year * 12 + note_date.month - 1 - rule.document_age
    year, month = divmod(months, 12)
    # The same day of the month, or the month's last day when it has fewer (June 31 -> June 30).
    return date(year, month + 1, min(note_date.day, monthrange(year, month + 1)[1]))


def judge_window(
    rule: AgencyRule,
    note_date: date,
    verified_on: date,
    delivery_date: date | None = None,
    *,
    self_employed: bool = False,
    aim: bool = False,
) -> tuple[bool, str]:
    """Whether a VOE dated `verified_on` (UTC date of its data) satisfies `rule` for a loan with `note_date`.

    Inside when dated in [window start, note date]; for Freddie Mac AIM loans (`aim`), when the note
    date is at most `aim_days` calendar days after the report date; after the note date only when the
    rule allows it until delivery and the loan is not yet delivered (`delivery_date` None) or the
    verification came no later than the delivery date. The text names the rule that decided.
    """
    cite = rule.guide
    if verified_on > note_date:
        return _after_closing(rule, verified_on, delivery_date)
    if aim and rule.aim_days is not None:
        deadline = verified_on + timedelta(days=rule.aim_days)
        inside = note_date <= deadline
        return inside, f"{cite}: AIM, close by the report date + {rule.aim_days} calendar days ({deadline.isoformat()})"
    limit = document_limit(rule, note_date)
    if limit is not None and verified_on < limit:
        age = f"{rule.document_age} {rule.document_age_unit}"
        return False, f"{cite}: older than {age} at the note date (limit {limit.isoformat()})"
    start = window_start(rule, note_date, self_employed=self_employed)
    return verified_on >= start, f"{cite}: {_window_text(rule, self_employed=self_employed)} (from {start.isoformat()})"


def _after_closing(rule: AgencyRule, verified_on: date, delivery_date: date | None) -> tuple[bool, str]:
    """A verification dated after the note date counts only where the rule allows it until delivery."""
    cite = rule.guide
    if not rule.after_closing_until_delivery:
        return False, f"{cite}: verified after the note date ({rule.window_text} required)"
    if delivery_date is not None and verified_on > delivery_date:
        return False, f"{cite}: verified after closing but after delivery ({delivery_date.isoformat()})"
    until = delivery_date.isoformat() if delivery_date else "delivery"
    return True, f"{cite}: verified after closing, before delivery (counts until {until})"


def _window_text(rule: AgencyRule, *, self_employed: bool) -> str:
    if self_employed and rule.self_employed_window is not None:
        return f"self-employed, {rule.self_employed_window} calendar days before the note date"
    return rule.window_text
