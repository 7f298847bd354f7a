"""A scenario file's `settings`: each key checked (errors name the file and the key) and mapped to
`Sandbox`'s argument; `latency` is `serve`'s, `faults` a `Faults.parse` string or a mapping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from monitor.sandbox.faults import Faults

_NAMES = (
    "requests_per_minute",
    "refresh_limit_per_token",
    "refresh_limit_status",
    "finalize_at_refresh",
    "completion_delay",
    "secrets",
    "client_ids",
    "webhook_url",
    "webhook_secret",
    "webhook_duplicates",
    "webhook_reorder",
    "suborder_completed_at",
)
# A setting's key -> `Sandbox`'s argument: the same name, and `rpm` for short.
_SETTINGS = {name: name for name in _NAMES} | {"rpm": "requests_per_minute"}


def sandbox_settings(source: Path, settings: dict[str, Any]) -> tuple[dict[str, Any], float]:
    kwargs: dict[str, Any] = {}
    latency = float(settings.get("latency", 0.0))
    for key, value in settings.items():
        if key in ("latency", "faults"):
            continue
        if key not in _SETTINGS:
            allowed = sorted({*_SETTINGS, "latency", "faults"})
            raise ValueError(f"{source}: settings: unknown key {key!r}; expected one of {allowed}")
        _check_webhook_setting(source, key, value)
        kwargs[_SETTINGS[key]] = tuple(value) if key in ("secrets", "client_ids") else value
    try:
        kwargs["faults"] = Faults.from_value(settings.get("faults"))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{source}: settings.{exc}") from None
    return kwargs, latency


def _check_webhook_setting(source: Path, key: str, value: object) -> None:
    """The checks a setting's value passes before `Sandbox` sees it (which checks ranges itself)."""
    for check in _SETTING_CHECKS.get(key, ()):
        expected = check(value)
        if expected is not None:
            raise ValueError(f"{source}: settings.{key}: {expected}, got {value!r}")


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _string_or_none(value: object) -> str | None:
    return None if value is None or isinstance(value, str) else "expected a string"


def _http_url(value: object) -> str | None:
    return (
        None if not isinstance(value, str) or value.startswith(("http://", "https://")) else "expected an http(s) URL"
    )


def _status(value: object) -> str | None:
    return None if _whole(value) else "expected 400, 403 or 429"


def _whole_or_none(value: object) -> str | None:
    return None if _whole(value) or value is None else "expected a whole number"


def _boolean(value: object) -> str | None:
    return None if isinstance(value, bool) else "expected true or false"


def _rate(value: object) -> str | None:
    rate = not isinstance(value, bool) and isinstance(value, int | float) and 0 <= value <= 1
    return None if rate else "expected a rate between 0 and 1"


# Per setting, its checks in order: each says what it expected, or None when the value passes.
_SETTING_CHECKS: dict[str, tuple[Callable[[object], str | None], ...]] = {
    "webhook_url": (_string_or_none, _http_url),
    "webhook_secret": (_string_or_none,),
    "refresh_limit_status": (_status,),
    "finalize_at_refresh": (_whole_or_none,),
    "webhook_reorder": (_boolean,),
    "suborder_completed_at": (_boolean,),
    "webhook_duplicates": (_rate,),
}
