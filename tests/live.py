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


def cli_env(**values: str) -> dict[str, str]:
    """This process's environment without any TRUV_/MONITOR_ setting of the developer's, plus `values`."""
    import os

    env = {k: v for k, v in os.environ.items() if not k.startswith(("TRUV_", "MONITOR_"))}
    env.update(values)
    return env


def monitor_ok(args: list[str], *, cwd: object, env: dict[str, str], timeout: float = 120) -> str:
    """Run `monitor ARGS` to completion; fail the test with its stderr unless it exits 0. Returns stdout."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "monitor", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, done.stderr
    return done.stdout
