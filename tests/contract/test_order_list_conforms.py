"""The sandbox's `GET /v1/orders/` speaks the list page's shape (`shapes.OrderList`), with the very order
objects `GET /v1/orders/{id}/` answers, paged (`next` until null), filtered and paced like every call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.sandbox import Sandbox, SandboxTransport
from tests.contract.test_sandbox_conforms import AUTH, T0, Checked


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def book(clock: FixedClock) -> Iterator[tuple[Sandbox, Checked, list[str]]]:
    sandbox = Sandbox(seed=26, clock=clock, requests_per_minute=10)
    ids = [sandbox.add_order(created_at=T0 - timedelta(days=60 - i))["id"] for i in range(7)]
    with httpx.Client(base_url="https://prod.truv.com/v1/", transport=SandboxTransport(sandbox), headers=AUTH) as c:
        yield sandbox, Checked(c), ids
    sandbox.close()


def test_a_walk_by_next_lists_every_order_once_oldest_first_as_the_single_read(book):
    _, api, ids = book
    seen, url = [], "orders/?page_size=3"
    while url:
        page = api.get(url).json()
        assert page["count"] == 7
        seen += page["results"]
        url = page["next"] and page["next"].split("/v1/", 1)[1]
    assert [o["id"] for o in seen] == ids
    assert seen[2] == api.get(f"orders/{ids[2]}/").json()
    assert api.seen["200 OrderList"] == 3


def test_page_size_defaults_caps_and_a_page_past_the_end_is_404(book):
    _, api, _ = book
    assert len(api.get("orders/").json()["results"]) == 7  # the default (25) holds all
    assert api.get("orders/?page_size=1000").json()["next"] is None  # capped at 100
    assert api.get("orders/?page=2").status_code == 404
    assert api.get("orders/?page=x").status_code == 404


def test_filters_by_update_and_creation_time_and_refuses_an_unreadable_one(book, clock):
    sandbox, api, ids = book
    clock.advance(3600)
    sandbox.remind(ids[4])  # its updated_at moves; its data does not
    since = (T0 + timedelta(minutes=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert [o["id"] for o in api.get(f"orders/?updated_at__gte={since}").json()["results"]] == [ids[4]]
    created = (T0 - timedelta(days=55)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert len(api.get(f"orders/?created_at__gte={created}").json()["results"]) == 2
    bad = api.get("orders/?updated_at__gte=yesterday")
    assert bad.status_code == 400 and bad.json()["error"]["extra"]["invalid-params"][0]["field"] == "updated_at__gte"


def test_the_list_is_paced_by_the_same_rate_limit(book):
    _, api, _ = book
    answers = [api.get("orders/?page_size=1").status_code for _ in range(11)]
    assert answers == [200] * 10 + [429]
