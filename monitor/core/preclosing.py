"""Pre-closing evidence: did a loan close with a verification that counts, and what did it find? Pure.

The window is a parameter (`WindowRule`): today business days before the note date (Fannie Mae B3-3.1-07,
Freddie Mac 5102.4); an agency preset may bring calendar days or a verification after closing.
Only an income or employment verification is VOE evidence; an assets one is VOA evidence, judged in
its own row, and never stands in for the other.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol

from monitor.core.agency_rules import AgencyRule, window_start
from monitor.core.calendar import subtract_business_days
from monitor.core.staleness import start_of_day_utc

Kind = Literal["voe", "voa"]
PRODUCTS: dict[Kind, frozenset[str]] = {
    "voe": frozenset({"income", "employment"}),
    "voa": frozenset({"assets"}),
}
SERIOUS = frozenset({"high", "critical"})  # an unresolved finding this severe is an exception
RESOLVED = "resolved"


class Status(StrEnum):
    VERIFIED = "verified"
    VERIFIED_WITH_FINDINGS = "verified_with_findings"
    MISSING = "missing"  # no verification of this kind at all
    UNVERIFIED = "unverified"  # the latest attempt inside the window failed, and none succeeded there
    OUTSIDE_WINDOW = "outside_window"  # verified, but before the window opened


@dataclass(frozen=True, slots=True)
class Window:
    """Data collected in [start, end) counts. UTC."""

    start: datetime
    end: datetime


class WindowRule(Protocol):
    """Where a loan's window lies; `name` says which rule judged it (shown in the report)."""

    @property
    def name(self) -> str: ...

    def window(self, closing_date: date) -> Window: ...


@dataclass(frozen=True, slots=True)
class BusinessDaysBefore:
    """From N business days before the closing day (weekends, US federal holidays excluded) to its end."""

    days: int
    source: str = "policy"

    @property
    def name(self) -> str:
        return f"{self.days} business days before closing ({self.source})"

    def window(self, closing_date: date) -> Window:
        start = start_of_day_utc(subtract_business_days(closing_date, self.days))
        return Window(start, start_of_day_utc(closing_date) + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class AgencyWindow:
    """An agency preset's window (jobs.yaml `use:`): business or calendar days, its holidays, and the
    guide ids it cites, from the preset's first day to the end of the closing day."""

    rule: AgencyRule
    source: str = "policy"

    @property
    def name(self) -> str:
        return f"{self.rule.guide}: {self.rule.window_text} ({self.source})"

    def window(self, closing_date: date) -> Window:
        start = start_of_day_utc(window_start(self.rule, closing_date))
        return Window(start, start_of_day_utc(closing_date) + timedelta(days=1))


@dataclass(frozen=True, slots=True)
class Verification:
    """One attempt to verify: the original order's data, or a refresh. `data_at` is when its data was
    collected (Truv's completion), else when the attempt settled."""

    order_id: str
    product: str
    succeeded: bool
    data_at: datetime
    outcome: str | None = None
    report_id: str | None = None
    employers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FindingState:
    id: int
    rule: str
    severity: str
    product: str | None  # the product of the refresh that found it; None: income monitoring's (VOE)
    data_at: datetime  # the data it was found in (its refresh's completion), else when it was detected
    disposition: str = "open"
    # Shown, not judged: the operator's note, who and when (`monitor changes ack|resolve`).
    note: str | None = None
    by: str | None = None
    at: datetime | None = None

    @property
    def unresolved_serious(self) -> bool:
        return self.disposition != RESOLVED and self.severity in SERIOUS


@dataclass(frozen=True, slots=True)
class Evidence:
    kind: Kind
    rule: str
    window: Window
    status: Status
    exception: bool
    verification: Verification | None  # the one judged: the newest success in the window, else the newest
    findings: tuple[FindingState, ...]


def _of_kind(product: str | None, kind: Kind) -> bool:
    return (product or "income") in PRODUCTS[kind]


def judge(
    *,
    kind: Kind,
    closing_date: date,
    rule: WindowRule,
    verifications: Iterable[Verification],
    findings: Iterable[FindingState],
    today: date,
) -> Evidence:
    """The loan's evidence of one kind at its closing.

    Status: the newest successful verification of the kind inside the window is `verified` (or
    `verified_with_findings` when the row has findings); without one, a failed attempt inside the window is
    `unverified`, a success before the window `outside_window`, nothing at all `missing`. The row's findings:
    those in data inside the window, and any unresolved high or critical one from before it. `exception`
    once the closing day has come (`today` on or after it): any status but the two verified ones, or an
    unresolved high or critical finding.
    """
    window = rule.window(closing_date)
    mine = sorted((v for v in verifications if _of_kind(v.product, kind) and v.data_at < window.end), key=_newest)
    inside = [v for v in mine if v.data_at >= window.start]
    ok_inside = [v for v in inside if v.succeeded]
    shown = _shown_findings(findings, kind, window)
    status, picked = _status(ok_inside, inside, mine, has_findings=bool(shown))
    return Evidence(
        kind=kind,
        rule=rule.name,
        window=window,
        status=status,
        exception=today >= closing_date and _exceptional(status, shown),
        verification=picked,
        findings=shown,
    )


def _shown_findings(findings: Iterable[FindingState], kind: Kind, window: Window) -> tuple[FindingState, ...]:
    """Findings in data inside the window, and unresolved serious ones from before it."""
    return tuple(
        f
        for f in sorted(findings, key=lambda f: (f.data_at, f.id))
        if _of_kind(f.product, kind) and f.data_at < window.end and (f.data_at >= window.start or f.unresolved_serious)
    )


def _exceptional(status: Status, shown: Sequence[FindingState]) -> bool:
    verified = status in (Status.VERIFIED, Status.VERIFIED_WITH_FINDINGS)
    return not verified or any(f.unresolved_serious for f in shown)


def _newest(v: Verification) -> tuple[datetime, int, str]:
    return (v.data_at, int(v.succeeded), v.order_id)


def _status(
    ok_inside: Sequence[Verification],
    inside: Sequence[Verification],
    before_end: Sequence[Verification],
    *,
    has_findings: bool,
) -> tuple[Status, Verification | None]:
    if ok_inside:
        return (Status.VERIFIED_WITH_FINDINGS if has_findings else Status.VERIFIED), ok_inside[-1]
    if inside:
        return Status.UNVERIFIED, inside[-1]
    earlier = [v for v in before_end if v.succeeded]
    if earlier:
        return Status.OUTSIDE_WINDOW, earlier[-1]
    return Status.MISSING, None
