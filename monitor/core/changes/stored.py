"""The stored form of a snapshot: small JSON, money as strings, dates as ISO text; absent fields left out."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from monitor.core.changes.readings import Employment, Snapshot, Statement
from monitor.core.changes.values import day, money

_TEXTS = ("company", "ein", "job_type", "income_unit", "pay_frequency")
_DATES = ("start_date", "end_date", "original_hire_date")
_MONEY = ("income", "pay_rate")


def snapshot_to_dict(snapshot: Snapshot) -> dict[str, object]:
    return {"as_of": snapshot.as_of.isoformat(), "employments": [_employment_to_dict(e) for e in snapshot.employments]}


def _stored(value: object) -> object:
    if isinstance(value, date):
        return value.isoformat()
    return str(value) if isinstance(value, Decimal) else value


def _employment_to_dict(e: Employment) -> dict[str, object]:
    out: dict[str, object] = {"id": e.id, "derived_fields": list(e.derived_fields)}
    for name in (*_TEXTS[:2], "is_active", *_TEXTS[2:], *_DATES, *_MONEY):
        value = getattr(e, name)
        if value is not None:
            out[name] = _stored(value)
    out["statements"] = [_statement_to_dict(s) for s in e.statements]
    return out


def _statement_to_dict(s: Statement) -> dict[str, object]:
    fields = (
        ("pay_date", s.pay_date),
        ("gross_pay", s.gross_pay),
        ("hours", s.hours),
        ("basis_of_pay", s.basis_of_pay),
        ("gross_pay_ytd", s.gross_pay_ytd),
        ("net_pay_ytd", s.net_pay_ytd),
        ("leave", s.leave or None),
    )
    return {k: _stored(v) for k, v in fields if v is not None}


def snapshot_from_dict(data: Mapping[str, object]) -> Snapshot:
    return Snapshot(
        employments=tuple(_employment_from_dict(e) for e in _maps(data.get("employments"))),
        as_of=datetime.fromisoformat(str(data["as_of"])),
    )


def _maps(value: object) -> list[Mapping[str, object]]:
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _employment_from_dict(d: Mapping[str, object]) -> Employment:
    active = d.get("is_active")
    derived = d.get("derived_fields")
    return Employment(
        id=str(d["id"]),
        company=_text(d.get("company")),
        ein=_text(d.get("ein")),
        is_active=active if isinstance(active, bool) else None,
        start_date=day(d.get("start_date")),
        end_date=day(d.get("end_date")),
        original_hire_date=day(d.get("original_hire_date")),
        job_type=_text(d.get("job_type")),
        income=money(d.get("income")),
        income_unit=_text(d.get("income_unit")),
        pay_rate=money(d.get("pay_rate")),
        pay_frequency=_text(d.get("pay_frequency")),
        derived_fields=tuple(str(f) for f in derived) if isinstance(derived, list) else (),
        statements=tuple(_statement_from_dict(s) for s in _maps(d.get("statements"))),
    )


def _statement_from_dict(s: Mapping[str, object]) -> Statement:
    return Statement(
        pay_date=day(s.get("pay_date")),
        gross_pay=money(s.get("gross_pay")),
        hours=money(s.get("hours")),
        basis_of_pay=_text(s.get("basis_of_pay")),
        gross_pay_ytd=money(s.get("gross_pay_ytd")),
        net_pay_ytd=money(s.get("net_pay_ytd")),
        leave=s.get("leave") is True,
    )
