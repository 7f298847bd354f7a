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
