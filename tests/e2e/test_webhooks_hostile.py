"""Hostile and broken input at the webhook receiver (issue 11, points 1 to 5).

One bad event, body or connection never stops the receiver, another event or a pass: a signed event
that cannot be applied is kept as `invalid` with its reason and acknowledged; bodies are streamed and
bounded in size and time; slow clients are cut off; unparsable bodies are 400, never 500.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import selectors
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import event as observe
from hypothesis import strategies as st
from sqlalchemy import select, update
from starlette.testclient import TestClient

from monitor.jobs.refresh_pass import JobPass
from monitor.store import webhook_events as applying
from monitor.store.db import session
from monitor.store.tables import Connection, Run, WebhookCursor, WebhookEvent
from monitor.store.webhook_events import apply_pending
from monitor.webhooks import receiver as receiving
from monitor.webhooks.receiver import MAX_BODY, create_app, uvicorn_options
from tests.e2e import test_webhooks as base
from tests.e2e.test_webhooks import METRICS, METRICS_TOKEN, SECRET, event, post, reservation, suborder_of, truv_sign
from tests.helpers import config, services
from tests.live import cli_env, monitor_ok

world = base.world  # the same fixture: a pass has submitted refreshes for loans W and B


def a_pass_finishes(svc) -> None:
    summary = JobPass(svc, svc.config.job("nightly")).run()
    assert summary.status == "finished"
    with session(svc.engine) as s:
        assert [r.status for r in s.execute(select(Run)).scalars()].count("running") == 0
        assert s.get(Run, summary.run_id).status == "finished"


def stored(svc, webhook_id: str) -> WebhookEvent:
    with session(svc.engine) as s:
        return s.execute(select(WebhookEvent).where(WebhookEvent.webhook_id == webhook_id)).scalars().one()


def w_status_event(svc, sandbox, clock, **overrides) -> dict:
    """An `order-status-updated` for loan W's refresh, as Truv would send it, with `overrides`."""
    res = reservation(svc, "W")
    sub = suborder_of(sandbox, res.refresh_order_id)
    fields = {"order_id": res.refresh_order_id, "employer_id": sub["id"], "link_id": sub["link_id"]}
    fields.update(product="income", status="completed")
    return event("order-status-updated", clock.now(), **{**fields, **overrides})


def b_link(svc, sandbox) -> str:
    return suborder_of(sandbox, reservation(svc, "B").refresh_order_id)["link_id"]


# -- 1. a malformed or failing event is kept `invalid`; everything else goes on ---------------------------


def test_signed_malformed_events_are_kept_invalid_acknowledged_and_counted(world, clock, db_url, tmp_path):
    svc, sandbox, client = world
    clock.advance(10)
    bad = {
        "order_id as an object": w_status_event(svc, sandbox, clock, order_id={"id": "x"}),
        "link_id as a list": event("link-disconnected", clock.now(), link_id=[b_link(svc, sandbox)]),
        "status with a NUL": w_status_event(svc, sandbox, clock, status="completed\x00"),
        "status of 33 characters": w_status_event(svc, sandbox, clock, status="c" * 33),
    }
    for what, payload in bad.items():
        answer = post(client, payload)
        assert answer.status_code == 200, what
        assert answer.json()["status"] == "invalid", what
        row = stored(svc, payload["webhook_id"])
        assert row.state == "invalid" and row.reason, what
    assert stored(svc, bad["order_id as an object"]["webhook_id"]).reason == "order_id: expected a string, got object"
    assert stored(svc, bad["link_id as a list"]["webhook_id"]).reason == "link_id: expected a string, got array"
    assert "control" in stored(svc, bad["status with a NUL"]["webhook_id"]).reason
    assert "longer than 32" in stored(svc, bad["status of 33 characters"]["webhook_id"]).reason
    assert reservation(svc, "W").state == "accepted"  # nothing of them was applied

    good = w_status_event(svc, sandbox, clock)
    assert post(client, good).json()["status"] == "applied"
    assert reservation(svc, "W").state == "completed"

    health = client.get("/healthz?detail").json()
    assert health["ok"] and health["by_state"]["invalid"] == 4 and health["by_state"]["applied"] == 1
    assert sum(health["invalid_by_reason"].values()) == 4
    assert 'monitor_webhooks_total{state="invalid"} 4.0' in client.get("/metrics").text
    status = json.loads(
        monitor_ok(["webhooks", "status", "--json"], cwd=tmp_path, env=cli_env(MONITOR_DATABASE_URL=db_url))
    )
    assert status["by_state"]["invalid"] == 4 and sum(status["invalid_by_reason"].values()) == 4
    apply_pending(svc)  # nothing left to apply, nothing raised
    a_pass_finishes(svc)


def test_events_stored_unchecked_by_an_older_version_never_poison_a_start_or_a_pass(world, clock):
    """Rows stored `received` before the schema existed: the pre-fix failure (exit 1 at every pass)."""
    svc, sandbox, _ = world
    clock.advance(10)
    target = w_status_event(svc, sandbox, clock)
    rows = [
        w_status_event(svc, sandbox, clock, order_id={"id": "x"}),
        event("link-disconnected", clock.now(), link_id=[b_link(svc, sandbox)]),
        w_status_event(svc, sandbox, clock, status="completed\x00"),
        w_status_event(svc, sandbox, clock, status="c" * 33),
        event("link-disconnected", clock.now() + timedelta(days=400), link_id=b_link(svc, sandbox)),
    ]
    with session(svc.engine) as s:
        for payload in rows:
            s.add(_raw_row(payload["webhook_id"], json.dumps(payload), clock))
        s.add(_raw_row("not-json", "{not json", clock))
        s.add(_raw_row(target["webhook_id"], json.dumps(target), clock))
    done = apply_pending(svc)
    assert done == {"invalid": 6, "applied": 1}
    assert reservation(svc, "W").state == "completed"
    with session(svc.engine) as s:
        reasons = dict(s.execute(select(WebhookEvent.webhook_id, WebhookEvent.reason)).all())
    assert reasons["not-json"] == "stored body is not a JSON object"
    assert "updated_at: more than" in reasons[rows[4]["webhook_id"]]
    with TestClient(
        create_app(svc, secret=SECRET, metrics_token=METRICS_TOKEN), headers=METRICS
    ) as client:  # a receiver start applies nothing more
        assert client.get("/healthz?detail").json()["by_state"]["invalid"] == 6
    a_pass_finishes(svc)


def _raw_row(webhook_id: str, body: str, clock) -> WebhookEvent:
    return WebhookEvent(
        webhook_id=webhook_id,
        event_type="order-status-updated",
        target=None,
        updated_at=clock.now(),
        received_at=clock.now(),
        state="received",
        body=body,
    )


def test_an_apply_that_raises_is_isolated_to_its_event(world, clock, monkeypatch):
    svc, sandbox, client = world
    real = applying._link_event
    link_id = b_link(svc, sandbox)
    with session(svc.engine) as s:
        before = s.execute(select(Connection.state).where(Connection.link_id == link_id)).scalar()

    def failing(s, ins, now):
        s.execute(update(Connection).where(Connection.link_id == ins.link_id).values(state="needs_new_order"))
        raise ValueError("Jane Doe, 4111 1111 1111 1111")  # a message quoting personal data

    monkeypatch.setattr(applying, "_link_event", failing)
    clock.advance(10)
    first = event("link-disconnected", clock.now(), link_id=link_id)
    answer = post(client, first)
    assert answer.status_code == 200 and answer.json() == {"status": "invalid", "reason": "apply failed: ValueError"}
    row = stored(svc, first["webhook_id"])
    assert row.state == "invalid" and "Jane" not in row.reason
    with session(svc.engine) as s:  # the savepoint undid what the failed apply had written
        assert s.execute(select(Connection.state).where(Connection.link_id == link_id)).scalar() == before
    monkeypatch.setattr(applying, "_link_event", real)
    clock.advance(1)
    second = event("link-disconnected", clock.now(), link_id=b_link(svc, sandbox))
    assert post(client, second).json()["status"] == "applied"
    a_pass_finishes(svc)


def test_a_database_refusal_while_applying_is_isolated_too(world, clock, monkeypatch, db_url):
    """Without the schema check, Postgres itself refuses a 33-character status (SQLite stores it)."""
    from monitor.truv.wire import parse_time

    svc, sandbox, client = world
    monkeypatch.setattr(applying, "validate", lambda event, now, skew: parse_time(event.get("updated_at")))
    clock.advance(10)
    long_status = w_status_event(svc, sandbox, clock, status="c" * 33)
    answer = post(client, long_status).json()
    if db_url.startswith("postgresql"):
        assert answer == {"status": "invalid", "reason": "apply failed: DataError (StringDataRightTruncation)"}
        assert reservation(svc, "W").state == "accepted"
        assert post(client, w_status_event(svc, sandbox, clock)).json()["status"] == "applied"
    else:
        assert answer["status"] == "applied"
    monkeypatch.undo()
    a_pass_finishes(svc)


# -- 4. an updated_at in the future never moves a cursor ---------------------------------------------------


def test_a_far_future_event_is_invalid_and_does_not_mute_its_target(world, clock):
    svc, sandbox, client = world
    link_id = b_link(svc, sandbox)
    future = event("link-disconnected", clock.now() + timedelta(days=3650), link_id=link_id)
    answer = post(client, future).json()
    assert answer["status"] == "invalid" and "clock_skew_margin" in answer["reason"]
    with session(svc.engine) as s:
        assert s.get(WebhookCursor, f"link:{link_id}") is None
    genuine = event("link-disconnected", clock.now(), link_id=link_id)
    assert post(client, genuine).json()["status"] == "applied"
    within = event("link-connected", clock.now() + timedelta(minutes=4), link_id=link_id)  # inside the margin
    assert post(client, within).json()["status"] == "applied"
    with session(svc.engine) as s:
        assert s.execute(select(Connection.state).where(Connection.link_id == link_id)).scalar() == "ok"


# -- 5. whole ids, 400 for any unparsable body, /healthz without the write lock ----------------------------


def test_long_webhook_ids_are_kept_whole_and_an_id_over_255_is_refused(world, clock):
    svc, _, client = world
    prefix = "w" * 64
    one, two = event("brand-new-event", clock.now()), event("brand-new-event", clock.now())
    one["webhook_id"], two["webhook_id"] = prefix + "1" * 191, prefix + "2" * 191  # 255 characters each
    assert post(client, one).json()["status"] == "ignored"
    assert post(client, two).json()["status"] == "ignored"  # not a duplicate of the first
    assert stored(svc, one["webhook_id"]).webhook_id == one["webhook_id"]
    too_long = {**one, "webhook_id": "w" * 256}
    answer = post(client, too_long)
    assert answer.status_code == 400 and "webhook_id" in answer.json()["error"]
    with session(svc.engine) as s:
        assert len(s.execute(select(WebhookEvent)).scalars().all()) == 2


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000 + b"]" * 100_000, id="100k nested lists"),
        pytest.param(b'{"a":' * 40_000 + b"1" + b"}" * 40_000, id="40k nested objects"),
        pytest.param(b'{"webhook_id": "\xff\xfe", "event_type": "x"}', id="not UTF-8"),
        pytest.param('{"webhook_id": "a", "event_type": "x"}'.encode("utf-16"), id="UTF-16"),
        pytest.param(b'\xef\xbb\xbf{"webhook_id": "a", "event_type": "x"}', id="BOM"),
        pytest.param(b'{"webhook_id": "a", "event_type": "x", "n": ' + b"9" * 5000 + b"}", id="5000-digit number"),
        pytest.param(b"not json", id="text"),
        pytest.param(b"", id="empty"),
        pytest.param(b'["a list"]', id="a list"),
        pytest.param(b'{"event_type": "x"}', id="no webhook_id"),
        pytest.param(b'{"webhook_id": 7, "event_type": "x"}', id="numeric webhook_id"),
        pytest.param(b'{"webhook_id": "a\\u0000", "event_type": "x"}', id="NUL in webhook_id"),
        pytest.param(b'{"webhook_id": "a", "event_type": ["x"]}', id="event_type a list"),
    ],
)
def test_any_unparsable_body_is_400_and_nothing_is_stored(sqlite_url, clock, body):
    svc = services(sqlite_url, clock, None, config())
    with TestClient(create_app(svc, secret=SECRET), raise_server_exceptions=True) as client:
        assert post(client, body).status_code == 400
        assert post(client, body, sign=None).status_code == 401  # unsigned: nothing is even parsed
    with session(svc.engine) as s:
        assert s.execute(select(WebhookEvent)).scalars().all() == []


def test_healthz_answers_while_another_connection_holds_the_sqlite_write_lock(sqlite_url, clock, tmp_path):
    svc = services(sqlite_url, clock, None, config())
    with TestClient(create_app(svc, secret=SECRET, metrics_token=METRICS_TOKEN), headers=METRICS) as client:
        assert post(client, event("brand-new-event", clock.now())).status_code == 200
        writer = sqlite3.connect(tmp_path / "monitor.db", isolation_level=None)
        try:
            writer.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            health = client.get("/healthz?detail")
            # Waiting for the lock would take SQLite's busy timeout; a busy machine takes well under 5 s.
            assert time.monotonic() - started < 5.0
            assert health.status_code == 200 and health.json()["by_state"]["ignored"] == 1
            assert client.get("/metrics").status_code == 200
        finally:
            writer.execute("ROLLBACK")
            writer.close()


# -- 2. the body is a bounded stream, whatever its framing -------------------------------------------------


def call_app(app, headers: list[tuple[bytes, bytes]], chunks: Iterator[bytes]) -> tuple[int, int]:
    """One request straight through ASGI, the body pulled chunk by chunk: (status, bytes the app pulled)."""
    pulled = 0
    answer: dict[str, Any] = {}

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        chunk = next(chunks, None)
        if chunk is None:
            return {"type": "http.request", "body": b"", "more_body": False}
        pulled += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/webhooks/truv",
        "raw_path": b"/webhooks/truv",
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    asyncio.run(app(scope, receive, send))
    return answer["status"], pulled


def endless(size: int = 64 * 1024, limit: int = 1024) -> Iterator[bytes]:
    for _ in range(limit):  # 64 MiB at most: far past the limit, but a bounded loop
        yield b"x" * size


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="no Content-Length"),
        pytest.param([(b"transfer-encoding", b"chunked")], id="chunked"),
        pytest.param([(b"content-length", b"10")], id="a Content-Length that lies"),
    ],
)
def test_the_body_is_read_as_a_stream_and_cut_at_the_limit(sqlite_url, clock, headers):
    app = create_app(services(sqlite_url, clock, None, config()), secret=SECRET)
    status, pulled = call_app(app, headers, endless())
    assert status == 413
    assert pulled <= MAX_BODY + 64 * 1024  # nothing read past the chunk that crossed the limit


def test_a_declared_length_over_the_limit_is_refused_before_reading(sqlite_url, clock):
    app = create_app(services(sqlite_url, clock, None, config()), secret=SECRET)
    status, pulled = call_app(app, [(b"content-length", str(MAX_BODY + 1).encode())], endless())
    assert (status, pulled) == (413, 0)


@contextmanager
def serving(app, **options: Any) -> Iterator[int]:
    """The app under uvicorn with the receiver's settings, on a free loopback port, in a thread."""
    settings_ = {**uvicorn_options(), **options, "log_config": None}
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, **settings_))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # waiting for the socket, not for a time rule
        assert thread.is_alive() and time.monotonic() < deadline, "receiver did not start"
        time.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def test_a_chunked_body_over_http_is_cut_at_256_kib(sqlite_url, clock):
    svc = services(sqlite_url, clock, None, config())
    with serving(create_app(svc, secret=SECRET)) as port:
        url = f"http://127.0.0.1:{port}/webhooks/truv"

        def chunks() -> Iterator[bytes]:  # a generator: httpx sends it chunked, with no Content-Length
            yield from endless(limit=16)  # 1 MiB

        answer = httpx.post(url, content=chunks(), headers={"X-WEBHOOK-SIGN": "v1=" + "0" * 64}, timeout=10)
        assert answer.status_code == 413 and answer.headers["connection"] == "close"
        declared = _raw(port, b"Content-Length: 10485760\r\n\r\n")  # 10 MiB announced, nothing sent
        assert declared.startswith(b"HTTP/1.1 413")
        # the limits leave an ordinary event alone
        body = json.dumps(event("brand-new-event", clock.now())).encode()
        ok = httpx.post(url, content=body, headers={"X-WEBHOOK-SIGN": truv_sign(body)}, timeout=10)
        assert ok.status_code == 200 and ok.json()["status"] == "ignored"


def _raw(port: int, rest: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"POST /webhooks/truv HTTP/1.1\r\nHost: receiver\r\n" + rest)
        return sock.recv(65536)


# -- 3. slow clients are cut off; /healthz answers meanwhile ------------------------------------------------


def drain(socks: list[socket.socket], within: float) -> list[bytes]:
    """What each socket received until the server closed it; fails if any is still open after `within` s."""
    got = dict.fromkeys(socks, b"")
    sel = selectors.DefaultSelector()
    for sock in socks:
        sock.setblocking(False)
        sel.register(sock, selectors.EVENT_READ)
    deadline = time.monotonic() + within
    while sel.get_map() and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.1):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            got[sock] += data
            if not data:
                sel.unregister(sock)
                sock.close()
    still_open = len(sel.get_map())
    for key in list(sel.get_map().values()):  # the server left these open: the assertion below says so
        key.fileobj.close()
    sel.close()
    assert still_open == 0, f"{still_open} connections still open after {within} s"
    return [got[sock] for sock in socks]


def slow_client(port: int, first_bytes: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(first_bytes)
    return sock


def test_200_slow_connections_are_closed_and_healthz_still_answers(sqlite_url, clock):
    svc = services(sqlite_url, clock, None, config())
    partial_body = b"POST /webhooks/truv HTTP/1.1\r\nHost: r\r\nContent-Length: 1000\r\n\r\n{"
    partial_head = b"POST /webhooks/truv HTTP/1.1\r\nHost: r\r\nX-WEBHOOK-"
    # all from 127.0.0.1: the per-address cap (test_hostile_receiver.py) raised so that each is served and timed out
    many = uvicorn_options(per_address=300)["http"]
    with serving(create_app(svc, secret=SECRET, body_timeout=1.0), timeout_keep_alive=1, http=many) as port:
        bodies = [slow_client(port, partial_body) for _ in range(200)]
        heads = [slow_client(port, partial_head) for _ in range(20)]
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(5)]
        started = time.monotonic()
        health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5.0)
        assert health.status_code == 200 and time.monotonic() - started < 5.0  # served beside them, not after them
        answers = drain(bodies, within=5.0)
        assert all(a.startswith(b"HTTP/1.1 408") for a in answers), {a[:12] for a in answers}
        assert drain(heads + idle, within=5.0) == [b""] * 25  # closed without an answer
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1.0).status_code == 200


def test_the_serve_flags_reach_the_server(tmp_path):
    """`monitor webhooks serve --body-timeout 1 --keep-alive-timeout 1`: a half-sent body gets its 408."""
    import subprocess
    import sys

    from tests.e2e.test_webhook_kill import free_port

    port = free_port()
    env = cli_env(TRUV_SECRET=SECRET, MONITOR_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.db'}")
    args = ["webhooks", "serve", "--port", str(port), "--body-timeout", "1", "--keep-alive-timeout", "1"]
    proc = subprocess.Popen([sys.executable, "-m", "monitor", *args], cwd=tmp_path, env=env, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # waiting for the socket, not for a time rule
            try:
                httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        started = time.monotonic()
        slow = slow_client(port, b"POST /webhooks/truv HTTP/1.1\r\nHost: r\r\nContent-Length: 100\r\n\r\n{")
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        answers = drain([slow, idle], within=5.0)
        assert answers[0].startswith(b"HTTP/1.1 408") and answers[1] == b""
        assert time.monotonic() - started < 3.0
    finally:
        proc.terminate()
        proc.wait(timeout=10)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def __getattr__(self, level: str):
        return lambda event, **_kw: self.lines.append((level, event))


def test_a_client_that_disconnects_mid_body_is_one_debug_line(sqlite_url, clock, monkeypatch):
    import logging

    recorder, records = Recorder(), []
    monkeypatch.setattr(receiving, "log", recorder)
    handler = logging.Handler(level=logging.WARNING)
    handler.emit = records.append  # type: ignore[method-assign]
    uvicorn_log = logging.getLogger("uvicorn.error")
    uvicorn_log.addHandler(handler)
    svc = services(sqlite_url, clock, None, config())
    try:
        with serving(create_app(svc, secret=SECRET)) as port:
            slow_client(port, b"POST /webhooks/truv HTTP/1.1\r\nHost: r\r\nContent-Length: 100\r\n\r\n{").close()
            deadline = time.monotonic() + 5
            while not recorder.lines and time.monotonic() < deadline:  # waiting for the server to notice
                time.sleep(0.02)
    finally:
        uvicorn_log.removeHandler(handler)
    assert recorder.lines == [("debug", "webhook_client_disconnected")]
    assert records == []


# -- the property: random input never gives a 5xx, and every later pass finishes ---------------------------

KNOWN_TYPES = [
    "order-status-updated",
    "order-refresh-failed",
    "order-finalized",
    "link-deleted",
    "link-disconnected",
    "link-connected",
    "task-status-updated",
    "employment-updated",
]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=14))])
FRESH = "(a fresh webhook_id)"  # replaced when posted, so most generated events are new, not duplicates


def weighted(*choices: tuple[int, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """One of the strategies, picked in proportion to its weight (st.one_of favours the simplest)."""
    return st.sampled_from([s for n, s in choices for _ in range(n)]).flatmap(lambda s: s)


def event_like(ids: list[str], now: datetime) -> st.SearchStrategy[dict]:
    """Mostly shaped like Truv's events (real ids, known types and statuses, recent times); any field may be
    wrong, and a None is left out of the event."""
    wrong = st.text(max_size=80) | JSON
    an_id = weighted((6, st.sampled_from(ids)), (1, wrong), (1, st.none()))
    a_status = st.sampled_from(["completed", "done", "login_error", "unavailable", "pending"])
    recent = st.integers(-30 * 86400, 600).map(lambda s: (now + timedelta(seconds=s)).isoformat())
    fields = st.fixed_dictionaries(
        {
            "webhook_id": weighted((6, st.just(FRESH)), (1, st.text(max_size=300)), (1, JSON)),
            "event_type": weighted((6, st.sampled_from(KNOWN_TYPES)), (1, wrong)),
            **dict.fromkeys(("order_id", "link_id", "employer_id", "task_id"), an_id),
            "status": weighted((6, a_status), (1, wrong), (1, st.none())),
            "updated_at": weighted(
                (6, recent), (1, st.datetimes(timezones=ZONES).map(datetime.isoformat)), (1, wrong), (1, st.none())
            ),
        }
    )
    return fields.map(lambda event: {k: v for k, v in event.items() if v is not None})


def test_random_input_never_gives_a_5xx_and_every_later_pass_finishes(world, clock):
    svc, sandbox, client = world
    ids = []
    for loan_id in ("W", "B"):
        res = reservation(svc, loan_id)
        sub = suborder_of(sandbox, res.refresh_order_id)
        ids += [res.refresh_order_id, sub["id"], sub["link_id"]]
    fresh = itertools.count()
    payloads = weighted(
        (6, st.tuples(event_like(ids, clock.now()), st.booleans())),  # (event, ensure_ascii)
        (1, st.binary(max_size=300)),
        (1, JSON.map(lambda v: json.dumps(v).encode())),
    )

    @settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
    @given(payload=payloads, signed=st.sampled_from([True, True, True, False]))
    def throw(payload: bytes | tuple[dict, bool], signed: bool) -> None:
        if isinstance(payload, tuple):
            fields, ascii_only = payload
            if fields.get("webhook_id") == FRESH:
                fields = {**fields, "webhook_id": f"hypothesis-{next(fresh)}"}
            payload = json.dumps(fields, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")
        answer = post(client, payload, sign="auto" if signed else None)
        assert answer.status_code in ((200, 400, 413) if signed else (401,)), answer.text
        observe(f"{answer.status_code} {answer.json().get('status', '')}")  # --hypothesis-show-statistics

    throw()
    assert "deferred" not in apply_pending(svc)
    assert client.get("/healthz").status_code == 200
    a_pass_finishes(svc)


# -- the migration: existing databases get whole ids, the reason column, no cursor in the future -----------


def test_the_migration_widens_ids_and_forgets_cursors_in_the_future(db_url):
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import column, insert, table

    from monitor.clock import SystemClock
    from monitor.store.db import MIGRATIONS, make_engine, upgrade
    from monitor.store.types import UTCDateTime

    engine = make_engine(db_url)
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.connect() as conn:  # the schema as the previous release left it
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0007")
        conn.commit()
    now = SystemClock().now()
    cursor = table("webhook_cursor", column("target"), column("updated_at", UTCDateTime()))
    with engine.begin() as conn:
        conn.execute(insert(cursor).values(target="link:muted", updated_at=now + timedelta(days=3650)))
        conn.execute(insert(cursor).values(target="link:fine", updated_at=now - timedelta(hours=1)))
    upgrade(engine)
    with session(engine) as s:
        assert set(s.execute(select(WebhookCursor.target)).scalars()) == {"link:fine"}
        s.add(
            WebhookEvent(
                webhook_id="w" * 255,
                event_type="x",
                received_at=now,
                state="invalid",
                reason="r" * 300,
                body="{}",
            )
        )
    with session(engine) as s:
        assert s.execute(select(WebhookEvent.webhook_id)).scalar() == "w" * 255
    engine.dispose()
