"""Income and DTI against what the loan was underwritten on (FHA 4000.1 rescore, Fannie Mae B3-2-10
resubmission), each said once, when it first crosses its line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from monitor.core.changes.findings import Finding, Rule, Severity, Thresholds
from monitor.core.changes.readings import Snapshot
from monitor.core.changes.values import drop, money


@dataclass(frozen=True, slots=True)
class Underwriting:
    """What the loan was underwritten on (optional loan columns); every field may be absent.

    `qualifying_income` is monthly (the import converts a yearly figure); `dti` is a percentage;
    `agency` is the preset's agency (fha, fannie, ...) of the policy that refreshed.
    """

    note_date: date | None = None
    qualifying_income: Decimal | None = None
    dti: Decimal | None = None
    monthly_debts: Decimal | None = None
    agency: str | None = None

    @property
    def monthly_qualifying(self) -> Decimal | None:
        return self.qualifying_income if self.qualifying_income and self.qualifying_income > 0 else None

    @property
    def debts(self) -> Decimal | None:
        """The monthly debts behind the DTI: as given, else the DTI's share of the qualifying income."""
        if self.monthly_debts is not None:
            return self.monthly_debts
        if self.dti is not None and self.monthly_qualifying is not None:
            return self.dti / 100 * self.monthly_qualifying
        return None


def underwriting_of(columns: dict[str, str], *, note_date: date | None, agency: str | None) -> Underwriting:
    """The loans file's underwriting columns (checked at import) as values; qualifying income per month."""
    qualifying = money(columns.get("qualifying_income"))
    if qualifying is not None and columns.get("qualifying_income_unit") == "yearly":
        qualifying = qualifying / 12
    return Underwriting(
        note_date=note_date,
        qualifying_income=qualifying,
        dti=money(columns.get("dti")),
        monthly_debts=money(columns.get("monthly_debts")),
        agency=agency,
    )


# FHA 4000.1: rescore when verified income is more than this below the scored amount.
FHA_RESCORE = Decimal("0.05")
# Fannie Mae B3-2-10: resubmit when the DTI passes this, or rises by DTI_RISE points or more.
DTI_LIMIT = Decimal("45")
DTI_RISE = Decimal("3")
# income_unit -> months per unit; DAILY and HOURLY need hours worked, so they are not monthly figures.
_MONTHLY = {"YEARLY": Decimal(1) / 12, "MONTHLY": Decimal(1), "WEEKLY": Decimal(52) / 12}


def monthly_income(snapshot: Snapshot) -> Decimal | None:
    """The connection's active employments' base income per month; None when any is not a monthly figure."""
    total = Decimal(0)
    counted = 0
    for e in snapshot.employments:
        if not e.active or e.income is None:
            continue
        per_month = _MONTHLY.get((e.income_unit or "").upper())
        if per_month is None:
            return None
        total += e.income * per_month
        counted += 1
    return total if counted else None


def _band(fall: Decimal | None, t: Thresholds) -> int:
    if fall is None or fall < t.review:
        return 0
    return 2 if fall >= t.material else 1


def against_underwriting(
    previous: Snapshot | None, current: Snapshot, uw: Underwriting, thresholds: Thresholds
) -> list[Finding]:
    """Income and DTI against what was underwritten. Each is said when it first crosses its line (the
    previous report had not), so three 4% falls in a row are found once, as the 11.5% they add up to."""
    qualifying = uw.monthly_qualifying
    now = monthly_income(current)
    if qualifying is None or now is None:
        return []
    was = monthly_income(previous) if previous is not None else None
    fall = _Fall(qualifying, now, drop(qualifying, now), drop(qualifying, was))
    found = (_qualifying_drop(fall, thresholds), _rescore(fall, uw), _resubmit(uw, now, was))
    return [f for f in found if f is not None]


@dataclass(frozen=True, slots=True)
class _Fall:
    """Monthly income against the qualifying income: now, and as the previous report had it."""

    qualifying: Decimal
    income: Decimal
    now: Decimal | None
    before: Decimal | None

    def finding(self, rule: Rule, severity: Severity, detail: dict[str, str]) -> Finding:
        q = Decimal("0.01")
        before, after = str(self.qualifying.quantize(q)), str(self.income.quantize(q))
        return Finding(rule, severity, None, "qualifying_income", before, after, detail=detail)


def _qualifying_drop(fall: _Fall, thresholds: Thresholds) -> Finding | None:
    band = _band(fall.now, thresholds)
    if fall.now is None or band <= _band(fall.before, thresholds):
        return None
    detail = {"fall": str(fall.now.quantize(Decimal("0.0001"))), "unit": "MONTHLY", "against": "qualifying_income"}
    return fall.finding(Rule.INCOME_DROP, Severity.HIGH if band == 2 else Severity.MEDIUM, detail)


def _rescore(fall: _Fall, uw: Underwriting) -> Finding | None:
    if uw.agency != "fha" or fall.now is None or fall.now <= FHA_RESCORE:
        return None
    if fall.before is not None and fall.before > FHA_RESCORE:
        return None  # said when it first crossed
    detail = {"fall": str(fall.now.quantize(Decimal("0.0001"))), "guide": "FHA 4000.1"}
    return fall.finding(Rule.RESCORE_REQUIRED, Severity.HIGH, detail)


def _dti(debts: Decimal, income: Decimal | None) -> Decimal | None:
    return debts / income * 100 if income and income > 0 else None


def _dti_over(uw: Underwriting, dti: Decimal | None) -> bool:
    if dti is None:
        return False
    return dti > DTI_LIMIT or (uw.dti is not None and dti - uw.dti >= DTI_RISE)


def _resubmit(uw: Underwriting, income: Decimal, income_before: Decimal | None) -> Finding | None:
    debts = uw.debts
    if debts is None:
        return None
    dti = _dti(debts, income)
    if not _dti_over(uw, dti) or _dti_over(uw, _dti(debts, income_before)) or dti is None:
        return None
    q = Decimal("0.01")
    return Finding(
        Rule.RESUBMIT_REQUIRED,
        Severity.HIGH,
        None,
        "dti",
        str(uw.dti.quantize(q)) if uw.dti is not None else None,
        str(dti.quantize(q)),
        detail={"limit": str(DTI_LIMIT), "rise": str(DTI_RISE), "guide": "Fannie Mae B3-2-10"},
    )
