"""A seeded sandbox portfolio after one pass, and console clients signed in as a given role."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from monitor.clock import FixedClock
from monitor.console.app import create_app
from monitor.console.security import SESSION_COOKIE, Access, new_token
from monitor.core.passwords import hash_password
from monitor.jobs.refresh_pass import JobPass
from monitor.sandbox import Sandbox
from monitor.services import Services
from monitor.store import console_users
from monitor.store.db import session
from tests.helpers import import_csv, seed_loans, services, write_csv

PASSWORD = "correct horse battery staple"
# One hash for every test user: each hash costs tens of milliseconds and 19 MiB by design.
HASHED = hash_password(PASSWORD)


class LimiterTime:
    """`limits` reads time.time(); in tests its moving windows read the test's clock instead."""

    def __init__(self, clock: FixedClock) -> None:
        self.clock = clock

    def time(self) -> float:
        return self.clock.now().timestamp()


def limiter_on(clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> None:
    import limits.storage.memory

    monkeypatch.setattr(limits.storage.memory, "time", LimiterTime(clock))


# Access tokens the sandbox holds for the borrowers: none may ever appear in a page.
SPECS = [
    {"loan_id": "L-OK", "employers": [("ok", "tok-ok-1234567890")], "gse": True},
    {"loan_id": "L-FRESH", "employers": [("ok", "tok-fresh-1234567890")], "age_days": 3},
    {"loan_id": "L-EMP", "employers": [("ok", "tok-emp-1234567890")], "products": ("employment",)},
    {"loan_id": "L-REAUTH", "employers": [("login_error", "tok-reauth-1234567890")]},
    *({"loan_id": f"L-SH{i}", "employers": [("ok", "tok-shared-1234567890")], "gse": True} for i in range(4)),
]
ACCESS_TOKENS = sorted({tok for spec in SPECS for _, tok in spec["employers"]})


def world(db_url: str, clock: FixedClock, tmp_path: Path) -> tuple[Services, Sandbox]:
    sandbox = Sandbox(seed=11, clock=clock, completion_delay=5.0)
    svc = services(db_url, clock, sandbox)
    import_csv(svc, write_csv(tmp_path / "loans.csv", seed_loans(sandbox, SPECS, tmp_path, clock)))
    JobPass(svc, svc.config.job("nightly"), wait_seconds=30).run()
    clock.sleep(300)
    return svc, sandbox


def add_user(svc: Services, name: str, role: str, *, password: bool = True) -> None:
    with session(svc.engine) as s:
        console_users.put_user(s, name=name, role=role, password_hash=HASHED if password else None, now=svc.clock.now())


def client(svc: Services, *, access: Access | None = None, base_url: str = "http://testserver") -> TestClient:
    return TestClient(create_app(svc, services=svc, access=access), base_url=base_url, follow_redirects=False)


def signed_in(svc: Services, name: str, role: str, **kw: object) -> TestClient:
    """A client holding a live session for `name`, made as a login makes one (tests of pages, not of login)."""
    add_user(svc, name, role)
    raw = new_token()
    with session(svc.engine) as s:
        console_users.open_session(
            s,
            raw=raw,
            user_name=name,
            csrf=new_token(),
            now=svc.clock.now(),
            expires_at=svc.clock.now() + timedelta(hours=8),
        )
    c = client(svc, **kw)  # type: ignore[arg-type]
    c.cookies.set(SESSION_COOKIE, raw)
    return c


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "no CSRF field in the page"
    return found.group(1)


def seen_of(html: str) -> str:
    """The token form's `seen` field: the newest token issue the form was shown after."""
    found = re.search(r'name="seen" value="(\d+)"', html)
    assert found is not None, "no seen field in the page"
    return found.group(1)


def login(c: TestClient, name: str, password: str = PASSWORD, next_path: str = "/") -> object:
    page = c.get("/login")
    return c.post("/login", data={"csrf": csrf_of(page.text), "name": name, "password": password, "next": next_path})
