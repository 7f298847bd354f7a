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
            words = shlex.split(line.split("&&", 1)[1])
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
            for container in (pod or {}).get("containers", []):
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
    assert "USER monitor" in (DEPLOY / "Dockerfile").read_text()


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
