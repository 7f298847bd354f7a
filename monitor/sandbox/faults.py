"""Injected failures, all off by default and reproducible through their own seeded RNG.

`before` faults (5xx, 429, 404) refuse a request before it is applied; `after` faults
(drop, malformed, slow) hit a request that was already applied, which is what makes a
client's outcome unknown.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal

from monitor.sandbox import wire
from monitor.sandbox.ratelimit import wait_message

RequestKind = Literal["order_get", "refresh", "other"]

# Short names used by `Faults.parse` (and a CLI flag) -> dataclass field names.
_SHORT = {
    "5xx": "error_5xx_rate",
    "429": "throttle_rate",
    "retry_after": "throttle_retry_after",
    "slow": "slow_rate",
    "drop": "drop_after_apply_rate",
    "malformed": "malformed_json_rate",
    "404": "not_found_rate",
    "seed": "seed",
}
_RATES = (
    "error_5xx_rate",
    "throttle_rate",
    "slow_rate",
    "drop_after_apply_rate",
    "malformed_json_rate",
    "not_found_rate",
)


@dataclass
class Faults:
    seed: int = 0
    error_5xx_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_retry_after: float | None = None
    slow_rate: float = 0.0
    slow_seconds: float = 30.0
    drop_after_apply_rate: float = 0.0
    malformed_json_rate: float = 0.0
    not_found_rate: float = 0.0
    _rng: random.Random = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in _RATES:
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"faults: {name}: expected a rate between 0 and 1, got {value!r}")
        if self.slow_seconds < 0:
            raise ValueError(f"faults: slow_seconds: expected >= 0, got {self.slow_seconds!r}")
        if self.throttle_retry_after is not None and self.throttle_retry_after < 0:
            raise ValueError(f"faults: throttle_retry_after: expected >= 0, got {self.throttle_retry_after!r}")
        self._rng = random.Random(self.seed)

    @classmethod
    def parse(cls, text: str) -> Faults:
        """Parse `5xx=0.1,429=0.05,retry_after=2,slow=0.02:40,drop=0.05,malformed=0.02,404=0.01`.

        `slow=RATE:SECONDS` sets both slow_rate and slow_seconds; `seed=N` seeds the RNG.
        """
        values: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            key, sep, raw = item.partition("=")
            key = key.strip()
            if not sep or key not in _SHORT:
                keys = ", ".join(_SHORT)
                raise ValueError(f"faults: cannot read {item!r}; expected KEY=VALUE with KEY one of {keys}")
            values.update(_parse_item(key, raw.strip()))
        return cls(**values)

    @classmethod
    def from_value(cls, value: str | Mapping[str, Any] | None) -> Faults:
        """Build from a scenario file: a `parse` string or a mapping of field or short names."""
        if value is None:
            return cls()
        if isinstance(value, str):
            return cls.parse(value)
        known = {f.name for f in fields(cls) if f.init}
        values: dict[str, Any] = {}
        for key, raw in value.items():
            name = _SHORT.get(key, key)
            if name not in known:
                raise ValueError(f"faults: unknown key {key!r}; expected one of {sorted(known)}")
            values[name] = raw
        return cls(**values)

    def _roll(self, rate: float) -> bool:
        return rate > 0 and self._rng.random() < rate

    def before(self, kind: RequestKind) -> tuple[wire.Response, str] | None:
        """A refusal to answer instead of handling the request, or None."""
        if self._roll(self.error_5xx_rate):
            return self._server_error(), "5xx"
        if self._roll(self.throttle_rate):
            return self._throttled(), "429"
        if kind == "order_get" and self._roll(self.not_found_rate):
            return wire.not_found(), "404"
        return None

    def after(self, kind: RequestKind, response: wire.Response) -> tuple[wire.Response, str | None]:
        """Damage an answer to a request that was already applied."""
        if kind == "refresh" and response.status == 200 and self._roll(self.drop_after_apply_rate):
            response.drop_connection = True
            return response, "drop"
        if response.status == 200 and self._roll(self.malformed_json_rate):
            response.body = response.body[: len(response.body) // 2]
            return response, "malformed"
        if self._roll(self.slow_rate):
            response.delay = self.slow_seconds
            return response, "slow"
        return response, None

    def _server_error(self) -> wire.Response:
        status = self._rng.choice((500, 503))
        if self._rng.random() < 0.5:
            # Proxies in front of an API answer HTML, which a client must not try to parse.
            page = f"<html><body><h1>{status} Server Error</h1></body></html>".encode()
            return wire.Response(status=status, headers={"content-type": "text/html"}, body=page)
        return wire.error(status, "server_error", "A server error occurred.")

    def _throttled(self) -> wire.Response:
        retry_after = self.throttle_retry_after
        response = wire.error(429, "throttled", wait_message(retry_after if retry_after is not None else 1))
        if retry_after is not None:
            response.headers["retry-after"] = str(math.ceil(retry_after))
        return response


def _parse_item(key: str, raw: str) -> dict[str, float | None]:
    name = _SHORT[key]
    if key == "slow":
        rate, _, seconds = raw.partition(":")
        parsed: dict[str, float | None] = {"slow_rate": _number(key, rate)}
        if seconds:
            parsed["slow_seconds"] = _number(key, seconds, what="seconds")
        return parsed
    if key == "seed":
        try:
            return {"seed": int(raw)}
        except ValueError:
            raise ValueError(f"faults: seed: expected an integer, got {raw!r}") from None
    if key == "retry_after" and raw.lower() in ("none", ""):
        return {name: None}
    return {name: _number(key, raw, what="seconds" if key == "retry_after" else "a rate")}


def _number(key: str, raw: str, what: str = "a rate") -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"faults: {key}: expected {what} as a number, got {raw!r}") from None
    if math.isnan(value) or value < 0 or (what == "a rate" and value > 1):
        bounds = "between 0 and 1" if what == "a rate" else ">= 0"
        raise ValueError(f"faults: {key}: expected {what} {bounds}, got {raw!r}")
    return value
