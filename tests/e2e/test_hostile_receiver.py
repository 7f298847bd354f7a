"""Issue 25 points 4 and 13 at the receiver, over real HTTP on loopback.

One address holding hundreds of idle sockets must not keep Truv's deliveries out or make /healthz fail
(Kubernetes would restart the pod); health is constant-time and says no more than `ok` to a stranger.
127.0.0.1 floods; 127.0.0.2 stands for Truv, 127.0.0.3 for the kubelet's probe.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import httpx

from monitor.webhooks.receiver import PER_ADDRESS, create_app
from tests.e2e.test_webhooks import METRICS, METRICS_TOKEN, SECRET, event, truv_sign
from tests.e2e.test_webhooks_hostile import serving
from tests.helpers import config, services

FLOOD = "127.0.0.1"
TRUV = "127.0.0.2"
PROBE = "127.0.0.3"


def open_idle(port: int, count: int, source: str = FLOOD) -> list[socket.socket]:
    """`count` connections that send nothing; the server may close any of them at once."""
    socks = []
    for _ in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(5)
        sock.bind((source, 0))
        sock.connect(("127.0.0.1", port))
        socks.append(sock)
    return socks


def still_open(socks: list[socket.socket]) -> int:
    """How many the server has not closed (a closed one reads EOF or a reset at once)."""
    alive = 0
    for sock in socks:
        sock.setblocking(False)
        try:
            alive += sock.recv(1) != b""
        except BlockingIOError:
            alive += 1
        except ConnectionResetError:
            pass
    return alive


async def deliver(port: int, count: int, clock) -> list[int]:
    """`count` signed events from Truv's address, 10 connections at a time (past PER_ADDRESS from one
    address, more would be closed unanswered too)."""
    url = f"http://127.0.0.1:{port}/webhooks/truv"
    transport = httpx.AsyncHTTPTransport(local_address=TRUV, limits=httpx.Limits(max_connections=10))
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:

        async def one() -> int:
            body = json.dumps(event("brand-new-event", clock.now())).encode()
            answer = await client.post(url, content=body, headers={"X-WEBHOOK-SIGN": truv_sign(body)})
            return answer.status_code

        return list(await asyncio.gather(*(one() for _ in range(count))))


def probe(port: int, path: str = "/healthz") -> httpx.Response:
    transport = httpx.HTTPTransport(local_address=PROBE)
    with httpx.Client(transport=transport, timeout=2) as client:
        return client.get(f"http://127.0.0.1:{port}{path}")


def test_600_idle_sockets_from_one_address_keep_neither_truv_nor_the_probe_out(db_url, clock):
    svc = services(db_url, clock, None, config())
    with serving(create_app(svc, secret=SECRET)) as port:
        flood = open_idle(port, 600)
        try:
            started = time.monotonic()
            statuses = asyncio.run(deliver(port, 100, clock))
            assert statuses == [200] * 100, {s: statuses.count(s) for s in set(statuses)}
            health = probe(port)
            assert health.status_code == 200 and health.json()["ok"] is True
            # all inside the 5 s idle cutoff: the flood was there the whole time
            assert time.monotonic() - started < 5
            assert still_open(flood) <= PER_ADDRESS
        finally:
            for sock in flood:
                sock.close()


def test_a_full_server_still_answers_its_probe_and_refuses_more_webhooks(sqlite_url, clock):
    """Past max_connections (from many addresses) a new connection serves /healthz only."""
    svc = services(sqlite_url, clock, None, config())
    with serving(create_app(svc, secret=SECRET), http=_options(max_connections=20, per_address=10)) as port:
        held = open_idle(port, 10, "127.0.0.4") + open_idle(port, 10, "127.0.0.5")
        try:
            assert still_open(held) == 20
            assert probe(port).status_code == 200
            body = json.dumps(event("brand-new-event", clock.now())).encode()
            late = httpx.post(
                f"http://127.0.0.1:{port}/webhooks/truv",
                content=body,
                headers={"X-WEBHOOK-SIGN": truv_sign(body)},
                timeout=5,
            )
            assert late.status_code == 503
        finally:
            for sock in held:
                sock.close()


def _options(**limits):
    from monitor.webhooks.receiver import uvicorn_options

    return uvicorn_options(**limits)["http"]


# -- point 13: constant-time health; counts only for the metrics port or the token ---------------------------


def test_healthz_scans_no_webhook_row_and_detail_needs_the_token(db_url, clock):
    svc = services(db_url, clock, None, config())
    app = create_app(svc, secret=SECRET, metrics_token=METRICS_TOKEN)
    with serving(app) as port, httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        body = json.dumps(event("brand-new-event", clock.now())).encode()
        assert client.post("/webhooks/truv", content=body, headers={"X-WEBHOOK-SIGN": truv_sign(body)}).is_success
        statements = count_statements(svc.engine)
        for path in ("/healthz", "/healthz?detail"):  # a stranger asking for detail gets `ok` alone
            answer = client.get(path)
            assert answer.status_code == 200 and answer.json() == {"ok": True}
        assert statements() == ["SELECT 1", "SELECT 1"]  # no table read, whatever its size
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert client.get("/healthz?detail", headers={"Authorization": "Bearer wrong"}).json() == {"ok": True}
        detail = client.get("/healthz?detail", headers=METRICS).json()
        assert detail["ok"] and detail["by_state"]["ignored"] == 1
        assert "monitor_webhooks_total" in client.get("/metrics", headers=METRICS).text
    # the daemon's own port (no webhook route) is the metrics port: no token there
    with serving(create_app(svc, secret=None)) as port:
        assert httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{port}/healthz?detail", timeout=5).json()["by_state"]["ignored"] == 1


def count_statements(engine):
    """The SQL statements run on `engine` from now on (SQLAlchemy's own event, on the real database)."""
    from sqlalchemy import event as sa_event

    seen: list[str] = []

    def record(_conn, _cursor, statement, *_args) -> None:
        seen.append(" ".join(statement.split()).upper().replace("SELECT 1 AS ANON_1", "SELECT 1"))

    sa_event.listen(engine, "before_cursor_execute", record)
    return lambda: [s for s in seen if not s.startswith(("BEGIN", "SAVEPOINT", "RELEASE", "SET", "SHOW"))]
