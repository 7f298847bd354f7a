"""What Truv's answers say beyond their status: the wait a throttle asks for, and an error's code and
message (truv-api.md: `{"error": {"code", "message", "extra": {"invalid-params": [...]}}}`, or DRF's
`{"detail": ...}`). Messages are redacted: they end up in logs and run summaries."""

from __future__ import annotations

import re
from email.utils import parsedate_to_datetime

import httpx

from monitor.truv.secrets import redact_text

_DRF_WAIT = re.compile(r"available in (\d+(?:\.\d+)?) second")


def retry_after_seconds(response: httpx.Response) -> float | None:
    """Retry-After (seconds or HTTP date), else DRF's 'Expected available in N seconds.'"""
    header = response.headers.get("Retry-After")
    waited = _retry_after_header(header, response.headers.get("Date")) if header else None
    if waited is not None:
        return waited
    match = _DRF_WAIT.search(response.text or "")
    return float(match.group(1)) if match else None


def _retry_after_header(header: str, date: str | None) -> float | None:
    try:
        return max(0.0, float(header))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(header)
        base = parsedate_to_datetime(date) if date else None
        return max(0.0, (when - base).total_seconds()) if base is not None else None
    except (TypeError, ValueError):  # unreadable, or one date with a zone and one without
        return None


def error_fields(response: httpx.Response) -> tuple[str | None, str]:
    """Truv's error code (None when it gave none) and its message."""
    try:
        body: object = response.json()
    except ValueError:
        return None, redact_text((response.text or "")[:200]) or response.reason_phrase
    if not isinstance(body, dict):
        return None, response.reason_phrase
    error = body.get("error")
    if isinstance(error, dict):
        return _error_object(error)
    if "detail" in body:
        return None, redact_text(str(body["detail"]))
    return None, response.reason_phrase


def _error_object(error: dict[str, object]) -> tuple[str | None, str]:
    message = str(error.get("message") or "")
    details = _invalid_params(error.get("extra"))
    code = error.get("code")
    return (None if code is None else str(code)), redact_text(f"{message} ({details})" if details else message)


def _invalid_params(extra: object) -> str:
    """`field: message` per invalid parameter, `; `-joined; empty when Truv named none."""
    params = extra.get("invalid-params") if isinstance(extra, dict) else None
    if not isinstance(params, list):
        return ""
    return "; ".join(f"{p.get('field')}: {p.get('message')}" for p in params if isinstance(p, dict))
