"""The compliance report: per loan, exceptions, totals. Built with set-based queries, rendered to
CSV, JSON or one self-contained HTML file (inline SVG charts, no network, prints well)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, assert_never

from monitor import __version__
from monitor.config import PolicyConfig
from monitor.core.budget import GseTerms, Limits, gse_terms
from monitor.core.calendar import subtract_business_days
from monitor.core.matching import matches
from monitor.core.readable import duration_text, failures_by_status, json_default
from monitor.core.staleness import start_of_day_utc
from monitor.core.states import ConnectionState, ReservationState, SkipReason
from monitor.reports import evidence
from monitor.reports.loan_view import loan_list
from monitor.reports.safe_text import csv_writer, html_text
from monitor.services import Context
from monitor.store import report_rows, usage
from monitor.store.db import read_only, session
from monitor.store.ledger_rows import NO_REPORT_IDS
from monitor.store.report_rows import ConnectionWait, DayOutcome, PeriodRows, ReportLoan
from monitor.truv.secrets import short

NONE_4 = '<tr><td colspan="4">none</td></tr>'
NONE_5 = '<tr><td colspan="5">none</td></tr>'
BUDGET_REASONS = (
    SkipReason.TOKEN_BUDGET,
    SkipReason.GSE_BUDGET,
    SkipReason.BILLABLE_CAP,
    SkipReason.TRUV_REFRESH_LIMIT,
)
# Skips that no later pass ends by itself: someone must change the policy, the order or the loan.
PERSISTENT_REASONS = (SkipReason.PRODUCT_NOT_ALLOWED, SkipReason.MANUAL_REVIEW, SkipReason.FORBIDDEN)
NOT_REACHED = "not_reached"  # stale, and no pass said why: max_refreshes ran out first, or no pass ran
NONE_2 = '<tr><td colspan="2">none</td></tr>'
MAX_HTML_ROWS = 5000
ALL = 2**62  # `loan_list`'s limit when every row is wanted
CHANGE_COLUMNS = (
    "loan_id",
    "rule",
    "severity",
    "field",
    "before",
    "after",
    "order_id",
    "detected_at",
    "id",
    "disposition",
    "disposition_by",
    "disposition_at",
    "disposition_note",
)
NONE_CHANGES = f'<tr><td colspan="{len(CHANGE_COLUMNS)}">none</td></tr>'
LOAN_COLUMNS = (
    "loan_id",
    "gse",
    "status",
    "product",
    "order_chain",
    "refreshes_in_period",
    "gse_window_ends",
    "gse_used_in_window",
    "gse_free_left",
    "billable_in_period",
    "last_outcome",
    "voie_report_id",
    "voa_report_id",
    "data_as_of",
    "closing_date",
    "pre_closing_window_start",
    "pre_closing_window_days",
    "data_inside_pre_closing_window",
)


def build(
    services: Context, *, start: date, end: date, now: datetime, pre_closing_days: int | None = None
) -> dict[str, Any]:
    """`pre_closing_days` overrides every policy's `pre_closing_business_days` (None: each loan's policy's)."""
    lo, hi = start_of_day_utc(start), start_of_day_utc(end) + timedelta(days=1)
    with session(read_only(services.engine)) as s:
        rows = report_rows.period(s, lo=lo, hi=hi, closing_from=start, closing_to=end)
        standing = usage.gse_standing(s, limits=services.limits, now=now)
    policies = list(services.config.policies)
    windows = _Windows(policies, pre_closing_days, rows.attributes)
    per_loan = _loans(rows, standing, services.limits, now=now, windows=windows)
    blocked = _blocked(rows)
    reauth = _needs_reauth(rows.needs_reauth, now)
    aside = _set_aside(rows)
    changed = evidence.changes(rows.findings)
    closing = evidence.pre_closing(rows.closings, policies=policies, override=pre_closing_days, today=now.date())
    late = [c for c in closing if c["exception"]]
    backlog = _backlog(services, rows, now=now)
    persistent = _persistent(rows)
    failures = failures_by_status(rows.failures)
    totals = {
        "loans": len(per_loan),
        "refreshes": sum(rows.refreshed.values()),
        "billable": sum(rows.billable.values()),
        "gse_free": sum(
            rows.refreshed.get(x["loan_id"], 0) - rows.billable.get(x["loan_id"], 0) for x in per_loan if x["gse"]
        ),
        "failures": sum(rows.failures.values()),
        "blocked": len(blocked),
        "backlog": backlog["total"],
        "persistent_skips": len(persistent),
        "needs_reauth": len(reauth),
        "set_aside": len(aside),
        "findings": len(changed["findings"]),
        "closed_without_verification": len(late),
        "pre_closing_by_status": dict(sorted(Counter(c["status"] for c in closing).items())),
    }
    return {
        "title": "monitor compliance report",
        "period": {"from": start, "to": end},
        "generated_at": now,
        "version": __version__,
        # The override, else None: each loan's first matching policy's window (no window: not judged).
        "pre_closing_business_days": pre_closing_days,
        "pre_closing_windows": windows.by_policy(),
        "totals": totals,
        "loans": per_loan,
        "exceptions": {
            "blocked": blocked,
            "backlog": backlog,
            "persistent_skips": persistent,
            "needs_reauth": reauth,
            "set_aside": aside,
            "closed_without_verification": late,
            # One label per failed suborder's status: `completed,mfa_error` counts as mfa_error.
            "failures_by_status": failures,
        },
        "changes": changed,
        "pre_closing": closing,
        "daily": _daily(rows.days, start, end),
    }


def pre_closing_rows(
    services: Context, *, start: date, end: date, now: datetime, pre_closing_days: int | None = None
) -> list[dict[str, Any]]:
    """The report's pre-closing evidence alone (the console's report page shows it)."""
    with session(read_only(services.engine)) as s:
        closing = report_rows.closings(s, start=start, end=end)
    policies = list(services.config.policies)
    return evidence.pre_closing(closing, policies=policies, override=pre_closing_days, today=now.date())


class _Windows:
    """Each loan's pre-closing window, in business days: the override, else its policy's."""

    def __init__(self, policies: list[PolicyConfig], override: int | None, attributes: dict[str, dict[str, str]]):
        self.policies, self.override, self.attributes = policies, override, attributes

    def days(self, loan: ReportLoan) -> int | None:
        """None: no policy with a window matches the loan, and no override (the loan is not judged)."""
        if self.override is not None:
            return self.override
        fields = {"gse": loan.gse, "status": loan.status, "loan_id": loan.loan_id, "order_id": loan.order_id}
        merged = {**fields, **self.attributes.get(loan.loan_id, {})}
        return next(
            (
                p.pre_closing_business_days
                for p in self.policies
                if p.pre_closing_business_days and matches(p.match, merged)
            ),
            None,
        )

    def by_policy(self) -> dict[str, int]:
        if self.override is not None:
            return {"all loans (--pre-closing-days)": self.override}
        return {p.name: p.pre_closing_business_days for p in self.policies if p.pre_closing_business_days}


def _loans(
    rows: PeriodRows, standing: dict[str, GseTerms], limits: Limits, *, now: datetime, windows: _Windows
) -> list[dict[str, Any]]:
    """Active loans, and loans refreshed in the period whatever their status now."""
    return [
        _loan(loan, rows, standing, limits, now=now, window_days=windows.days(loan))
        for loan in rows.loans
        if loan.status == "active" or loan.loan_id in rows.refreshed
    ]


def _loan(
    loan: ReportLoan,
    rows: PeriodRows,
    standing: dict[str, GseTerms],
    limits: Limits,
    *,
    now: datetime,
    window_days: int | None,
) -> dict[str, Any]:
    root = loan.order_id
    window = subtract_business_days(loan.closing_date, window_days) if loan.closing_date and window_days else None
    terms = None
    if loan.gse:
        terms = standing.get(loan.loan_id) or gse_terms(
            window_start=loan.gse_window_start, uses=[], limits=limits, now=now
        )
    last = rows.last.get(loan.loan_id)
    ids = rows.report_ids.get(loan.base_order_id or root, NO_REPORT_IDS)
    return {
        "loan_id": loan.loan_id,
        "gse": loan.gse,
        "status": loan.status,
        "product": last.product if last else None,
        "order_chain": " > ".join([root, *[o for o in rows.chains.get(loan.loan_id, []) if o != root]]),
        "refreshes_in_period": rows.refreshed.get(loan.loan_id, 0),
        **_gse_columns(terms),
        "billable_in_period": rows.billable.get(loan.loan_id, 0),
        "last_outcome": last.outcome if last else None,
        "voie_report_id": ids.voie,
        "voa_report_id": ids.voa,
        "data_as_of": loan.data_as_of,
        "closing_date": loan.closing_date,
        "pre_closing_window_start": window,
        "pre_closing_window_days": window_days if window else None,
        "data_inside_pre_closing_window": (
            (loan.data_as_of is not None and loan.data_as_of >= start_of_day_utc(window)) if window else None
        ),
    }


def _gse_columns(terms: GseTerms | None) -> dict[str, Any]:
    """Where a GSE loan stands in its free window; empty for any other loan."""
    if terms is None:
        return {"gse_window_ends": None, "gse_used_in_window": None, "gse_free_left": None}
    return {
        "gse_window_ends": terms.window_end,
        "gse_used_in_window": terms.used,
        "gse_free_left": terms.free_left if terms.in_window else 0,
    }


def _blocked(rows: PeriodRows) -> list[dict[str, Any]]:
    """Loans whose last word in the period was a budget's no, and not refreshed since."""
    blocked: dict[str | None, dict[str, Any]] = {}
    for entry in rows.skips:
        d = json.loads(entry.detail)
        if d.get("reason") in BUDGET_REASONS:
            blocked[entry.loan_id] = {
                "loan_id": entry.loan_id,
                "rule": d["reason"],
                "at": entry.at,
                "next_eligible": d.get("next_free_at"),
                "policy": d.get("policy"),
            }
        else:
            blocked.pop(entry.loan_id, None)
    return [
        b
        for loan_id, b in blocked.items()
        # Refreshed after it was blocked: no longer an exception.
        if not (loan_id in rows.last and rows.last[loan_id].at > b["at"])
    ]


def _backlog(services: Context, rows: PeriodRows, *, now: datetime) -> dict[str, Any]:
    """Active loans stale now (for a policy they match) that no refresh reached in the period, by why: the
    hold that keeps them out, else the last reason a pass gave, else `not_reached` (no pass said: the job's
    max_refreshes ran out before them, or no pass ran)."""
    every = loan_list(services, now=now, stale=True, limit=ALL)["loans"]
    loans = [
        {
            "loan_id": r["loan_id"],
            "policies": r["stale_for"],
            "reason": r["hold_reason"] or r["hold"] or r["last_skip_reason"] or NOT_REACHED,
            "data_as_of": r["data_as_of"],
        }
        for r in every
        if r["status"] == "active" and r["loan_id"] not in rows.refreshed
    ]
    by_reason = Counter(x["reason"] for x in loans)
    return {
        "total": len(loans),
        "by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
        "loans": loans,
    }


def _persistent(rows: PeriodRows) -> list[dict[str, Any]]:
    """Loans a pass skipped for a reason no later pass ends by itself, not refreshed since: how often, since when."""
    seen: dict[str, dict[str, Any]] = {}
    for entry in rows.skips:
        if entry.loan_id is None:
            continue
        d = json.loads(entry.detail)
        if d.get("reason") not in PERSISTENT_REASONS:
            continue
        x = seen.setdefault(entry.loan_id, {"loan_id": entry.loan_id, "times": 0, "first": entry.at})
        x.update(reason=d["reason"], policy=d.get("policy"), last=entry.at, times=x["times"] + 1)
    return [
        x for loan_id, x in sorted(seen.items()) if not (loan_id in rows.last and rows.last[loan_id].at > x["last"])
    ]


def _needs_reauth(waiting: list[ConnectionWait], now: datetime) -> list[dict[str, Any]]:
    out = []
    for w in waiting:
        seconds = (now - w.since).total_seconds() if w.since else None
        out.append(
            {
                "loan_id": w.loan_id,
                "connection": short(w.token_hash),
                "reason": w.reason,
                "since": w.since,
                "waiting_seconds": seconds,
                "waiting": duration_text(seconds),  # "5 h", "2.3 d": a fraction of a day never reads 0.0
            }
        )
    return out


def _set_aside(rows: PeriodRows) -> list[dict[str, Any]]:
    return [{"loan_id": h.loan_id, "needs": h.hold, "reason": h.reason, "since": h.since} for h in rows.holds] + [
        {
            "loan_id": w.loan_id,
            "needs": ConnectionState.NEEDS_NEW_ORDER.value,
            "reason": f"{w.reason} ({short(w.token_hash)})",
            "since": w.since,
        }
        for w in rows.deleted
    ]


def _daily(days: list[DayOutcome], start: date, end: date) -> dict[str, dict[str, int]]:
    """Every day of the period (UTC), those without a refresh too: one bar per day."""
    daily: dict[str, Counter[str]] = defaultdict(Counter)
    for d in days:
        daily[d.reserved_at.astimezone(UTC).date().isoformat()][_bucket(d.state)] += 1
    every = (start + timedelta(days=i) for i in range((end - start).days + 1))
    return {day.isoformat(): dict(daily.get(day.isoformat(), {})) for day in every}


def _bucket(state: str) -> str:
    """The daily chart's group for a reservation's state."""
    match ReservationState(state):
        case ReservationState.COMPLETED:
            return "completed"
        case ReservationState.FAILED:
            return "failed"
        case ReservationState.REFUSED | ReservationState.DECLINED | ReservationState.RELEASED | ReservationState.LOST:
            return "not created"
        case ReservationState.RESERVED | ReservationState.SENT | ReservationState.ACCEPTED | ReservationState.UNKNOWN:
            return "pending"
        case unreachable:
            assert_never(unreachable)


# The zone the CSV and HTML cells show times in (`report --tz`); JSON keeps ISO 8601 with the offset.
_ZONE: ContextVar[tzinfo] = ContextVar("report_zone", default=UTC)


def _utc_said() -> str:
    """ " UTC" after a time when the report is in UTC (another zone is named in the time itself)."""
    return " UTC" if _ZONE.get() is UTC else ""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        zone = _ZONE.get()
        shown = value.astimezone(zone)
        # UTC is said once in the header; another zone is named in every cell (a CSV cell travels alone)
        return shown.strftime("%Y-%m-%d %H:%M") if zone is UTC else shown.strftime("%Y-%m-%d %H:%M %Z")
    return str(value)


def write(report: dict[str, Any], fmt: str, out: Path, *, zone: tzinfo = UTC) -> list[Path]:
    """Write the report under `out`, its CSV and HTML times in `zone`; an OSError (a path that cannot
    take a file) leaves no temporary file behind and reaches the caller, which names the path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    token = _ZONE.set(zone)
    try:
        return _write(report, fmt, out, tmp)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        _ZONE.reset(token)


def _write(report: dict[str, Any], fmt: str, out: Path, tmp: Path) -> list[Path]:
    written = [out]
    if fmt == "json":
        tmp.write_text(json.dumps(report, default=json_default, indent=2, sort_keys=True), encoding="utf-8")
    elif fmt == "csv":
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            w = csv_writer(handle)  # every cell neutralised: the report is opened in spreadsheets
            w.writerow(LOAN_COLUMNS)
            for row in report["loans"]:
                w.writerow([_cell(row[c]) for c in LOAN_COLUMNS])
        exceptions = out.with_name(out.stem + "-exceptions.csv")
        with exceptions.open("w", newline="", encoding="utf-8") as handle:
            w = csv_writer(handle)  # every cell neutralised: the report is opened in spreadsheets
            w.writerow(["kind", "loan_id", "detail", "since_or_at", "next_eligible_or_waiting_hours"])
            _write_exceptions(w, report["exceptions"])
        changes_csv = out.with_name(out.stem + "-changes.csv")
        with changes_csv.open("w", newline="", encoding="utf-8") as handle:
            w = csv_writer(handle)
            w.writerow(CHANGE_COLUMNS)
            for f in report["changes"]["findings"]:
                w.writerow([_cell(f[c]) for c in CHANGE_COLUMNS])
        closing_csv = out.with_name(out.stem + "-preclosing.csv")
        with closing_csv.open("w", newline="", encoding="utf-8") as handle:
            w = csv_writer(handle)
            w.writerow(evidence.PRE_CLOSING_COLUMNS)
            for c in report["pre_closing"]:
                w.writerow([_closing_cell(c, k) for k in evidence.PRE_CLOSING_COLUMNS])
        written.extend([exceptions, changes_csv, closing_csv])
    else:
        tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(out)  # a half-written report never stands under the final name
    return written


def _closing_cell(row: dict[str, Any], key: str) -> str:
    """A pre-closing cell: lists joined, findings with their disposition, note and who."""
    if key == "findings":
        return evidence.findings_cell(row["findings"])
    if key == "employers_verified":
        return "; ".join(row["employers_verified"])
    return _cell(row[key])


def _write_exceptions(w: Any, e: dict[str, Any]) -> None:
    """The exceptions CSV: one row per loan and exception, then the counts."""
    for b in e["blocked"]:
        w.writerow(["blocked", b["loan_id"], b["rule"], _cell(b["at"]), _cell(b["next_eligible"])])
    for x in e["backlog"]["loans"]:
        w.writerow(["backlog", x["loan_id"], x["reason"], _cell(x["data_as_of"]), ""])
    for p in e["persistent_skips"]:
        detail = f"{p['reason']} ({p['times']}x, policy {p['policy'] or '-'})"
        w.writerow(["persistent_skip", p["loan_id"], detail, _cell(p["first"]), ""])
    for a in e["needs_reauth"]:
        w.writerow(
            [
                "needs_reauth",
                a["loan_id"],
                f"{a['reason']} ({a['connection']})",
                _cell(a["since"]),
                _hours(a["waiting_seconds"]),
            ]
        )
    for x in e["set_aside"]:
        w.writerow([x["needs"], x["loan_id"], x["reason"], _cell(x["since"]), ""])
    for c in e["closed_without_verification"]:
        detail = f"{c['evidence']} {c['status']} ({c['rule']})"
        if c["status"] in ("verified", "verified_with_findings"):
            detail += ": unresolved high or critical finding"
        w.writerow(["closed_unverified", c["loan_id"], detail, _cell(c["closing_date"]), ""])
    for status, n in e["failures_by_status"].items():
        w.writerow(["failures", "", status, "", n])


def _hours(seconds: float | None) -> float | None:
    """A number for spreadsheets (hours, one decimal), where HTML shows "5 h" or "2.3 d"."""
    return None if seconds is None else round(seconds / 3600, 1)


def _bars(title: str, data: dict[str, float], colour: str = "#2b6cb0") -> str:
    if not data:
        return f"<figure><figcaption>{html_text(title)}</figcaption><p>none</p></figure>"
    width, bar_h, gap, label_w = 640, 18, 6, 170
    peak = max(data.values()) or 1
    rows = []
    for i, (label, value) in enumerate(data.items()):
        y = i * (bar_h + gap)
        w = (width - label_w - 60) * value / peak
        rows.append(
            f'<text x="{label_w - 6}" y="{y + 13}" text-anchor="end">{html_text(label)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" fill="{colour}"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + 13}">{value:g}</text>'
        )
    height = len(data) * (bar_h + gap)
    return (
        f'<figure><figcaption>{html_text(title)}</figcaption><svg role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-size="12" font-family="sans-serif">{"".join(rows)}</svg></figure>'
    )


def _stacked_daily(daily: dict[str, dict[str, int]]) -> str:
    """One bar per day of the period (an empty day is an empty slot), stacked by outcome."""
    colours = {"completed": "#2f855a", "failed": "#c53030", "not created": "#975a16", "pending": "#718096"}
    if not daily:
        return "<figure><figcaption>Refreshes per day by outcome</figcaption><p>none</p></figure>"
    width, height, pad = 680, 220, 30
    peak = max(sum(d.values()) for d in daily.values()) or 1
    step = (width - 2 * pad) / len(daily)
    every = max(1, -(-len(daily) // 15))  # at most ~15 date labels: 9 px text needs ~25 px
    parts = []
    for i, (day, counts) in enumerate(daily.items()):
        x = pad + i * step
        bars = [f"<title>{day}: {sum(counts.values())} refreshes</title>"]
        y: float = height - pad
        for kind, colour in colours.items():
            h = (height - 2 * pad) * counts.get(kind, 0) / peak
            if h:
                bars.append(
                    f'<rect x="{x:.1f}" y="{y - h:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{day} {kind}: {counts[kind]}</title></rect>'
                )
                y -= h
        parts.append(f'<g class="day" data-day="{day}">{"".join(bars)}</g>')
        if i % every == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 10}" font-size="9">{day[5:]}</text>')
    axis = f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#a0aec0"/>'
    legend = "".join(f'<span class="key" style="background:{c}"></span>{k} ' for k, c in colours.items())
    return (
        f"<figure><figcaption>Refreshes per day by outcome ({len(daily)} days, UTC; peak {peak})</figcaption>"
        f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="sans-serif">{axis}{"".join(parts)}</svg><div class="legend">{legend}</div></figure>'
    )


def _tds(*cells: Any) -> str:
    """Table cells, each shown through `html_text` (bidi controls shown, then HTML-escaped)."""
    return "".join(f"<td>{html_text(cell)}</td>" for cell in cells)


def _tr(*cells: Any) -> str:
    return f"<tr>{_tds(*cells)}</tr>"


def _table_rows(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    return "".join(_tr(*(_cell(row[c]) for c in columns)) for row in rows[:MAX_HTML_ROWS])


def _exception_rows(e: dict[str, Any]) -> tuple[str, str, str]:
    """The blocked, needing re-auth and set-aside tables' rows."""
    blocked = "".join(_tr(b["loan_id"], b["rule"], _cell(b["at"]), _cell(b["next_eligible"])) for b in e["blocked"])
    reauth = "".join(
        _tr(a["loan_id"], a["connection"], a["reason"], _cell(a["since"]), a["waiting"]) for a in e["needs_reauth"]
    )
    aside = "".join(_tr(x["loan_id"], x["needs"], x["reason"], _cell(x["since"])) for x in e["set_aside"])
    return blocked, reauth, aside


def _backlog_html(backlog: dict[str, Any], persistent: list[dict[str, Any]]) -> str:
    """The stale loans no refresh reached, by reason (the loans behind a <details>), and the persistent skips."""
    by_reason = "".join(_tr(reason, n) for reason, n in backlog["by_reason"].items())
    loans = "".join(
        _tr(x["loan_id"], ", ".join(x["policies"]), x["reason"], _cell(x["data_as_of"]))
        for x in backlog["loans"][:MAX_HTML_ROWS]
    )
    listed = (
        f'<details><summary>the {backlog["total"]} loans</summary><div class="scroll"><table class="nowrap">'
        f"<tr><th>loan</th><th>stale for</th><th>why</th><th>data as of</th></tr>{loans}</table></div></details>"
        if backlog["loans"]
        else ""
    )
    kept = "".join(
        _tr(p["loan_id"], p["reason"], p["policy"] or "-", p["times"], _cell(p["first"]), _cell(p["last"]))
        for p in persistent[:MAX_HTML_ROWS]
    )
    return f"""<h2>Exceptions: backlog (stale now, no refresh in the period): {backlog["total"]}</h2>
<p>Active loans stale for a policy they match and not refreshed in the period, by why: a hold, the last reason a
pass gave, or <code>{NOT_REACHED}</code> (no pass said why: the job's <code>max_refreshes</code> ran out before
them, or no pass ran).</p>
<table class="narrow"><tr><th>why</th><th>loans</th></tr>{by_reason or NONE_2}</table>
{listed}
<h2>Exceptions: persistent skips (no later pass ends them by itself)</h2>
<p>Skipped in the period as <code>product_not_allowed</code> (fix the policy's <code>match</code> or
<code>product</code>), <code>manual_review</code> or <code>forbidden</code> (a person decides), not refreshed since.</p>
<table><tr><th>loan</th><th>why</th><th>policy</th><th>times</th><th>first</th><th>last</th></tr>
{kept or '<tr><td colspan="6">none</td></tr>'}</table>"""


def _window_note(report: dict[str, Any]) -> str:
    if report["pre_closing_business_days"] is not None:
        return f"{report['pre_closing_business_days']} business days before closing for every loan (--pre-closing-days)"
    windows = ", ".join(f"{name} {days}" for name, days in report["pre_closing_windows"].items())
    if not windows:
        return "no policy sets one, so no loan is judged (--pre-closing-days judges every loan)"
    return f"each loan's first matching policy's, in business days ({html_text(windows)}); other loans are not judged"


CLOSING_HTML = (
    ("loan", "loan_id"),
    ("evidence", "evidence"),
    ("closing", "closing_date"),
    ("rule", "rule"),
    ("window starts", "window_start"),
    ("status", "status"),
    ("verification (order)", "order_id"),
    ("product", "product"),
    ("report id", "report_id"),
    ("data as of", "data_as_of"),
    ("employers verified", "employers_verified"),
    ("findings (disposition)", "findings"),
)
NONE_CLOSING = f'<tr><td colspan="{len(CLOSING_HTML) + 1}">none</td></tr>'


def _closing_rows(closings: list[dict[str, Any]]) -> str:
    rows = []
    for c in closings[:MAX_HTML_ROWS]:
        verdict = "<b>yes</b>" if c["exception"] else "no"
        rows.append(f"<tr>{_tds(*(_closing_cell(c, key) for _, key in CLOSING_HTML))}<td>{verdict}</td></tr>")
    return "".join(rows)


def render_html(report: dict[str, Any]) -> str:
    t = report["totals"]
    e = report["exceptions"]
    esc = html_text  # bidi controls shown, then HTML-escaped: outside text never reorders the page
    loan_rows = _table_rows(report["loans"], LOAN_COLUMNS)
    more = len(report["loans"]) - MAX_HTML_ROWS
    blocked_rows, reauth_rows, aside_rows = _exception_rows(e)
    change_rows = _table_rows(report["changes"]["findings"], CHANGE_COLUMNS)
    closing_rows = _closing_rows(report["pre_closing"])
    closing_header = "".join(f"<th>{title}</th>" for title, _ in CLOSING_HTML)
    # Built outside the template: Python 3.11 allows no nested quotes of the same kind in f-strings.
    header = "".join("<th>" + c.replace("_", " ") + "</th>" for c in LOAN_COLUMNS)
    change_header = "".join("<th>" + c.replace("_", " ") + "</th>" for c in CHANGE_COLUMNS)
    more_note = f"<p>{more} more loans: see the CSV or JSON report.</p>" if more > 0 else ""
    budget = {"refreshes": t["refreshes"], "billable": t["billable"], "GSE, free": t["gse_free"]}
    period = report["period"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>{esc(report["title"])} {period["from"]} to {period["to"]}</title>
<style>
body {{ font: 13px/1.4 system-ui, sans-serif; margin: 24px; color: #1a202c; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; border-bottom: 1px solid #cbd5e0; }}
table {{ border-collapse: collapse; width: 100%; font-size: 11px; }} td {{ overflow-wrap: anywhere; }}
svg {{ max-width: 100%; height: auto; }}
@media screen and (max-width: 800px) {{ body {{ margin: 12px; }} table {{ display: block; overflow-x: auto; }} }}
th, td {{ border: 1px solid #e2e8f0; padding: 3px 5px; text-align: left; }} th {{ background: #edf2f7; }}
.totals td {{ font-size: 14px; }} figure {{ margin: 12px 0; }} figcaption {{ font-weight: 600; margin-bottom: 4px; }}
.key {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }}
.nowrap td, .nowrap th {{ white-space: nowrap; }} .scroll {{ overflow-x: auto; }} table.narrow {{ width: auto; }}
summary {{ cursor: pointer; margin: 6px 0; }}
@media print {{ body {{ margin: 0; }} h2 {{ break-after: avoid; }} tr {{ break-inside: avoid; }} details > * {{ display: block; }} }}
</style></head><body>
<h1>{esc(report["title"])}</h1>
<p>Period {period["from"]} to {period["to"]} (UTC). Generated {esc(_cell(report["generated_at"]))}{_utc_said()} by monitor
{esc(report["version"])}. Access tokens appear only as short hashes. Pre-closing window: {_window_note(report)}
(weekends and US federal holidays excluded).</p>
<h2>Totals</h2>
<table class="totals"><tr><th>loans</th><th>refreshes</th><th>billable</th><th>GSE, free</th><th>failures</th>
<th>blocked by a budget</th><th>backlog</th><th>needing re-auth</th></tr><tr><td>{t["loans"]}</td><td>{t["refreshes"]}</td>
<td>{t["billable"]}</td><td>{t["gse_free"]}</td><td>{t["failures"]}</td><td>{t["blocked"]}</td><td>{t["backlog"]}</td>
<td>{t["needs_reauth"]}</td></tr></table>
{_stacked_daily(report["daily"])}
{_bars("Budget use in the period", budget)}
{_bars("Failure causes (each failed connection's status)", e["failures_by_status"], "#c53030")}
<h2>Exceptions: blocked by a budget (its last word in the period)</h2>
<table><tr><th>loan</th><th>rule</th><th>at</th><th>next eligible</th></tr>{blocked_rows or NONE_4}</table>
{_backlog_html(e["backlog"], e["persistent_skips"])}
<h2>Exceptions: connections needing the borrower</h2>
<table><tr><th>loan</th><th>connection</th><th>why</th><th>since</th><th>waiting</th></tr>{reauth_rows or NONE_5}</table>
<h2>Exceptions: loans set aside (a new order, or a person, is needed)</h2>
<table><tr><th>loan</th><th>needs</th><th>why</th><th>since</th></tr>{aside_rows or NONE_4}</table>
<h2>Changes since the last verification (income monitoring)</h2>
{_bars("Findings by severity", report["changes"]["by_severity"], "#c05621")}
{_bars("Findings by rule", report["changes"]["by_rule"], "#c05621")}
<table><tr>{change_header}</tr>{change_rows or NONE_CHANGES}</table>
<h2>Pre-closing evidence</h2>
<p>Each loan closing in the period, judged when a policy with a pre-closing window matches it (else
<code>not_covered</code>): VOE evidence is an income or employment verification inside the window (an assets
one never is; an assets policy's window adds a VOA row). Status <code>verified</code>,
<code>verified_with_findings</code>, <code>missing</code>, <code>unverified</code> (the refresh failed) or
<code>outside_window</code>; an exception once it closes without a verified one, or with an unresolved high or
critical finding.</p>
<div class="scroll"><table class="nowrap"><tr>{closing_header}<th>exception</th></tr>{closing_rows or NONE_CLOSING}</table></div>
<h2>Per loan</h2>
<details><summary>{t["loans"]} loans, one row each (open to list them; the CSV and JSON reports hold the same)</summary>
<div class="scroll"><table class="nowrap"><tr>{header}</tr>{loan_rows}</table></div>
{more_note}</details>
</body></html>
"""
