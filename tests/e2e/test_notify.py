"""Hand-offs to the lender: from the outbox, signed, retried with one idempotency key."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from monitor.config import parse_config
from monitor.jobs.refresh_pass import RefreshPass
from monitor.sandbox import Sandbox
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
        first = RefreshPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
        assert first.needs_reauth == 1 and first.handoffs_failed == 1
        clock.advance(30)
        assert RefreshPass(svc, svc.config.job("nightly")).run().handoffs_delivered == 0  # backing off
        clock.advance(120)
        third = RefreshPass(svc, svc.config.job("nightly")).run()
        assert third.handoffs_delivered == 1
        clock.advance(3600)
        assert RefreshPass(svc, svc.config.job("nightly")).run().handoffs_delivered == 0  # delivered once
    finally:
        server.shutdown()
    assert [status for _, _, status in Lender.received] == [500, 200]
    (h1, b1, _), (h2, b2, _) = Lender.received
    assert h1["Idempotency-Key"] == h2["Idempotency-Key"] and b1 == b2
    expected = "v1=" + hmac.new(NOTIFY_SECRET.encode(), b2, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(h2["X-MONITOR-SIGN"], expected)
    payload = json.loads(b2)
    assert payload["type"] == "connection.needs_reauth" and payload["reason"] == "mfa_error"
    assert [loan["loan_id"] for loan in payload["loans"]] == ["R1"]
    assert "access_token" not in b2.decode()
