"""What changed since the last verification (DESIGN.md rule 14). Pure: two snapshots in, findings out.

Truv's `*-updated` webhooks only say *that* something changed; the comparison is ours. Each field is
compared only with the same field, in the same unit, of the same connection's previous report
(truv-api.md section 9): `income` and `pay_rate` need not agree with each other in Truv's data.
A missing field is absent, never zero, so it can never look like a drop.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from itertools import pairwise
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

# Days between pay dates per Truv pay_frequency (M, SM, W, BW, A; C is contract: no schedule).
PAY_INTERVAL_DAYS = {"W": 7.0, "BW": 14.0, "SM": 365.25 / 24, "M": 365.25 / 12, "A": 365.25}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """A fall of at least `review` is worth a look (medium); of at least `material`, high."""

    review: Decimal = Decimal("0.05")
    material: Decimal = Decimal("0.10")


@dataclass(frozen=True, slots=True)
class Statement:
    pay_date: date | None
    gross_pay: Decimal | None = None
    hours: Decimal | None = None
    basis_of_pay: str | None = None
    gross_pay_ytd: Decimal | None = None
    net_pay_ytd: Decimal | None = None
    leave: bool = False  # an earnings line Truv names as leave (README: where Truv is silent)


@dataclass(frozen=True, slots=True)
class Employment:
    id: str
    company: str | None = None
    ein: str | None = None
    is_active: bool | None = None
    start_date: date | None = None
    end_date: date | None = None
    original_hire_date: date | None = None
    job_type: str | None = None
    income: Decimal | None = None
    income_unit: str | None = None
    pay_rate: Decimal | None = None
    pay_frequency: str | None = None
    derived_fields: tuple[str, ...] = ()
    statements: tuple[Statement, ...] = ()

    @property
    def active(self) -> bool:
        """Active unless Truv says otherwise: `is_active` false, or an end date."""
        return self.is_active is not False and self.end_date is None

    @property
    def latest_pay_date(self) -> date | None:
        dates = [s.pay_date for s in self.statements if s.pay_date is not None]
        return max(dates) if dates else None

    @property
    def latest_basis_of_pay(self) -> str | None:
        dated = [s for s in self.statements if s.pay_date is not None and s.basis_of_pay]
        return max(dated, key=lambda s: s.pay_date or date.min).basis_of_pay if dated else None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The few fields of one connection's report that monitoring compares; nothing else is kept."""

    employments: tuple[Employment, ...]
    as_of: datetime  # when the report's data was collected (the refresh's completion)


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


# Hours fall of at least this across recent statements: `hours_drop`.
HOURS_DROP = Decimal("0.20")
# Statements averaged on each side of an hours comparison.
HOURS_STATEMENTS = 3
# FHA 4000.1: rescore when verified income is more than this below the scored amount.
FHA_RESCORE = Decimal("0.05")
# Fannie Mae B3-2-10: resubmit when the DTI passes this, or rises by DTI_RISE points or more.
DTI_LIMIT = Decimal("45")
DTI_RISE = Decimal("3")
# income_unit -> months per unit; DAILY and HOURLY need hours worked, so they are not monthly figures.
_MONTHLY = {"YEARLY": Decimal(1) / 12, "MONTHLY": Decimal(1), "WEEKLY": Decimal(52) / 12}


# -- parsing Truv's values --------------------------------------------------------------------------

_MONEY_NOISE = re.compile(r"[,\s$]")


def money(value: Any) -> Decimal | None:
    """Truv's money strings ("70000.00", "70,000.00") as Decimal; anything unreadable is absent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | Decimal):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    text = _MONEY_NOISE.sub("", value)
    if not text:
        return None
    try:
        parsed = Decimal(text)
    except InvalidOperation:
        return None
    return parsed if parsed.is_finite() else None


def day(value: Any) -> date | None:
    """`2021-10-22` or `2018-05-15T00:00:00.000Z` as a date; anything else is absent."""
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


# -- the rules ---------------------------------------------------------------------------------------


def compare(
    previous: Snapshot, current: Snapshot, thresholds: Thresholds, underwriting: Underwriting | None = None
) -> list[Finding]:
    """Findings between two reports of the same connection, in a stable order.

    The first report of a connection is a baseline: the caller records no comparison for it. With
    `underwriting` (the loan's optional columns), income is also measured against what was underwritten.
    """
    uw = underwriting or Underwriting()
    against_qualifying = uw.monthly_qualifying is not None and monthly_income(current) is not None
    before = {e.id: e for e in previous.employments}
    after = {e.id: e for e in current.employments}
    findings: list[Finding] = []
    for emp_id, old in before.items():
        new = after.get(emp_id)
        if old.active:
            loss = _job_loss(old, new)
            if loss is not None:
                ended = _end_before_note(old, new, uw.note_date)
                if ended is not None:  # one finding for one event: the loss says it ends before the note date
                    loss = dataclasses.replace(loss, detail={**loss.detail, **ended.detail, "ends_before_note": True})
                findings.append(loss)
                continue
        if new is None:
            continue
        findings += _income_drops(old, new, thresholds, skip_income=against_qualifying)
        findings += _pay_changes(old, new)
        findings += _employment_signals(old, new, uw.note_date)
        missed = _missed_pay(old, new, current.as_of, previous.as_of)
        if missed is not None:
            findings.append(missed)
    findings += _new_employments(before, after)
    findings += against_underwriting(previous, current, uw, thresholds)
    return findings


def _job_loss(old: Employment, new: Employment | None) -> Finding | None:
    if new is None:
        return Finding(Rule.JOB_LOSS, Severity.CRITICAL, old.id, "employment", "present", "gone")
    if new.is_active is False and old.is_active is not False:
        probable = "is_active" in new.derived_fields
        return Finding(
            Rule.JOB_LOSS,
            Severity.CRITICAL,
            old.id,
            "is_active",
            "true",
            "false",
            confidence="probable" if probable else "confirmed",
        )
    if new.end_date is not None and old.end_date is None:
        return Finding(Rule.JOB_LOSS, Severity.CRITICAL, old.id, "end_date", None, new.end_date.isoformat())
    return None


def _drop(old: Decimal | None, new: Decimal | None) -> Decimal | None:
    """The relative fall from old to new, when both are known and old is positive."""
    if old is None or new is None or old <= 0:
        return None
    return (old - new) / old


def _income_drops(old: Employment, new: Employment, t: Thresholds, *, skip_income: bool = False) -> list[Finding]:
    out = []
    pairs = (
        ("income", old.income, new.income, old.income_unit, new.income_unit),
        ("pay_rate", old.pay_rate, new.pay_rate, old.pay_frequency, new.pay_frequency),
    )
    for name, was, now, unit_was, unit_now in pairs:
        if unit_was != unit_now or (name == "income" and skip_income):
            continue  # another unit is another figure: never a drop (pay_change says it)
        fall = _drop(was, now)
        if fall is None or fall < t.review:
            continue
        severity = Severity.HIGH if fall >= t.material else Severity.MEDIUM
        detail = {"fall": str(fall.quantize(Decimal("0.0001"))), "unit": unit_now}
        out.append(Finding(Rule.INCOME_DROP, severity, new.id, name, str(was), str(now), detail=detail))
    return out


def _pay_changes(old: Employment, new: Employment) -> list[Finding]:
    out = []
    for name, was, now in (
        ("job_type", old.job_type, new.job_type),
        ("pay_frequency", old.pay_frequency, new.pay_frequency),
        ("basis_of_pay", old.latest_basis_of_pay, new.latest_basis_of_pay),
    ):
        if was is not None and now is not None and was != now:
            if name == "job_type" and (was, now) == ("F", "P"):
                # Full-time to part-time: the income underwritten may no longer be there (B3-3.1-07).
                out.append(Finding(Rule.JOB_TYPE_CHANGE, Severity.HIGH, new.id, name, was, now))
                continue
            out.append(Finding(Rule.PAY_CHANGE, Severity.MEDIUM, new.id, name, was, now))
    return out


def _end_before_note(old: Employment, new: Employment | None, note_date: date | None) -> Finding | None:
    """An employment that ends (or is to end) before the note date: the loan would close on income gone.

    On a job that was active this is a job loss, and said as one (its detail `ends_before_note`); on its
    own only when an employment already inactive gets an end date before the note date."""
    if new is None or new.end_date is None or note_date is None or new.end_date >= note_date:
        return None
    detail = {"note_date": note_date.isoformat()}
    return Finding(
        Rule.END_BEFORE_NOTE, Severity.CRITICAL, old.id, "end_date", None, new.end_date.isoformat(), detail=detail
    )


def _employment_signals(old: Employment, new: Employment, note_date: date | None) -> list[Finding]:
    out = []
    ended = _end_before_note(old, new, note_date)
    if ended is not None and old.end_date != new.end_date:
        out.append(ended)
    hours = _hours_drop(old, new)
    if hours is not None:
        out.append(hours)
    seen = {s.pay_date for s in old.statements if s.leave}
    fresh = [s for s in new.statements if s.leave and s.pay_date not in seen]
    if fresh and not any(s.leave for s in old.statements):
        latest = max((s.pay_date for s in fresh if s.pay_date), default=None)
        out.append(
            Finding(
                Rule.LEAVE_OF_ABSENCE,
                Severity.HIGH,
                new.id,
                "earnings",
                None,
                "leave",
                detail={"pay_date": latest.isoformat() if latest else None},
            )
        )
    return out


def _average_hours(statements: list[Statement]) -> Decimal | None:
    known = [s.hours for s in statements if s.hours is not None]
    return sum(known, Decimal(0)) / len(known) if known else None


def _hours_drop(old: Employment, new: Employment) -> Finding | None:
    """Average hours of the statements new since the last report, against the last report's latest few."""

    def newest(stmts: tuple[Statement, ...]) -> list[Statement]:
        dated = sorted((s for s in stmts if s.pay_date is not None), key=lambda s: s.pay_date or date.min)
        return dated[-HOURS_STATEMENTS:]

    last = old.latest_pay_date
    before = newest(old.statements)
    since = newest(tuple(s for s in new.statements if s.pay_date is not None and (last is None or s.pay_date > last)))
    was, now = _average_hours(before), _average_hours(since)
    fall = _drop(was, now)
    if fall is None or fall < HOURS_DROP:
        return None
    q = Decimal("0.01")
    return Finding(
        Rule.HOURS_DROP,
        Severity.MEDIUM,
        new.id,
        "hours",
        str(was.quantize(q)) if was is not None else None,
        str(now.quantize(q)) if now is not None else None,
        detail={"fall": str(fall.quantize(Decimal("0.0001"))), "statements": len(since)},
    )


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
    fall, fall_before = _drop(qualifying, now), _drop(qualifying, was)
    out: list[Finding] = []
    q = Decimal("0.01")
    money_now = str(now.quantize(q))
    band = _band(fall, thresholds)
    if band > _band(fall_before, thresholds) and fall is not None:
        out.append(
            Finding(
                Rule.INCOME_DROP,
                Severity.HIGH if band == 2 else Severity.MEDIUM,
                None,
                "qualifying_income",
                str(qualifying.quantize(q)),
                money_now,
                detail={
                    "fall": str(fall.quantize(Decimal("0.0001"))),
                    "unit": "MONTHLY",
                    "against": "qualifying_income",
                },
            )
        )
    if (
        uw.agency == "fha"
        and fall is not None
        and fall > FHA_RESCORE
        and not (fall_before is not None and fall_before > FHA_RESCORE)
    ):
        out.append(
            Finding(
                Rule.RESCORE_REQUIRED,
                Severity.HIGH,
                None,
                "qualifying_income",
                str(qualifying.quantize(q)),
                money_now,
                detail={"fall": str(fall.quantize(Decimal("0.0001"))), "guide": "FHA 4000.1"},
            )
        )
    resubmit = _resubmit(uw, now, was)
    if resubmit is not None:
        out.append(resubmit)
    return out


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


def pay_interval(employment: Employment) -> timedelta | None:
    """The pay interval from `pay_frequency`, else from the gaps between the latest pay dates."""
    if employment.pay_frequency in PAY_INTERVAL_DAYS:
        return timedelta(days=PAY_INTERVAL_DAYS[employment.pay_frequency])
    dates = sorted({s.pay_date for s in employment.statements if s.pay_date is not None})
    if len(dates) < 2:
        return None
    median = sorted((b - a).days for a, b in pairwise(dates))[(len(dates) - 1) // 2]
    return timedelta(days=median) if median > 0 else None


def _missed_pay(old: Employment, new: Employment, as_of: datetime, previous_as_of: datetime) -> Finding | None:
    """No new pay date since the last report, and more than 1.5 pay intervals + 3 days since the last one.

    Said once per missing pay date: when the previous report was already overdue with the same
    latest pay date, it was found then.
    """
    if not new.active:
        return None
    latest, previous = new.latest_pay_date, old.latest_pay_date
    interval = pay_interval(new)
    if latest is None or interval is None or (previous is not None and latest > previous):
        return None
    try:
        overdue = latest + interval * 1.5 + timedelta(days=3)
    except OverflowError:  # a pay date near year 9999 in a report: never overdue, never a crash
        return None
    if as_of.date() <= overdue or (previous == latest and previous_as_of.date() > overdue):
        return None
    return Finding(
        Rule.MISSED_PAY,
        Severity.HIGH,
        new.id,
        "pay_date",
        latest.isoformat(),
        None,
        detail={"expected_by": overdue.isoformat(), "interval_days": interval.days},
    )


def _new_employments(before: dict[str, Employment], after: dict[str, Employment]) -> list[Finding]:
    """A new active employment: another employer (or the same one again after a gap, a rehire) when an
    employment active before is no longer; a second job (`new_employment`) when every one still is."""
    out = []
    replaced = any(old.active and not (after.get(i) is not None and after[i].active) for i, old in before.items())
    for emp_id, new in after.items():
        if emp_id in before or not new.active:
            continue
        same = [old for old in before.values() if _same_employer(old, new)]
        if not replaced and not same:
            out.append(
                Finding(
                    Rule.NEW_EMPLOYMENT,
                    Severity.MEDIUM,
                    emp_id,
                    "employment",
                    None,
                    new.company,
                    detail={"ein": new.ein},
                )
            )
            continue
        out.append(
            Finding(
                Rule.EMPLOYER_CHANGE,
                Severity.HIGH,
                emp_id,
                "employment",
                None,
                new.company,
                detail={"rehire": bool(same), "ein": new.ein},
            )
        )
    return out


def _same_employer(a: Employment, b: Employment) -> bool:
    if a.ein and b.ein:
        return a.ein == b.ein
    return bool(a.company and b.company and a.company.strip().lower() == b.company.strip().lower())


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


# -- the stored form: small, JSON, money as strings -------------------------------------------------


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, Any]:
    def emp(e: Employment) -> dict[str, Any]:
        out: dict[str, Any] = {"id": e.id, "derived_fields": list(e.derived_fields)}
        for name in ("company", "ein", "is_active", "job_type", "income_unit", "pay_frequency"):
            if getattr(e, name) is not None:
                out[name] = getattr(e, name)
        for name in ("start_date", "end_date", "original_hire_date"):
            if getattr(e, name) is not None:
                out[name] = getattr(e, name).isoformat()
        for name in ("income", "pay_rate"):
            if getattr(e, name) is not None:
                out[name] = str(getattr(e, name))
        out["statements"] = [
            {
                k: (v.isoformat() if isinstance(v, date) else str(v) if isinstance(v, Decimal) else v)
                for k, v in (
                    ("pay_date", s.pay_date),
                    ("gross_pay", s.gross_pay),
                    ("hours", s.hours),
                    ("basis_of_pay", s.basis_of_pay),
                    ("gross_pay_ytd", s.gross_pay_ytd),
                    ("net_pay_ytd", s.net_pay_ytd),
                    ("leave", s.leave or None),
                )
                if v is not None
            }
            for s in e.statements
        ]
        return out

    return {"as_of": snapshot.as_of.isoformat(), "employments": [emp(e) for e in snapshot.employments]}


def snapshot_from_dict(data: dict[str, Any]) -> Snapshot:
    def emp(d: dict[str, Any]) -> Employment:
        return Employment(
            id=str(d["id"]),
            company=d.get("company"),
            ein=d.get("ein"),
            is_active=d.get("is_active"),
            start_date=day(d.get("start_date")),
            end_date=day(d.get("end_date")),
            original_hire_date=day(d.get("original_hire_date")),
            job_type=d.get("job_type"),
            income=money(d.get("income")),
            income_unit=d.get("income_unit"),
            pay_rate=money(d.get("pay_rate")),
            pay_frequency=d.get("pay_frequency"),
            derived_fields=tuple(d.get("derived_fields") or ()),
            statements=tuple(
                Statement(
                    pay_date=day(s.get("pay_date")),
                    gross_pay=money(s.get("gross_pay")),
                    hours=money(s.get("hours")),
                    basis_of_pay=s.get("basis_of_pay"),
                    gross_pay_ytd=money(s.get("gross_pay_ytd")),
                    net_pay_ytd=money(s.get("net_pay_ytd")),
                    leave=s.get("leave") is True,
                )
                for s in d.get("statements") or ()
            ),
        )

    return Snapshot(
        employments=tuple(emp(e) for e in data.get("employments") or ()),
        as_of=datetime.fromisoformat(data["as_of"]),
    )
