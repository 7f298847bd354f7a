"""Making a refresh order once a refresh request passed every check (truv-api.md section 2).

The refresh order copies the original's borrower fields; each link it touches gets one task (even
when employers share it) whose outcome is fixed now, from the link's scenario and its refreshes so
far, and which ends `completion_delay` seconds later. The webhooks that end will send are scheduled
now (webhooks.py), with what a `done` task's data will show (reports.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from monitor.sandbox.model import Link, Order, Suborder, Task, task_outcome
from monitor.sandbox.refresh import RefreshPlan
from monitor.sandbox.reports import DataEvents, data_events
from monitor.sandbox.request_settings import RequestSettings
from monitor.sandbox.world import World


def create_refresh_order(
    world: World, root: Order, plan: RefreshPlan, now: datetime, settings: RequestSettings
) -> Order:
    child = Order(
        id=world.new_id(),
        products=(plan.product,),
        order_number=root.order_number,
        user_id=root.user_id,
        first_name=root.first_name,
        last_name=root.last_name,
        created_at=now,
        root_id=root.id,
        initial_order=root.id,
    )
    world.draw_report_ids(child)
    tasks = _add_suborders(world, child, plan, now + timedelta(seconds=settings.completion_delay))
    root.refresh_order = child.id
    root.refresh_ids.append(child.id)
    root.touched_at = now
    world.orders[child.id] = child
    world.root_refreshes[root.id] += 1
    world.outbox.refresh_created(child, plan.product, _data_events(world, child, tasks))
    limit = root.finalize_at_refresh or settings.finalize_at_refresh
    if limit is not None and len(root.refresh_ids) >= limit and not root.is_finalized(now):
        world.finalize(root, now)
    return child


def _add_suborders(world: World, child: Order, plan: RefreshPlan, finishes_at: datetime) -> dict[str, Task]:
    """The child's suborders, one per planned suborder; returns the one new task per link."""
    tasks: dict[str, Task] = {}
    for old in plan.suborders:
        link = old.link
        if link.id not in tasks:
            tasks[link.id] = _new_task(link, finishes_at)
        new = Suborder(
            id=world.new_id(),
            suborder_number=old.suborder_number,
            link=link,
            company=old.company,
            kind=old.kind,
            created_at=child.created_at,
            task=tasks[link.id],
            status_style=old.status_style,
        )
        (child.employers if old.kind == "employer" else child.financial_accounts).append(new)
    return tasks


def _new_task(link: Link, finishes_at: datetime) -> Task:
    task = Task(finishes_at, task_outcome(link.scenario, link.refresh_attempts))
    link.refresh_attempts += 1
    link.tasks.append(task)
    link.refresh_tasks.append(task)
    return task


def _data_events(world: World, child: Order, tasks: dict[str, Task]) -> dict[str, DataEvents]:
    """What each employer's `done` task will announce, by suborder id."""
    data: dict[str, DataEvents] = {}
    for link_id, task in tasks.items():
        if task.status == "done" and link_id in world.lines:
            link = world.links[link_id]
            subs = [s for s in child.employers if s.link is link]
            data.update(data_events(world.seed, link, world.lines[link_id], subs, task))
    return data
