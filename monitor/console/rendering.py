"""How the templates show values: times in minutes and one labelled zone, nested values as a reader reads
them, and every `{{ }}` output with its bidi controls written out before Jinja escapes it."""

from __future__ import annotations

from datetime import datetime, tzinfo
from importlib.resources import files
from urllib.parse import quote

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from monitor.core.readable import duration_text, zone_label
from monitor.reports.safe_text import show_bidi

TEMPLATES = files("monitor.console") / "templates"


def _when(value: object, tz: tzinfo | None = None) -> str:
    """A time as a table cell: minutes, one zone, labelled."""
    if not isinstance(value, datetime):
        return "-" if value is None else str(value)
    return f"{value.astimezone(tz).strftime('%Y-%m-%d %H:%M')} {zone_label(tz) if tz else 'UTC'}"


def _plain(value: object) -> str:
    """A nested value as a reader reads it: `blocked: token_budget 1, product_not_allowed 1`; empty is "-"."""
    if isinstance(value, dict):
        parts = [f"{k} {_plain(v)}" if not isinstance(v, dict) else f"{k}: {_plain(v)}" for k, v in value.items()]
        return ", ".join(parts) if parts else "-"
    if isinstance(value, list | tuple | set):
        return ", ".join(_plain(v) for v in value) if value else "-"
    if isinstance(value, datetime):
        return _when(value)
    return "-" if value is None else str(value)


def _shown(value: object) -> object:
    """Every `{{ }}` output: bidi controls written out (as in the reports), so a loan id or a reason from
    outside cannot reorder what a reader sees; then Jinja escapes it. Markup (a macro's output) is ours."""
    if isinstance(value, str) and not isinstance(value, Markup):
        return show_bidi(value)
    return value


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        finalize=_shown,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["plain"] = _plain
    env.filters["duration"] = duration_text
    env.filters["q"] = lambda value: quote(str(value), safe="")
    return env
