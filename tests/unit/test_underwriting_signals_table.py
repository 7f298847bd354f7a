"""Issue 22 points 4 and 6, rule by rule: what was underwritten (qualifying income, DTI, FHA rescore) and
the richer employment signals (hours, full-time to part-time, end date before the note date, a second job,
leave of absence). Pure: two snapshots and the loan's underwriting in, findings out."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from monitor.core.changes import (
    Employment,
    Rule,
    Severity,
    Snapshot,
    Statement,
    Thresholds,
    Underwriting,
    against_underwriting,
    compare,
    monthly_income,
    snapshot_from_dict,
    snapshot_to_dict,
)

LAST_PAY = date(2026, 5, 29)


def at(day_: date) -> datetime:
    return datetime.combine(day_, time(12, 0), tzinfo=UTC)


def stubs(last: date, hours: str | None = "80", n: int = 3, leave: bool = False) -> tuple[Statement, ...]:
    return tuple(
        Statement(
            pay_date=last - timedelta(days=14 * i), hours=Decimal(hours) if hours else None, leave=leave and i == 0
        )
        for i in range(n)
    )


BASE = Employment(
    id="e1",
    company="Acme Corp",
    ein="12-3456789",
    is_active=True,
    job_type="F",
    income=Decimal("120000.00"),
    income_unit="YEARLY",
    pay_frequency="BW",
    statements=stubs(LAST_PAY),
)
NEXT = replace(BASE, statements=stubs(LAST_PAY + timedelta(days=14), n=1) + stubs(LAST_PAY))


def snap(*emps: Employment, days: int = 0) -> Snapshot:
    return Snapshot(employments=emps, as_of=at(LAST_PAY + timedelta(days=1 + days)))


def found(old: Employment, new: Employment, uw: Underwriting | None = None) -> list[tuple[Rule, Severity, str | None]]:
    return [(f.rule, f.severity, f.field) for f in compare(snap(old), snap(new, days=14), Thresholds(), uw)]


# -- income against qualifying income: the fall adds up, and is said once per band -------------------------


def income(monthly: str) -> Employment:
    return replace(NEXT, income=Decimal(monthly) * 12)


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("10000", "10000", []),
        ("10000", "9600", []),  # 4%: below the review line
        ("9600", "9216", [(Rule.INCOME_DROP, Severity.MEDIUM)]),  # 7.84% below qualifying: crosses 5%
        ("9216", "8847.36", [(Rule.INCOME_DROP, Severity.HIGH)]),  # three 4% falls: 11.5%, crosses 10%
        ("8847.36", "8600", []),  # still high: said already
        ("9000", "9000", []),  # 10% below since before: said when it crossed, not again
    ],
)
def test_income_drop_against_qualifying_income(before, after, expected):
    uw = Underwriting(qualifying_income=Decimal("10000"))
    got = against_underwriting(snap(income(before)), snap(income(after), days=14), uw, Thresholds())
    assert [(f.rule, f.severity) for f in got] == expected
    for f in got:
        assert (f.field, f.before, f.detail["against"]) == ("qualifying_income", "10000.00", "qualifying_income")


def test_three_four_percent_drops_are_one_eleven_and_a_half_percent_drop():
    uw = Underwriting(qualifying_income=Decimal("10000"))
    monthly = [Decimal("10000") * Decimal("0.96") ** i for i in range(4)]
    seen = []
    for was, now in pairwise(monthly):
        seen += compare(snap(income(str(was))), snap(income(str(now)), days=14), Thresholds(), uw)
    drops = [f for f in seen if f.rule is Rule.INCOME_DROP]
    assert [(f.severity, f.detail["fall"]) for f in drops] == [(Severity.MEDIUM, "0.0784"), (Severity.HIGH, "0.1153")]
    # the per-report comparison of `income` is replaced: no three small 4% findings
    assert all(f.field == "qualifying_income" for f in drops)


def test_without_qualifying_income_the_baseline_decides():
    assert found(income("10000"), income("9000")) == [(Rule.INCOME_DROP, Severity.HIGH, "income")]
    assert found(income("10000"), income("9600")) == []


def test_an_hourly_income_is_not_a_monthly_figure_so_the_baseline_decides():
    hourly = replace(BASE, income=Decimal("50"), income_unit="HOURLY")
    assert monthly_income(snap(hourly)) is None
    uw = Underwriting(qualifying_income=Decimal("10000"))
    assert found(hourly, replace(NEXT, income=Decimal("40"), income_unit="HOURLY"), uw) == [
        (Rule.INCOME_DROP, Severity.HIGH, "income")
    ]


@pytest.mark.parametrize(
    ("unit", "value", "monthly"),
    [("YEARLY", "120000", "10000"), ("MONTHLY", "10000", "10000"), ("WEEKLY", "1000", "4333.33")],
)
def test_monthly_income_by_unit(unit, value, monthly):
    got = monthly_income(snap(replace(BASE, income=Decimal(value), income_unit=unit)))
    assert got is not None and got.quantize(Decimal("0.01")) == Decimal(monthly)


# -- FHA 4000.1: more than 5% below the scored income -> rescore_required (high) --------------------------


@pytest.mark.parametrize(
    ("agency", "after", "rescore"),
    [
        ("fha", "9500", False),  # exactly 5%: not more than
        ("fha", "9490", True),
        ("fannie", "9000", False),  # FHA's rule only
        (None, "9000", False),
    ],
)
def test_fha_rescore(agency, after, rescore):
    uw = Underwriting(qualifying_income=Decimal("10000"), agency=agency)
    got = compare(snap(income("10000")), snap(income(after), days=14), Thresholds(), uw)
    rescored = [f for f in got if f.rule is Rule.RESCORE_REQUIRED]
    assert bool(rescored) is rescore
    if rescore:
        assert rescored[0].severity is Severity.HIGH and rescored[0].detail["guide"] == "FHA 4000.1"


# -- Fannie B3-2-10: recomputed DTI above 45% or up 3 points -> resubmit_required (high) -------------------


@pytest.mark.parametrize(
    ("dti", "debts", "after", "resubmit", "recomputed"),
    [
        ("40", "4000", "10000", False, None),  # unchanged
        ("40", "4000", "9300", True, "43.01"),  # up 3.01 points
        ("40", "4000", "9400", False, None),  # up 2.55 points
        ("44", "4400", "9700", True, "45.36"),  # above 45%
        ("40", None, "9300", True, "43.01"),  # debts from the DTI's share of qualifying income
        (None, "4000", "8800", True, "45.45"),  # no DTI given: only the 45% line
        (None, "4000", "9300", False, None),
    ],
)
def test_resubmit_on_dti(dti, debts, after, resubmit, recomputed):
    uw = Underwriting(
        qualifying_income=Decimal("10000"),
        dti=Decimal(dti) if dti else None,
        monthly_debts=Decimal(debts) if debts else None,
    )
    got = [
        f
        for f in against_underwriting(snap(income("10000")), snap(income(after)), uw, Thresholds())
        if f.rule is Rule.RESUBMIT_REQUIRED
    ]
    assert bool(got) is resubmit
    if resubmit:
        assert (got[0].severity, got[0].after, got[0].detail["guide"]) == (
            Severity.HIGH,
            recomputed,
            "Fannie Mae B3-2-10",
        )


def test_resubmit_is_said_once():
    uw = Underwriting(qualifying_income=Decimal("10000"), dti=Decimal("40"))
    first = against_underwriting(snap(income("10000")), snap(income("9000")), uw, Thresholds())
    assert Rule.RESUBMIT_REQUIRED in {f.rule for f in first}  # 44.44%: up 4.44 points
    again = against_underwriting(snap(income("9000")), snap(income("8800")), uw, Thresholds())
    assert Rule.RESUBMIT_REQUIRED not in {f.rule for f in again}  # over the line since the last report


# -- hours_drop: average hours down 20% or more across recent statements ----------------------------------


@pytest.mark.parametrize(
    ("hours_now", "expected"),
    [
        ("80", []),
        ("65", []),  # 18.75%
        ("64", [(Rule.HOURS_DROP, Severity.MEDIUM, "hours")]),  # 20%
        ("40", [(Rule.HOURS_DROP, Severity.MEDIUM, "hours")]),
        (None, []),  # hours not reported: nothing to compare
    ],
)
def test_hours_drop(hours_now, expected):
    new = replace(BASE, statements=stubs(LAST_PAY + timedelta(days=28), hours=hours_now, n=2) + stubs(LAST_PAY))
    assert found(BASE, new) == expected


def test_hours_drop_compares_only_statements_new_since_the_last_report():
    # The same three stubs again, plus one short week: the new stub alone is averaged.
    new = replace(BASE, statements=stubs(LAST_PAY + timedelta(days=14), hours="60", n=1) + stubs(LAST_PAY))
    (finding,) = compare(snap(BASE), snap(new, days=14), Thresholds())
    assert (finding.rule, finding.before, finding.after, finding.detail["statements"]) == (
        Rule.HOURS_DROP,
        "80.00",
        "60.00",
        1,
    )


# -- job_type_change, end date before the note date, new_employment, leave ---------------------------------


@pytest.mark.parametrize(
    ("was", "now", "expected"),
    [
        ("F", "P", [(Rule.JOB_TYPE_CHANGE, Severity.HIGH, "job_type")]),
        ("P", "F", [(Rule.PAY_CHANGE, Severity.MEDIUM, "job_type")]),
        ("F", "S", [(Rule.PAY_CHANGE, Severity.MEDIUM, "job_type")]),
    ],
)
def test_job_type_change(was, now, expected):
    assert found(replace(BASE, job_type=was), replace(NEXT, job_type=now)) == expected


@pytest.mark.parametrize(
    ("end", "note", "before_note"),
    [
        (date(2026, 6, 5), date(2026, 6, 20), True),  # ended before the note date
        (date(2026, 7, 5), date(2026, 6, 20), False),  # ends after closing
        (date(2026, 6, 20), date(2026, 6, 20), False),  # on the note date: not before it
        (date(2026, 6, 5), None, False),  # no note date known: nothing to compare with
    ],
)
def test_a_job_loss_ending_before_the_note_date_says_so(end, note, before_note):
    (loss,) = compare(
        snap(BASE), snap(replace(NEXT, end_date=end), days=14), Thresholds(), Underwriting(note_date=note)
    )
    assert (loss.rule, loss.severity, loss.field) == (Rule.JOB_LOSS, Severity.CRITICAL, "end_date")
    assert loss.detail.get("ends_before_note", False) is before_note
    if before_note:
        assert loss.detail["note_date"] == note.isoformat()


def test_an_end_date_before_the_note_date_on_an_inactive_job_is_its_own_finding():
    inactive = replace(BASE, is_active=False)
    got = found(inactive, replace(inactive, end_date=date(2026, 6, 5)), Underwriting(note_date=date(2026, 6, 20)))
    assert got == [(Rule.END_BEFORE_NOTE, Severity.CRITICAL, "end_date")]
    assert (
        found(inactive, replace(inactive, end_date=date(2026, 7, 5)), Underwriting(note_date=date(2026, 6, 20))) == []
    )


def test_an_end_date_already_known_is_not_said_again():
    ended = replace(BASE, end_date=date(2026, 6, 5))
    assert found(ended, replace(NEXT, end_date=date(2026, 6, 5)), Underwriting(note_date=date(2026, 6, 20))) == []


def test_a_second_job_is_new_employment_not_an_employer_change():
    second = Employment(id="e2", company="Beta LLC", ein="98-7654321", is_active=True)
    got = compare(snap(BASE), snap(NEXT, second, days=14), Thresholds())
    assert [(f.rule, f.severity, f.employment_id) for f in got] == [(Rule.NEW_EMPLOYMENT, Severity.MEDIUM, "e2")]


@pytest.mark.parametrize(
    ("old_leave", "new_leave", "expected"),
    [
        (False, True, [(Rule.LEAVE_OF_ABSENCE, Severity.HIGH, "earnings")]),
        (True, True, []),  # already on leave at the last report: said then
        (False, False, []),
    ],
)
def test_leave_of_absence(old_leave, new_leave, expected):
    old = replace(BASE, statements=stubs(LAST_PAY, leave=old_leave))
    new = replace(NEXT, statements=stubs(LAST_PAY + timedelta(days=14), n=1, leave=new_leave) + old.statements)
    assert found(old, new) == expected


def test_leave_survives_the_stored_form():
    snapshot = snap(replace(BASE, statements=stubs(LAST_PAY, leave=True)))
    assert snapshot_from_dict(snapshot_to_dict(snapshot)) == snapshot
    assert "leave" not in str(snapshot_to_dict(snap(BASE)))  # absent when false: older rows read the same
