"""The keyed audit chain against someone who can write to the database but does not hold the key,
and retention: what purge removes, what it refuses, and that the chain verifies after it
(issue 11, points 6, 11 and 12)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, text

from monitor.core.audit import FIELDS, GENESIS, chain_hash
from monitor.store import audit
from monitor.store.db import make_engine, session
from monitor.store.tables import AuditHead, Event, WebhookEvent
from tests.e2e.test_cli import monitor
from tests.helpers import services

KEY = "k3y-held-by-compliance-only"


def write_entries(svc, n: int, *, at: datetime | None = None, kind: str = "test") -> None:
    for i in range(n):
        with session(svc.engine) as s:
            audit.append(s, at=(at or svc.clock.now()) + timedelta(seconds=i), kind=kind, detail={"i": i})


def adopt_key(svc) -> None:
    """What `monitor audit verify --seal` does, once."""
    with session(svc.engine) as s:
        checked = audit.verify(s, key=KEY)
    assert checked["reason"] == "unsealed"
    with session(svc.engine) as s:
        audit.seal(
            s, key=KEY, now=svc.clock.now(), verified_seq=checked["head_seq"], verified_hash=checked["head_hash"]
        )


@pytest.fixture
def keyed(db_url, clock, monkeypatch):
    """5 entries written before the key existed, then the key adopted, then 5 keyed entries."""
    svc = services(db_url, clock, None)
    write_entries(svc, 5)
    monkeypatch.setenv("MONITOR_AUDIT_KEY", KEY)
    adopt_key(svc)
    write_entries(svc, 5)
    return svc


def verify(svc, key: str | None = KEY) -> dict:
    with session(svc.engine) as s:
        return audit.verify(s, key=key)


def rewrite_unkeyed(svc, from_seq: int, *, detail: str | None = None) -> None:
    """The attacker's best effort: edit an entry, recompute every later hash (SHA-256, no key), move the head."""
    with session(svc.engine) as s:
        rows = s.execute(select(Event).where(Event.seq >= from_seq).order_by(Event.seq)).scalars().all()
        prev = rows[0].prev_hash
        for row in rows:
            if detail is not None and row.seq == from_seq:
                row.detail = detail
            row.prev_hash, row.hash = prev, chain_hash(prev, {k: getattr(row, k) for k in FIELDS})
            prev = row.hash
        head = s.get(AuditHead, audit.HEAD_ROW)
        head.seq, head.hash = rows[-1].seq, prev


def test_a_keyed_chain_verifies_only_with_its_key(keyed):
    good = verify(keyed)
    assert good["ok"] and good["keyed"] and good["keyed_from"] == 6 and good["entries_checked"] == 11
    keyless = verify(keyed, key=None)
    assert not keyless["ok"] and keyless["reason"] == "key_required"
    wrong = verify(keyed, key="another-key")
    assert not wrong["ok"] and wrong["reason"] == "wrong_key" and "not the key" in wrong["message"]
    with session(keyed.engine) as s:
        entries = s.execute(select(Event).where(Event.seq >= 6)).scalars().all()
    sample = entries[0]
    assert sample.hash != chain_hash(sample.prev_hash, {k: getattr(sample, k) for k in FIELDS})  # an HMAC


@pytest.mark.parametrize("target", [8, 3], ids=["keyed-entry", "entry-before-the-key"])
def test_an_edit_with_every_hash_recomputed_fails(keyed, target):
    rewrite_unkeyed(keyed, target, detail='{"i": 99}')
    result = verify(keyed)
    assert not result["ok"]
    if target >= 6:  # a keyed entry now carries a plain hash
        assert (result["reason"], result["first_broken_seq"]) == ("unkeyed", target)
    else:  # the first keyed entry's HMAC covers the unkeyed entries before it
        assert (result["reason"], result["first_broken_seq"]) == ("unkeyed", 6)


def test_the_whole_chain_rewritten_unkeyed_and_the_seal_removed_fails_and_is_never_resealed(keyed):
    rewrite_unkeyed(keyed, 1, detail='{"i": 99}')
    with session(keyed.engine) as s:
        s.execute(delete(AuditHead).where(AuditHead.id == audit.SEAL_ROW))
    assert verify(keyed)["reason"] == "unsealed"
    write_entries(keyed, 3)  # a pass with the key writes on: it must not adopt the forged chain
    after = verify(keyed)
    assert not after["ok"] and after["reason"] == "unsealed"


def test_removing_the_newest_entries_and_rolling_the_head_back_fails(keyed):
    with session(keyed.engine) as s:
        s.execute(delete(Event).where(Event.seq > 8))
        kept = s.execute(select(Event).where(Event.seq == 8)).scalars().one()
        head = s.get(AuditHead, audit.HEAD_ROW)
        head.seq, head.hash = kept.seq, kept.hash
    result = verify(keyed)
    assert not result["ok"] and result["reason"] == "seal" and result["first_broken_seq"] == 8
    write_entries(keyed, 1)  # the next writer leaves the broken seal as evidence
    assert verify(keyed)["reason"] == "seal"


@pytest.mark.parametrize("also", ["nothing", "head", "head and seal"])
def test_an_emptied_trail_fails(keyed, also):
    with session(keyed.engine) as s:
        s.execute(text("DELETE FROM event"))
        if also != "nothing":
            s.execute(text("UPDATE audit_head SET seq = 0, hash = :g WHERE id = 1"), {"g": GENESIS})
        if also == "head and seal":
            s.execute(text("DELETE FROM audit_head WHERE id = 2"))
    result = verify(keyed)
    expected = {"nothing": "truncated", "head": "seal", "head and seal": "unsealed"}[also]
    assert not result["ok"] and result["reason"] == expected and result["entries_checked"] == 0


def test_an_entry_without_the_key_is_refused_and_the_keyed_chain_stays_intact(keyed, monkeypatch):
    monkeypatch.delenv("MONITOR_AUDIT_KEY")
    with pytest.raises(audit.AuditKeyRequired, match="MONITOR_AUDIT_KEY_FILE"):
        write_entries(keyed, 1, kind="keyless")  # a process someone forgot to give the key
    monkeypatch.setenv("MONITOR_AUDIT_KEY", KEY)
    write_entries(keyed, 1)
    result = verify(keyed)
    assert result["ok"] and result["entries_checked"] == 12, result


def test_a_plain_hash_in_a_keyed_chain_is_still_reported(keyed):
    """What an older version (or a forger) without the key leaves behind: `audit verify` names it."""
    with session(keyed.engine) as s:
        head = s.get(AuditHead, audit.HEAD_ROW)
        entry = dict.fromkeys(FIELDS) | {"seq": head.seq + 1, "at": datetime.now(UTC), "kind": "keyless"}
        entry |= {"actor": "old-writer", "version": "old", "detail": "{}"}
        s.add(Event(**entry, prev_hash=head.hash, hash=chain_hash(head.hash, entry)))
        head.seq, head.hash = entry["seq"], chain_hash(head.hash, entry)
    result = verify(keyed)
    assert (result["reason"], result["first_broken_seq"]) == ("unkeyed", 12)


def test_an_unkeyed_chain_still_verifies_and_says_so(db_url, clock):
    svc = services(db_url, clock, None)
    write_entries(svc, 4)
    plain = verify(svc, key=None)
    assert plain["ok"] and not plain["keyed"] and plain["entries_checked"] == 4
    with_key = verify(svc)  # a key is given but nothing was ever keyed: a stripped chain looks the same
    assert not with_key["ok"] and with_key["reason"] == "unsealed" and "--seal" not in with_key["message"]


# -- the command line: exit codes, and stdout never says "intact" on a failure ---------------------


def cli(db_url, tmp_path, *args, key: str | None = KEY):
    env = {"MONITOR_AUDIT_KEY": key} if key else {}
    return monitor("--database", db_url, *args, cwd=tmp_path, env=env)


def test_audit_verify_on_the_command_line(sqlite_url, clock, tmp_path, monkeypatch):
    svc = services(sqlite_url, clock, None)
    write_entries(svc, 3)
    unkeyed = cli(sqlite_url, tmp_path, "audit", "verify", key=None)
    assert unkeyed.returncode == 0 and unkeyed.stdout.startswith("audit chain unkeyed: 3 entries")
    not_sealed = cli(sqlite_url, tmp_path, "audit", "verify")
    assert not_sealed.returncode == 1 and "intact" not in not_sealed.stdout and "--seal" not in not_sealed.stderr
    sealed = cli(sqlite_url, tmp_path, "audit", "verify", "--seal")
    assert sealed.returncode == 0 and "keyed with MONITOR_AUDIT_KEY" in sealed.stdout, sealed.stderr
    monkeypatch.setenv("MONITOR_AUDIT_KEY", KEY)
    write_entries(svc, 2)
    ok = cli(sqlite_url, tmp_path, "audit", "verify")
    assert (
        ok.returncode == 0
        and ok.stdout.startswith("audit chain intact: 6 entries")
        and "keyed from entry 4" in ok.stdout
    )
    no_key = cli(sqlite_url, tmp_path, "audit", "verify", key=None)
    assert no_key.returncode == 2 and "MONITOR_AUDIT_KEY" in no_key.stderr and "intact" not in no_key.stdout
    wrong = cli(sqlite_url, tmp_path, "audit", "verify", key="not-the-key")
    assert wrong.returncode == 1 and "not the key" in wrong.stderr and not wrong.stdout
    rewrite_unkeyed(svc, 5, detail="{}")
    for args in (("audit", "verify"), ("audit", "verify", "--json")):
        broken = cli(sqlite_url, tmp_path, *args)
        assert broken.returncode == 1 and "intact" not in broken.stdout and "entry 5" in broken.stderr
    assert json.loads(broken.stdout)["ok"] is False
    assert KEY not in broken.stdout + broken.stderr + sealed.stdout + sealed.stderr  # never echoed


# -- a keyed trail: every command that would write an entry without the key refuses first (issue 24) --

WRITERS = {
    "loans import": ["loans", "import", "loans.csv"],
    "run": ["run", "nightly", "--json"],
    "schedule": ["schedule", "--port", "0"],
    "webhooks serve": ["webhooks", "serve", "--port", "0"],
    "console": ["console", "--port", "0"],
    "reauth token": ["reauth", "token", "L1"],
}


def _trail(db_url) -> tuple[list[tuple], list[tuple]]:
    from sqlalchemy import create_engine

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            events = [tuple(r) for r in conn.execute(text("SELECT seq, hash FROM event ORDER BY seq"))]
            loans = [tuple(r) for r in conn.execute(text("SELECT loan_id, order_id FROM loan ORDER BY loan_id"))]
    finally:
        engine.dispose()
    return events, loans


@pytest.fixture
def sealed_trail(db_url, clock, tmp_path, monkeypatch):
    """A trail keyed with a loan imported (what a lender has after `audit verify --seal`), built in-process."""
    from tests.e2e.test_cli import GOOD
    from tests.helpers import import_csv

    (tmp_path / "jobs.yaml").write_text(GOOD)
    svc = services(db_url, clock, None)
    (tmp_path / "loans.csv").write_text("loan_id,order_id\nL1,o1\n")
    import_csv(svc, tmp_path / "loans.csv")
    write_entries(svc, 1)
    monkeypatch.setenv("MONITOR_AUDIT_KEY", KEY)
    adopt_key(svc)
    monkeypatch.delenv("MONITOR_AUDIT_KEY")
    svc.engine.dispose()
    (tmp_path / "loans.csv").write_text("loan_id,order_id\nL1,o1\nL2,o2\n")  # what the refused import brings
    return db_url


def _verifies(db_url) -> bool:
    engine = make_engine(db_url)
    try:
        with session(engine) as s:
            return bool(audit.verify(s, key=KEY)["ok"])
    finally:
        engine.dispose()


@pytest.mark.parametrize("command", list(WRITERS), ids=list(WRITERS))
def test_a_writer_without_the_key_refuses_before_changing_anything(sealed_trail, tmp_path, command):
    before = _trail(sealed_trail)
    # Credentials that point nowhere: a command that got past the refusal would fail differently.
    env = {"TRUV_CLIENT_ID": "cid", "TRUV_SECRET": "s3cret-not-shown", "TRUV_BASE_URL": "http://127.0.0.1:9/v1/"}
    refused = monitor("--database", sealed_trail, *WRITERS[command], cwd=tmp_path, env=env, timeout=60)
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "MONITOR_AUDIT_KEY " in errors[0] and "MONITOR_AUDIT_KEY_FILE" in errors[0], errors
    assert "s3cret" not in refused.stdout + refused.stderr
    assert _trail(sealed_trail) == before  # no entry, no loan: nothing changed
    assert _verifies(sealed_trail)


def test_the_key_from_a_file_writes_a_keyed_entry(sealed_trail, tmp_path):
    key_file = tmp_path / "audit.key"
    key_file.write_text(KEY + "\n")
    env = {"MONITOR_AUDIT_KEY_FILE": str(key_file)}
    done = monitor("--database", sealed_trail, "loans", "import", "loans.csv", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert [loan for loan, _ in _trail(sealed_trail)[1]] == ["L1", "L2"]
    assert _verifies(sealed_trail)
    missing = monitor(
        "--database",
        sealed_trail,
        "loans",
        "import",
        "loans.csv",
        cwd=tmp_path,
        env={"MONITOR_AUDIT_KEY_FILE": str(tmp_path / "nope")},
    )
    assert missing.returncode == 2 and "MONITOR_AUDIT_KEY_FILE: cannot read" in missing.stderr


def test_an_unkeyed_trail_takes_entries_without_a_key(db_url, clock, tmp_path):
    services(db_url, clock, None).engine.dispose()  # migrated, as `monitor db upgrade` does
    (tmp_path / "loans.csv").write_text("loan_id,order_id\nL1,o1\n")
    assert cli(db_url, tmp_path, "loans", "import", "loans.csv", key=None).returncode == 0
    assert len(_trail(db_url)[0]) == 1


# -- purge: retention boundary, webhook bodies, a verifiable chain after it ------------------------


def old_and_new(db_url, clock, monkeypatch):
    """A keyed trail with entries from 30 months ago and from today, and webhook events of both ages."""
    svc = services(db_url, clock, None)
    monkeypatch.setenv("MONITOR_AUDIT_KEY", KEY)
    now = datetime.now(UTC)
    write_entries(svc, 1, at=now - timedelta(days=920))
    clock.set(now - timedelta(days=915))  # the key was adopted long ago: its entry is old too
    adopt_key(svc)
    write_entries(svc, 4, at=now - timedelta(days=910), kind="old")
    write_entries(svc, 3, at=now - timedelta(days=1), kind="new")
    with session(svc.engine) as s:
        for i, (age, state) in enumerate([(900, "applied"), (900, "invalid"), (900, "received"), (2, "applied")]):
            s.add(
                WebhookEvent(
                    webhook_id=f"w{i}",
                    event_type="order-status-updated",
                    received_at=now - timedelta(days=age),
                    state=state,
                    body='{"borrower": "PII"}',
                )
            )
    return svc


def webhook_ids(svc) -> list[str]:
    with session(svc.engine) as s:
        return sorted(s.execute(select(WebhookEvent.webhook_id)).scalars())


def test_purge_removes_old_entries_and_webhook_bodies_and_the_chain_verifies(db_url, clock, tmp_path, monkeypatch):
    svc = old_and_new(db_url, clock, monkeypatch)
    done = cli(db_url, tmp_path, "purge")
    assert done.returncode == 0, done.stderr
    assert "removed 6 audit entries and 2 webhook events" in done.stdout  # 1 + seal entry + 4 old
    assert "kept 1 webhook events not applied yet" in done.stdout
    assert webhook_ids(svc) == ["w2", "w3"]  # the unapplied one stays, and the recent one
    assert cli(db_url, tmp_path, "audit", "verify").returncode == 0
    with session(svc.engine) as s:
        (entry,) = s.execute(select(Event).where(Event.kind == "purge")).scalars().all()
    detail = json.loads(entry.detail)
    assert detail["webhook_events_removed"] == 2 and detail["forced"] is False
    again = cli(db_url, tmp_path, "purge")  # nothing more to remove: no error, nothing changes
    assert again.returncode == 0 and "removed 0 audit entries and 0 webhook events" in again.stdout


def test_purge_inside_retention_is_refused_unless_forced(db_url, clock, tmp_path, monkeypatch):
    svc = old_and_new(db_url, clock, monkeypatch)
    with session(svc.engine) as s:
        before = s.execute(select(Event.seq)).scalars().all()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    for day in (tomorrow, "2999-12-31"):  # never past now, --force or not (issue 25 point 11)
        future = cli(db_url, tmp_path, "purge", "--before", day, "--force")
        assert future.returncode == 2 and future.stderr.count("\n") == 1, future.stderr
        assert "--before" in future.stderr and "never purged past now" in future.stderr
    with session(svc.engine) as s:
        assert s.execute(select(Event.seq)).scalars().all() == before
    today = datetime.now(UTC).date().isoformat()
    refused = cli(db_url, tmp_path, "purge", "--before", today)
    assert refused.returncode == 2
    assert "later than the retention boundary" in refused.stderr and "--force" in refused.stderr
    with session(svc.engine) as s:
        assert s.execute(select(Event.seq)).scalars().all() == before
    assert len(webhook_ids(svc)) == 4
    forced = cli(db_url, tmp_path, "purge", "--before", today, "--force")
    assert forced.returncode == 0 and "removed 9 audit entries and 3 webhook events" in forced.stdout
    assert webhook_ids(svc) == ["w2"]
    checked = cli(db_url, tmp_path, "audit", "verify", "--json")
    assert checked.returncode == 0, checked.stderr
    result = json.loads(checked.stdout)
    assert result["ok"] and result["entries_checked"] == 1 and result["checkpoint"]["through_seq"] == 9


def test_purge_refuses_a_broken_chain_or_another_key(sqlite_url, clock, tmp_path, monkeypatch):
    svc = old_and_new(sqlite_url, clock, monkeypatch)
    wrong = cli(sqlite_url, tmp_path, "purge", key="not-the-key")
    assert wrong.returncode == 1 and "not purged" in wrong.stderr
    rewrite_unkeyed(svc, 3, detail="{}")
    broken = cli(sqlite_url, tmp_path, "purge")
    assert broken.returncode == 1 and "not purged" in broken.stderr and "entry 3" in broken.stderr
    assert len(webhook_ids(svc)) == 4  # nothing removed: the evidence stays
