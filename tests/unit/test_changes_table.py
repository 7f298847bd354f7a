"""Income monitoring's rules at their edges (README "Income monitoring", DESIGN.md rule 14): two
snapshots in, findings out. Thresholds: medium at 5%, high at 10% by default; missed pay: "more than
1.5 pay intervals + 3 days since the latest" pay date; a unit change is never a drop."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.changes import (
    HANDOFF_SEVERITIES,
    SEVERITY_ORDER,
    Employment,
    Rule,
    Severity,
    Snapshot,
    Statement,
    Thresholds,
    compare,
    day,
    pay_interval,
    snapshot_from_dict,
    snapshot_to_dict,
    unverified,
)

LAST_PAY = date(2026, 5, 29)


def at(day_: date) -> datetime:
    return datetime.combine(day_, time(12, 0), tzinfo=UTC)


def paid(last: date, every: int = 14, n: int = 3, basis: str = "S") -> tuple[Statement, ...]:
    return tuple(Statement(pay_date=last - timedelta(days=every * i), basis_of_pay=basis) for i in range(n))


BASE = Employment(
    id="e1",
    company="Acme Corp",
    ein="12-3456789",
    is_active=True,
    job_type="F",
    income=Decimal("100000.00"),
    income_unit="YEARLY",
    pay_rate=Decimal("4000.00"),
    pay_frequency="BW",
    statements=paid(LAST_PAY),
)
NEXT = replace(BASE, statements=paid(LAST_PAY + timedelta(days=14)))


def findings(old: Employment | None, new: Employment | None, *, thresholds=Thresholds(), days: int = 14):
    before = Snapshot(employments=(old,) if old else (), as_of=at(LAST_PAY + timedelta(days=1)))
    after = Snapshot(employments=(new,) if new else (), as_of=at(LAST_PAY + timedelta(days=days)))
    return [(f.rule, f.severity, f.field) for f in compare(before, after, thresholds)]


# -- income_drop: medium at the review threshold, high at the material one -------------------------------


@pytest.mark.parametrize(
    ("income", "expected"),
    [
        (Decimal("100000.00"), []),
        (Decimal("95000.01"), []),  # 4.99999%: under review
        (Decimal("95000.00"), [(Rule.INCOME_DROP, Severity.MEDIUM, "income")]),  # exactly 5%
        (Decimal("90000.01"), [(Rule.INCOME_DROP, Severity.MEDIUM, "income")]),
        (Decimal("90000.00"), [(Rule.INCOME_DROP, Severity.HIGH, "income")]),  # exactly 10%
        (Decimal("0.00"), [(Rule.INCOME_DROP, Severity.HIGH, "income")]),  # all of it
        (Decimal("120000.00"), []),  # a raise
        (None, []),  # absent, never zero
    ],
)
def test_income_drop_thresholds(income, expected):
    assert findings(BASE, replace(NEXT, income=income)) == expected


@pytest.mark.parametrize(
    ("pay_rate", "expected"),
    [
        (Decimal("3800.00"), [(Rule.INCOME_DROP, Severity.MEDIUM, "pay_rate")]),
        (Decimal("3600.00"), [(Rule.INCOME_DROP, Severity.HIGH, "pay_rate")]),
        (Decimal("3801.00"), []),
    ],
)
def test_pay_rate_drop_at_the_same_frequency(pay_rate, expected):
    assert findings(BASE, replace(NEXT, pay_rate=pay_rate)) == expected


@pytest.mark.parametrize(
    ("review", "material", "income", "severity"),
    [
        ("0.02", "0.03", "98000.00", Severity.MEDIUM),
        ("0.02", "0.03", "97000.00", Severity.HIGH),
        ("0.02", "0.03", "98000.01", None),
        ("0.20", "0.50", "85000.00", None),
        ("0.20", "0.50", "80000.00", Severity.MEDIUM),
        ("0.10", "0.10", "90000.00", Severity.HIGH),  # equal thresholds: straight to high
    ],
)
def test_thresholds_are_per_policy(review, material, income, severity):
    thresholds = Thresholds(review=Decimal(review), material=Decimal(material))
    found = findings(BASE, replace(NEXT, income=Decimal(income)), thresholds=thresholds)
    assert found == ([] if severity is None else [(Rule.INCOME_DROP, severity, "income")])


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        # another unit is another figure: never a drop
        ({"income": Decimal("8000.00"), "income_unit": "MONTHLY"}, []),
        ({"income_unit": None}, []),
        # another pay frequency: a pay change, never a drop of pay_rate
        ({"pay_rate": Decimal("2000.00"), "pay_frequency": "W"}, [(Rule.PAY_CHANGE, Severity.MEDIUM, "pay_frequency")]),
        # full-time to part-time is its own rule (issue 22 point 6); other job types stay a pay change
        ({"job_type": "P"}, [(Rule.JOB_TYPE_CHANGE, Severity.HIGH, "job_type")]),
        ({"job_type": "C"}, [(Rule.PAY_CHANGE, Severity.MEDIUM, "job_type")]),
        ({"job_type": None}, []),  # absent now: nothing to compare
        (
            {"statements": paid(LAST_PAY + timedelta(days=14), basis="H")},
            [(Rule.PAY_CHANGE, Severity.MEDIUM, "basis_of_pay")],
        ),
    ],
)
def test_unit_and_pay_changes(change, expected):
    assert findings(BASE, replace(NEXT, **change)) == expected


def test_a_previous_figure_missing_or_zero_is_no_base_for_a_drop():
    assert findings(replace(BASE, income=None), replace(NEXT, income=Decimal("1.00"))) == []
    assert findings(replace(BASE, income=Decimal("0")), replace(NEXT, income=Decimal("0"))) == []


# -- job_loss and employer_change ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (BASE, replace(NEXT, is_active=False), [(Rule.JOB_LOSS, Severity.CRITICAL, "is_active")]),
        (BASE, replace(NEXT, end_date=date(2026, 6, 5)), [(Rule.JOB_LOSS, Severity.CRITICAL, "end_date")]),
        (BASE, None, [(Rule.JOB_LOSS, Severity.CRITICAL, "employment")]),
        # an active flag Truv does not give (None) is not a loss
        (BASE, replace(NEXT, is_active=None), []),
        # already ended before: nothing new, whatever happens now
        (replace(BASE, is_active=False), replace(BASE, is_active=False), []),
        (replace(BASE, is_active=False), None, []),
        (replace(BASE, end_date=date(2026, 1, 1)), replace(BASE, end_date=date(2026, 1, 1)), []),
        # one loss per employment, even when both signals change at once
        (
            BASE,
            replace(NEXT, is_active=False, end_date=date(2026, 6, 5)),
            [(Rule.JOB_LOSS, Severity.CRITICAL, "is_active")],
        ),
    ],
)
def test_job_loss(old, new, expected):
    assert findings(old, new) == expected


def test_a_job_loss_is_not_also_an_income_drop_or_a_pay_change():
    ended = replace(NEXT, is_active=False, income=Decimal("1.00"), job_type="P")
    assert findings(BASE, ended) == [(Rule.JOB_LOSS, Severity.CRITICAL, "is_active")]


@pytest.mark.parametrize(
    ("new", "rule", "rehire"),
    [
        # a second job while the first goes on: new_employment (medium), not a change of employer
        (Employment(id="e2", company="Beta LLC", ein="98-7654321", is_active=True), Rule.NEW_EMPLOYMENT, None),
        # the same employer again under a new employment id: a rehire, found by EIN
        (Employment(id="e2", company="Acme Corporation", ein="12-3456789", is_active=True), Rule.EMPLOYER_CHANGE, True),
        # no EIN on either side: by company name, ignoring case and spaces around it
        (Employment(id="e2", company=" ACME CORP ", is_active=True), Rule.EMPLOYER_CHANGE, True),
        (Employment(id="e2", company="Acme Holdings", is_active=True), Rule.NEW_EMPLOYMENT, None),
        # EINs decide when both have one: same name, other EIN is another employer
        (Employment(id="e2", company="Acme Corp", ein="00-0000000", is_active=True), Rule.NEW_EMPLOYMENT, None),
        # an inactive new employment (history Truv found) is no change of employer
        (Employment(id="e2", company="Beta LLC", is_active=False), None, None),
        (Employment(id="e2", company="Beta LLC", end_date=date(2025, 1, 1)), None, None),
    ],
)
def test_employer_change(new, rule, rehire):
    old = replace(BASE, ein=None) if new.ein is None else BASE
    before = Snapshot(employments=(old,), as_of=at(LAST_PAY))
    after = Snapshot(
        employments=(replace(old, statements=NEXT.statements), new), as_of=at(LAST_PAY + timedelta(days=14))
    )
    found = [f for f in compare(before, after, Thresholds()) if f.rule in (Rule.EMPLOYER_CHANGE, Rule.NEW_EMPLOYMENT)]
    if rule is None:
        assert found == []
        return
    (finding,) = found
    assert (finding.rule, finding.employment_id, finding.after) == (rule, "e2", new.company)
    if rule is Rule.NEW_EMPLOYMENT:
        assert finding.severity is Severity.MEDIUM
        assert finding.detail == {"ein": new.ein}
    else:
        assert finding.severity is Severity.HIGH
        assert finding.detail == {"rehire": rehire, "ein": new.ein}


def test_a_new_job_after_the_old_one_ended_is_an_employer_change():
    before = Snapshot(employments=(BASE,), as_of=at(LAST_PAY))
    other = Employment(id="e2", company="Beta LLC", ein="98-7654321", is_active=True)
    after = Snapshot(employments=(replace(NEXT, is_active=False), other), as_of=at(LAST_PAY + timedelta(days=14)))
    got = [(f.rule, f.severity) for f in compare(before, after, Thresholds())]
    assert got == [(Rule.JOB_LOSS, Severity.CRITICAL), (Rule.EMPLOYER_CHANGE, Severity.HIGH)]


# -- missed_pay ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frequency", "not_yet", "overdue"),
    [
        # more than 1.5 intervals + 3 days after the last pay date, counted in whole days
        ("W", 13, 14),  # 13.5 days
        ("BW", 24, 25),  # 24 days
        ("SM", 25, 26),  # 25.8 days
        ("M", 48, 49),  # 48.7 days
        ("A", 550, 551),  # 550.9 days
    ],
)
def test_missed_pay_is_due_after_one_and_a_half_intervals_and_three_days(frequency, not_yet, overdue):
    old = replace(BASE, pay_frequency=frequency)
    assert findings(old, old, days=not_yet) == []
    assert findings(old, old, days=overdue) == [(Rule.MISSED_PAY, Severity.HIGH, "pay_date")]


def test_missed_pay_without_a_frequency_uses_the_gaps_between_pay_dates():
    old = replace(BASE, pay_frequency=None, statements=paid(LAST_PAY, every=7, n=4))
    assert findings(old, old, days=13) == []
    assert findings(old, old, days=14) == [(Rule.MISSED_PAY, Severity.HIGH, "pay_date")]


@pytest.mark.parametrize(
    "new",
    [
        replace(BASE, is_active=False),  # a job loss, not a missed pay
        replace(BASE, pay_frequency="C", statements=paid(LAST_PAY, n=1)),  # no schedule to miss
        replace(BASE, statements=()),  # no pay date at all
        replace(BASE, statements=paid(LAST_PAY + timedelta(days=1))),  # a newer pay date arrived
    ],
)
def test_no_missed_pay(new):
    assert Rule.MISSED_PAY not in [rule for rule, _, _ in findings(BASE, new, days=60)]


def test_missed_pay_details_say_when_it_was_expected():
    (finding,) = compare(
        Snapshot((BASE,), at(LAST_PAY + timedelta(days=1))),
        Snapshot((BASE,), at(LAST_PAY + timedelta(days=30))),
        Thresholds(),
    )
    assert finding.before == LAST_PAY.isoformat() and finding.after is None
    assert finding.detail == {"expected_by": (LAST_PAY + timedelta(days=24)).isoformat(), "interval_days": 14}


# -- the rest ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["login_error", "mfa_error", "no_data", "unavailable", "error"])
def test_a_refresh_that_did_not_verify_is_unverified_never_no_change(status):
    finding = unverified(status)
    assert (finding.rule, finding.severity, finding.after, finding.employment_id) == (
        Rule.UNVERIFIED,
        Severity.HIGH,
        status,
        None,
    )
    assert unverified(status, employment_ids=("e1",)).employment_id == "e1"
    assert unverified(status, employment_ids=("e1", "e2")).employment_id is None


def test_high_and_critical_findings_are_handed_off():
    handed_off = set(HANDOFF_SEVERITIES)
    assert handed_off == {Severity.HIGH, Severity.CRITICAL}
    assert sorted(Severity, key=SEVERITY_ORDER.__getitem__) == [Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL]


@pytest.mark.parametrize(
    ("frequency", "days"),
    [("W", 7), ("BW", 14), ("SM", 15), ("M", 30), ("A", 365)],
)
def test_pay_interval_by_frequency(frequency, days):
    interval = pay_interval(replace(BASE, pay_frequency=frequency))
    assert interval is not None and interval.days == days


@pytest.mark.parametrize(
    ("gaps", "expected"),
    [
        ((14, 14, 14), 14),
        ((14, 15, 13), 14),  # the median
        ((7, 7, 30), 7),  # one late stub does not stretch the schedule
        ((), None),
    ],
)
def test_pay_interval_from_pay_dates(gaps, expected):
    dates = [LAST_PAY]
    for gap in gaps:
        dates.append(dates[-1] - timedelta(days=gap))
    emp = replace(BASE, pay_frequency=None, statements=tuple(Statement(pay_date=d) for d in dates))
    got = pay_interval(emp)
    assert (got.days if got else None) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-10-22", date(2021, 10, 22)),
        ("2018-05-15T00:00:00.000Z", date(2018, 5, 15)),
        ("2021-13-01", None),
        ("2021-10", None),
        ("", None),
        (None, None),
        (20211022, None),
    ],
)
def test_truv_dates(value, expected):
    assert day(value) == expected


money_values = st.one_of(st.none(), st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False))
employments = st.builds(
    Employment,
    id=st.text(alphabet="abc123", min_size=1, max_size=6),
    company=st.one_of(st.none(), st.text(max_size=20)),
    ein=st.one_of(st.none(), st.from_regex(r"\d\d-\d{7}", fullmatch=True)),
    is_active=st.one_of(st.none(), st.booleans()),
    start_date=st.one_of(st.none(), st.dates()),
    end_date=st.one_of(st.none(), st.dates()),
    job_type=st.one_of(st.none(), st.sampled_from("FPSDCV")),
    income=money_values,
    income_unit=st.one_of(st.none(), st.sampled_from(["YEARLY", "MONTHLY", "HOURLY"])),
    pay_rate=money_values,
    pay_frequency=st.one_of(st.none(), st.sampled_from(["M", "SM", "W", "BW", "A", "C"])),
    derived_fields=st.lists(st.sampled_from(["is_active", "income"]), max_size=2, unique=True).map(tuple),
    statements=st.lists(
        st.builds(Statement, pay_date=st.one_of(st.none(), st.dates()), gross_pay=money_values), max_size=4
    ).map(tuple),
)


@settings(deadline=None)
@given(st.lists(employments, max_size=3, unique_by=lambda e: e.id), st.datetimes(timezones=st.just(UTC)))
def test_a_snapshot_survives_its_stored_form(emps, as_of):
    snapshot = Snapshot(employments=tuple(emps), as_of=as_of)
    assert snapshot_from_dict(snapshot_to_dict(snapshot)) == snapshot


@settings(deadline=None)
@given(employments)
def test_a_report_compared_with_itself_has_no_change_but_a_missed_pay(emp):
    same = Snapshot((emp,), at(LAST_PAY))
    assert {f.rule for f in compare(same, same, Thresholds())} <= {Rule.MISSED_PAY}
