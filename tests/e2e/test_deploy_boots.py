"""Every service and unit in deploy/ boots (issue 24): its exact command line, run here with the files and
the environment its manifest gives it, mapped into a temp directory, against the sandbox over loopback.

Docker, Kubernetes, systemd and cron are not run: their files are read the way each would read them
(compose's `env_file`, `environment` and volumes; a pod's init containers, args, env, envFrom and volume
mounts; a unit's EnvironmentFile, WorkingDirectory and ExecStart; a crontab line through `sh -c` with
cron's bare environment), and every absolute path they name is mapped under the temp root. The audit
trail is sealed before the services start, so a service that does not get MONITOR_AUDIT_KEY refuses
(exit 2) instead of booting. One-shot commands must exit 0; servers must answer their health check.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
import yaml

from monitor.clock import SystemClock
from monitor.sandbox import EmployerSpec, Sandbox
from monitor.store import audit
from monitor.store.db import make_engine, session, upgrade
from tests.e2e.test_cli import GOOD
from tests.live import served

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KEY = "deploy-test-audit-key"
SECRETS = {
    "TRUV_CLIENT_ID": "deploy-test-client",
    "TRUV_SECRET": "sandbox-deploy-test-secret",
    "MONITOR_AUDIT_KEY": KEY,
}
BOOT_DEADLINE = 90.0  # seconds for a server to answer its health check (2 shared cores)
ONESHOT_TIMEOUT = 180.0
# Where the manifests put things; each is mapped under the temp root.
MAPPED = ("/etc/", "/var/", "/opt/", "/run/", "/tmp/")
ABSOLUTE = re.compile(r"(?<![\w:/.])/(?:etc|var|opt|run|tmp)(?:/[^\s;&|<>'\"]*)?")


@dataclass
class Service:
    where: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    oneshot: bool
    health_path: str = "/healthz"
    ports: list[int] = field(default_factory=list)


class Root:
    """A temp directory standing for the machine (or container) filesystem the manifests describe."""

    def __init__(self, base: Path) -> None:
        self.base = base
        binary = self.path("/opt/monitor/bin/monitor")
        binary.parent.mkdir(parents=True, exist_ok=True)
        binary.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m monitor "$@"\n')
        binary.chmod(0o755)

    def path(self, absolute: str) -> Path:
        assert absolute.startswith("/"), absolute
        return self.base / absolute.lstrip("/")

    def map_text(self, text: str) -> str:
        """Every absolute path in `text` (a word, a URL-free value or a shell line) moved under the root."""
        return ABSOLUTE.sub(lambda m: str(self.path(m.group(0))), text)

    def place(self, absolute: str, content: str) -> Path:
        target = self.path(absolute)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        return target


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def local_argv(root: Root, argv: list[str], service: Service) -> list[str]:
    """Paths mapped, `--host 0.0.0.0` on loopback, each `--port N` on a free port of its own."""
    out: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--port":
            port = free_port()
            service.ports.append(port)
            next(words)
            out += [word, str(port)]
        elif word == "--host":
            next(words)
            out += [word, "127.0.0.1"]
        else:
            out.append(root.map_text(word) if word.startswith("/") else word)
    return out


def env_file(text: str) -> dict[str, str]:
    """KEY=value lines as compose's env_file, systemd's EnvironmentFile and kubectl --from-env-file read them."""
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        key, sep, value = line.partition("=")
        assert sep and re.fullmatch(r"[A-Z_][A-Z0-9_]*", key), f"not a KEY=value line: {line!r}"
        values[key] = value
    return values


def deploy_env(sandbox_url: str) -> str:
    """deploy/env as a lender fills it from env.example: every listed secret given a value, Truv pointed
    at the sandbox (what TRUV_BASE_URL is for)."""
    example = env_file((DEPLOY / "env.example").read_text())
    assert set(SECRETS) <= set(example), f"env.example must list {sorted(set(SECRETS) - set(example))}"
    filled = {**example, **SECRETS, "TRUV_BASE_URL": sandbox_url}
    return "".join(f"{k}={v}\n" for k, v in filled.items())


def dockerfile() -> tuple[list[str], list[str], dict[str, str], str]:
    """ENTRYPOINT, CMD, ENV and WORKDIR of the runtime image."""
    text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
    runtime = text[text.rindex("\nFROM ") :]
    entry = json.loads(re.search(r"^ENTRYPOINT (\[.*\])$", runtime, re.M).group(1))
    cmd = json.loads(re.search(r"^CMD (\[.*\])$", runtime, re.M).group(1))
    env: dict[str, str] = {}
    for line in re.findall(r"^ENV (.*)$", runtime, re.M):
        for word in shlex.split(line):
            key, _, value = word.partition("=")
            env[key] = value
    workdir = re.findall(r"^WORKDIR (\S+)$", runtime, re.M)[-1]
    return entry, cmd, env, workdir


def base_env(root: Root) -> dict[str, str]:
    """What any process starts with here: no TRUV_/MONITOR_ variable of the developer's."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": str(root.path("/var/lib/monitor")), "LANG": "C.UTF-8"}


def container(root: Root, where: str, argv: list[str], env: dict[str, str], *, oneshot: bool) -> Service:
    entry, _cmd, image_env, workdir = dockerfile()
    assert entry == ["monitor"], entry
    service = Service(where=where, argv=[], env={}, cwd=root.path(workdir), oneshot=oneshot)
    service.cwd.mkdir(parents=True, exist_ok=True)
    merged = {**base_env(root), **image_env, **env}
    service.env = {k: root.map_text(v) if v.startswith("/") else v for k, v in merged.items()}
    service.argv = [str(root.path("/opt/monitor/bin/monitor")), *local_argv(root, argv, service)]
    return service


# -- compose ----------------------------------------------------------------------------------------


def compose_services(root: Root, project: Path, db_url: str) -> list[Service]:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    _entry, cmd, _env, _workdir = dockerfile()
    found = []
    for name, spec in compose["services"].items():
        if spec.get("image") != "monitor":
            continue
        env: dict[str, str] = {}
        files = spec.get("env_file", [])
        for item in [files] if isinstance(files, str) else files:
            env.update(env_file((project / "deploy" / item).read_text()))
        for key, value in (spec.get("environment") or {}).items():
            env[key] = re.sub(r"\$\{POSTGRES_PASSWORD:\?[^}]*\}", "unused-with-trust-auth", str(value))
        assert env.get("MONITOR_DATABASE_URL", "").startswith("postgresql"), (name, "needs the shared Postgres")
        env["MONITOR_DATABASE_URL"] = db_url  # the compose network's `postgres`, here the test's server
        for volume in spec.get("volumes", []):
            source, target = volume.split(":")[:2]
            if source.startswith((".", "/")):
                content = (project / "deploy" / source).resolve().read_text()
                root.place(target, content)
        argv = spec.get("command", cmd)
        found.append(container(root, f"compose {name}", argv, env, oneshot="--port" not in argv))
    return found


def test_compose_runs_the_console_and_mounts_jobs_yaml_everywhere():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    monitors = {n: s for n, s in compose["services"].items() if s.get("image") == "monitor"}
    assert any(s.get("command", [None])[0] == "console" for s in monitors.values())
    for name, spec in monitors.items():
        assert any(v.endswith(":/etc/monitor/jobs.yaml:ro") for v in spec.get("volumes", [])), name
        assert spec.get("env_file") == "env", name  # one place: deploy/env


# -- kubernetes -------------------------------------------------------------------------------------


def kubernetes_services(root: Root, secrets: dict[str, dict[str, str]], maps: dict[str, dict[str, str]]) -> list:
    found = []
    for manifest in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            spec = doc.get("spec", {})
            pod = spec.get("jobTemplate", {}).get("spec", {}).get("template", {}).get("spec") or spec.get(
                "template", {}
            ).get("spec")
            if not pod:
                continue
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            batch = doc["kind"] in ("CronJob", "Job")
            containers = [(c, True) for c in pod.get("initContainers", [])]
            containers += [(c, batch) for c in pod["containers"]]
            for spec_c, oneshot in containers:
                env: dict[str, str] = {}
                for source in spec_c.get("envFrom", []):
                    if "secretRef" in source:
                        env.update(secrets[source["secretRef"]["name"]])
                    else:
                        env.update(maps[source["configMapRef"]["name"]])
                for item in spec_c.get("env", []):
                    if "value" in item:
                        env[item["name"]] = item["value"]
                    else:
                        ref = item["valueFrom"]["secretKeyRef"]
                        env[item["name"]] = secrets[ref["name"]][ref["key"]]
                for mount in spec_c.get("volumeMounts", []):
                    volume = volumes[mount["name"]]
                    root.path(mount["mountPath"]).mkdir(parents=True, exist_ok=True)
                    for key, content in (maps[volume["configMap"]["name"]] if "configMap" in volume else {}).items():
                        root.place(f"{mount['mountPath']}/{key}", content)
                argv = spec_c.get("command", [])[1:] + spec_c["args"] if "command" in spec_c else spec_c["args"]
                service = container(root, f"{manifest.name} {spec_c['name']}", argv, env, oneshot=oneshot)
                probe = spec_c.get("readinessProbe", {}).get("httpGet", {})
                service.health_path = probe.get("path", "/healthz")
                found.append(service)
    return found


# -- systemd and cron (one host: the same /etc/monitor/env and /var/lib/monitor) -----------------------


def unit(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser["Service"]


def systemd_services(root: Root) -> list[Service]:
    found = []
    for path in sorted((DEPLOY / "systemd").glob("*.service")):
        spec = unit(path)
        env = base_env(root)
        for name in spec.get("EnvironmentFile", "").split():
            env.update(env_file(root.path(name.lstrip("-")).read_text()))
        cwd = root.path(spec.get("WorkingDirectory", "/"))
        if spec.get("StateDirectory"):
            root.path(f"/var/lib/{spec['StateDirectory']}").mkdir(parents=True, exist_ok=True)
        for writable in spec.get("ReadWritePaths", "").split():
            root.path(writable.lstrip("-")).mkdir(parents=True, exist_ok=True)
        service = Service(where=path.name, argv=[], env=env, cwd=cwd, oneshot=spec.get("Type") == "oneshot")
        words = shlex.split(spec["ExecStart"])
        service.argv = [root.map_text(words[0]), *local_argv(root, words[1:], service)]
        found.append(service)
    return found


def cron_services(root: Root) -> list[Service]:
    found = []
    for n, line in enumerate((DEPLOY / "crontab").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        command = line.split(None, 5)[5]
        for absolute in ABSOLUTE.findall(command):  # the folders an admin creates for it
            root.path(absolute).parent.mkdir(parents=True, exist_ok=True)
        for folder in re.findall(r"\bcd (/\S+)", command):
            root.path(folder).mkdir(parents=True, exist_ok=True)
        # cron's own environment: no variable of ours; whatever monitor gets comes through the line.
        env = {"PATH": "/usr/bin:/bin", "HOME": str(root.base), "SHELL": "/bin/sh", "LOGNAME": "monitor"}
        found.append(
            Service(
                where=f"crontab:{n}",
                argv=["/bin/sh", "-c", root.map_text(command)],
                env=env,
                cwd=root.base,
                oneshot=True,
            )
        )
    return found


# -- running them ---------------------------------------------------------------------------------


@pytest.fixture
def sandbox_url() -> Iterator[tuple[Sandbox, str]]:
    sandbox = Sandbox(seed=24, clock=SystemClock(), completion_delay=0.0)
    with served(sandbox) as url:
        yield sandbox, url


def loans_csv(sandbox: Sandbox) -> str:
    now = SystemClock().now()
    rows = ["loan_id,order_id,gse,data_as_of"]
    for i in range(3):
        order = sandbox.add_order(
            order_number=f"D{i}",
            employers=[EmployerSpec(access_token=f"deploy-token-{i}")],
            created_at=now - timedelta(days=90),
        )
        rows.append(f"D{i},{order['id']},false,{(now - timedelta(days=40)).isoformat()}")
    return "\n".join(rows) + "\n"


def seal(db_url: str, csv: Path) -> None:
    """What a lender has done before: loans imported, the trail keyed (`audit verify --seal`)."""
    from monitor.loans_file import read_rows
    from monitor.store.loan_import import import_loans

    engine = make_engine(db_url)
    try:
        upgrade(engine)
        now = SystemClock().now()
        with session(engine) as s:
            import_loans(s, read_rows(csv), now=now, full_snapshot=False, source=str(csv))
            audit.append(s, at=now, kind="loans_imported", detail={"file": csv.name})
        with session(engine) as s:
            checked = audit.verify(s, key=KEY)
        assert checked["reason"] == "unsealed", checked
        with session(engine) as s:
            audit.seal(s, key=KEY, now=now, verified_seq=checked["head_seq"], verified_hash=checked["head_hash"])
    finally:
        engine.dispose()


def chain_ok(db_url: str) -> dict:
    engine = make_engine(db_url)
    try:
        with session(engine) as s:
            return audit.verify(s, key=KEY)
    finally:
        engine.dispose()


def run_oneshot(service: Service) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        service.argv, env=service.env, cwd=service.cwd, capture_output=True, text=True, timeout=ONESHOT_TIMEOUT
    )
    assert done.returncode == 0, f"{service.where}: exit {done.returncode}\n{done.stderr[-3000:]}"
    return done


def boot_servers(servers: list[Service], logs: Path) -> None:
    """Start every server, then wait (bounded) for each health check to answer 200; stop them all."""
    procs: list[tuple[Service, subprocess.Popen[bytes], Path]] = []
    try:
        for service in servers:
            assert service.ports, f"{service.where}: no --port to probe"
            log = logs / f"{re.sub(r'[^a-z0-9]+', '-', service.where.lower())}.log"
            with log.open("wb") as handle:
                proc = subprocess.Popen(
                    service.argv, env=service.env, cwd=service.cwd, stdout=handle, stderr=subprocess.STDOUT
                )
            procs.append((service, proc, log))
        deadline = time.monotonic() + BOOT_DEADLINE
        for service, proc, log in procs:
            url = f"http://127.0.0.1:{service.ports[0]}{service.health_path}"
            last: object = None
            while True:
                if proc.poll() is not None:
                    pytest.fail(f"{service.where} exited {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    last = httpx.get(url, timeout=2).status_code
                    if last == 200:
                        break
                except httpx.TransportError as exc:
                    last = exc
                if time.monotonic() > deadline:
                    pytest.fail(f"{service.where}: {url} did not answer 200 ({last}):\n{log.read_text()[-3000:]}")
                time.sleep(0.1)  # polling a socket, not waiting for a time rule
    finally:
        for _service, proc, _log in procs:
            proc.terminate()
        for _service, proc, _log in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def boot(services: list[Service], db_url: str, csv: Path, logs: Path) -> list[subprocess.CompletedProcess[str]]:
    """One-shots that come first (migrations), the trail sealed, the rest of the one-shots, then the servers."""
    first = [s for s in services if s.oneshot and "upgrade" in s.argv]
    for service in first:
        run_oneshot(service)
    seal(db_url, csv)
    done = [run_oneshot(s) for s in services if s.oneshot and s not in first]
    boot_servers([s for s in services if not s.oneshot], logs)
    checked = chain_ok(db_url)
    assert checked["ok"], checked  # every service wrote with the key
    return done


def test_compose_services_boot(tmp_path, pg_url, sandbox_url):
    sandbox, url = sandbox_url
    project = tmp_path / "project"
    (project / "deploy").mkdir(parents=True)
    (project / "deploy" / "env").write_text(deploy_env(url))
    (project / "jobs.yaml").write_text(GOOD)
    csv = tmp_path / "loans.csv"
    csv.write_text(loans_csv(sandbox))
    root = Root(tmp_path / "root")
    services = compose_services(root, project, pg_url)
    names = {s.where for s in services}
    assert {"compose migrate", "compose daemon", "compose receiver", "compose console"} <= names, names
    for service in services:
        assert service.env.get("MONITOR_AUDIT_KEY") == KEY and service.env.get("TRUV_SECRET"), service.where
    boot(services, pg_url, csv, tmp_path)


def test_kubernetes_pods_boot(tmp_path, pg_url, sandbox_url):
    sandbox, url = sandbox_url
    csv = tmp_path / "loans.csv"
    csv.write_text(loans_csv(sandbox))
    root = Root(tmp_path / "root")
    # `kubectl create secret generic monitor-env --from-env-file=deploy/env`, as cronjob.yaml says.
    header = (DEPLOY / "kubernetes" / "cronjob.yaml").read_text()
    assert "--from-env-file=deploy/env" in header and "create configmap monitor-jobs --from-file=jobs.yaml" in header
    secrets = {"monitor-env": env_file(deploy_env(url)), "monitor-database": {"url": pg_url}}
    services = kubernetes_services(root, secrets, {"monitor-jobs": {"jobs.yaml": GOOD}})
    mains = {s.where for s in services if "migrate" not in s.where}
    assert mains == {"cronjob.yaml monitor", "receiver.yaml receiver", "console.yaml console"}, mains
    done = boot(services, pg_url, csv, tmp_path)
    (nightly,) = [d for d in done if "run" in d.args]
    assert json.loads(nightly.stdout)["submitted"] == 3  # the credentials reached Truv (the sandbox)


def test_systemd_units_and_the_crontab_boot(tmp_path, sandbox_url):
    sandbox, url = sandbox_url
    root = Root(tmp_path / "root")
    root.place("/etc/monitor/env", deploy_env(url))
    root.place("/etc/monitor/jobs.yaml", GOOD)
    csv = tmp_path / "loans.csv"
    csv.write_text(loans_csv(sandbox))
    services = systemd_services(root) + cron_services(root)
    cwd = {s.cwd for s in services if s.where.endswith(".service")}
    assert cwd == {root.path("/var/lib/monitor")}, cwd
    db_url = f"sqlite:///{root.path('/var/lib/monitor/monitor.db')}"  # the SQLite default in WorkingDirectory
    done = boot(services, db_url, csv, tmp_path)
    nightly = json.loads(done[0].stdout)  # monitor-nightly.service
    assert nightly["status"] == "finished" and nightly["submitted"] == 3, nightly
    cron_out = root.path("/var/log/monitor/nightly.jsonl").read_text()
    assert json.loads(cron_out)["status"] == "finished", cron_out
    assert root.path("/var/lib/node_exporter/textfile/monitor.prom").exists()


def test_every_monitor_service_gets_its_secrets_and_jobs_yaml_from_one_place():
    """compose: deploy/env; Kubernetes: the Secret monitor-env and the ConfigMap monitor-jobs; systemd and
    cron: /etc/monitor/env (EnvironmentFile=, `set -a`)."""
    refs = set()
    for manifest in sorted((DEPLOY / "kubernetes").glob("*.yaml")):
        for doc in yaml.safe_load_all(manifest.read_text()):
            pod = (
                (doc.get("spec", {}).get("jobTemplate", {}).get("spec", {}) or doc.get("spec", {}))
                .get("template", {})
                .get("spec")
            )
            for c in (pod or {}).get("initContainers", []) + (pod or {}).get("containers", []):
                refs.add(tuple(e["secretRef"]["name"] for e in c["envFrom"]))
                assert {"name": "config", "mountPath": "/etc/monitor", "readOnly": True} in c["volumeMounts"]
            if pod:
                assert {v["name"]: v for v in pod["volumes"]}["config"]["configMap"] == {"name": "monitor-jobs"}
    assert refs == {("monitor-env",)}, refs
    files = {unit(p).get("EnvironmentFile") for p in (DEPLOY / "systemd").glob("*.service")}
    assert files == {"/etc/monitor/env"}, files
    for line in (DEPLOY / "crontab").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            assert "set -a && . /etc/monitor/env && set +a" in line, line


def test_a_plain_env_file_sourced_without_set_a_exports_nothing(tmp_path):
    """Why the crontab needs `set -a` (issue 24, blocker 2): the child sees none of the file's variables."""
    (tmp_path / "env").write_text("TRUV_CLIENT_ID=from-the-file\n")
    script = f". {tmp_path}/env && env"
    plain = subprocess.run(["/bin/sh", "-c", script], env={"PATH": os.defpath}, capture_output=True, text=True)
    exported = subprocess.run(
        ["/bin/sh", "-c", f"set -a && {script}"], env={"PATH": os.defpath}, capture_output=True, text=True
    )
    assert "TRUV_CLIENT_ID" not in plain.stdout and "TRUV_CLIENT_ID=from-the-file" in exported.stdout
