"""A keyed trail forged by someone with database write access and no key (issue 25 point 5): the seal
row deleted and every entry rehashed plainly. The seal file beside the config remembers the keying, so
`audit verify` fails, and `audit verify --seal` refuses to adopt the key again without `--adopt-key --force`."""

from __future__ import annotations

import json
import stat

import pytest
from sqlalchemy import text

from monitor.core.audit import chain_hash
from monitor.store import audit
from monitor.store.db import make_engine, session
from tests.e2e.test_audit_key import KEY, cli, write_entries
from tests.helpers import services


def error_lines(done) -> list[str]:
    return [line for line in done.stderr.splitlines() if line.strip()]


@pytest.fixture
def keyed_on_the_cli(db_url, clock, tmp_path, monkeypatch):
    """3 plain entries, `audit verify --seal` on the command line, then 4 entries written with the key."""
    svc = services(db_url, clock, None)
    write_entries(svc, 3)
    sealed = cli(db_url, tmp_path, "audit", "verify", "--seal")
    assert sealed.returncode == 0, sealed.stderr
    monkeypatch.setenv("MONITOR_AUDIT_KEY", KEY)
    write_entries(svc, 4)
    monkeypatch.delenv("MONITOR_AUDIT_KEY")
    return svc


def forge(svc, *, hide_the_sealing_entry: bool = False) -> None:
    """Plain SQL, no key: delete the seal row and rehash every entry with SHA-256 as audit.py does for a
    plain entry, moving the head. Optionally also relabel the `audit_sealed` entry first."""
    with session(svc.engine) as s:
        if hide_the_sealing_entry:
            s.execute(text("UPDATE event SET kind = 'test' WHERE kind = 'audit_sealed'"))
        s.execute(text("DELETE FROM audit_head WHERE id = :seal"), {"seal": audit.SEAL_ROW})
    with session(svc.engine) as s:
        rows = list(audit._rows(s, 0, 10**9))  # typed as the verifier reads them
        prev = audit.GENESIS
        for row in rows:
            digest = chain_hash(prev, row)
            s.execute(
                text("UPDATE event SET prev_hash = :p, hash = :h WHERE seq = :seq"),
                {"p": prev, "h": digest, "seq": row["seq"]},
            )
            prev = digest
        s.execute(
            text("UPDATE audit_head SET seq = :seq, hash = :h WHERE id = :head"),
            {"seq": rows[-1]["seq"], "h": prev, "head": audit.HEAD_ROW},
        )


def keyed_in_db(db_url) -> bool:
    engine = make_engine(db_url)
    try:
        with session(engine) as s:
            return s.execute(text("SELECT count(*) FROM audit_head WHERE id = 2")).scalar_one() == 1
    finally:
        engine.dispose()


def test_seal_writes_a_0600_seal_file_without_the_key_and_verify_refreshes_it(keyed_on_the_cli, db_url, tmp_path):
    path = tmp_path / "monitor-audit.seal"
    mode = stat.S_IMODE(path.stat().st_mode)
    assert mode == 0o600, oct(mode)
    first = json.loads(path.read_text())
    assert first["keyed_from"] == 4 and first["head_seq"] == 4
    assert KEY not in path.read_text()
    ok = cli(db_url, tmp_path, "audit", "verify")
    assert ok.returncode == 0 and ok.stdout.startswith("audit chain intact: 8 entries"), ok.stderr
    refreshed = json.loads(path.read_text())
    assert refreshed["keyed_from"] == 4 and refreshed["head_seq"] == 8 and refreshed["mac"] != first["mac"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.parametrize("key", [KEY, None], ids=["with-the-key", "without-a-key"])
@pytest.mark.parametrize("hide", [False, True], ids=["plain-rehash", "sealing-entry-relabelled-too"])
def test_a_forged_unkeyed_chain_fails_verify(keyed_on_the_cli, db_url, tmp_path, key, hide):
    forge(keyed_on_the_cli, hide_the_sealing_entry=hide)
    for args in (("audit", "verify"), ("audit", "verify", "--json")):
        done = cli(db_url, tmp_path, *args, key=key)
        assert done.returncode == 1, (done.stdout, done.stderr)
        assert "intact" not in done.stdout and "unkeyed" not in done.stdout
        (line,) = error_lines(done)
        assert "keyed from entry 4" in line and "keying is gone" in line, line
        assert "--seal" not in line  # no hint ever suggests sealing a chain that failed verification
        assert KEY not in done.stdout + done.stderr
    assert json.loads(done.stdout)["ok"] is False


@pytest.mark.parametrize("hide", [False, True], ids=["plain-rehash", "sealing-entry-relabelled-too"])
def test_a_forged_chain_is_not_resealed_without_adopt_key_force(keyed_on_the_cli, db_url, tmp_path, hide):
    forge(keyed_on_the_cli, hide_the_sealing_entry=hide)
    before = (tmp_path / "monitor-audit.seal").read_text()
    refused = cli(db_url, tmp_path, "audit", "verify", "--seal")
    assert refused.returncode == 2, (refused.stdout, refused.stderr)
    (line,) = error_lines(refused)
    assert "keyed before" in line and "--adopt-key --force" in line and "seal file" in line, line
    assert ("records an earlier sealing" in line) is not hide
    assert not keyed_in_db(db_url) and (tmp_path / "monitor-audit.seal").read_text() == before
    for partial in (["--adopt-key"], ["--force"]):
        half = cli(db_url, tmp_path, "audit", "verify", "--seal", *partial)
        assert half.returncode == 2 and len(error_lines(half)) == 1 and not keyed_in_db(db_url), half.stderr
    still = cli(db_url, tmp_path, "audit", "verify")
    assert still.returncode == 1 and "keying is gone" in still.stderr
    # The operator's explicit decision, knowing why: the key is adopted again and the file rewritten.
    forced = cli(db_url, tmp_path, "audit", "verify", "--seal", "--adopt-key", "--force")
    assert forced.returncode == 0 and "keyed with MONITOR_AUDIT_KEY" in forced.stdout, forced.stderr
    assert keyed_in_db(db_url) and cli(db_url, tmp_path, "audit", "verify").returncode == 0


def test_a_trace_in_the_database_alone_also_needs_adopt_key_force(keyed_on_the_cli, db_url, tmp_path):
    """The seal file lost (another host, a fresh config folder): the `audit_sealed` entry still says."""
    forge(keyed_on_the_cli)
    (tmp_path / "monitor-audit.seal").unlink()
    refused = cli(db_url, tmp_path, "audit", "verify", "--seal")
    assert refused.returncode == 2 and "entry 4 records an earlier sealing" in refused.stderr, refused.stderr
    assert not keyed_in_db(db_url)


def test_the_seal_file_path_comes_from_the_environment(db_url, clock, tmp_path):
    services(db_url, clock, None).engine.dispose()
    elsewhere = tmp_path / "kept" / "trail.seal"
    elsewhere.parent.mkdir()
    env = {"MONITOR_AUDIT_KEY": KEY, "MONITOR_AUDIT_SEAL_FILE": str(elsewhere)}
    from tests.e2e.test_cli import monitor

    sealed = monitor("--database", db_url, "audit", "verify", "--seal", cwd=tmp_path, env=env)
    assert sealed.returncode == 0 and str(elsewhere) in sealed.stdout, sealed.stderr
    assert elsewhere.exists() and not (tmp_path / "monitor-audit.seal").exists()
    assert stat.S_IMODE(elsewhere.stat().st_mode) == 0o600


def test_a_seal_file_not_written_with_the_key_fails(keyed_on_the_cli, db_url, tmp_path):
    path = tmp_path / "monitor-audit.seal"
    data = json.loads(path.read_text())
    path.write_text(json.dumps(data | {"mac": "0" * 64}))
    done = cli(db_url, tmp_path, "audit", "verify")
    assert done.returncode == 1 and "intact" not in done.stdout
    (line,) = error_lines(done)
    assert "seal file" in line and "not written with this MONITOR_AUDIT_KEY" in line


def test_an_unkeyed_chain_with_a_key_given_fails_without_hinting_at_seal(db_url, clock, tmp_path):
    svc = services(db_url, clock, None)
    write_entries(svc, 2)
    done = cli(db_url, tmp_path, "audit", "verify")
    assert done.returncode == 1 and "--seal" not in done.stderr, done.stderr
