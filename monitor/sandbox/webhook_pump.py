"""The delivery side of the sandbox's webhooks for `serve`: a daemon thread that polls
`Sandbox.due_webhooks()` and POSTs each webhook with retries (at-least-once)."""

from __future__ import annotations

import threading
from collections.abc import Iterable

import httpx

from monitor.sandbox.state import Sandbox
from monitor.sandbox.webhook_delivery import Webhook


class WebhookPump:
    """POST the sandbox's due webhooks to `url` from a daemon thread, with retries.

    Every `interval` seconds it takes `sandbox.due_webhooks()` and delivers them one by one;
    a delivery that gets a non-2xx answer or a transport error is tried again after
    `backoff`, 2x`backoff`, 4x`backoff`... up to `attempts` tries in all, then dropped
    (`failed`). Each try is recorded in `sandbox.webhook_log()`. The sandbox lock is not
    held while posting, so a receiver may call the sandbox's API while handling a webhook.
    `stop()` interrupts a backoff wait at once; webhooks taken but not yet delivered when
    it is called count as failed.
    """

    def __init__(
        self,
        sandbox: Sandbox,
        url: str,
        *,
        interval: float = 0.25,
        timeout: float = 5.0,
        attempts: int = 5,
        backoff: float = 0.1,
    ) -> None:
        if attempts < 1:
            raise ValueError(f"attempts: expected >= 1, got {attempts!r}")
        if interval <= 0 or timeout <= 0 or backoff < 0:
            raise ValueError("interval and timeout must be > 0 and backoff >= 0")
        self.sandbox = sandbox
        self.url = url
        self.interval = interval
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.delivered = 0  # webhooks a receiver accepted (2xx)
        self.failed = 0  # webhooks given up on (all attempts failed, or stopped meanwhile)
        self.retried = 0  # attempts after a webhook's first one
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> WebhookPump:
        if self._thread is not None:
            raise RuntimeError("a WebhookPump can be started only once")
        self._thread = threading.Thread(target=self._run, name="sandbox-webhook-pump", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float | None = None) -> None:
        """Ask the thread to finish and wait for it (an in-flight POST ends within `timeout`)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _run(self) -> None:
        with httpx.Client(timeout=self.timeout) as client:
            while not self._stop.is_set():
                self.deliver(client, self.sandbox.due_webhooks())
                self._stop.wait(self.interval)

    def deliver(self, client: httpx.Client, webhooks: Iterable[Webhook]) -> None:
        """Deliver `webhooks` in order (each with its retries); used by the thread."""
        for webhook in webhooks:
            if self._stop.is_set() or not self._deliver_one(client, webhook):
                self.failed += 1

    def _deliver_one(self, client: httpx.Client, webhook: Webhook) -> bool:
        for attempt in range(1, self.attempts + 1):
            if attempt > 1:
                self.retried += 1
            status: int | None = None
            error: str | None = None
            try:
                status = client.post(self.url, content=webhook.body, headers=webhook.headers).status_code
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            ok = status is not None and 200 <= status < 300
            self.sandbox.log_webhook_attempt(
                {
                    "webhook_id": webhook.webhook_id,
                    "event_type": webhook.event_type,
                    "url": self.url,
                    "attempt": attempt,
                    "status": status,
                    "error": error,
                    "delivered": ok,
                }
            )
            if ok:
                self.delivered += 1
                return True
            if attempt < self.attempts and self._stop.wait(self.backoff * 2 ** (attempt - 1)):
                return False
        return False
