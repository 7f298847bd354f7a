"""Seeding an order from a JSON or YAML mapping (admin `POST /_sandbox/orders/`, scenario files'
`orders`): `Sandbox.add_order`'s arguments, checked, with errors naming where the mapping was."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from monitor.sandbox.employer_spec import EmployerSpec
from monitor.sandbox.order_shapes import OrderJson
from monitor.sandbox.state import Sandbox

_ORDER_KEYS = frozenset(
    {
        "order_id",
        "user_id",
        "order_number",
        "products",
        "employers",
        "financial_accounts",
        "created_at",
        "completed_at",
        "first_name",
        "last_name",
        "forbidden",
        "finalized",
        "expired",
        "finalize_at_refresh",
    }
)


def add_order_from_mapping(sandbox: Sandbox, data: Mapping[str, Any], where: str = "order") -> OrderJson:
    """`Sandbox.add_order` from JSON/YAML data; unknown keys are errors naming `where`."""
    _check_order_mapping(data, where)
    kwargs = dict(data)
    for group in ("employers", "financial_accounts"):
        if group in kwargs:
            items = kwargs[group]
            if not isinstance(items, list):
                raise ValueError(f"{where}.{group}: expected a list")
            kwargs[group] = [EmployerSpec.from_mapping(item, f"{where}.{group}[{i}]") for i, item in enumerate(items)]
    if "products" in kwargs:
        kwargs["products"] = tuple(kwargs["products"])
    try:
        return sandbox.add_order(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check_order_mapping(data: Mapping[str, Any], where: str) -> None:
    unknown = sorted(set(data) - _ORDER_KEYS)
    if unknown:
        raise ValueError(f"{where}: unknown keys {unknown}; expected some of {sorted(_ORDER_KEYS)}")
    _require_strings(data, ("order_id", "user_id", "order_number", "first_name", "last_name"), where)
    for key in ("created_at", "completed_at"):
        # YAML reads an unquoted timestamp as a datetime; both forms are fine.
        if data.get(key) is not None and not isinstance(data[key], str | datetime):
            raise ValueError(f"{where}.{key}: expected an ISO-8601 timestamp, got {data[key]!r}")
    for key in ("finalized", "expired"):
        if key in data and not isinstance(data[key], bool | str | datetime):
            raise ValueError(f"{where}.{key}: expected true, false or an ISO-8601 timestamp, got {data[key]!r}")


def _require_strings(data: Mapping[str, Any], keys: tuple[str, ...], where: str) -> None:
    # YAML reads an unquoted 0001 as the integer 1; refuse instead of guessing the id.
    for key in keys:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ValueError(f"{where}.{key}: expected a string (quote it in YAML), got {value!r}")
