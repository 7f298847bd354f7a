"""Which product a refresh of an order may ask for (Truv refuses anything else)."""

from __future__ import annotations

from collections.abc import Iterable

# Which of an order's connections a product refreshes and is judged on (DESIGN.md rule 10).
SCOPES = {
    "income": "employer",
    "employment": "employer",
    "assets": "account",
    "transactions": "account",
    "insurance": "insurance",
}
# The refresh request's filter for each scope; insurance items have no documented filter.
FILTER_KEYS = {"employer": "employers", "account": "financial_accounts"}


def scope_of(product: str) -> str:
    """The kind of connection (`employer`, `account`, `insurance`) a product's refresh touches."""
    return SCOPES[product]


def refresh_product_allowed(order_products: Iterable[str], product: str) -> bool:
    """An income order may be refreshed as income or employment; any other only as itself."""
    products = set(order_products)
    if product in products:
        return True
    return product == "employment" and "income" in products


# What `reauth token --product` may ask for: the products whose connections a refresh uses.
BRIDGE_PRODUCTS = ("income", "employment", "assets", "transactions", "insurance")


def bridge_product(kind: str, order_products: Iterable[str]) -> str:
    """The Bridge `product_type` that reconnects one connection (update mode): its own product.

    A financial account reconnects as `assets` (or `transactions` on an order that has only that), an
    employer as `income` when the order has it, else `employment` (an insurance item as `insurance`).
    """
    products = set(order_products)
    if kind == "account":
        return "transactions" if "transactions" in products and "assets" not in products else "assets"
    if kind == "insurance":
        return "insurance"
    return "employment" if "employment" in products and "income" not in products else "income"
