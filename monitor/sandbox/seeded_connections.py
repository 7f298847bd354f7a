"""A seeded order's connections: the link each employer or account uses (new or shared), and its
suborder with the `done` task that collected the seeded data (an employer's data: seeded_lines.py)."""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.model import Kind, Link, Order, Suborder, Task
from monitor.sandbox.seeded_lines import add_line
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
    world: World, spec: EmployerSpec, kind: Kind, order: Order, done: datetime, now: datetime
) -> Suborder:
    """The suborder of `order` seeded from `spec`, its data collected at `done`."""
    moment, user_id = order.created_at, order.user_id
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
        add_line(world, link, suborder, spec.changes, order.id, done)
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
