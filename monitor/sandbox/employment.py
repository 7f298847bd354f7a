"""The payroll data behind the link reports (truv-api.md section 9), and the changes a test scripts.

Each employer suborder seeds an `EmploymentLine`: one employer on one link, keyed by link id and
suborder_number like the `employment-updated` webhook's id. Its data is a pure function of the
sandbox seed, the line, a moment and the moments of the link's refreshes, so nothing here draws
from a shared RNG: reading a report changes no id anywhere. Employment number 0 is the seeded
job; `employer_change` and `rehire` add employment 1, 2, ... with their own ids.

A scripted change happens in the world at the completion of the link's Nth refresh task (1-based,
failed ones included) and shows in every report whose data is at least that recent; a refresh
that failed keeps showing the previous data, so the change then shows at the next successful one.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal, InvalidOperation

from monitor.sandbox.link_report_shapes import AddressJson, CompanyJson, EmploymentJson, StatementJson

CHANGE_KINDS = (
    "job_loss",
    "pay_cut",
    "employer_change",
    "missed_pay",
    "derived_inactive",
    "rehire",
    "job_type_change",
    "pay_frequency_change",
    "hours_cut",
    "second_job",
    "leave",
)
# After these the employment is over: only a new employment (employer_change, rehire) may follow.
ENDING_KINDS = frozenset({"job_loss", "derived_inactive"})
NEW_EMPLOYMENT_KINDS = frozenset({"employer_change", "rehire"})
# A new employment next to the job, which goes on (later changes apply to the new one).
ADDED_EMPLOYMENT_KINDS = NEW_EMPLOYMENT_KINDS | {"second_job"}
# Kinds that only the income report shows (the employment report has no pay fields or statements).
INCOME_ONLY_KINDS = frozenset({"pay_cut", "missed_pay", "pay_frequency_change", "hours_cut", "leave"})
HOURS_CUT = Decimal("0.30")  # hours_cut: the hours a stub reports fall by this share, the pay stays
LEAVE_EARNINGS = "Leave of absence"  # leave: the earnings line on each stub from then on

STATEMENTS_SHOWN = 6  # the latest pay stubs a report lists, newest first
HISTORY_DAYS = 364  # a first connection collects a year of stubs: 26 bi-weekly ones
REHIRE_END_DAYS = 15  # a rehired job ended 15 days before the refresh that shows the rehire...
REHIRE_START_DAYS = 1  # ...and the new entry started the day before it
FIRST_PAY_AFTER_DAYS = 7  # a new job's first pay date is more than a week after its start
PERIOD_END_BEFORE_PAY_DAYS = 5  # a pay period ends 5 days before its pay date
PERIODS_PER_YEAR = {"BW": 26, "W": 52}
HOURS_PER_PERIOD = {"BW": Decimal("80.00"), "W": Decimal("40.00")}
STEP_DAYS = {"BW": 14, "W": 7}
CENT = Decimal("0.01")

_TITLES = ("Loan Officer", "Registered Nurse", "Software Engineer", "Warehouse Supervisor", "Accountant", "Teacher")
_STREETS = ("Main St", "Oak Ave", "Market St", "Hacker Way", "Elm St", "Broadway")
_CITIES = (
    ("Menlo Park", "CA", "94025"),
    ("Austin", "TX", "78701"),
    ("Columbus", "OH", "43215"),
    ("Denver", "CO", "80202"),
    ("Atlanta", "GA", "30303"),
    ("Seattle", "WA", "98101"),
)
_AREA_CODES = ("650", "512", "614", "303", "404", "206")
# Where an `employer_change` takes the borrower (never the company they leave).
NEW_EMPLOYERS = (
    "Northwind Traders",
    "Contoso Ltd",
    "Fabrikam Inc.",
    "Tailspin Toys",
    "Blue Yonder Airlines",
    "Litware Inc.",
)


# ---- scripted changes ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EmployerChange:
    """One scripted change of an employer's data, shown from that link's `at_refresh`th refresh on."""

    at_refresh: int
    kind: str
    # pay_cut only: the fraction taken off income, pay_rate and later gross pay (0 < cut < 1).
    pay_cut: Decimal | None = None

    def to_mapping(self) -> dict[str, object]:
        return {"at_refresh": self.at_refresh, self.kind: str(self.pay_cut) if self.kind == "pay_cut" else True}


def parse_changes(value: object, where: str = "changes") -> tuple[EmployerChange, ...]:
    """`changes` of an employer spec: one mapping or a list of them, e.g. `{"at_refresh": 2,
    "job_loss": true}` or `[{"at_refresh": 2, "pay_cut": "15%"}, {"at_refresh": 4, "job_loss": true}]`.

    Each mapping has `at_refresh` (a whole number >= 1) and exactly one kind. Errors start with
    `where` so `EmployerSpec.from_mapping` can prefix the employer's path.
    """
    if value is None:
        return ()
    items = [value] if isinstance(value, Mapping | EmployerChange) else value
    if isinstance(items, str | bytes) or not isinstance(items, Sequence):
        raise ValueError(f"{where}: expected a mapping or a list of mappings, got {value!r}")
    changes = [
        item if isinstance(item, EmployerChange) else _parse_change(item, f"{where}[{index}]")
        for index, item in enumerate(items)
    ]
    for index, change in enumerate(changes):
        if isinstance(items[index], EmployerChange):
            _check_change(change, f"{where}[{index}]")
    changes.sort(key=lambda c: c.at_refresh)
    _check_sequence(changes, where)
    return tuple(changes)


def _parse_change(item: object, where: str) -> EmployerChange:
    if not isinstance(item, Mapping):
        raise ValueError(f"{where}: expected a mapping like {{at_refresh: 2, job_loss: true}}, got {item!r}")
    unknown = sorted(str(k) for k in set(item) - {"at_refresh", *CHANGE_KINDS})
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected at_refresh and one of {list(CHANGE_KINDS)}")
    kinds = [k for k in CHANGE_KINDS if k in item]
    if len(kinds) != 1:
        raise ValueError(f"{where}: expected exactly one of {list(CHANGE_KINDS)}, got {kinds or 'none'}")
    if "at_refresh" not in item:
        raise ValueError(f"{where}: at_refresh is required (the link's refresh that shows the change, from 1)")
    change = _change_of(item["at_refresh"], kinds[0], item[kinds[0]], where)
    _check_change(change, where)
    return change


def _change_of(at_refresh: int, kind: str, raw: object, where: str) -> EmployerChange:
    """The change a mapping's one kind names: pay_cut takes a fraction, every other kind `true`."""
    if kind == "pay_cut":
        return EmployerChange(at_refresh, kind, _fraction(raw, f"{where}.pay_cut"))
    if raw is not True:
        raise ValueError(f"{where}.{kind}: expected true, got {raw!r}")
    return EmployerChange(at_refresh, kind)


def _check_change(change: EmployerChange, where: str) -> None:
    at = change.at_refresh
    if isinstance(at, bool) or not isinstance(at, int) or at < 1:
        raise ValueError(f"{where}.at_refresh: expected a whole number >= 1, got {at!r}")
    if change.kind not in CHANGE_KINDS:
        raise ValueError(f"{where}: unknown kind {change.kind!r}; expected one of {list(CHANGE_KINDS)}")
    cut = change.pay_cut
    if (change.kind == "pay_cut") != (cut is not None):
        raise ValueError(f"{where}: pay_cut needs a fraction, and only pay_cut takes one")
    if cut is not None and not Decimal(0) < cut < Decimal(1):
        raise ValueError(f"{where}.pay_cut: expected a fraction between 0 and 1 (exclusive), got {cut!r}")


def _fraction(raw: object, where: str) -> Decimal:
    """`"15%"`, `"0.15"` or `0.15` -> Decimal("0.15"); a bare 15 is refused (ambiguous)."""
    text = raw.strip() if isinstance(raw, str) else None
    try:
        if text is not None and text.endswith("%"):
            value = Decimal(text[:-1].strip()) / 100
        elif text is not None:
            value = Decimal(text)
        elif isinstance(raw, int | float) and not isinstance(raw, bool):
            value = Decimal(str(raw))
        else:
            raise ValueError
    except (InvalidOperation, ValueError):
        raise ValueError(f"{where}: expected a share like '15%' or 0.15, got {raw!r}") from None
    if not value.is_finite() or not Decimal(0) < value < Decimal(1):
        raise ValueError(f"{where}: expected a share between 0 and 1 (exclusive) like '15%' or 0.15, got {raw!r}")
    return value


def _check_sequence(changes: list[EmployerChange], where: str) -> None:
    """One change per refresh; nothing but a new employment after an ending; one type / frequency change
    per employer (a rehire keeps the job's type and frequency, a new employer starts F and BW)."""
    ended = type_changed = frequency_changed = False
    seen: set[int] = set()
    for change in changes:
        if change.at_refresh in seen:
            raise ValueError(f"{where}: two changes at refresh {change.at_refresh}; script one change per refresh")
        seen.add(change.at_refresh)
        if ended and change.kind not in NEW_EMPLOYMENT_KINDS:
            raise ValueError(
                f"{where}: {change.kind} at refresh {change.at_refresh} follows the end of the employment; "
                "only employer_change or rehire may follow job_loss or derived_inactive"
            )
        if change.kind == "job_type_change" and type_changed:
            raise ValueError(f"{where}: job_type_change twice for one employer (F to P happens once)")
        if change.kind == "pay_frequency_change" and frequency_changed:
            raise ValueError(f"{where}: pay_frequency_change twice for one employer (BW to W happens once)")
        type_changed |= change.kind == "job_type_change"
        frequency_changed |= change.kind == "pay_frequency_change"
        ended = change.kind in ENDING_KINDS
        if change.kind in ("employer_change", "second_job"):
            type_changed = frequency_changed = False


# ---- one employer on one link -------------------------------------------------------------


@dataclass(slots=True)
class EmploymentLine:
    """An employer suborder's employment history on its link (refresh suborders share it)."""

    link_id: str
    suborder_number: str
    company: str
    order_id: str
    seeded_at: datetime  # when its data was first collected (the seeded `done` task)
    changes: tuple[EmployerChange, ...] = ()
    # The seeded job, drawn once (it depends only on the seed and the fields above).
    base: Job | None = field(default=None, repr=False, compare=False)


def employment_rng(seed: int, line: EmploymentLine, index: int) -> random.Random:
    return random.Random(f"sandbox-employment:{seed}:{line.link_id}:{line.suborder_number}:{index}")


def employment_id(seed: int, line: EmploymentLine, index: int) -> str:
    """The employment's id: the RNG's first draw (the data draws follow it)."""
    return f"{employment_rng(seed, line, index).getrandbits(128):032x}"


@dataclass(slots=True)
class _Segment:
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
    segments: list[_Segment]
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

    def pay_dates(self, upto: date, since: date) -> list[tuple[date, _Segment]]:
        """Pay dates in (since, upto], capped by `stop` and `end`, oldest first."""
        limit = min(d for d in (upto, self.stop, self.end) if d is not None)
        out: list[tuple[date, _Segment]] = []
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


def _company(rng: random.Random, name: str) -> Company:
    city, state, zip_code = rng.choice(_CITIES)
    return Company(
        name=name,
        ein=f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}",
        street=f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}",
        city=city,
        state=state,
        zip=zip_code,
        phone=f"{rng.choice(_AREA_CODES)}555{rng.randint(0, 9999):04d}",
    )


def _lattice_anchor(rng: random.Random) -> date:
    """A pay-date lattice: every 14th day from a seeded phase."""
    return date.fromordinal(14 + rng.randrange(14))


def _base_job(seed: int, line: EmploymentLine) -> Job:
    rng = employment_rng(seed, line, 0)
    job_id = f"{rng.getrandbits(128):032x}"
    seeded = line.seeded_at.date()
    start = seeded - timedelta(days=rng.randint(400, 4000))
    income = Decimal(rng.randint(80, 300) * 500)
    company = _company(rng, line.company)
    job = Job(
        index=0,
        id=job_id,
        company=company,
        job_title=rng.choice(_TITLES),
        start=start,
        original_hire=start,
        income=income,
        frequency="BW",
        tax=Decimal(rng.randint(18, 30)) / 100,
        segments=[],
        counted_after=seeded - timedelta(days=HISTORY_DAYS),
    )
    job.segments.append(
        _Segment(start + timedelta(days=FIRST_PAY_AFTER_DAYS), _lattice_anchor(rng), 14, job.pay_rate, Decimal("80.00"))
    )
    return job


def _new_job(seed: int, line: EmploymentLine, old: Job, kind: str, day: date) -> Job:
    rng = employment_rng(seed, line, old.index + 1)
    job_id = f"{rng.getrandbits(128):032x}"
    if kind == "rehire":
        start = max(day - timedelta(days=REHIRE_START_DAYS), (old.end or day) + timedelta(days=1))
        last = old.segments[-1]
        job = Job(
            index=old.index + 1,
            id=job_id,
            company=old.company,
            job_title=old.job_title,
            start=start,
            original_hire=old.original_hire,
            income=old.income,
            frequency=old.frequency,
            tax=old.tax,
            segments=[],
            counted_after=start,
            job_type=old.job_type,
        )
        anchor, step = last.anchor, last.step
    else:
        names = [n for n in NEW_EMPLOYERS if n != old.company.name]
        company = _company(rng, rng.choice(names))
        while company.ein == old.company.ein:
            company.ein = f"{rng.randint(10, 99)}-{rng.randint(1000000, 9999999)}"
        # Never less than the job left behind: the change is the employer, not the pay.
        raise_pct = Decimal(100 + rng.randint(0, 10)) / 100
        income = (old.income * raise_pct / 500).to_integral_value(rounding=ROUND_CEILING) * 500
        job = Job(
            index=old.index + 1,
            id=job_id,
            company=company,
            job_title=rng.choice(_TITLES),
            start=day,
            original_hire=day,
            income=income,
            frequency="BW",
            tax=Decimal(rng.randint(18, 30)) / 100,
            segments=[],
            counted_after=day,
        )
        anchor, step = _lattice_anchor(rng), 14
    hours = HOURS_PER_PERIOD[job.frequency]
    job.segments.append(_Segment(job.start + timedelta(days=FIRST_PAY_AFTER_DAYS), anchor, step, job.pay_rate, hours))
    return job


def _end(job: Job, end: date) -> None:
    """The job ended on `end` unless it already had."""
    if job.end is None:
        job.end = end
        job.is_active = False
        job.stop = min(job.stop, end) if job.stop else end


def _stop_pay(job: Job, previous: date) -> None:
    """No pay after the last pay date the previous data showed."""
    job.stop = min(job.stop, previous) if job.stop else previous


@dataclass(frozen=True, slots=True)
class _Happening:
    """One scripted change landing on a line's employments: on `day`, the previous data from `prev`."""

    seed: int
    line: EmploymentLine
    jobs: list[Job]
    change: EmployerChange
    day: date
    prev: date

    @property
    def job(self) -> Job:
        return self.jobs[-1]

    def start_new_job(self) -> None:
        self.jobs.append(_new_job(self.seed, self.line, self.job, self.change.kind, self.day))


def _job_loss(event: _Happening) -> None:
    _end(event.job, event.day - timedelta(days=1))


def _derived_inactive(event: _Happening) -> None:
    event.job.is_active = False
    event.job.derived = ["is_active"]
    _stop_pay(event.job, event.prev)


def _missed_pay(event: _Happening) -> None:
    _stop_pay(event.job, event.prev)


def _job_type_change(event: _Happening) -> None:
    event.job.job_type = "P"


def _pay_cut(event: _Happening) -> None:
    job, cut = event.job, event.change.pay_cut
    assert cut is not None
    job.income = cents(job.income * (1 - cut))
    last = job.segments[-1]
    job.segments.append(_Segment(event.day, last.anchor, last.step, job.pay_rate, last.hours))


def _pay_frequency_change(event: _Happening) -> None:
    # Weekly from the last bi-weekly pay date on; the yearly income stays the same.
    job = event.job
    base = job.last_pay_date(event.day) or event.day
    job.frequency = "W"
    job.segments.append(_Segment(event.day, base, STEP_DAYS["W"], job.pay_rate, HOURS_PER_PERIOD["W"]))


def _hours_or_leave(event: _Happening) -> None:
    job, kind = event.job, event.change.kind
    last = job.segments[-1]
    hours = cents(last.hours * (1 - HOURS_CUT)) if kind == "hours_cut" else last.hours
    # From the last moment the previous data showed: the stubs this refresh brings show it.
    since = max(event.prev, last.after)
    job.segments.append(_Segment(since, last.anchor, last.step, last.gross, hours, leave=kind == "leave" or last.leave))


def _second_job(event: _Happening) -> None:
    event.start_new_job()


def _employer_change(event: _Happening) -> None:
    _end(event.job, event.day - timedelta(days=1))
    event.start_new_job()


def _rehire(event: _Happening) -> None:
    _end(event.job, event.day - timedelta(days=REHIRE_END_DAYS))
    event.start_new_job()


_APPLY: dict[str, Callable[[_Happening], None]] = {
    "job_loss": _job_loss,
    "derived_inactive": _derived_inactive,
    "missed_pay": _missed_pay,
    "job_type_change": _job_type_change,
    "pay_cut": _pay_cut,
    "pay_frequency_change": _pay_frequency_change,
    "hours_cut": _hours_or_leave,
    "leave": _hours_or_leave,
    "second_job": _second_job,
    "employer_change": _employer_change,
    "rehire": _rehire,
}


def change_moment(line: EmploymentLine, change: EmployerChange, refresh_moments: Sequence[datetime]) -> datetime | None:
    """When the change happens: the completion of the link's `at_refresh`th refresh task, once created."""
    if change.at_refresh > len(refresh_moments):
        return None
    return max(refresh_moments[change.at_refresh - 1], line.seeded_at)


def jobs_at(seed: int, line: EmploymentLine, moment: datetime, refresh_moments: Sequence[datetime]) -> list[Job]:
    """The line's employments as data collected at `moment` shows them (oldest first)."""
    if line.base is None:
        line.base = _base_job(seed, line)
    jobs = [line.base.copy()]
    for change in line.changes:
        at = change_moment(line, change, refresh_moments)
        if at is None or at > moment:
            break
        previous = refresh_moments[change.at_refresh - 2] if change.at_refresh >= 2 else line.seeded_at
        event = _Happening(seed, line, jobs, change, at.date(), max(previous, line.seeded_at).date())
        _APPLY[change.kind](event)
    return jobs


def changes_between(
    line: EmploymentLine, after: datetime | None, upto: datetime, refresh_moments: Sequence[datetime]
) -> bool:
    """Whether a change of the line happens in (after, upto]: its data then differs beyond new stubs."""
    for change in line.changes:
        at = change_moment(line, change, refresh_moments)
        if at is not None and (after is None or after < at) and at <= upto:
            return True
    return False


def scripted(seed: int, line: EmploymentLine) -> list[tuple[EmployerChange, str, str | None]]:
    """Each change of the line with the employment it applies to and, for employer_change and
    rehire, the id of the employment it starts."""
    out: list[tuple[EmployerChange, str, str | None]] = []
    index = 0
    for change in line.changes:
        new = None
        if change.kind in ADDED_EMPLOYMENT_KINDS:
            new = employment_id(seed, line, index + 1)
        out.append((change, employment_id(seed, line, index), new))
        if new is not None:
            index += 1
    return out
