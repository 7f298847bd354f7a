"""`monitor console` as an operator runs it: users from the command line, where it listens, the daemon
hosting it, and mistakes refused with exit 2 (bad input) or 1 (a port that cannot be bound)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from contextlib import closing

import httpx
import pytest

from tests.e2e.test_operator_errors import JOBS, SECRET, _serve_until, _stop, closed_port
from tests.live import cli_env

PASSWORD = "correct horse battery staple"


def console(*args: str, cwd, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor", "--database", "sqlite:///monitor.db", "console", *args],
        cwd=cwd,
        env=cli_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_users_are_added_listed_updated_and_disabled_from_the_command_line(tmp_path):
    added = console("add-user", "alice", "--role", "operator", "--password-stdin", cwd=tmp_path, stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert added.stdout.strip() == "added console user alice (operator)"
    assert console("add-user", "pat", "--no-password", cwd=tmp_path).returncode == 0
    listed = console("users", cwd=tmp_path).stdout.splitlines()
    assert listed == ["alice\toperator\tpassword\tenabled", "pat\tviewer\tproxy header only\tenabled"]
    with closing(sqlite3.connect(tmp_path / "monitor.db")) as db:
        [(stored,)] = db.execute("select password_hash from console_user where name = 'alice'").fetchall()
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$") and PASSWORD not in stored
    again = console("add-user", "alice", "--role", "viewer", "--password-stdin", cwd=tmp_path, stdin=PASSWORD + "!\n")
    assert again.stdout.strip() == "updated console user alice (viewer)"
    assert console("disable-user", "alice", cwd=tmp_path).returncode == 0
    assert "alice\tviewer\tpassword\tdisabled" in console("users", cwd=tmp_path).stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (
            ["add-user", "bob", "--password-stdin"],
            "short\n",
            "error: password: bob: at least 12 characters expected, got 5",
        ),
        (["add-user", "bob", "--password-stdin"], "bob\n", "at least 12 characters"),
        (["add-user", "bobbobbobbob", "--password-stdin"], "BobBobBobBob\n", "must not be the user name"),
        (
            ["add-user", "bob", "--role", "admin", "--no-password"],
            "",
            "error: --role: expected viewer or operator, got 'admin'",
        ),
        (["add-user", "bo b", "--no-password"], "", "expected 1 to 128 printable characters without spaces"),
        (["disable-user", "nobody"], "", "error: NAME: nobody: no such console user"),
    ],
)
def test_bad_user_input_is_exit_2_and_changes_nothing(tmp_path, args, stdin, message):
    done = console(*args, cwd=tmp_path, stdin=stdin)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    if len(stdin.strip()) >= 6:  # a typed password is never echoed back
        assert stdin.strip() not in done.stderr
    listed = console("users", cwd=tmp_path).stdout
    assert "bob" not in listed


def test_console_says_where_it_listens_and_serves_the_login_page(tmp_path):
    port = closed_port()
    proc, line = _serve_until(
        ["--database", "sqlite:///monitor.db", "console", "--port", str(port)], tmp_path, {}, "listening on"
    )
    try:
        assert line == f"listening on http://127.0.0.1:{port}"
        page = httpx.get(f"http://127.0.0.1:{port}/login", timeout=5)
        assert page.status_code == 200 and 'name="password"' in page.text
        assert page.headers["x-frame-options"] == "DENY"
        assert httpx.get(f"http://127.0.0.1:{port}/", timeout=5).status_code == 303
    finally:
        _stop(proc)


def test_console_on_a_taken_port_is_exit_1(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        port = sock.getsockname()[1]
        done = console("--port", str(port), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith(f"error: cannot listen on 127.0.0.1:{port}: ")


def test_the_daemon_hosts_the_console_on_its_own_port(tmp_path):
    (tmp_path / "jobs.yaml").write_text(JOBS)
    port, console_port = closed_port(), closed_port()
    env = {"TRUV_CLIENT_ID": "cid", "TRUV_SECRET": SECRET, "TRUV_BASE_URL": f"http://127.0.0.1:{closed_port()}/v1/"}
    proc, line = _serve_until(
        ["schedule", "--port", str(port), "--console", "--console-port", str(console_port)],
        tmp_path,
        env,
        "console listening on",
    )
    try:
        assert line == f"console listening on http://127.0.0.1:{console_port}"
        for _ in range(50):
            try:
                page = httpx.get(f"http://127.0.0.1:{console_port}/login", timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)  # the server thread is starting; the socket is already bound
        assert page.status_code == 200 and 'name="password"' in page.text
        # the daemon's own port does not serve the console
        assert httpx.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 404
    finally:
        _stop(proc)
