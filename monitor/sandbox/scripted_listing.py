"""Scripted changes of employers already seeded, and the list of every change a test reads
(`Sandbox.scripted_changes()`, admin `GET /_sandbox/scripted-changes/`)."""

from __future__ import annotations

from typing import TypedDict

from monitor.sandbox.employer_changes import parse_changes
from monitor.sandbox.employment import scripted
from monitor.sandbox.employment_lines import EmploymentLine
from monitor.sandbox.model import iso
from monitor.sandbox.seeded_lines import check_future
from monitor.sandbox.world import World


class ScriptedChangeJson(TypedDict):
    order_id: str  # the order that seeded the employer
    link_id: str
    suborder_number: str
    company: str
    employment_id: str  # the employment it changes
    new_employment_id: str | None  # the employment employer_change / rehire starts
    at_refresh: int
    kind: str
    pay_cut: str | None  # the fraction as a string
    effective_at: str | None  # when the link's at_refresh-th refresh completes; None until it exists


def scripted_changes(world: World) -> list[ScriptedChangeJson]:
    """Every scripted change, in seeding order."""
    out: list[ScriptedChangeJson] = []
    for link_id, lines in world.lines.items():
        for line in lines.values():
            out.extend(_line_changes(world, link_id, line))
    return out


def _line_changes(world: World, link_id: str, line: EmploymentLine) -> list[ScriptedChangeJson]:
    moments = [task.finishes_at for task in world.links[link_id].refresh_tasks]
    out: list[ScriptedChangeJson] = []
    for change, employment_id, new_id in scripted(world.seed, line):
        at = moments[change.at_refresh - 1] if change.at_refresh <= len(moments) else None
        out.append(
            {
                "order_id": line.order_id,
                "link_id": link_id,
                "suborder_number": line.suborder_number,
                "company": line.company,
                "employment_id": employment_id,
                "new_employment_id": new_id,
                "at_refresh": change.at_refresh,
                "kind": change.kind,
                "pay_cut": str(change.pay_cut) if change.pay_cut is not None else None,
                "effective_at": iso(at) if at is not None else None,
            }
        )
    return out


def script_changes(
    world: World, link_id: str, changes: object, suborder_number: str | None
) -> list[ScriptedChangeJson]:
    """Add `changes` to an employer already seeded; returns its line's entries of the list."""
    link = world.links[link_id]
    lines = world.lines.get(link_id, {})
    if suborder_number is None:
        if len(lines) != 1:
            raise ValueError(f"suborder_number: link {link_id} has {len(lines)} employers; name one")
        line = next(iter(lines.values()))
    else:
        line = lines[suborder_number]
    added = parse_changes(changes)
    check_future(link, added)
    line.changes = parse_changes([*line.changes, *added])
    return _line_changes(world, link_id, line)
