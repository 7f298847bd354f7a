"""A sandbox served over real HTTP on loopback, in a background thread of the test process."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from monitor.sandbox import Sandbox
from monitor.sandbox.app import bound_port, make_server


@contextmanager
def served(sandbox: Sandbox, latency: float = 0.0, webhook_url: str | None = None) -> Iterator[str]:
    """Yields the base URL (`http://127.0.0.1:PORT/v1/`); with `webhook_url`, webhooks are delivered there."""
    server = make_server(
        sandbox, host="127.0.0.1", port=0, latency=latency, webhook_url=webhook_url, webhook_interval=0.05
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:  # waiting for a socket, not for a time rule
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("sandbox server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{bound_port(server)}/v1/"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if server.pump is not None:
            server.pump.stop()
