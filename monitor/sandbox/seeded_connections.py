"""A seeded order's connections: the link each employer or account uses (new or shared), its
suborder with the `done` task that collected the seeded data, and an employer's employment line."""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox.employment import EmployerChange, EmploymentLine
from monitor.sandbox.model import EmployerSpec, Kind, Link, Suborder, Task
from monitor.sandbox.world import World


def owner(world: World, user_id: str | None, specs: list[EmployerSpec]) -> str:
    """The order's user: given, else the owner of a link it reuses, else a new id."""
    for spec in specs:
        link = world.find_link(spec)
        if link is None:
            continue
        if user_id is not None and link.user_id != user_id:
            raise ValueError(f"link {link.id} belongs to user {link.user_id}, not {user_id}")
        user_id = link.user_id
    return user_id or world.new_id()


def seed_suborder(
    world: World,
    spec: EmployerSpec,
    user_id: str,
    kind: Kind,
    moment: datetime,
    done: datetime,
    order_id: str,
    now: datetime,
) -> Suborder:
    link = _link_for(world, spec, user_id, kind, min(moment, done))
    # The connection that collected the seeded data: a `done` task at `done`.
    task = Task(finishes_at=done, status="done")
    suborder = Suborder(
        id=spec.id or world.new_id(),
        suborder_number=spec.suborder_number or world.new_id(),
        link=link,
        company=spec.company,
        kind=kind,
        created_at=moment,
        task=task,
        status_style=spec.status_style,
    )
    if kind == "employer":
        _add_line(world, link, suborder, spec.changes, order_id, done)
    if spec.link_deleted and link.deleted_at is None:
        link.deleted_at = now
    link.tasks.append(task)
    return suborder


def _link_for(world: World, spec: EmployerSpec, user_id: str, kind: Kind, created_at: datetime) -> Link:
    """The link the spec names (which must agree on kind and scenario), else a new one."""
    link = world.find_link(spec)
    if link is None:
        link = Link(
            id=spec.link_id or world.new_id(),
            access_token=spec.access_token or world.new_id(),
            user_id=user_id,
            scenario=spec.scenario,
            kind=kind,
            created_at=created_at,
        )
        world.links[link.id] = link
        world.links_by_token[link.access_token] = link
    elif link.scenario != spec.scenario or link.kind != kind:
        raise ValueError(
            f"link {link.id} is a {link.kind} link with scenario {link.scenario}; "
            f"employers sharing it must agree (got {kind}, {spec.scenario})"
        )
    return link


def _add_line(
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
