"""`monitor audit verify`: the tamper-evident trail checked, and sealed with MONITOR_AUDIT_KEY when asked."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.context import (
    root_options,
)
from monitor.errors import InputError, MonitorError

if TYPE_CHECKING:
    from monitor.services import Context

audit_app = typer.Typer(help="The tamper-evident audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    seal: Annotated[
        bool,
        typer.Option(
            "--seal",
            help="Adopt MONITOR_AUDIT_KEY for a chain written without it: verify it, then key every later entry.",
        ),
    ] = False,
    adopt_key: Annotated[
        bool,
        typer.Option(
            "--adopt-key",
            help="With --seal and --force: adopt the key even though the trail shows it was keyed before.",
        ),
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="With --seal --adopt-key.")] = False,
) -> None:
    """Walk the hash chain; exit 1 naming the first problem (an entry edited or deleted, the newest entries
    removed, a wrong key, a keying gone that the seal file remembers). With MONITOR_AUDIT_KEY the keyed chain,
    its seal and the seal file are checked; without it, a chain that was never keyed is checked and reported
    as unkeyed, and a keyed one needs the key (exit 2)."""
    from monitor.core.readable import dumps
    from monitor.store.audit import audit_key

    key = audit_key()
    _check_options(key, seal=seal, adopt_key=adopt_key, force=force)
    c = root_options(ctx)
    result = _checked(c.context(), key, c.config_path, seal=seal, adopt_key=adopt_key)
    if result is None:  # sealed
        return
    if as_json:
        typer.echo(dumps(result, sort_keys=True))
    elif result["ok"]:
        typer.echo(_verified_line(result))
    _raise_unless_ok(result)


def _check_options(key: str | None, *, seal: bool, adopt_key: bool, force: bool) -> None:
    from monitor.errors import ConfigError
    from monitor.store.audit import KEY_ENV

    if (adopt_key or force) and not (seal and adopt_key and force):
        raise InputError("--adopt-key", "", "--adopt-key and --force go together, and only with --seal")
    if seal and key is None:
        raise ConfigError("environment", KEY_ENV, "not set; --seal keys the chain with it")


def _checked(
    services: Context, key: str | None, config_path: Path, *, seal: bool, adopt_key: bool
) -> Mapping[str, object] | None:
    """The chain walked and the seal file compared (and refreshed when the keyed chain is intact);
    None when `--seal` keyed a chain that had never been keyed."""
    from monitor.store.audit import verify
    from monitor.store.audit_seal import earlier_keying, read_seal_file, seal_file_path, seal_file_problem
    from monitor.store.db import read_only, session

    seal_path = seal_file_path(config_path)
    record = read_seal_file(seal_path)
    with session(read_only(services.engine)) as s:
        result = verify(s, key=key)
        traces = earlier_keying(s, record=record, path=seal_path) if seal else []
    if seal and result["reason"] == "unsealed":
        _refuse_if_keyed_before(traces, adopt_key=adopt_key)
        _seal_chain(services, key or "", (result["head_seq"], result["head_hash"]), seal_path)
        return None
    problem = seal_file_problem(record, result, key=key, path=seal_path)
    if problem is not None:
        return {**result, "ok": False, "reason": "seal_file", "message": problem}
    if result["ok"] and result["keyed_from"] is not None and key is not None:  # keyed: it has a first keyed entry
        from monitor.store.audit_seal import write_seal_file

        write_seal_file(
            seal_path,
            key=key,
            keyed_from=result["keyed_from"],
            head_seq=result["head_seq"],
            head_hash=result["head_hash"],
        )
    return result


def _refuse_if_keyed_before(traces: list[str], *, adopt_key: bool) -> None:
    if traces and not adopt_key:
        raise InputError(
            "--seal",
            "",
            f"not sealed: the trail was keyed before ({'; '.join(traces)}), so this chain without keying may be "
            "a forgery; adopt the key anyway only if you know why, with --seal --adopt-key --force",
        )


def _raise_unless_ok(result: Mapping[str, object]) -> None:
    """Exit 2 when the key is missing for a keyed chain; exit 1 naming the problem otherwise."""
    from monitor.errors import ConfigError
    from monitor.store.audit import KEY_ENV

    if result["reason"] == "key_required":
        raise ConfigError("environment", KEY_ENV, f"not set; {result['message']}")
    if not result["ok"]:
        label = "not verified" if result["reason"] in ("wrong_key", "unsealed") else "broken"
        raise MonitorError(f"audit chain {label}: {result['message']}")


def _verified_line(result: Mapping[str, object]) -> str:
    checkpoint = result["checkpoint"]
    where = f"checkpoint {checkpoint['through_seq']}" if isinstance(checkpoint, Mapping) and checkpoint else "the start"
    if result["keyed"]:
        return (
            f"audit chain intact: {result['entries_checked']} entries after {where}, keyed from entry "
            f"{result['keyed_from']} and sealed at entry {result['head_seq']} (checked with MONITOR_AUDIT_KEY)"
        )
    return (
        f"audit chain unkeyed: {result['entries_checked']} entries after {where} match their SHA-256 hashes, "
        "which anyone able to write to the database could recompute; set MONITOR_AUDIT_KEY and run "
        "`monitor audit verify --seal` to key it"
    )


def _seal_chain(services: Context, key: str, verified: tuple[int, str], seal_path: Path) -> None:
    """Key the chain verified (unkeyed) up to `verified` (its head's seq and hash), and write the seal file."""
    from monitor.store.audit import seal
    from monitor.store.audit_seal import write_seal_file
    from monitor.store.db import session

    with session(services.engine) as s:
        sealed = seal(s, key=key, now=services.clock.now(), verified_seq=verified[0], verified_hash=verified[1])
    write_seal_file(
        seal_path, key=key, keyed_from=sealed["keyed_from"], head_seq=sealed["head_seq"], head_hash=sealed["head_hash"]
    )
    typer.echo(
        f"audit chain sealed: {sealed['unkeyed_entries']} unkeyed entries verified and covered; every entry "
        f"from {sealed['keyed_from']} on is keyed with MONITOR_AUDIT_KEY (seal file {seal_path})"
    )
