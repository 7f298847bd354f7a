"""One employment as of some moment (`Job`): its company, pay and pay-date lattice, and the pay stubs
a link report lists (money as Truv's strings, like "2692.31")."""

from __future__ import annotations

import copy
import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from monitor.sandbox.link_report_shapes import AddressJson, CompanyJson, EmploymentJson, StatementJson

HOURS_CUT = Decimal("0.30")  # hours_cut: the hours a stub reports fall by this share, the pay stays
LEAVE_EARNINGS = "Leave of absence"  # leave: the earnings line on each stub from then on

STATEMENTS_SHOWN = 6  # the latest pay stubs a report lists, newest first
HISTORY_DAYS = 364  # a first connection collects a year of stubs: 26 bi-weekly ones
FIRST_PAY_AFTER_DAYS = 7  # a new job's first pay date is more than a week after its start
PERIOD_END_BEFORE_PAY_DAYS = 5  # a pay period ends 5 days before its pay date
PERIODS_PER_YEAR = {"BW": 26, "W": 52}
HOURS_PER_PERIOD = {"BW": Decimal("80.00"), "W": Decimal("40.00")}
STEP_DAYS = {"BW": 14, "W": 7}
CENT = Decimal("0.01")


@dataclass(slots=True)
class Segment:
    """Pay dates `anchor + k * step` in (after, next segment's after], each paying `gross`."""

    after: date
    anchor: date
    step: int
    gross: Decimal
    hours: Decimal
    leave: bool = False  # stubs carry a leave-of-absence earnings line


@dataclass(slots=True)
class Company:
    name: str
    ein: str
    street: str
    city: str
    state: str
    zip: str
    phone: str

    def to_json(self) -> CompanyJson:
        address: AddressJson = {"street": self.street, "city": self.city, "state": self.state, "zip": self.zip}
        return {"name": self.name, "address": address, "phone": self.phone, "ein": self.ein}


@dataclass(slots=True)
class Job:
    """One employment entry as of some moment."""

    index: int
    id: str
    company: Company
    job_title: str
    start: date
    original_hire: date
    income: Decimal
    frequency: str
    tax: Decimal  # net pay = gross * (1 - tax)
    segments: list[Segment]
    counted_after: date  # stubs after this count in objects_count (the first connection's year)
    job_type: str = "F"
    end: date | None = None
    is_active: bool = True
    derived: list[str] = field(default_factory=list)
    stop: date | None = None  # no pay date after this (missed pay, an inactive or ended job)

    @property
    def pay_rate(self) -> Decimal:
        return cents(self.income / PERIODS_PER_YEAR[self.frequency])

    def fields(self, income: bool) -> EmploymentJson:
        """The employment object without `statements`; the employment report nulls the pay fields."""
        return {
            "id": self.id,
            "is_active": self.is_active,
            "start_date": self.start.isoformat(),
            "end_date": self.end.isoformat() if self.end else None,
            "original_hire_date": self.original_hire.isoformat(),
            "company": self.company.to_json(),
            "job_title": self.job_title,
            "job_type": self.job_type,
            "income": money(self.income) if income else None,
            "income_unit": "YEARLY" if income else None,
            "pay_rate": money(self.pay_rate) if income else None,
            "pay_frequency": self.frequency if income else None,
            "derived_fields": list(self.derived),
            "missing_data_fields": [],
        }

    def pay_dates(self, upto: date, since: date) -> list[tuple[date, Segment]]:
        """Pay dates in (since, upto], capped by `stop` and `end`, oldest first."""
        limit = min(d for d in (upto, self.stop, self.end) if d is not None)
        out: list[tuple[date, Segment]] = []
        for number, segment in enumerate(self.segments):
            following = self.segments[number + 1].after if number + 1 < len(self.segments) else None
            high = min(limit, following) if following is not None else limit
            low = max(segment.after, since)
            if high <= low:
                continue
            # The first lattice date after `low`.
            offset = (low.toordinal() - segment.anchor.toordinal()) // segment.step + 1
            day = segment.anchor + timedelta(days=offset * segment.step)
            while day <= high:
                out.append((day, segment))
                day += timedelta(days=segment.step)
        return out

    def stub_count(self, upto: date) -> int:
        """How many stubs data collected on `upto` holds (from `counted_after` on)."""
        limit = min(d for d in (upto, self.stop, self.end) if d is not None)
        count = 0
        for number, segment in enumerate(self.segments):
            following = self.segments[number + 1].after if number + 1 < len(self.segments) else None
            high = min(limit, following) if following is not None else limit
            low = max(segment.after, self.counted_after)
            if high > low:
                anchor, step = segment.anchor.toordinal(), segment.step
                count += (high.toordinal() - anchor) // step - (low.toordinal() - anchor) // step
        return count

    def copy(self) -> Job:
        """A copy whose changes leave this one alone (segments and companies are never mutated)."""
        twin = copy.copy(self)
        twin.segments = list(self.segments)
        twin.derived = list(self.derived)
        return twin

    def statements(self, seed: int, upto: date) -> list[StatementJson]:
        """The latest `STATEMENTS_SHOWN` stubs, newest first, with year-to-date sums."""
        shown = self.pay_dates(upto, self.counted_after)[-STATEMENTS_SHOWN:]
        if not shown:
            return []
        year_start = date(shown[0][0].year, 1, 1) - timedelta(days=1)
        history = self.pay_dates(shown[-1][0], year_start)
        gross_ytd = net_ytd = Decimal(0)
        year = None
        sums: dict[date, tuple[Decimal, Decimal]] = {}
        for day, segment in history:
            if day.year != year:
                year, gross_ytd, net_ytd = day.year, Decimal(0), Decimal(0)
            gross_ytd += segment.gross
            net_ytd += self._net(segment.gross)
            sums[day] = (gross_ytd, net_ytd)
        out: list[StatementJson] = []
        for day, segment in reversed(shown):
            period_end = day - timedelta(days=PERIOD_END_BEFORE_PAY_DAYS)
            gross_sum, net_sum = sums[day]
            stub_rng = random.Random(f"sandbox-statement:{seed}:{self.id}:{day.isoformat()}")
            out.append(
                {
                    "id": f"{stub_rng.getrandbits(128):032x}",
                    "pay_date": day.isoformat(),
                    "period_start": (period_end - timedelta(days=segment.step - 1)).isoformat(),
                    "period_end": period_end.isoformat(),
                    "gross_pay": money(segment.gross),
                    "gross_pay_ytd": money(gross_sum),
                    "net_pay": money(self._net(segment.gross)),
                    "net_pay_ytd": money(net_sum),
                    "regular": money(segment.gross),
                    "hours": money(segment.hours),
                    "basis_of_pay": "S",
                    "earnings": [
                        {"name": LEAVE_EARNINGS if segment.leave else "Regular", "amount": money(segment.gross)}
                    ],
                }
            )
        return out

    def _net(self, gross: Decimal) -> Decimal:
        return cents(gross * (1 - self.tax))

    def last_pay_date(self, upto: date) -> date | None:
        dates = self.pay_dates(upto, upto - timedelta(days=31))
        return dates[-1][0] if dates else None


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """Truv's money strings: "2692.31"."""
    return f"{cents(value):.2f}"
