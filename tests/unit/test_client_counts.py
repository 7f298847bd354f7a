"""Truv calls counted per pass: two passes sharing one client, each from several threads, count only their own."""

from __future__ import annotations

import contextvars
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx

from monitor.clock import FixedClock
from monitor.truv.call_count import CallCount, counting
from monitor.truv.client import TruvClient, build_http
from monitor.truv.pacer import LocalPacer

ORDER = {"id": "o1", "products": ["income"], "employers": []}


def _client(clock: FixedClock, *, throttle_every: int = 0) -> TruvClient:
    lock = threading.Lock()
    served = [0]

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            served[0] += 1
            throttled = throttle_every and served[0] % throttle_every == 0
        if throttled:
            return httpx.Response(429, headers={"Retry-After": "0"}, json={"error": {"code": "throttled"}})
        return httpx.Response(200, content=json.dumps(ORDER).encode(), headers={"Content-Type": "application/json"})

    http = build_http("https://prod.truv.com/v1/", "cid", "sandbox-secret", 5.0, transport=httpx.MockTransport(handler))
    return TruvClient(http, pacer=LocalPacer(600_000, clock), clock=clock)


def _pass(client: TruvClient, count: CallCount, calls: int, purpose: str) -> None:
    """A pass: its worker threads run in copies of its context, as the refresh pass's pool does."""
    with counting(count), ThreadPoolExecutor(max_workers=8) as pool:
        futures = [
            pool.submit(contextvars.copy_context().run, client.get_order, "o1", purpose=purpose) for _ in range(calls)
        ]
        for future in futures:
            future.result()


def test_two_passes_on_one_client_count_their_own_calls(clock):
    client = _client(clock)
    first, second = CallCount(), CallCount()
    passes = [
        threading.Thread(target=_pass, args=(client, first, 300, "poll")),
        threading.Thread(target=_pass, args=(client, second, 200, "details")),
    ]
    for t in passes:
        t.start()
    for t in passes:
        t.join()
    assert (first.requests, first.by_endpoint) == (300, {"get_order_poll": 300})
    assert (second.requests, second.by_endpoint) == (200, {"get_order_details": 200})
    assert client.stats.requests == 500  # the client's own total: every call, from any thread, counted once
    assert dict(client.stats.by_endpoint) == {"get_order_details": 200, "get_order_poll": 300}


def test_a_throttled_call_counts_as_two_requests_and_one_throttle(clock):
    client = _client(clock, throttle_every=2)
    count = CallCount()
    with counting(count):
        client.get_order("o1")  # served 1: answered
        client.get_order("o1")  # served 2: 429, then served 3: answered
    assert (count.requests, count.throttled) == (3, 1)
    assert (client.stats.requests, client.stats.throttled, client.stats.retries) == (3, 1, 1)


def test_calls_outside_any_pass_count_only_in_the_client_total(clock):
    client = _client(clock)
    client.get_order("o1")
    assert client.stats.requests == 1
