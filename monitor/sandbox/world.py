"""Everything the sandbox knows: orders, links, users, employment lines and asset changes, the ids
it draws, the webhooks it scheduled, and the refusals it counted.

Not locked: `Sandbox` holds its lock around every use. Ids come from `random.Random(seed)`; report
ids have an RNG of their own, so adding them changed no order, link or suborder id.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from monitor.sandbox.assets import AssetChange
from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.employment_lines import EmploymentLine
from monitor.sandbox.model import Link, Order
from monitor.sandbox.webhooks import WebhookOutbox

# Products whose refresh order gets a new VOIE / VOA report id.
VOIE_PRODUCTS = frozenset({"income", "employment"})
VOA_PRODUCTS = frozenset({"assets"})


@dataclass(slots=True)
class World:
    seed: int
    rng: random.Random
    report_rng: random.Random
    outbox: WebhookOutbox
    orders: dict[str, Order] = field(default_factory=dict)
    links: dict[str, Link] = field(default_factory=dict)
    links_by_token: dict[str, Link] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    # Employment data per link: suborder_number -> its line (employment.py), in seeding order.
    lines: dict[str, dict[str, EmploymentLine]] = field(default_factory=dict)
    asset_changes: dict[str, tuple[AssetChange, ...]] = field(default_factory=dict)
    # Refresh orders created per root order: what GSE billing would count.
    root_refreshes: Counter[str] = field(default_factory=Counter)
    # Journaled refusals by reason (refresh_of_refresh, order_finalized, link_deleted, ...).
    refusals: Counter[str] = field(default_factory=Counter)

    @classmethod
    def new(cls, seed: int) -> World:
        return cls(seed, random.Random(seed), random.Random(f"sandbox-reports:{seed}"), WebhookOutbox(seed))

    def new_id(self) -> str:
        """32 lowercase hex characters, like Truv's ids."""
        return f"{self.rng.getrandbits(128):032x}"

    def draw_report_ids(self, order: Order) -> None:
        """New VOIE / VOA report ids for the products the order covers (truv-api.md section 9)."""
        if VOIE_PRODUCTS & set(order.products):
            order.voie_report_id = f"{self.report_rng.getrandbits(128):032x}"
        if VOA_PRODUCTS & set(order.products):
            order.voa_report_id = f"{self.report_rng.getrandbits(128):032x}"

    def find_link(self, spec: EmployerSpec) -> Link | None:
        by_token = self.links_by_token.get(spec.access_token) if spec.access_token else None
        by_id = self.links.get(spec.link_id) if spec.link_id else None
        if by_token and by_id and by_token is not by_id:
            raise ValueError(f"access_token and link_id {spec.link_id} name two different links")
        return by_token or by_id

    def is_forbidden(self, order: Order) -> bool:
        return order.forbidden or self.orders[order.root_id].forbidden

    def finalize(self, order: Order, now: datetime) -> None:
        order.finalized_at = now
        self.outbox.order_finalized(order, now)

    def lines_of(self, link: Link) -> list[EmploymentLine]:
        return list(self.lines.get(link.id, {}).values())
