"""The Truv client against scripted answers: what is retried, what never is, and pacing."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.errors import (
    TruvAuthError,
    TruvForbidden,
    TruvNotFound,
    TruvNotSent,
    TruvOutcomeUnknown,
    TruvRefused,
    TruvUnavailable,
)
from monitor.truv.answers import retry_after_seconds
from monitor.truv.client import TruvClient, build_http
from monitor.truv.pacer import LocalPacer

ORDER = {
    "id": "o1",
    "products": ["income"],
    "employers": [{"id": "e1", "status": "completed", "access_token": "tok-secret-1", "link_id": "l1"}],
}


def make(
    clock: FixedClock,
    answers: list[Callable[[httpx.Request], httpx.Response] | httpx.Response | Exception],
    rpm: int = 6000,
) -> tuple[TruvClient, list[httpx.Request]]:
    seen: list[httpx.Request] = []
    script = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = script.pop(0)
        if isinstance(answer, Exception):
            raise answer
        if callable(answer):
            return answer(request)
        return answer

    http = build_http("https://prod.truv.com/v1/", "cid", "sandbox-secret", 5.0, transport=httpx.MockTransport(handler))
    return TruvClient(http, pacer=LocalPacer(rpm, clock), clock=clock, max_attempts=4), seen


def js(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )


def test_auth_headers_and_token_hashed(clock):
    client, seen = make(clock, [js(200, ORDER)])
    info = client.get_order("o1")
    assert seen[0].headers["X-Access-Client-Id"] == "cid"
    assert seen[0].headers["X-Access-Secret"] == "sandbox-secret"
    assert seen[0].headers["Accept"] == "application/json"
    assert str(seen[0].url) == "https://prod.truv.com/v1/orders/o1/"
    assert info.suborders[0].token_hash and "tok-secret-1" not in repr(info)


def test_get_retries_5xx_and_transport_errors_with_backoff(clock):
    client, seen = make(clock, [js(503, {}), httpx.ReadTimeout("slow"), js(200, ORDER)])
    start = clock.monotonic()
    assert client.get_order("o1").id == "o1"
    assert len(seen) == 3
    assert clock.monotonic() - start >= 1.0 + 2.0  # backoff 1 s then 2 s


def test_get_gives_up_after_max_attempts(clock):
    client, seen = make(clock, [js(500, {})] * 4)
    with pytest.raises(TruvUnavailable, match="gave up after 4 attempts"):
        client.get_order("o1")
    assert len(seen) == 4


def test_429_honours_retry_after_for_every_thread(clock):
    client, _ = make(
        clock, [js(429, {"error": {"code": "throttled", "message": "x"}}, {"Retry-After": "7"}), js(200, ORDER)]
    )
    start = clock.monotonic()
    client.get_order("o1")
    assert clock.monotonic() - start >= 7.0
    assert client.stats.throttled == 1


def test_429_without_header_reads_drf_message(clock):
    body = {"error": {"code": "throttled", "message": "Request was throttled. Expected available in 12 seconds."}}
    response = js(429, body)
    assert retry_after_seconds(response) == 12.0


def test_refresh_post_is_never_resent_after_5xx(clock):
    client, seen = make(clock, [js(502, {})])
    with pytest.raises(TruvOutcomeUnknown):
        client.refresh("o1", product="income")
    assert len(seen) == 1


def test_refresh_post_dropped_connection_is_unknown(clock):
    client, seen = make(clock, [httpx.RemoteProtocolError("peer closed")])
    with pytest.raises(TruvOutcomeUnknown, match="reconciling, not resending"):
        client.refresh("o1", product="income")
    assert len(seen) == 1


def test_refresh_post_connect_error_is_not_sent(clock):
    client, _ = make(clock, [httpx.ConnectError("refused")])
    with pytest.raises(TruvNotSent):
        client.refresh("o1", product="income")


def test_refresh_post_is_resent_after_429_because_nothing_was_processed(clock):
    client, seen = make(
        clock, [js(429, {"error": {"code": "throttled", "message": "slow down"}}), js(200, {**ORDER, "id": "r1"})]
    )
    assert client.refresh("o1", product="employment", employers=[{"id": "e1"}]).id == "r1"
    assert len(seen) == 2
    assert json.loads(seen[1].content) == {"products": ["employment"], "employers": [{"id": "e1"}]}


def test_refresh_unreadable_success_is_unknown(clock):
    client, _ = make(clock, [httpx.Response(200, content=b'{"id": "r1", "emplo')])
    with pytest.raises(TruvOutcomeUnknown):
        client.refresh("o1", product="income")


def test_refresh_limit_refusal_is_typed(clock):
    body = {"error": {"code": "incorrect_parameters", "message": "Refresh limit for the access_token exceeded"}}
    client, _ = make(clock, [js(400, body)])
    with pytest.raises(TruvRefused) as info:
        client.refresh("o1", product="income")
    assert info.value.is_refresh_limit and info.value.status == 400


def test_400_lists_invalid_params(clock):
    body = {
        "error": {
            "code": "incorrect_parameters",
            "message": "Invalid request",
            "extra": {"invalid-params": [{"field": "products", "message": "bad"}]},
        }
    }
    client, _ = make(clock, [js(400, body)])
    with pytest.raises(TruvRefused, match="products: bad"):
        client.refresh("o1", product="income")


def test_401_stops_at_once(clock):
    client, seen = make(clock, [js(401, {"error": {"code": "authentication_failed", "message": "bad"}})] * 3)
    with pytest.raises(TruvAuthError, match="TRUV_CLIENT_ID and TRUV_SECRET"):
        client.get_order("o1")
    assert len(seen) == 1


FORBIDDEN = {
    "error": {
        "code": "not_authenticated",
        "message": "Credentials are valid but do not have permission to access this resource",
    }
}


def test_a_403_concerns_one_resource_once_the_key_has_worked(clock):
    client, seen = make(clock, [js(200, ORDER), *[js(403, FORBIDDEN)] * 8])
    client.get_order("o1")
    for _ in range(8):  # never an auth error: the key answered before
        with pytest.raises(TruvForbidden, match="permission"):
            client.get_order("other-env-order")
    assert len(seen) == 9 and client.only_forbidden == 0


def test_403_on_the_first_five_calls_is_the_key(clock):
    client, seen = make(clock, [js(403, FORBIDDEN)] * 8)
    for _ in range(4):
        with pytest.raises(TruvForbidden):
            client.get_order("o1")
    assert client.only_forbidden == 4
    with pytest.raises(TruvAuthError, match="first 5 calls all got 403"):
        client.get_order("o1")
    assert len(seen) == 5


@pytest.mark.parametrize("status", [400, 403, 429])
def test_truv_refresh_limit_is_known_by_its_message_whatever_the_status(clock, status):
    body = {"error": {"code": "whatever", "message": "Refresh limit for the access_token exceeded"}}
    client, seen = make(clock, [js(200, ORDER), js(status, body), js(200, ORDER)])
    client.get_order("o1")
    with pytest.raises(TruvRefused) as caught:
        client.refresh("o1", product="income")
    assert caught.value.is_refresh_limit and caught.value.status == status
    assert len(seen) == 2 and client.stats.throttled == 0  # never waited out and re-sent as a throttle


def test_404_is_not_found(clock):
    client, _ = make(clock, [js(404, {"detail": "Not Found."})])
    with pytest.raises(TruvNotFound):
        client.get_order("missing")


def test_pacer_spaces_requests_to_the_limit(clock):
    pacer = LocalPacer(300, clock)
    start = clock.monotonic()
    for _ in range(301):
        pacer.acquire()
    elapsed = clock.monotonic() - start
    # 300 gaps at 60/(300*0.98) s: never 301 requests inside one minute
    assert elapsed >= 60.0
    assert elapsed < 62.0


def test_secrets_are_redacted_from_error_text(clock):
    body = {"error": {"code": "incorrect_parameters", "message": 'bad access_token "tok-secret-1"'}}
    client, _ = make(clock, [js(400, body)])
    with pytest.raises(TruvRefused) as info:
        client.refresh("o1", product="income")
    assert "tok-secret-1" not in str(info.value)
