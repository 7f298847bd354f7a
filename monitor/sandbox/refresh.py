"""Validation of a data-refresh request body against the original order it refreshes.

Only original (root) orders are refreshed (truv-api.md section 2), so the `employers` /
`financial_accounts` filter items name the original order's suborders; an `id` of a
refresh order's suborder matches nothing and the 400 says which refresh order it is from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from monitor.sandbox import wire
from monitor.sandbox.model import FINANCIAL_PRODUCTS, PRODUCTS, Order, Suborder

Invalid = list[dict[str, str]]


@dataclass(frozen=True, slots=True)
class RefreshPlan:
    product: str
    suborders: list[Suborder]

    def tokens(self) -> list[str]:
        """Distinct access_tokens the refresh spends budget on, in suborder order."""
        return list(dict.fromkeys(s.link.access_token for s in self.suborders))


def refreshable_products(order_products: tuple[str, ...]) -> set[str]:
    # An income order may be refreshed as employment; nothing else widens (truv-api.md §2).
    allowed = set(order_products)
    if "income" in allowed:
        allowed.add("employment")
    return allowed


def plan_refresh(
    order: Order, body: object, refresh_suborders: Mapping[str, str] | None = None
) -> RefreshPlan | wire.Response:
    """The suborders of the original `order` a valid body refreshes, or the 400 answer.

    `refresh_suborders` maps the suborder ids of this order's refresh orders to their
    order id, only to explain a filter item that names one of them.
    """
    if not isinstance(body, dict):
        return _invalid([{"field": "non_field_errors", "message": "Expected a JSON object."}])
    invalid: Invalid = []
    others = refresh_suborders or {}
    product = _product(order, body.get("products"), invalid)
    chosen = {
        "employers": _filter(order.employers, body, "employers", invalid, others),
        "financial_accounts": _filter(order.financial_accounts, body, "financial_accounts", invalid, others),
    }
    if invalid or product is None:
        return _invalid(invalid)
    group = "financial_accounts" if product in FINANCIAL_PRODUCTS else "employers"
    suborders = chosen[group]
    if not suborders:
        return _invalid([{"field": group, "message": f"This order has no {group} to refresh as {product}."}])
    return RefreshPlan(product=product, suborders=suborders)


def _invalid(invalid: Invalid) -> wire.Response:
    return wire.bad_request("Invalid parameters.", invalid)


def _product(order: Order, products: object, invalid: Invalid) -> str | None:
    if not isinstance(products, list) or len(products) != 1 or not isinstance(products[0], str):
        invalid.append({"field": "products", "message": "Exactly one product is required."})
        return None
    product = products[0]
    if product not in PRODUCTS:
        invalid.append(
            {
                "field": "products",
                "message": f"Unknown product {product!r}; expected one of {', '.join(PRODUCTS)}.",
            }
        )
        return None
    if product not in refreshable_products(order.products):
        invalid.append(
            {
                "field": "products",
                "message": f"A {'/'.join(order.products)} order cannot be refreshed as {product}.",
            }
        )
        return None
    return product


def _filter(
    suborders: list[Suborder], body: Mapping[str, object], group: str, invalid: Invalid, others: Mapping[str, str]
) -> list[Suborder]:
    """The suborders named by `body[group]`, all of them when the key is absent."""
    if group not in body:
        return list(suborders)
    items = body[group]
    if not isinstance(items, list):
        invalid.append({"field": group, "message": "Expected a list of objects with id or suborder_number."})
        return []
    chosen: list[Suborder] = []
    for index, item in enumerate(items):
        match = _match(suborders, item)
        if match is None:
            message = f"No {group} item in this order matches {item!r}."
            named = item.get("id") if isinstance(item, dict) else None
            if isinstance(named, str) and named in others:
                message += (
                    f" {named} is a suborder of refresh order {others[named]}: name the original"
                    " order's id or suborder_number."
                )
            invalid.append({"field": f"{group}[{index}]", "message": message})
        elif match not in chosen:
            chosen.append(match)
    return chosen


def _match(suborders: list[Suborder], item: object) -> Suborder | None:
    if not isinstance(item, dict) or not ({"id", "suborder_number"} & item.keys()):
        return None
    for suborder in suborders:
        if (
            item.get("id", suborder.id) == suborder.id
            and item.get("suborder_number", suborder.suborder_number) == suborder.suborder_number
        ):
            return suborder
    return None
