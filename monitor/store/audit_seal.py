"""The seal file: the keyed chain's seal kept where database write access alone cannot erase it.

Someone who can write to the database but does not hold MONITOR_AUDIT_KEY can delete the seal row and
rehash every entry plainly: the database then shows a chain that was never keyed. The seal file, beside
the config (MONITOR_AUDIT_SEAL_FILE overrides the path), remembers that the trail was keyed from entry N
and the head at the last verify, under an HMAC with the key; `audit verify` compares the database with it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from monitor.core.audit import same, seal_file_mac
from monitor.errors import ConfigError
from monitor.store.tables import audit_checkpoint_table, event_table

SEAL_FILE_ENV = "MONITOR_AUDIT_SEAL_FILE"
SEAL_FILE_NAME = "monitor-audit.seal"


@dataclass(frozen=True, slots=True)
class SealRecord:
    keyed_from: int
    head_seq: int
    head_hash: str
    mac: str


def seal_file_path(config_path: Path, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(SEAL_FILE_ENV) or config_path.parent / SEAL_FILE_NAME)


def read_seal_file(path: Path) -> SealRecord | None:
    """None when there is no file; a file that cannot be read or parsed is a ConfigError (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), "", f"cannot read the audit seal file: {getattr(exc, 'strerror', exc)}") from None
    try:
        data = json.loads(text)
        return SealRecord(
            keyed_from=int(data["keyed_from"]),
            head_seq=int(data["head_seq"]),
            head_hash=str(data["head_hash"]),
            mac=str(data["mac"]),
        )
    except (ValueError, KeyError, TypeError):
        raise ConfigError(str(path), "", "not an audit seal file (expected the JSON `audit verify` writes)") from None


def write_seal_file(path: Path, *, key: str, keyed_from: int, head_seq: int, head_hash: str) -> None:
    """Replace the file at once (a temporary file renamed over it), mode 0600."""
    mac = seal_file_mac(key, keyed_from=keyed_from, head_seq=head_seq, head_hash=head_hash)
    body = json.dumps(
        {"version": 1, "keyed_from": keyed_from, "head_seq": head_seq, "head_hash": head_hash, "mac": mac},
        sort_keys=True,
    )
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(body + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigError(str(path), "", f"cannot write the audit seal file: {exc.strerror}") from None


def seal_file_problem(
    record: SealRecord | None, result: Mapping[str, Any], *, key: str | None, path: Path
) -> str | None:
    """What the seal file says is wrong with a verification's result, or None."""
    if record is None:
        return None
    if not result["keyed"]:
        return (
            f"the trail was keyed from entry {record.keyed_from} (seal file {path}) and the keying is gone: "
            "the seal was removed and the chain rewritten or replaced without the key"
        )
    if not result["ok"]:
        return None  # the chain's own failure (a break, a wrong key) says more
    if result["keyed_from"] != record.keyed_from:
        return f"the trail is keyed from entry {result['keyed_from']}, the seal file {path} says {record.keyed_from}"
    if result["head_seq"] < record.head_seq:
        return f"the head went back from entry {record.head_seq} (seal file {path}) to {result['head_seq']}"
    if key is not None:
        expected = seal_file_mac(
            key, keyed_from=record.keyed_from, head_seq=record.head_seq, head_hash=record.head_hash
        )
        if not same(expected, record.mac):
            return f"the seal file {path} was not written with this MONITOR_AUDIT_KEY (or was edited)"
    return None


def earlier_keying(session: Session, *, record: SealRecord | None, path: Path) -> list[str]:
    """Traces that the trail was keyed before: a seal file, an `audit_sealed` entry, a signed checkpoint."""
    traces = [f"the seal file {path} says it was keyed from entry {record.keyed_from}"] if record else []
    sealed = session.execute(select(func.min(event_table.c.seq)).where(event_table.c.kind == "audit_sealed")).scalar()
    if sealed is not None:
        traces.append(f"entry {sealed} records an earlier sealing")
    if session.execute(select(func.count()).select_from(audit_checkpoint_table)).scalar_one():
        traces.append("a purge checkpoint was signed with a key")
    return traces
