"""The receiver's batches: a request is answered only once its event is committed, and events that
arrive together share a commit without any being lost."""

from __future__ import annotations

import asyncio
import json

import httpx
from sqlalchemy import func, select, text

from monitor.errors import StorageError
from monitor.store import webhook_events
from monitor.store.db import session
from monitor.store.tables import WebhookEvent
from monitor.webhooks.receiver import BatchWriter, create_app
from tests.e2e.test_webhooks import SECRET, event, truv_sign
from tests.helpers import config, services


def signed(payload: dict) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload).encode()
    return body, {"X-WEBHOOK-SIGN": truv_sign(body), "Content-Type": "application/json"}


def stored(svc) -> int:
    with session(svc.engine) as s:
        return int(s.execute(select(func.count()).select_from(WebhookEvent)).scalar_one())


def post_all(app, payloads: list[dict]) -> list[httpx.Response]:
    """All at once, through the app's ASGI interface on one event loop: they queue for one writer."""

    async def go() -> list[httpx.Response]:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://r") as client:
            return list(
                await asyncio.gather(
                    *(client.post("/webhooks/truv", content=b, headers=h) for b, h in map(signed, payloads))
                )
            )

    return asyncio.run(go())


def test_a_failing_commit_answers_503_and_stores_nothing_then_the_retry_is_stored(db_url, clock):
    """The database refuses the insert (a trigger, as a full disk or a lost primary would): no 2xx."""
    svc = services(db_url, clock, None, config())
    with session(svc.engine) as s:
        if svc.engine.dialect.name == "sqlite":
            s.execute(
                text("CREATE TRIGGER refuse BEFORE INSERT ON webhook_event BEGIN SELECT RAISE(ABORT, 'refused'); END")
            )
        else:
            s.execute(
                text(
                    "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused'; END $$"
                )
            )
            # At COMMIT, after every insert has succeeded: an answer sent before the commit would be a 200.
            s.execute(
                text(
                    "CREATE CONSTRAINT TRIGGER refuse AFTER INSERT ON webhook_event "
                    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse()"
                )
            )
    app = create_app(svc, secret=SECRET)
    payloads = [event("brand-new-event", clock.now()) for _ in range(5)]
    refused = post_all(app, payloads)
    assert [r.status_code for r in refused] == [503] * 5
    assert stored(svc) == 0
    with session(svc.engine) as s:
        s.execute(text("DROP TRIGGER refuse" + ("" if svc.engine.dialect.name == "sqlite" else " ON webhook_event")))
    again = post_all(app, payloads)  # Truv's retry of the same events
    assert [(r.status_code, r.json()["status"]) for r in again] == [(200, "ignored")] * 5
    assert stored(svc) == 5


def test_concurrent_requests_share_commits_and_every_one_is_stored(db_url, clock):
    svc = services(db_url, clock, None, config())
    batches: list[int] = []

    def counting(services_, events):
        batches.append(len(events))
        return webhook_events.receive_batch(services_, events)

    app = create_app(svc, secret=SECRET, writer=BatchWriter(svc, store=counting, batch=16))
    payloads = [event("task-status-updated", clock.now(), link_id=f"l{i}", status="done") for i in range(100)]
    payloads.append(dict(payloads[0]))  # a redelivery in the same burst
    answers = post_all(app, payloads)
    assert all(r.status_code == 200 for r in answers)
    assert [r.json()["status"] for r in answers].count("duplicate") == 1
    assert stored(svc) == 100
    assert sum(batches) == 101 and max(batches) <= 16 and len(batches) < 101  # shared, and bounded
    with session(svc.engine) as s:
        first = s.execute(select(WebhookEvent).where(WebhookEvent.webhook_id == payloads[0]["webhook_id"])).scalar_one()
        assert first.deliveries == 2


def test_a_writer_that_fails_answers_every_waiter_with_an_error(sqlite_url, clock):
    svc = services(sqlite_url, clock, None, config())

    def down(_services, events):
        raise StorageError("database error: gone")

    app = create_app(svc, secret=SECRET, writer=BatchWriter(svc, store=down))
    answers = post_all(app, [event("brand-new-event", clock.now()) for _ in range(3)])
    assert [r.status_code for r in answers] == [503] * 3
    assert stored(svc) == 0
