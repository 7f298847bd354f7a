"""Which product a refresh of an order may ask for (Truv refuses anything else)."""

from __future__ import annotations

from collections.abc import Iterable


def refresh_product_allowed(order_products: Iterable[str], product: str) -> bool:
    """An income order may be refreshed as income or employment; any other only as itself."""
    products = set(order_products)
    if product in products:
        return True
    return product == "employment" and "income" in products
