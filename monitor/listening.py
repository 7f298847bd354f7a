"""A long-running command's ports and signals: a socket bound before anything starts, the line saying
where it listens, and SIGTERM/SIGINT as a stop the work sees."""

from __future__ import annotations

import signal
import socket
import threading
from types import FrameType

import structlog

from monitor.errors import MonitorError

log = structlog.get_logger("monitor.scheduler")


def bind_port(host: str, port: int) -> socket.socket:
    """A listening socket bound now, so a taken port is an error before anything starts."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family = infos[0][0] if infos else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
    except OSError as exc:
        raise MonitorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does: TIME_WAIT is no conflict
        # Accepted connections inherit it. Without it a response's head and body, two small writes, meet
        # the client's delayed ACK: 40 ms on every request (asyncio sets it only on sockets it binds itself).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise MonitorError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(True)
    return sock


def listening_line(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"listening on http://{shown}:{port}"


def install_signal_handlers(stop: threading.Event) -> None:
    """First SIGTERM/SIGINT: stop cleanly. A second SIGINT: stop now."""

    def handler(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        log.warning("stopping", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
