"""Console users and signed-in sessions (the web console's only state of its own)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlmodel import Session

from monitor.store.tables import console_session_table, console_user_table

_u = console_user_table.c
_s = console_session_table.c


@dataclass(frozen=True, slots=True)
class ConsoleUserRow:
    name: str
    role: str
    password_hash: str | None
    created_at: datetime
    disabled_at: datetime | None


@dataclass(frozen=True, slots=True)
class SignedIn:
    """Who a session cookie belongs to, and the CSRF token its forms carry."""

    user: str
    role: str
    csrf: str
    expires_at: datetime


def session_key(raw: str) -> str:
    """What is stored for a cookie: its SHA-256, so a copy of the table cannot be replayed as a session."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def user(s: Session, name: str) -> ConsoleUserRow | None:
    row = s.execute(select(console_user_table).where(_u.name == name)).mappings().first()
    return ConsoleUserRow(**row) if row is not None else None


def users(s: Session) -> list[ConsoleUserRow]:
    return [ConsoleUserRow(**r) for r in s.execute(select(console_user_table).order_by(_u.name)).mappings()]


def put_user(s: Session, *, name: str, role: str, password_hash: str | None, now: datetime) -> bool:
    """Add the user, or replace an existing one's role and password (re-enabling it; a changed password
    ends the user's sessions). True when new."""
    existing = user(s, name)
    if existing is None:
        s.execute(insert(console_user_table).values(name=name, role=role, password_hash=password_hash, created_at=now))
        return True
    s.execute(
        update(console_user_table)
        .where(_u.name == name)
        .values(role=role, password_hash=password_hash, disabled_at=None)
    )
    if password_hash != existing.password_hash:  # a new password (or none): whoever held the old one is out
        s.execute(delete(console_session_table).where(_s.user_name == name))
    return False


def rehash(s: Session, *, name: str, old: str, new: str) -> bool:
    """Replace `old` by `new` (the same password, hashed with today's parameters); sessions stay.
    Nothing changes when the password was changed meanwhile. True when replaced."""
    done = s.execute(
        update(console_user_table).where(_u.name == name, _u.password_hash == old).values(password_hash=new)
    )
    return bool(getattr(done, "rowcount", 0))


def disable_user(s: Session, name: str, *, now: datetime) -> bool:
    """Disable the user and end its sessions. False when there is no such user."""
    if user(s, name) is None:
        return False
    s.execute(update(console_user_table).where(_u.name == name).values(disabled_at=now))
    s.execute(delete(console_session_table).where(_s.user_name == name))
    return True


def open_session(s: Session, *, raw: str, user_name: str, csrf: str, now: datetime, expires_at: datetime) -> None:
    s.execute(delete(console_session_table).where(_s.expires_at <= now))  # keep the table to live sessions
    s.execute(
        insert(console_session_table).values(
            id_hash=session_key(raw), user_name=user_name, csrf=csrf, created_at=now, expires_at=expires_at
        )
    )


def signed_in(s: Session, raw: str, *, now: datetime) -> SignedIn | None:
    """The session's user, if the session is live and the user still enabled."""
    row = s.execute(
        select(_u.name, _u.role, _s.csrf, _s.expires_at)
        .select_from(console_session_table.join(console_user_table, _u.name == _s.user_name))
        .where(_s.id_hash == session_key(raw), _s.expires_at > now, _u.disabled_at.is_(None))
    ).first()
    return SignedIn(user=row[0], role=row[1], csrf=row[2], expires_at=row[3]) if row is not None else None


def close_session(s: Session, raw: str) -> None:
    s.execute(delete(console_session_table).where(_s.id_hash == session_key(raw)))
