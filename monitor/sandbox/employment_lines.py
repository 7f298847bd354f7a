"""An employer suborder's employment history on its link (`EmploymentLine`), and the jobs drawn for
it: the seeded one, and each new one an employer_change, rehire or second_job starts. Every draw
comes from `random.Random("sandbox-employment:SEED:LINK:SUBORDER_NUMBER:N")`, so reading a report
changes no id anywhere."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from monitor.sandbox.employer_changes import EmployerChange
from monitor.sandbox.payroll_jobs import FIRST_PAY_AFTER_DAYS, HISTORY_DAYS, HOURS_PER_PERIOD, Company, Job, Segment

REHIRE_END_DAYS = 15  # a rehired job ended 15 days before the refresh that shows the rehire...
REHIRE_START_DAYS = 1  # ...and the new entry started the day before it
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


def base_job(seed: int, line: EmploymentLine) -> Job:
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
        Segment(start + timedelta(days=FIRST_PAY_AFTER_DAYS), _lattice_anchor(rng), 14, job.pay_rate, Decimal("80.00"))
    )
    return job


def new_job(seed: int, line: EmploymentLine, old: Job, kind: str, day: date) -> Job:
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
    job.segments.append(Segment(job.start + timedelta(days=FIRST_PAY_AFTER_DAYS), anchor, step, job.pay_rate, hours))
    return job
