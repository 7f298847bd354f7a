"""`monitor.core.preclosing.judge`, one row per case: the status, the exception, and which findings the row shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from monitor.core.preclosing import BusinessDaysBefore, FindingState, Verification, Window, judge

CLOSING = date(2026, 6, 5)  # a Friday; 10 business days before, across Memorial Day (05-25), is Thursday 05-21
START = datetime(2026, 5, 21, tzinfo=UTC)
END = datetime(2026, 6, 6, tzinfo=UTC)
S = timedelta(seconds=1)
RULE = BusinessDaysBefore(10)


def v(at: datetime, product: str = "income", ok: bool = True, order: str = "r1") -> Verification:
    return Verification(order_id=order, product=product, succeeded=ok, data_at=at)


def f(
    at: datetime, severity: str = "critical", disposition: str = "open", product: str | None = "income"
) -> FindingState:
    return FindingState(id=1, rule="job_loss", severity=severity, product=product, data_at=at, disposition=disposition)


@dataclass(frozen=True)
class Case:
    name: str
    verifications: tuple[Verification, ...]
    findings: tuple[FindingState, ...] = ()
    kind: str = "voe"
    today: date = CLOSING
    status: str = "verified"
    exception: bool = False
    shown: int = 0


CASES = [
    Case("nothing at all", (), status="missing", exception=True),
    Case("the window's first second counts", (v(START),)),
    Case("a second before the window", (v(START - S),), status="outside_window", exception=True),
    Case("the closing day's last second counts", (v(END - S),)),
    Case("after closing does not count", (v(END),), status="missing", exception=True),
    Case("an assets refresh is never VOE", (v(START + S, "assets"),), status="missing", exception=True),
    Case("an assets refresh is VOA", (v(START + S, "assets"),), kind="voa"),
    Case("an income refresh is never VOA", (v(START + S),), kind="voa", status="missing", exception=True),
    Case("employment counts as VOE", (v(START + S, "employment"),)),
    Case("failed inside the window", (v(START + S, ok=False),), status="unverified", exception=True),
    Case(
        "failed inside, verified before it",
        (v(START - S), v(START + S, ok=False, order="r2")),
        status="unverified",
        exception=True,
    ),
    Case("verified, then a failure in the window", (v(START + S), v(START + 2 * S, ok=False, order="r2"))),
    Case(
        "unresolved critical finding",
        (v(START + S),),
        (f(START + S),),
        status="verified_with_findings",
        exception=True,
        shown=1,
    ),
    Case(
        "acknowledged is still unresolved",
        (v(START + S),),
        (f(START + S, disposition="acknowledged"),),
        status="verified_with_findings",
        exception=True,
        shown=1,
    ),
    Case(
        "resolved: no exception",
        (v(START + S),),
        (f(START + S, disposition="resolved"),),
        status="verified_with_findings",
        shown=1,
    ),
    Case(
        "an open medium finding is no exception",
        (v(START + S),),
        (f(START + S, "medium"),),
        status="verified_with_findings",
        shown=1,
    ),
    Case(
        "an unresolved critical from before the window still counts",
        (v(START + S),),
        (f(START - timedelta(days=30)),),
        status="verified_with_findings",
        exception=True,
        shown=1,
    ),
    Case(
        "a resolved finding from before the window is not shown",
        (v(START + S),),
        (f(START - S, disposition="resolved"),),
    ),
    Case("an assets finding is not a VOE finding", (v(START + S),), (f(START + S, product="assets"),)),
    Case(
        "a finding of unknown product is monitoring's (VOE)",
        (v(START + S),),
        (f(START + S, product=None),),
        status="verified_with_findings",
        exception=True,
        shown=1,
    ),
    Case("before the closing day: never an exception", (), today=CLOSING - timedelta(days=1), status="missing"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_judge(case: Case) -> None:
    got = judge(
        kind=case.kind,  # type: ignore[arg-type]
        closing_date=CLOSING,
        rule=RULE,
        verifications=case.verifications,
        findings=case.findings,
        today=case.today,
    )
    assert (got.status.value, got.exception, len(got.findings)) == (case.status, case.exception, case.shown)
    assert got.window == Window(START, END)


def test_the_newest_success_inside_the_window_is_the_one_shown() -> None:
    got = judge(
        kind="voe",
        closing_date=CLOSING,
        rule=RULE,
        verifications=[v(START + S, order="old"), v(START + 3 * S, order="new"), v(START + 4 * S, ok=False, order="x")],
        findings=[],
        today=CLOSING,
    )
    assert got.verification is not None and got.verification.order_id == "new"


@dataclass(frozen=True)
class CalendarDays:
    """A rule of another shape (as an agency preset may bring): the window is whatever the rule says."""

    days: int

    @property
    def name(self) -> str:
        return f"{self.days} calendar days"

    def window(self, closing_date: date) -> Window:
        end = datetime(closing_date.year, closing_date.month, closing_date.day, tzinfo=UTC) + timedelta(days=1)
        return Window(end - timedelta(days=self.days + 1), end)


def test_the_window_rule_is_a_parameter() -> None:
    at = END - timedelta(days=12)  # inside 10 business days, outside 10 calendar days
    business = judge(kind="voe", closing_date=CLOSING, rule=RULE, verifications=[v(at)], findings=[], today=CLOSING)
    calendar = judge(
        kind="voe", closing_date=CLOSING, rule=CalendarDays(10), verifications=[v(at)], findings=[], today=CLOSING
    )
    assert (business.status.value, calendar.status.value) == ("verified", "outside_window")
    assert calendar.rule == "10 calendar days"


def test_an_agency_preset_judges_with_its_own_days_and_cites_its_guide() -> None:
    from monitor.core.agency_rules import PRESETS
    from monitor.core.preclosing import AgencyWindow

    at = END - timedelta(days=12)  # inside 10 business days (Fannie), outside 10 calendar days (FHA)
    fannie, fha = AgencyWindow(PRESETS["fannie-preclose"]), AgencyWindow(PRESETS["fha-preclose"])
    judged = {
        name: judge(kind="voe", closing_date=CLOSING, rule=rule, verifications=[v(at)], findings=[], today=CLOSING)
        for name, rule in (("fannie", fannie), ("fha", fha))
    }
    assert (judged["fannie"].status.value, judged["fha"].status.value) == ("verified", "outside_window")
    assert judged["fha"].rule.startswith("FHA 4000.1: 10 calendar days before the note date")
    assert judged["fannie"].rule.startswith("Fannie Mae B3-3.1-07")
    # Memorial Day is not a business day: Fannie's window opens on Thursday 05-21, as BusinessDaysBefore's
    assert fannie.window(CLOSING) == RULE.window(CLOSING)


def test_the_report_takes_a_policys_preset_as_its_window() -> None:
    from monitor.config import parse_config
    from monitor.reports.evidence import window_rule

    config = parse_config(
        "policies:\n  - {name: fha, use: fha-preclose, match: {}}\n"
        "jobs:\n  - {name: nightly, schedule: '0 2 * * *', policies: [fha]}\n",
        "jobs.yaml",
    )
    rule = window_rule(config.policies[0], None)
    assert rule is not None and rule.name.startswith("FHA 4000.1")
    assert rule.window(CLOSING).start == datetime(2026, 5, 26, tzinfo=UTC)  # 10 calendar days
    overridden = window_rule(config.policies[0], 5)
    assert overridden is not None and overridden.name.startswith("5 business days")
