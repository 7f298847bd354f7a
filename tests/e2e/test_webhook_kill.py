"""A receiver killed (SIGKILL) in the middle of a burst loses no event it acknowledged."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from monitor.store.db import make_engine, session, upgrade
from monitor.store.tables import WebhookEvent

SECRET = "sandbox-kill-secret"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_receiver(db_url: str, port: int, cwd: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUV_", "MONITOR_"))}
    env.update(TRUV_SECRET=SECRET, MONITOR_DATABASE_URL=db_url)
    proc = subprocess.Popen(
        [sys.executable, "-m", "monitor", "--log-level", "warning", "webhooks", "serve", "--port", str(port)],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:  # waiting for the socket, not for a time rule
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("receiver did not start")


def burst(port: int, n: int, acked: list[str], stop: threading.Event) -> None:
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
        for i in range(n):
            if stop.is_set():
                return
            payload = {
                "webhook_id": uuid.uuid4().hex,
                "event_type": "task-status-updated",
                "link_id": f"l{i}",
                "status": "done",
                "updated_at": "2026-06-05T12:00:00+00:00",
            }
            body = json.dumps(payload).encode()
            sign = "v1=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
            try:
                r = client.post(
                    "/webhooks/truv", content=body, headers={"X-WEBHOOK-SIGN": sign, "Content-Type": "application/json"}
                )
            except httpx.TransportError:
                return  # the receiver died: this one was not acknowledged
            if r.status_code == 200:
                acked.append(payload["webhook_id"])


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_no_acknowledged_event_is_lost(backend, request, tmp_path):
    db_url = request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url")
    engine = make_engine(db_url)
    upgrade(engine)
    port = free_port()
    proc = start_receiver(db_url, port, tmp_path)
    acked: list[str] = []
    stop = threading.Event()
    sender = threading.Thread(target=burst, args=(port, 5000, acked, stop))
    sender.start()
    while len(acked) < 150 and sender.is_alive():
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    stop.set()
    sender.join(timeout=10)
    assert len(acked) >= 150
    with session(engine) as s:
        stored = set(s.execute(select(WebhookEvent.webhook_id)).scalars())
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events were lost"
    # a restarted receiver applies whatever was stored but not yet applied
    proc = start_receiver(db_url, port, tmp_path)
    try:
        with session(engine) as s:
            states = set(s.execute(select(WebhookEvent.state)).scalars())
        assert "received" not in states
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
    engine.dispose()
