"""Hand-offs to the lender: from the outbox, signed, retried with one idempotency key."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import sqlite3
import threading
import time
import tracemalloc
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from monitor.config import parse_config
from monitor.jobs.notify import Delivered, deliver
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Sandbox
from monitor.store.db import session
from monitor.store.outbox import enqueue
from monitor.store.tables import Outbox
from tests.helpers import CONFIG, import_csv, seed_loans, services, write_csv

NOTIFY_SECRET = "lender-shared-secret"


class Lender(BaseHTTPRequestHandler):
    received: list[tuple[dict, bytes, int]] = []
    fail_first = True

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 500 if Lender.fail_first else 200
        Lender.fail_first = False
        Lender.received.append((dict(self.headers), body, status))
        self.send_response(status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_reauth_handoff_is_signed_retried_and_idempotent(sqlite_url, clock, tmp_path, monkeypatch):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Lender)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Lender.received, Lender.fail_first = [], True
    monkeypatch.setenv("LENDER_SECRET", NOTIFY_SECRET)
    text = (
        CONFIG.replace("OVERAGE", "block").replace("CONCURRENCY", "1").replace("MAXREF", "100").replace("MAXAGE", "30d")
    )
    text += f"notify: {{url: 'http://127.0.0.1:{server.server_address[1]}/handoff', secret_env: LENDER_SECRET}}\n"
    sandbox = Sandbox(seed=8, clock=clock, completion_delay=5.0)
    svc = services(sqlite_url, clock, sandbox, parse_config(text))
    rows = seed_loans(sandbox, [{"loan_id": "R1", "employers": [("mfa_error", None)]}], tmp_path, clock)
    import_csv(svc, write_csv(tmp_path / "loans.csv", rows))
    try:
        first = JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
        assert first.needs_reauth == 1 and first.handoffs_failed == 1
        clock.advance(30)
        assert JobPass(svc, svc.config.job("nightly")).run().handoffs_delivered == 0  # backing off
        clock.advance(120)
        third = JobPass(svc, svc.config.job("nightly")).run()
        assert third.handoffs_delivered == 1
        clock.advance(3600)
        assert JobPass(svc, svc.config.job("nightly")).run().handoffs_delivered == 0  # delivered once
    finally:
        server.shutdown()
        server.server_close()  # shutdown stops the loop; this closes the listening socket
    # Two hand-offs: the connection needing the borrower, and the refresh that did not verify (income
    # monitoring); the first one posted met the 500 and was retried with the same key and body.
    by_key: dict[str, list[tuple[dict, bytes, int]]] = {}
    for headers, body, status in Lender.received:
        by_key.setdefault(headers["Idempotency-Key"], []).append((headers, body, status))
    assert sorted(len(v) for v in by_key.values()) == [1, 2]
    assert all([st for _, _, st in v][-1] == 200 and [st for _, _, st in v].count(200) == 1 for v in by_key.values())
    retried = next(v for v in by_key.values() if len(v) == 2)
    assert retried[0][2] == 500 and retried[0][1] == retried[1][1]
    payloads = {json.loads(v[-1][1])["type"]: v[-1] for v in by_key.values()}
    assert set(payloads) == {"connection.needs_reauth", "loan.finding"}
    h2, b2, _ = payloads["connection.needs_reauth"]
    expected = "v1=" + hmac.new(NOTIFY_SECRET.encode(), b2, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(h2["X-MONITOR-SIGN"], expected)
    payload = json.loads(b2)
    assert payload["reason"] == "mfa_error"
    assert [loan["loan_id"] for loan in payload["loans"]] == ["R1"]
    finding = json.loads(payloads["loan.finding"][1])
    assert (finding["loan_id"], finding["rule"], finding["after"]) == ("R1", "unverified", "mfa_error")
    assert "access_token" not in b2.decode()


# -- no lock across the POST, one deadline, a bounded answer (issue 11, point 7) ------------------


class RawLender:
    """A loopback HTTP server written on bare sockets, so it can misbehave the way real ones do."""

    def __init__(self, answer) -> None:  # answer(conn): writes the response, however slowly
        self.answer = answer
        self.stop = threading.Event()
        self.requests: list[bytes] = []
        self.sent = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/handoff"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = int(next(h.split(b":")[1] for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")))
            while len(body) < length:
                body += conn.recv(65536)
            self.requests.append(body)
            with contextlib.suppress(OSError):  # the client hung up: what a deadline does
                self.answer(self, conn)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()


def drip(text: bytes):
    def answer(lender: RawLender, conn: socket.socket) -> None:
        for i in range(len(text)):
            if lender.stop.is_set():
                return
            conn.sendall(text[i : i + 1])
            lender.sent += 1
            time.sleep(1.0)

    return answer


def huge(lender: RawLender, conn: socket.socket) -> None:
    size = 300 * 1024 * 1024
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % size)
    chunk = b"x" * (1024 * 1024)  # one buffer sent again and again: the server itself stays small
    while lender.sent < size and not lender.stop.is_set():
        conn.sendall(chunk)
        lender.sent += len(chunk)


def notify_services(db_url, clock, url: str, timeout: float):
    text = (
        CONFIG.replace("OVERAGE", "block").replace("CONCURRENCY", "1").replace("MAXREF", "100").replace("MAXAGE", "30d")
    )
    text += f"notify: {{url: '{url}', secret_env: LENDER_SECRET, timeout_seconds: {timeout}}}\n"
    return services(db_url, clock, None, parse_config(text))


def queue(svc, n: int) -> None:
    with session(svc.engine) as s:
        for i in range(n):
            enqueue(s, kind="needs_reauth", key=f"k{i}", payload={"type": "test", "i": i}, now=svc.clock.now())


def outbox(svc) -> list[Outbox]:
    with session(svc.engine) as s:
        return list(s.execute(select(Outbox).order_by(Outbox.id)).scalars())


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (drip(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), "deadline"),  # even the status line drips
        (drip(b"HTTP/1.1 503 Busy\r\n\r\n"), "deadline"),
    ],
    ids=["status-line", "headers"],
)
def test_a_dripping_lender_gets_one_deadline_and_no_lock_is_held(sqlite_url, clock, monkeypatch, answer, error):
    monkeypatch.setenv("LENDER_SECRET", NOTIFY_SECRET)
    lender = RawLender(answer)
    svc = notify_services(sqlite_url, clock, lender.url, timeout=3)
    queue(svc, 1)
    result: list = []
    started = time.monotonic()
    delivery = threading.Thread(target=lambda: result.append(deliver(svc)))
    try:
        delivery.start()
        deadline = time.monotonic() + 10
        while not lender.requests:  # the POST is in flight
            assert time.monotonic() < deadline, "the delivery never reached the lender"
            time.sleep(0.05)
        # Another connection takes SQLite's write lock while the lender is still answering.
        # timeout=1.0: were the lock held across the POST, BEGIN IMMEDIATE would raise "database is locked"
        with contextlib.closing(
            sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), timeout=1.0, isolation_level=None)
        ) as other:
            other.execute("BEGIN IMMEDIATE")
            other.execute("UPDATE outbox SET last_error = 'touched' WHERE id = -1")
            other.execute("COMMIT")
        delivery.join(timeout=10)
    finally:
        lender.close()
    elapsed = time.monotonic() - started
    assert result == [Delivered(delivered=0, failed=1)]
    # the 3 s deadline, not 1 s per byte for the whole answer (20 s and more); generous above for a busy machine
    assert 2.5 < elapsed < 12, elapsed
    (row,) = outbox(svc)
    assert row.delivered_at is None and row.attempts == 1 and row.last_error == error
    assert row.next_attempt_at == clock.now() + timedelta(minutes=1)  # the lease gave way to the back-off


def test_a_dripping_body_after_a_2xx_is_delivered_within_the_deadline(sqlite_url, clock, monkeypatch):
    monkeypatch.setenv("LENDER_SECRET", NOTIFY_SECRET)

    def status_then_drip(lender: RawLender, conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n")
        drip(b"x" * 99)(lender, conn)

    lender = RawLender(status_then_drip)
    svc = notify_services(sqlite_url, clock, lender.url, timeout=2)
    queue(svc, 1)
    started = time.monotonic()
    try:
        assert deliver(svc) == Delivered(delivered=1, failed=0)  # the status decides; the body is dropped
    finally:
        lender.close()
    # the 2 s deadline cut the 99 s drip short; generous above for a busy machine
    assert time.monotonic() - started < 20
    assert outbox(svc)[0].delivered_at == clock.now()


def test_a_300_mb_answer_is_read_no_further_than_64_kib(sqlite_url, clock, monkeypatch):
    monkeypatch.setenv("LENDER_SECRET", NOTIFY_SECRET)
    lender = RawLender(huge)
    svc = notify_services(sqlite_url, clock, lender.url, timeout=5)
    queue(svc, 1)
    tracemalloc.start()
    try:
        result = deliver(svc)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        lender.close()
    # delivered, so within its 5 s deadline: the client stopped reading, it did not wait for 300 MB
    assert result == Delivered(delivered=1, failed=0)
    assert peak < 8 * 1024 * 1024, peak  # megabytes at most, never the answer's 300 MB
    assert lender.sent < 64 * 1024 * 1024  # the client hung up long before the end


class SlowLender(BaseHTTPRequestHandler):
    keys: list[str] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.3)
        SlowLender.keys.append(self.headers["Idempotency-Key"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_two_passes_delivering_at_once_post_each_hand_off_once(db_url, clock, monkeypatch):
    monkeypatch.setenv("LENDER_SECRET", NOTIFY_SECRET)
    server = ThreadingHTTPServer(("127.0.0.1", 0), SlowLender)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    SlowLender.keys = []
    svc = notify_services(db_url, clock, f"http://127.0.0.1:{server.server_address[1]}/handoff", timeout=5)
    queue(svc, 8)
    results: list[Delivered] = []
    passes = [threading.Thread(target=lambda: results.append(deliver(svc))) for _ in range(2)]
    try:
        for p in passes:
            p.start()
        for p in passes:
            p.join(timeout=30)
    finally:
        server.shutdown()
        server.server_close()  # shutdown stops the loop; this closes the listening socket
    assert sorted(SlowLender.keys) == sorted(f"k{i}" for i in range(8))  # each once, none twice
    assert sum(r.delivered for r in results) == 8 and all(r.delivered for r in results)  # both worked
    assert all(row.delivered_at is not None and row.attempts == 1 for row in outbox(svc))
