"""Every `monitor ...` command line in deploy/ must be one the CLI accepts, and the files must parse."""

from __future__ import annotations

import configparser
import json
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
import typer
import yaml

from monitor.cli import app

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def parse_cli(args: list[str]) -> None:
    """Parse like the real CLI, without running: raises on an unknown command, option or bad value."""
    command = typer.main.get_command(app)
    ctx = command.make_context("monitor", list(args))
    while hasattr(command, "resolve_command"):
        rest = (
            [*ctx._protected_args, *ctx.args] if hasattr(ctx, "_protected_args") else [*ctx.protected_args, *ctx.args]
        )
        if not rest:
            break
        name, command, rest = command.resolve_command(ctx, rest)
        ctx = command.make_context(name, rest, parent=ctx)


def command_lines() -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    crontab = (DEPLOY / "crontab").read_text()
    for n, line in enumerate(crontab.splitlines(), 1):
        if line.strip() and not line.startswith("#"):
            words = shlex.split(line.rsplit("&&", 1)[1])  # the command after `cd`, `set -a` and sourcing
            found.append((f"crontab:{n}", _after_binary(_until_redirect(words))))
    for unit in sorted((DEPLOY / "systemd").glob("*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read(unit)
        found.append((unit.name, _after_binary(shlex.split(parser["Service"]["ExecStart"]))))
    docker = (DEPLOY / "Dockerfile").read_text()
    found.append(("Dockerfile CMD", json.loads(re.search(r"^CMD (\[.*\])$", docker, re.M).group(1))))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        if "command" in service:
            found.append((f"compose {name}", service["command"]))
    for manifest in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            spec = doc.get("spec", {})
            pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec") or spec.get(
                "template", {}
            ).get("spec")
            for container in (pod or {}).get("initContainers", []) + (pod or {}).get("containers", []):
                found.append((f"{manifest.name} {container['name']}", container["args"]))
    return found


def _until_redirect(words: list[str]) -> list[str]:
    out = []
    for w in words:
        if w.startswith((">", "2>")):
            break
        out.append(w)
    return out


def _after_binary(words: list[str]) -> list[str]:
    assert words[0].endswith("/monitor") or words[0] == "monitor", words
    return words[1:]


CASES = command_lines()


@pytest.mark.parametrize(("where", "args"), CASES, ids=[w for w, _ in CASES])
def test_deploy_command_lines_parse(where, args):
    parse_cli(args)


def test_a_wrong_flag_would_be_caught():
    with pytest.raises(Exception, match="--not-a-flag"):
        parse_cli(["run", "nightly", "--not-a-flag"])


def test_every_file_parses():
    for path in DEPLOY.rglob("*.yaml"):
        assert list(yaml.safe_load_all(path.read_text())), path
    cronjob = yaml.safe_load((DEPLOY / "kubernetes" / "cronjob.yaml").read_text())
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid" and cronjob["spec"]["startingDeadlineSeconds"] > 0
    timer = configparser.ConfigParser()
    timer.read(DEPLOY / "systemd" / "monitor-nightly.timer")
    assert timer["Timer"]["Persistent"] == "true"
    assert re.search(
        r"^USER 10001(:10001)?$", (DEPLOY / "Dockerfile").read_text(), re.M
    )  # numeric: runAsNonRoot can check it


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not on this machine")
def test_systemd_units_verify():
    units = sorted(map(str, (DEPLOY / "systemd").glob("monitor-*")))
    result = subprocess.run(["systemd-analyze", "verify", *units], capture_output=True, text=True)
    # Only the installed binary is missing here (it exists on a deployed host); anything else is an error.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "/opt/monitor/bin/monitor is not executable" not in line
    ]
    assert not problems, problems


# -- hardening (issue 11, point 15) -----------------------------------------------------------------

ROOT = DEPLOY.parent
HARDENING = {
    "UMask": "0077",
    "NoNewPrivileges": "yes",
    "ProtectSystem": "strict",
    "PrivateTmp": "yes",
    "ProtectHome": "yes",
    "PrivateDevices": "yes",
    "RestrictSUIDSGID": "yes",
    "CapabilityBoundingSet": "",
}


def test_the_base_image_is_pinned_by_digest_and_installs_are_hash_checked():
    docker = (DEPLOY / "Dockerfile").read_text()
    froms = re.findall(r"^FROM (\S+)", docker, re.M)
    assert froms and all(re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", f) for f in froms), froms
    assert len(set(froms)) == 1  # build and runtime stages on the same image
    installs = [line for line in docker.splitlines() if "pip install" in line]
    for line in installs:
        assert "--require-hashes" in line or "--no-index" in line, line  # nothing unpinned from the network
    for lock in re.findall(r"-r (\S+\.lock)", docker):
        assert (DEPLOY / lock).exists(), lock


def _lock(name: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes), every requirement pinned with == and hashed."""
    text = (DEPLOY / name).read_text()
    pins: dict[str, tuple[str, int]] = {}
    for block in re.split(r"\n(?=\S)", text):
        if block.startswith("#") or not block.strip():
            continue
        match = re.match(r"([A-Za-z0-9_.-]+)==(\S+)", block)
        assert match, block
        hashes = len(re.findall(r"--hash=sha256:[0-9a-f]{64}", block))
        assert hashes, f"{match.group(1)} has no hash"
        pins[match.group(1).lower().replace("_", "-")] = (match.group(2), hashes)
    return pins


def test_the_lock_covers_every_dependency_within_its_range():
    import tomllib

    from packaging.requirements import Requirement

    pins = _lock("requirements.lock")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for spec in project["dependencies"]:
        req = Requirement(spec)
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{name} is not in deploy/requirements.lock"
        assert req.specifier.contains(pins[name][0]), (spec, pins[name][0])
    build = _lock("requirements-build.lock")
    backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    for spec in backend:
        req = Requirement(spec)
        assert req.specifier.contains(build[req.name.lower()][0]), spec


def _pods() -> list[tuple[str, dict]]:
    pods = []
    for manifest in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            spec = doc.get("spec", {})
            pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec") or spec.get(
                "template", {}
            ).get("spec")
            if pod:
                pods.append((f"{manifest.name} {doc['kind']}", pod))
    return pods


@pytest.mark.parametrize(("where", "pod"), _pods(), ids=[w for w, _ in _pods()])
def test_kubernetes_pods_are_locked_down(where, pod):
    ctx = pod["securityContext"]
    assert ctx["runAsNonRoot"] is True and ctx["runAsUser"] != 0
    assert ctx["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod.get("automountServiceAccountToken") is False
    for container in pod.get("initContainers", []) + pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["capabilities"] == {"drop": ["ALL"]}
        for kind in ("requests", "limits"):
            assert set(container["resources"][kind]) >= {"cpu", "memory"}, (where, kind)
        # The shared ledger's URL (with its password) comes from a Secret, never from the manifest.
        env = {e["name"]: e for e in container.get("env", [])}
        assert env["MONITOR_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["key"]
        assert all("value" not in e for e in env.values()), where


@pytest.mark.parametrize("unit", sorted(p.name for p in (DEPLOY / "systemd").glob("*.service")))
def test_systemd_services_are_hardened(unit):
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(DEPLOY / "systemd" / unit)
    service = parser["Service"]
    for key, value in HARDENING.items():
        assert service.get(key) == value, (unit, key, service.get(key))
    assert "/var/lib/monitor" in service["ReadWritePaths"].split()
    assert service["WorkingDirectory"] == "/var/lib/monitor" and service["StateDirectory"] == "monitor"


def test_compose_holds_no_password():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for name, service in compose["services"].items():
        env = service.get("environment", {})
        for key, value in env.items():
            if "PASSWORD" in key:
                assert re.fullmatch(r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", value), (name, key, value)
            assert not re.search(r"://[^/@\s]*:[^/@\s]+@", str(value)), (name, key, value)  # user:password@
    ignored = (ROOT / ".gitignore").read_text().splitlines()
    assert "deploy/env" in ignored and "deploy/.env" in ignored
