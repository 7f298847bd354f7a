"""Fixtures for the sandbox tests: a fixed clock, a sandbox on it, and httpx clients."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.sandbox import Sandbox, SandboxTransport

T0 = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)
BASE_URL = "https://prod.truv.com/v1/"
AUTH = {"X-Access-Client-Id": "client-1", "X-Access-Secret": "sandbox-secret-1"}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def sandbox(clock: FixedClock) -> Iterator[Sandbox]:
    sb = Sandbox(seed=7, clock=clock)
    yield sb
    sb.close()


def make_client(sandbox: Sandbox, headers: dict[str, str] | None = None, **kwargs: Any) -> httpx.Client:
    return httpx.Client(
        base_url=BASE_URL,
        transport=SandboxTransport(sandbox),
        headers=AUTH if headers is None else headers,
        **kwargs,
    )


@pytest.fixture
def client(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with make_client(sandbox) as c:
        yield c


@pytest.fixture
def refresh(client: httpx.Client) -> Callable[..., httpx.Response]:
    def post(order_id: str, product: str = "income", **extra: Any) -> httpx.Response:
        return client.post(f"orders/{order_id}/", json={"products": [product], **extra})

    return post
