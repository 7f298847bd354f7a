"""Truv's answers -> the client's typed errors (truv-api.md sections 1, 2 and 7; DESIGN.md rules 4, 7 and 13),
as tables over httpx.MockTransport and a FixedClock: which status is which error, what is retried and how
long it waits, what a refresh POST never repeats, and that no secret reaches a message."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from datetime import UTC, datetime

import httpx
import pytest

from monitor.clock import FixedClock
from monitor.errors import (
    TruvAuthError,
    TruvError,
    TruvForbidden,
    TruvNotFound,
    TruvNotSent,
    TruvOutcomeUnknown,
    TruvRefused,
    TruvThrottled,
    TruvUnavailable,
    TruvUnreachable,
    is_refresh_limit_message,
)
from monitor.truv.answers import retry_after_seconds
from monitor.truv.client import TruvClient, build_http
from monitor.truv.pacer import LocalPacer
from monitor.truv.secrets import token_hash

SECRET = "sandbox-9f8e7d6c5b4a"
CLIENT_ID = "client-1234"
TOKEN = "access-tok-5566"
ORDER = {
    "id": "o1",
    "products": ["income"],
    "user_id": "u1",
    "employers": [{"id": "e1", "status": "completed", "access_token": TOKEN, "link_id": "l1"}],
}
AS_OF = datetime(2026, 6, 1, tzinfo=UTC)

Answer = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def js(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(
        status, content=json.dumps(body).encode(), headers={"Content-Type": "application/json", **(headers or {})}
    )


def err(status: int, code: str, message: str, **extra: object) -> httpx.Response:
    body: dict[str, object] = {"code": code, "message": message}
    if extra:
        body["extra"] = extra
    return js(status, {"error": body})


def make(
    clock: FixedClock,
    answers: list[Answer],
    *,
    base_url: str = "https://prod.truv.com/v1/",
    max_attempts: int = 4,
    max_failures: int = 10,
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

    http = build_http(base_url, CLIENT_ID, SECRET, 5.0, transport=httpx.MockTransport(handler))
    client = TruvClient(
        http,
        pacer=LocalPacer(60_000, clock),
        clock=clock,
        max_attempts=max_attempts,
        max_consecutive_failures=max_failures,
    )
    return client, seen


def warmed(clock: FixedClock, answers: list[Answer], **kwargs: object) -> tuple[TruvClient, list[httpx.Request]]:
    """A client whose key has already been answered once: a 403 then concerns one resource."""
    client, seen = make(clock, [js(200, ORDER), *answers], **kwargs)  # type: ignore[arg-type]
    client.get_order("o1")
    seen.clear()
    return client, seen


# -- the requests themselves (section 1) ------------------------------------------------------------------


def test_every_request_carries_the_documented_headers(clock):
    client, seen = make(clock, [js(200, ORDER)])
    client.get_order("o1")
    headers = seen[0].headers
    assert headers["X-Access-Client-Id"] == CLIENT_ID
    assert headers["X-Access-Secret"] == SECRET
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    ("base_url", "url"),
    [
        pytest.param("https://prod.truv.com/v1/", "https://prod.truv.com/v1/orders/o1/", id="documented"),
        pytest.param("https://prod.truv.com/v1", "https://prod.truv.com/v1/orders/o1/", id="slash-added"),
        pytest.param("http://127.0.0.1:8765/v1/", "http://127.0.0.1:8765/v1/orders/o1/", id="sandbox"),
    ],
)
def test_paths_end_with_a_slash_under_the_base_url(clock, base_url, url):
    client, seen = make(clock, [js(200, ORDER)], base_url=base_url)
    client.get_order("o1")
    assert str(seen[0].url) == url


@pytest.mark.parametrize(
    ("call", "method", "path"),
    [
        pytest.param(lambda c: c.get_order("o1"), "GET", "/v1/orders/o1/", id="get-order"),
        pytest.param(lambda c: c.get_link("l1"), "GET", "/v1/links/l1/", id="get-link"),
        pytest.param(
            lambda c: c.get_link_report("l1", product="income", fallback_as_of=AS_OF),
            "GET",
            "/v1/links/l1/income/report/",
            id="income-report",
        ),
        pytest.param(
            lambda c: c.get_link_report("l1", product="employment", fallback_as_of=AS_OF),
            "GET",
            "/v1/links/l1/employment/report/",
            id="employment-report",
        ),
        pytest.param(lambda c: c.refresh("o1", product="income"), "POST", "/v1/orders/o1/", id="refresh"),
        pytest.param(
            lambda c: c.create_bridge_token("u1", product_type="income", access_token=TOKEN),
            "POST",
            "/v1/users/u1/tokens/",
            id="bridge-token",
        ),
    ],
)
def test_each_call_hits_its_documented_endpoint(clock, call, method, path):
    answer = {**ORDER, "bridge_token": "b", "employments": []}
    client, seen = make(clock, [js(200, answer)])
    call(client)
    assert (seen[0].method, seen[0].url.path) == (method, path)


@pytest.mark.parametrize(
    ("kwargs", "body"),
    [
        pytest.param({"product": "income"}, {"products": ["income"]}, id="minimal"),
        pytest.param({"product": "employment"}, {"products": ["employment"]}, id="employment"),
        pytest.param(
            {"product": "employment", "employers": [{"suborder_number": "S-1"}]},
            {"products": ["employment"], "employers": [{"suborder_number": "S-1"}]},
            id="employers-filter",
        ),
        pytest.param(
            {"product": "assets", "financial_accounts": [{"id": "a1"}, {"id": "a2"}]},
            {"products": ["assets"], "financial_accounts": [{"id": "a1"}, {"id": "a2"}]},
            id="accounts-filter",
        ),
    ],
)
def test_the_refresh_body_holds_exactly_one_product(clock, kwargs, body):
    client, seen = make(clock, [js(200, {**ORDER, "id": "r1"})])
    assert client.refresh("o1", **kwargs).id == "r1"
    assert json.loads(seen[0].content) == body


@pytest.mark.parametrize("status", [200, 201])
def test_a_refresh_answered_200_or_201_is_the_new_order(clock, status):
    # truv-api.md: the success status is not shown, "probably 200 or 201".
    client, _ = make(clock, [js(status, {**ORDER, "id": "r1", "initial_order": "o1"})])
    info = client.refresh("o1", product="income")
    assert (info.id, info.initial_order) == ("r1", "o1")


# -- status codes -> errors (section 7) ------------------------------------------------------------------


FOUR_XX = [
    pytest.param(err(400, "incorrect_parameters", "Invalid request"), TruvRefused, 400, id="400"),
    pytest.param(err(401, "authentication_failed", "Invalid credentials"), TruvAuthError, 401, id="401"),
    pytest.param(err(403, "not_authenticated", "no permission"), TruvForbidden, 403, id="403-once-the-key-worked"),
    pytest.param(js(404, {"detail": "Not Found."}), TruvNotFound, 404, id="404"),
    pytest.param(js(405, {"detail": 'Method "PUT" not allowed.'}), TruvRefused, 405, id="405"),
    pytest.param(js(406, {"detail": "Could not satisfy the request Accept header."}), TruvRefused, 406, id="406"),
    pytest.param(err(410, "expired_token", "Token expired"), TruvRefused, 410, id="410"),
    pytest.param(js(415, {"detail": 'Unsupported media type "text/plain".'}), TruvRefused, 415, id="415"),
    pytest.param(err(422, "unprocessable", "x"), TruvRefused, 422, id="422"),
]


@pytest.mark.parametrize(("answer", "error", "status"), FOUR_XX)
def test_a_4xx_on_a_get_is_its_error_at_once(clock, answer, error, status):
    client, seen = warmed(clock, [answer, js(200, ORDER)])
    with pytest.raises(error) as caught:
        client.get_order("o2")
    assert type(caught.value) is error
    assert caught.value.status == status
    assert len(seen) == 1  # never retried: the request itself was refused


@pytest.mark.parametrize(("answer", "error", "status"), FOUR_XX)
def test_a_4xx_on_a_refresh_is_its_error_and_never_unknown(clock, answer, error, status):
    client, seen = warmed(clock, [answer, js(200, ORDER)])
    with pytest.raises(error):
        client.refresh("o2", product="income")
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        pytest.param(err(400, "incorrect_parameters", "x"), "incorrect_parameters", id="400"),
        pytest.param(err(410, "expired_token", "x"), "expired_token", id="410"),
        pytest.param(err(401, "authentication_failed", "x"), "authentication_failed", id="401"),
        pytest.param(js(404, {"detail": "Not Found."}), None, id="404-has-no-code"),
    ],
)
def test_the_error_code_travels_with_the_error(clock, answer, code):
    client, _ = warmed(clock, [answer])
    with pytest.raises(TruvError) as caught:
        client.get_order("o2")
    assert caught.value.code == code


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_a_get_is_retried_then_unavailable(clock, status):
    client, seen = warmed(clock, [js(status, {})] * 4, max_attempts=4)
    with pytest.raises(TruvUnavailable, match=f"Truv answered {status}; gave up after 4 attempts"):
        client.get_order("o2")
    assert len(seen) == 4


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_then_success_on_a_get_is_the_success(clock, status):
    client, seen = warmed(clock, [js(status, {}), js(200, {**ORDER, "id": "o2"})])
    assert client.get_order("o2").id == "o2"
    assert len(seen) == 2 and client.stats.retries == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_a_5xx_on_a_refresh_is_unknown_and_never_resent(clock, status):
    client, seen = warmed(clock, [js(status, {}), js(200, ORDER)])
    with pytest.raises(TruvOutcomeUnknown) as caught:
        client.refresh("o1", product="income")
    assert caught.value.status == status
    assert len(seen) == 1


def test_an_html_5xx_from_a_proxy_is_read_as_a_5xx(clock):
    page = httpx.Response(502, content=b"<html><body><h1>502 Bad Gateway</h1></body></html>")
    client, seen = warmed(clock, [page, js(200, ORDER)])
    assert client.get_order("o1").id == "o1"
    assert len(seen) == 2


# -- backoff and throttling (section 7: Retry-After if present, else backoff) --------------------------------


@pytest.mark.parametrize(
    ("statuses", "waited"),
    [
        pytest.param([503], 1.0, id="one-retry-1s"),
        pytest.param([503, 503], 3.0, id="two-retries-1-2"),
        pytest.param([503, 503, 503], 7.0, id="three-retries-1-2-4"),
    ],
)
def test_get_backoff_doubles(clock, statuses, waited):
    client, _ = warmed(clock, [*(js(s, {}) for s in statuses), js(200, ORDER)], max_attempts=5)
    start = clock.monotonic()
    client.get_order("o1")
    assert clock.monotonic() - start == pytest.approx(waited, abs=0.1)


def test_a_5xx_with_retry_after_waits_that_long(clock):
    client, _ = warmed(clock, [js(503, {}, {"Retry-After": "20"}), js(200, ORDER)])
    start = clock.monotonic()
    client.get_order("o1")
    assert clock.monotonic() - start == pytest.approx(20.0, abs=0.1)


@pytest.mark.parametrize(
    ("headers", "body", "waited"),
    [
        pytest.param({"Retry-After": "7"}, {"error": {"code": "throttled", "message": "x"}}, 7.0, id="retry-after"),
        pytest.param(
            {},
            {"error": {"code": "throttled", "message": "Request was throttled. Expected available in 12 seconds."}},
            12.0,
            id="drf-message",
        ),
        pytest.param({}, {"error": {"code": "throttled", "message": "slow down"}}, 1.0, id="backoff"),
        pytest.param({"Retry-After": "0"}, {}, 0.0, id="zero"),
    ],
)
def test_a_429_waits_and_resends_even_a_refresh(clock, headers, body, waited):
    client, seen = warmed(clock, [js(429, body, headers), js(200, {**ORDER, "id": "r1"})])
    start = clock.monotonic()
    assert client.refresh("o1", product="income").id == "r1"
    assert clock.monotonic() - start == pytest.approx(waited, abs=0.1)
    assert len(seen) == 2
    assert client.stats.throttled == 1


def test_a_429_past_the_attempts_is_throttled(clock):
    client, seen = warmed(clock, [err(429, "throttled", "x")] * 3, max_attempts=3)
    with pytest.raises(TruvThrottled, match="still throttled after 3 attempts") as caught:
        client.get_order("o1")
    assert caught.value.status == 429
    assert len(seen) == 3


@pytest.mark.parametrize(
    ("headers", "text", "expected"),
    [
        pytest.param({"Retry-After": "7"}, "", 7.0, id="seconds"),
        pytest.param({"Retry-After": "1.5"}, "", 1.5, id="fraction"),
        pytest.param({"Retry-After": "0"}, "", 0.0, id="zero"),
        pytest.param({"Retry-After": "-3"}, "", 0.0, id="negative-is-now"),
        pytest.param(
            {"Retry-After": "Fri, 05 Jun 2026 12:00:30 GMT", "Date": "Fri, 05 Jun 2026 12:00:00 GMT"},
            "",
            30.0,
            id="http-date",
        ),
        pytest.param(
            {"Retry-After": "Fri, 05 Jun 2026 11:59:00 GMT", "Date": "Fri, 05 Jun 2026 12:00:00 GMT"},
            "",
            0.0,
            id="http-date-past",
        ),
        pytest.param({}, "Request was throttled. Expected available in 12 seconds.", 12.0, id="drf"),
        pytest.param({}, "Request was throttled. Expected available in 1 second.", 1.0, id="drf-singular"),
        pytest.param({}, "Expected available in 2.5 seconds.", 2.5, id="drf-fraction"),
        pytest.param({"Retry-After": "soon"}, "Expected available in 4 seconds.", 4.0, id="bad-header-drf"),
        pytest.param({"Retry-After": "7"}, "Expected available in 99 seconds.", 7.0, id="header-wins"),
        pytest.param({}, "", None, id="nothing"),
        pytest.param({"Retry-After": "soon"}, "", None, id="unreadable"),
    ],
)
def test_retry_after_seconds(headers, text, expected):
    response = httpx.Response(429, headers=headers, content=text.encode())
    assert retry_after_seconds(response) == expected


# -- Truv's per-token refusal (section 2): known by its message, never a throttle -------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        pytest.param("Refresh limit for the access_token exceeded", True, id="documented"),
        pytest.param("refresh limit for the access_token exceeded", True, id="lower"),
        pytest.param("REFRESH LIMIT FOR THE ACCESS_TOKEN EXCEEDED", True, id="upper"),
        pytest.param("Refresh limit for the access_token exceeded (products: x)", True, id="with-details"),
        pytest.param("Request was throttled. Expected available in 5 seconds.", False, id="throttle"),
        pytest.param("Invalid request", False, id="other"),
        pytest.param("", False, id="empty"),
    ],
)
def test_the_refresh_limit_message(message, expected):
    assert is_refresh_limit_message(message) is expected


@pytest.mark.parametrize("status", [400, 403, 409, 429])
def test_the_refresh_limit_is_a_refusal_under_any_4xx(clock, status):
    client, seen = warmed(clock, [err(status, "x", "Refresh limit for the access_token exceeded"), js(200, ORDER)])
    with pytest.raises(TruvRefused) as caught:
        client.refresh("o1", product="income")
    assert caught.value.is_refresh_limit
    assert len(seen) == 1 and client.stats.throttled == 0


def test_a_401_with_the_refresh_limit_text_is_still_an_auth_error(clock):
    client, _ = make(clock, [err(401, "authentication_failed", "Refresh limit for the access_token exceeded")])
    with pytest.raises(TruvAuthError):
        client.refresh("o1", product="income")


# -- 403: one resource, or the key (rule 13) ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        pytest.param(0, TruvForbidden, id="first-call"),
        pytest.param(3, TruvForbidden, id="fourth-call"),
        pytest.param(4, TruvAuthError, id="fifth-call-is-the-key"),
    ],
)
def test_403s_from_the_start(clock, before, expected):
    forbidden = err(403, "not_authenticated", "Credentials are valid but do not have permission")
    client, _ = make(clock, [forbidden] * (before + 1))
    for _ in range(before):
        with pytest.raises(TruvForbidden):
            client.get_order("o1")
    with pytest.raises(expected):
        client.get_order("o1")


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(js(200, ORDER), id="after-a-200"),
        pytest.param(js(404, {"detail": "Not Found."}), id="after-a-404"),
        pytest.param(err(400, "incorrect_parameters", "x"), id="after-a-400"),
    ],
)
def test_any_other_answer_proves_the_key(clock, first):
    forbidden = err(403, "not_authenticated", "no permission")
    client, _ = make(clock, [first, *[forbidden] * 7])
    with contextlib.suppress(TruvError):
        client.get_order("o1")
    for _ in range(7):
        with pytest.raises(TruvForbidden):
            client.get_order("o1")
    assert client.only_forbidden == 0


# -- transport failures (rule 3: only a request that provably never left releases its reservation) --------


@pytest.mark.parametrize(
    ("failure", "error"),
    [
        pytest.param(httpx.ConnectError("refused"), TruvNotSent, id="connect-error"),
        pytest.param(httpx.ConnectTimeout("slow"), TruvNotSent, id="connect-timeout"),
        pytest.param(httpx.PoolTimeout("pool"), TruvNotSent, id="pool-timeout"),
        pytest.param(httpx.ReadTimeout("slow"), TruvOutcomeUnknown, id="read-timeout"),
        pytest.param(httpx.WriteTimeout("slow"), TruvOutcomeUnknown, id="write-timeout"),
        pytest.param(httpx.RemoteProtocolError("closed"), TruvOutcomeUnknown, id="peer-closed"),
        pytest.param(httpx.ReadError("reset"), TruvOutcomeUnknown, id="read-error"),
        pytest.param(httpx.WriteError("broken pipe"), TruvOutcomeUnknown, id="write-error"),
    ],
)
def test_a_refresh_lost_on_the_wire(clock, failure, error):
    client, seen = warmed(clock, [failure, js(200, ORDER)])
    with pytest.raises(error):
        client.refresh("o1", product="income")
    assert len(seen) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b'{"id": "r1", "emplo', id="truncated-json"),
        pytest.param(b"<html>ok</html>", id="html"),
    ],
)
def test_an_unreadable_refresh_answer_is_unknown(clock, body):
    client, seen = warmed(clock, [httpx.Response(200, content=body)])
    with pytest.raises(TruvOutcomeUnknown, match="unreadable answer"):
        client.refresh("o1", product="income")
    assert len(seen) == 1


@pytest.mark.parametrize(
    "body",
    [
        pytest.param({}, id="empty-object"),
        pytest.param({"id": ""}, id="empty-id"),
        pytest.param([], id="array"),
    ],
)
def test_a_refresh_answer_without_an_order_id_is_unknown(clock, body):
    client, _ = warmed(clock, [js(200, body)])
    with pytest.raises(TruvOutcomeUnknown, match="no order id"):
        client.refresh("o1", product="income")


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ConnectError("refused"), id="connect"),
        pytest.param(httpx.ReadTimeout("slow"), id="read-timeout"),
    ],
)
def test_a_get_after_truv_has_answered_retries_a_transport_failure(clock, failure):
    client, seen = warmed(clock, [failure, js(200, ORDER)])
    assert client.get_order("o1").id == "o1"
    assert len(seen) == 2


@pytest.mark.parametrize(
    "failure",
    [
        pytest.param(httpx.ConnectError("refused"), id="connect"),
        pytest.param(httpx.ReadTimeout("slow"), id="read-timeout"),
    ],
)
def test_a_get_before_truv_ever_answered_fails_at_once(clock, failure):
    client, seen = make(clock, [failure, js(200, ORDER)])
    with pytest.raises(TruvUnavailable):
        client.get_order("o1")
    assert len(seen) == 1


@pytest.mark.parametrize("limit", [1, 3, 5])
def test_consecutive_connection_failures_trip_unreachable(clock, limit):
    client, seen = make(clock, [httpx.ConnectError("refused")] * limit, max_failures=limit)
    for _ in range(limit - 1):
        with pytest.raises(TruvUnavailable):
            client.get_order("o1")
    with pytest.raises(TruvUnreachable, match=f"{limit} connection failures or timeouts in a row"):
        client.get_order("o1")
    sent = len(seen)
    with pytest.raises(TruvUnreachable):
        client.get_order("o1")  # refused without sending
    assert len(seen) == sent
    client.reset_reachability()
    assert client.unreachable is None


def test_an_answer_resets_the_failure_count(clock):
    answers: list[Answer] = [httpx.ConnectError("x"), js(200, ORDER), httpx.ConnectError("x"), js(200, ORDER)]
    client, _ = make(clock, answers, max_failures=2)
    with pytest.raises(TruvUnavailable):
        client.get_order("o1")
    client.get_order("o1")
    assert client.get_order("o1").id == "o1"  # one failure, then retried and answered
    assert client.unreachable is None


# -- what messages may say -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"error": {"code": "incorrect_parameters", "message": "Invalid request"}}, "Invalid request", id="message"
        ),
        pytest.param(
            {
                "error": {
                    "code": "incorrect_parameters",
                    "message": "Invalid request",
                    "extra": {
                        "invalid-params": [
                            {"field": "products", "message": "exactly one"},
                            {"field": "employers", "message": "unknown id"},
                        ]
                    },
                }
            },
            "Invalid request (products: exactly one; employers: unknown id)",
            id="invalid-params",
        ),
        pytest.param({"detail": "Not acceptable."}, "Not acceptable.", id="detail"),
    ],
)
def test_a_refusal_says_truvs_words(clock, body, expected):
    client, _ = warmed(clock, [js(406 if "detail" in body else 400, body)])
    with pytest.raises(TruvRefused) as caught:
        client.get_order("o1")
    assert str(caught.value) == expected


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(err(400, "incorrect_parameters", f'bad access_token "{TOKEN}"'), id="token-in-json-error"),
        pytest.param(
            err(
                400,
                "incorrect_parameters",
                "x",
                **{"invalid-params": [{"field": "access_token", "message": f"access_token={TOKEN}"}]},
            ),
            id="token-in-invalid-params",
        ),
        pytest.param(httpx.Response(400, content=f"echo access_token={TOKEN}".encode()), id="token-in-text-body"),
        pytest.param(js(400, {"detail": f"X-Access-Secret: {SECRET}"}), id="secret-in-detail"),
        pytest.param(err(401, "authentication_failed", f"X-Access-Secret={SECRET} is wrong"), id="secret-in-401"),
        pytest.param(err(403, "not_authenticated", f'{{"bridge_token": "{TOKEN}"}}'), id="bridge-token-in-403"),
    ],
)
def test_no_secret_reaches_an_error_message(clock, answer):
    client, _ = warmed(clock, [answer])
    with pytest.raises(TruvError) as caught:
        client.refresh("o1", product="income")
    assert TOKEN not in str(caught.value)
    assert SECRET not in str(caught.value)


def test_the_unreachable_message_names_the_host_but_not_credentials_in_the_url(clock):
    client, _ = make(
        clock, [httpx.ConnectError("refused")], base_url="https://user:hunter2@truv.example:8443/v1/", max_failures=1
    )
    with pytest.raises(TruvUnreachable) as caught:
        client.get_order("o1")
    message = str(caught.value)
    assert "https://truv.example:8443/v1/" in message
    assert "hunter2" not in message and SECRET not in message
    assert "TRUV_BASE_URL" in message


def test_an_auth_error_says_what_to_check_and_not_the_secret(clock):
    client, _ = make(clock, [err(401, "authentication_failed", "Invalid credentials")])
    with pytest.raises(TruvAuthError) as caught:
        client.get_order("o1")
    assert "Check TRUV_CLIENT_ID and TRUV_SECRET" in str(caught.value)
    assert SECRET not in str(caught.value)


# -- the calls that handle a raw token ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("order", "wanted", "found"),
    [
        pytest.param(ORDER, token_hash(TOKEN), TOKEN, id="employer"),
        pytest.param(
            {"id": "o1", "financial_accounts": [{"id": "a1", "access_token": "bank-tok"}]},
            token_hash("bank-tok"),
            "bank-tok",
            id="account",
        ),
        pytest.param(ORDER, token_hash("other"), None, id="no-longer-listed"),
        pytest.param(
            {"id": "o1", "employers": [{"id": "e1", "access_token": None}]}, token_hash(TOKEN), None, id="null"
        ),
    ],
)
def test_access_token_for(clock, order, wanted, found):
    client, _ = make(clock, [js(200, order)])
    if found is None:
        with pytest.raises(TruvNotFound) as caught:
            client.access_token_for("o1", wanted)
        assert TOKEN not in str(caught.value) and wanted not in str(caught.value)
    else:
        assert client.access_token_for("o1", wanted) == found


@pytest.mark.parametrize(
    "body",
    [pytest.param({"token": "x"}, id="no-bridge_token"), pytest.param([], id="array")],
)
def test_a_bridge_token_answer_without_one_is_unavailable(clock, body):
    client, _ = make(clock, [js(200, body)])
    with pytest.raises(TruvUnavailable, match="no bridge_token"):
        client.create_bridge_token("u1", product_type="income", access_token=TOKEN)


@pytest.mark.parametrize(
    ("call", "body"),
    [
        pytest.param(lambda c: c.get_order("o1"), {"no": "id"}, id="order"),
        pytest.param(lambda c: c.get_link("l1"), {"status": "done"}, id="link"),
        pytest.param(
            lambda c: c.get_link_report("l1", product="income", fallback_as_of=AS_OF), {"id": "r"}, id="report"
        ),
    ],
)
def test_an_object_we_cannot_read_is_unavailable(clock, call, body):
    client, _ = make(clock, [js(200, body)])
    with pytest.raises(TruvUnavailable, match="cannot read"):
        call(client)


def test_a_report_read_keeps_no_token(clock):
    body = {"id": "r", "access_token": TOKEN, "completed_at": "2026-06-04T00:00:00Z", "employments": [{"id": "e"}]}
    client, _ = make(clock, [js(200, body)])
    snap = client.get_link_report("l1", product="income", fallback_as_of=AS_OF)
    assert TOKEN not in repr(snap)
    assert snap.as_of == datetime(2026, 6, 4, tzinfo=UTC)
