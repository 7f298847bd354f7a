"""The employment line of a seeded employer: its payroll data (employment.py) and scripted changes,
one per link and suborder_number; changes must fall on a refresh still to come."""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox.employer_changes import EmployerChange
from monitor.sandbox.employment_lines import EmploymentLine
from monitor.sandbox.model import Link, Suborder
from monitor.sandbox.world import World


def add_line(
    world: World, link: Link, suborder: Suborder, changes: tuple[EmployerChange, ...], order_id: str, done: datetime
) -> None:
    """Register the employment data of an employer suborder (one line per link and
    suborder_number; another order naming the same pair shares it)."""
    lines = world.lines.setdefault(link.id, {})
    line = lines.get(suborder.suborder_number)
    if line is not None:
        if changes and changes != line.changes:
            raise ValueError(
                f"changes: link {link.id} suborder_number {suborder.suborder_number} already has "
                "scripted changes; script them once"
            )
        return
    check_future(link, changes)
    lines[suborder.suborder_number] = EmploymentLine(
        link_id=link.id,
        suborder_number=suborder.suborder_number,
        company=suborder.company,
        order_id=order_id,
        seeded_at=done,
        changes=changes,
    )


def check_future(link: Link, changes: tuple[EmployerChange, ...]) -> None:
    """A change must fall on a refresh still to come (the past of a link's data is fixed)."""
    for change in changes:
        if change.at_refresh <= link.refresh_attempts:
            raise ValueError(
                f"changes: at_refresh {change.at_refresh} is not after link {link.id}'s "
                f"{link.refresh_attempts} refreshes so far"
            )
