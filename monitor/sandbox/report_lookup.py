"""Finding the report a request names: a link's VOIE / VOE report, or a user's VOA report by its id
(as the user's order shows it now). None when there is none to show (the answer is then 404)."""

from __future__ import annotations

from datetime import datetime

from monitor.sandbox.assets import assets_report
from monitor.sandbox.assets_report_shapes import AssetsReportJson
from monitor.sandbox.link_report_shapes import LinkReportJson
from monitor.sandbox.reports import link_report
from monitor.sandbox.world import World


def find_link_report(world: World, link_id: str, product: str, now: datetime) -> LinkReportJson | None:
    """None for an unknown link, a deleted one, or a financial-account link (no payroll report)."""
    link = world.links.get(link_id)
    if link is None or link.kind != "employer" or link.is_deleted(now):
        return None
    return link_report(world.seed, link, world.lines_of(link), product, now)


def find_assets_report(world: World, user_id: str, report_id: str, now: datetime) -> AssetsReportJson | None:
    """The order of `user_id` whose VOA report id (as its order shows it now) is `report_id`."""
    for order in world.orders.values():
        if order.user_id != user_id or order.report_id(order.financial_accounts, order.voa_report_id, now) != report_id:
            continue
        if world.is_forbidden(order):
            return None
        links = list({s.link.id: s.link for s in order.financial_accounts if not s.link.is_deleted(now)}.values())
        return assets_report(world.seed, report_id, links, world.asset_changes, now)
    return None
