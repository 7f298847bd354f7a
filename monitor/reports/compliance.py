"""The compliance report: per loan, exceptions, totals. Built with set-based queries, rendered to
CSV, JSON or one self-contained HTML file (inline SVG charts, no network, prints well)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import and_, func, select

from monitor import __version__
from monitor.app import Services
from monitor.core.budget import gse_terms
from monitor.core.calendar import subtract_business_days
from monitor.core.staleness import start_of_day_utc
from monitor.reports import evidence
from monitor.reports.safe_text import csv_writer, html_text
from monitor.store.db import read_only, session
from monitor.store.ledger import gse_standing
from monitor.store.tables import Connection, Event, Loan, LoanConnection, Reservation, TruvOrder
from monitor.truv.secrets import short

NONE_4 = '<tr><td colspan="4">none</td></tr>'
NONE_5 = '<tr><td colspan="5">none</td></tr>'
BUDGET_REASONS = ("token_budget", "gse_budget", "billable_cap", "truv_refresh_limit")
NONE_8 = '<tr><td colspan="8">none</td></tr>'
CHANGE_COLUMNS = ("loan_id", "rule", "severity", "field", "before", "after", "order_id", "detected_at")
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
    "data_inside_pre_closing_window",
)


def build(services: Services, *, start: date, end: date, now: datetime, pre_closing_days: int = 10) -> dict[str, Any]:
    lo, hi = start_of_day_utc(start), start_of_day_utc(end) + timedelta(days=1)
    r = Reservation.__table__.c
    with session(read_only(services.engine)) as s:
        in_period = and_(r.reserved_at >= lo, r.reserved_at < hi)
        refreshed = dict(
            s.execute(
                select(r.loan_id, func.count()).where(in_period, r.refresh_order_id.is_not(None)).group_by(r.loan_id)
            ).all()
        )
        billable = dict(
            s.execute(
                select(r.loan_id, func.count())
                .where(in_period, r.billable.is_(True), r.refresh_order_id.is_not(None))
                .group_by(r.loan_id)
            ).all()
        )
        standing = gse_standing(s, limits=services.limits, now=now)
        latest: dict[str, tuple[str | None, str | None]] = {}
        last_at: dict[str, datetime] = {}
        for loan_id, product, state, outcome, at in s.execute(
            select(r.loan_id, r.product, r.state, r.outcome, r.reserved_at)
            .where(r.reserved_at < hi)
            .order_by(r.reserved_at)
        ):
            latest[loan_id] = (product, outcome or state)
            last_at[loan_id] = at
        chains: dict[str, list[tuple[Any, str]]] = defaultdict(list)
        report_ids: dict[str, tuple[str | None, str | None]] = {}
        for loan_id, order_id, created, voie, voa in s.execute(
            select(
                TruvOrder.loan_id, TruvOrder.id, TruvOrder.created_at, TruvOrder.voie_report_id, TruvOrder.voa_report_id
            )
        ):
            chains[loan_id].append((created or datetime.min.replace(tzinfo=UTC), order_id))
            report_ids[order_id] = (voie, voa)
        loans_q = select(
            Loan.loan_id,
            Loan.gse,
            Loan.status,
            Loan.order_id,
            Loan.data_as_of,
            Loan.closing_date,
            Loan.gse_window_start,
            Loan.base_order_id,
        ).order_by(Loan.loan_id)
        per_loan = []
        for loan_id, gse, status, root, as_of, closing, gse_start, newest in s.execute(loans_q):
            if status != "active" and loan_id not in refreshed:
                continue
            window = subtract_business_days(closing, pre_closing_days) if closing else None
            chain = [root, *[o for _, o in sorted(chains.get(loan_id, [])) if o != root]]
            terms = (
                standing.get(loan_id) or gse_terms(window_start=gse_start, uses=[], limits=services.limits, now=now)
                if gse
                else None
            )
            product, outcome = latest.get(loan_id, (None, None))
            per_loan.append(
                {
                    "loan_id": loan_id,
                    "gse": gse,
                    "status": status,
                    "product": product,
                    "order_chain": " > ".join(chain),
                    "refreshes_in_period": refreshed.get(loan_id, 0),
                    "gse_window_ends": terms.window_end if terms else None,
                    "gse_used_in_window": terms.used if terms else None,
                    "gse_free_left": (terms.free_left if terms.in_window else 0) if terms else None,
                    "billable_in_period": billable.get(loan_id, 0),
                    "last_outcome": outcome,
                    "voie_report_id": report_ids.get(newest or root, (None, None))[0],
                    "voa_report_id": report_ids.get(newest or root, (None, None))[1],
                    "data_as_of": as_of,
                    "closing_date": closing,
                    "pre_closing_window_start": window,
                    "data_inside_pre_closing_window": (as_of is not None and as_of >= start_of_day_utc(window))
                    if window
                    else None,
                }
            )
        blocked = {}
        for loan_id, at, detail in s.execute(
            select(Event.loan_id, Event.at, Event.detail)
            .where(Event.kind == "skipped", Event.at >= lo, Event.at < hi)
            .order_by(Event.seq)  # type: ignore[arg-type]
        ):
            d = json.loads(detail)
            if d.get("reason") in BUDGET_REASONS:
                blocked[loan_id] = {
                    "loan_id": loan_id,
                    "rule": d["reason"],
                    "at": at,
                    "next_eligible": d.get("next_free_at"),
                    "policy": d.get("policy"),
                }
            elif loan_id in blocked and d.get("reason") not in BUDGET_REASONS:
                blocked.pop(loan_id, None)
        for loan_id in list(blocked):
            if loan_id in last_at and last_at[loan_id] > blocked[loan_id]["at"]:
                blocked.pop(loan_id)  # refreshed after it was blocked: no longer an exception
        reauth = [
            {
                "loan_id": loan_id,
                "connection": short(token),
                "reason": reason,
                "since": since,
                "days": round((now - since).total_seconds() / 86400, 1) if since else None,
            }
            for loan_id, token, reason, since in s.execute(
                select(LoanConnection.loan_id, Connection.token_hash, Connection.reason, Connection.since)
                .join(Connection, Connection.token_hash == LoanConnection.token_hash)  # type: ignore[arg-type]
                .where(Connection.state == "needs_reauth")
                .order_by(LoanConnection.loan_id)
            )
        ]
        aside = [
            {"loan_id": loan_id, "needs": hold, "reason": reason, "since": since}
            for loan_id, hold, reason, since in s.execute(
                select(Loan.loan_id, Loan.hold, Loan.hold_reason, Loan.hold_since)
                .where(Loan.hold.is_not(None), Loan.status == "active")  # type: ignore[union-attr]
                .order_by(Loan.loan_id)
            )
        ] + [
            {"loan_id": loan_id, "needs": "needs_new_order", "reason": f"{reason} ({short(token)})", "since": since}
            for loan_id, token, reason, since in s.execute(
                select(LoanConnection.loan_id, Connection.token_hash, Connection.reason, Connection.since)
                .join(Connection, Connection.token_hash == LoanConnection.token_hash)  # type: ignore[arg-type]
                .where(Connection.state == "needs_new_order")
                .order_by(LoanConnection.loan_id)
            )
        ]
        failures = dict(
            s.execute(select(r.outcome, func.count()).where(in_period, r.state == "failed").group_by(r.outcome)).all()
        )
        daily: dict[str, Counter[str]] = defaultdict(Counter)
        for at, state, outcome in s.execute(select(r.reserved_at, r.state, r.outcome).where(in_period)):
            daily[at.date().isoformat()][_bucket(state, outcome)] += 1
        changed = evidence.changes(s, lo=lo, hi=hi)
        closing = evidence.pre_closing(
            s, policies=list(services.config.policies), default_days=pre_closing_days, start=start, end=end, now=now
        )
    late = [c for c in closing if c["exception"]]
    totals = {
        "loans": len(per_loan),
        "refreshes": sum(refreshed.values()),
        "billable": sum(billable.values()),
        "gse_free": sum(refreshed.get(x["loan_id"], 0) - billable.get(x["loan_id"], 0) for x in per_loan if x["gse"]),
        "failures": sum(failures.values()),
        "blocked": len(blocked),
        "needs_reauth": len(reauth),
        "set_aside": len(aside),
        "findings": len(changed["findings"]),
        "closed_without_verification": len(late),
    }
    return {
        "title": "monitor compliance report",
        "period": {"from": start, "to": end},
        "generated_at": now,
        "version": __version__,
        "pre_closing_business_days": pre_closing_days,
        "totals": totals,
        "loans": per_loan,
        "exceptions": {
            "blocked": list(blocked.values()),
            "needs_reauth": reauth,
            "set_aside": aside,
            "closed_without_verification": late,
            "failures_by_status": failures,
        },
        "changes": changed,
        "pre_closing": closing,
        "daily": {day: dict(c) for day, c in sorted(daily.items())},
    }


def _bucket(state: str, outcome: str | None) -> str:
    if state == "completed":
        return "completed"
    if state == "failed":
        return "failed"
    if state in ("refused", "released", "lost"):
        return "not created"
    return "pending"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return str(value)


def write(report: dict[str, Any], fmt: str, out: Path) -> list[Path]:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(out.suffix + ".tmp")
    written = [out]
    if fmt == "json":
        tmp.write_text(json.dumps(report, default=str, indent=2, sort_keys=True), encoding="utf-8")
    elif fmt == "csv":
        with tmp.open("w", newline="", encoding="utf-8") as handle:
            w = csv_writer(handle)  # every cell neutralised: the report is opened in spreadsheets
            w.writerow(LOAN_COLUMNS)
            for row in report["loans"]:
                w.writerow([_cell(row[c]) for c in LOAN_COLUMNS])
        exceptions = out.with_name(out.stem + "-exceptions.csv")
        with exceptions.open("w", newline="", encoding="utf-8") as handle:
            w = csv_writer(handle)  # every cell neutralised: the report is opened in spreadsheets
            w.writerow(["kind", "loan_id", "detail", "since_or_at", "next_eligible_or_days"])
            for b in report["exceptions"]["blocked"]:
                w.writerow(["blocked", b["loan_id"], b["rule"], _cell(b["at"]), _cell(b["next_eligible"])])
            for a in report["exceptions"]["needs_reauth"]:
                w.writerow(
                    ["needs_reauth", a["loan_id"], f"{a['reason']} ({a['connection']})", _cell(a["since"]), a["days"]]
                )
            for x in report["exceptions"]["set_aside"]:
                w.writerow([x["needs"], x["loan_id"], x["reason"], _cell(x["since"]), ""])
            for c in report["exceptions"]["closed_without_verification"]:
                detail = f"closed without a verification in its {c['window_days']} business-day window"
                w.writerow(["closed_unverified", c["loan_id"], detail, _cell(c["closing_date"]), ""])
            for status, n in report["exceptions"]["failures_by_status"].items():
                w.writerow(["failures", "", status, "", n])
        changes_csv = out.with_name(out.stem + "-changes.csv")
        with changes_csv.open("w", newline="", encoding="utf-8") as handle:
            w = csv_writer(handle)
            w.writerow(CHANGE_COLUMNS)
            for f in report["changes"]["findings"]:
                w.writerow([_cell(f[c]) for c in CHANGE_COLUMNS])
        written.extend([exceptions, changes_csv])
    else:
        tmp.write_text(render_html(report), encoding="utf-8")
    tmp.replace(out)  # a half-written report never stands under the final name
    return written


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
    colours = {"completed": "#2f855a", "failed": "#c53030", "not created": "#975a16", "pending": "#718096"}
    if not daily:
        return "<figure><figcaption>Refreshes per day by outcome</figcaption><p>none</p></figure>"
    width, height, pad = 680, 220, 30
    peak = max(sum(d.values()) for d in daily.values()) or 1
    step = (width - 2 * pad) / len(daily)
    parts = []
    for i, (day, counts) in enumerate(daily.items()):
        y = height - pad
        for kind, colour in colours.items():
            h = (height - 2 * pad) * counts.get(kind, 0) / peak
            if h:
                parts.append(
                    f'<rect x="{pad + i * step:.1f}" y="{y - h:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" '
                    f'fill="{colour}"><title>{day} {kind}: {counts[kind]}</title></rect>'
                )
                y -= h
        if len(daily) <= 31 or i % max(1, len(daily) // 15) == 0:
            parts.append(f'<text x="{pad + i * step:.1f}" y="{height - 10}" font-size="9">{day[5:]}</text>')
    legend = "".join(f'<span class="key" style="background:{c}"></span>{k} ' for k, c in colours.items())
    return (
        f'<figure><figcaption>Refreshes per day by outcome</figcaption><svg role="img" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" font-family="sans-serif">{"".join(parts)}</svg>'
        f'<div class="legend">{legend}</div></figure>'
    )


def render_html(report: dict[str, Any]) -> str:
    t = report["totals"]
    e = report["exceptions"]
    esc = html_text  # bidi controls shown, then HTML-escaped: outside text never reorders the page
    loan_rows = "".join(
        "<tr>" + "".join(f"<td>{esc(_cell(row[c]))}</td>" for c in LOAN_COLUMNS) + "</tr>"
        for row in report["loans"][:5000]
    )
    more = len(report["loans"]) - 5000
    blocked_rows = "".join(
        f"<tr><td>{esc(b['loan_id'])}</td><td>{esc(b['rule'])}</td><td>{esc(_cell(b['at']))}</td>"
        f"<td>{esc(_cell(b['next_eligible']))}</td></tr>"
        for b in e["blocked"]
    )
    reauth_rows = "".join(
        f"<tr><td>{esc(a['loan_id'])}</td><td>{esc(a['connection'])}</td><td>{esc(str(a['reason']))}</td>"
        f"<td>{esc(_cell(a['since']))}</td><td>{a['days']}</td></tr>"
        for a in e["needs_reauth"]
    )
    aside_rows = "".join(
        f"<tr><td>{esc(x['loan_id'])}</td><td>{esc(x['needs'])}</td><td>{esc(str(x['reason']))}</td>"
        f"<td>{esc(_cell(x['since']))}</td></tr>"
        for x in e["set_aside"]
    )
    change_rows = "".join(
        "<tr>" + "".join(f"<td>{esc(_cell(f[c]))}</td>" for c in CHANGE_COLUMNS) + "</tr>"
        for f in report["changes"]["findings"][:5000]
    )
    closing_rows = "".join(
        f"<tr><td>{esc(c['loan_id'])}</td><td>{esc(_cell(c['closing_date']))}</td><td>{c['window_days']}</td>"
        f"<td>{esc(_cell(c['window_start']))}</td><td>{esc(_cell(c['last_verification']))}</td>"
        f"<td>{esc(_cell(c['refresh_order_id']))}</td><td>{esc(_cell(c['voie_report_id']))}</td>"
        f"<td>{'yes' if c['inside_window'] else ('<b>no</b>' if c['exception'] else 'not yet')}</td></tr>"
        for c in report["pre_closing"][:5000]
    )
    # Built outside the template: Python 3.11 allows no nested quotes of the same kind in f-strings.
    header = "".join("<th>" + c.replace("_", " ") + "</th>" for c in LOAN_COLUMNS)
    change_header = "".join("<th>" + c.replace("_", " ") + "</th>" for c in CHANGE_COLUMNS)
    more_note = f"<p>{more} more loans: see the CSV or JSON report.</p>" if more > 0 else ""
    budget = {"refreshes": t["refreshes"], "billable": t["billable"], "GSE, free": t["gse_free"]}
    period = report["period"]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(report["title"])} {period["from"]} to {period["to"]}</title>
<style>
body {{ font: 13px/1.4 system-ui, sans-serif; margin: 24px; color: #1a202c; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; border-bottom: 1px solid #cbd5e0; }}
table {{ border-collapse: collapse; width: 100%; font-size: 11px; }}
th, td {{ border: 1px solid #e2e8f0; padding: 3px 5px; text-align: left; }} th {{ background: #edf2f7; }}
.totals td {{ font-size: 14px; }} figure {{ margin: 12px 0; }} figcaption {{ font-weight: 600; margin-bottom: 4px; }}
.key {{ display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 10px; }}
@media print {{ body {{ margin: 0; }} h2 {{ break-after: avoid; }} tr {{ break-inside: avoid; }} }}
</style></head><body>
<h1>{esc(report["title"])}</h1>
<p>Period {period["from"]} to {period["to"]} (UTC). Generated {esc(_cell(report["generated_at"]))} UTC by monitor
{esc(report["version"])}. Access tokens appear only as short hashes. Pre-closing window: {report["pre_closing_business_days"]}
business days before closing (weekends and US federal holidays excluded).</p>
<h2>Totals</h2>
<table class="totals"><tr><th>loans</th><th>refreshes</th><th>billable</th><th>GSE, free</th><th>failures</th>
<th>blocked by a budget</th><th>needing re-auth</th></tr><tr><td>{t["loans"]}</td><td>{t["refreshes"]}</td>
<td>{t["billable"]}</td><td>{t["gse_free"]}</td><td>{t["failures"]}</td><td>{t["blocked"]}</td><td>{t["needs_reauth"]}</td></tr></table>
{_stacked_daily(report["daily"])}
{_bars("Budget use in the period", budget)}
{_bars("Failure causes", {k or "unknown": v for k, v in e["failures_by_status"].items()}, "#c53030")}
<h2>Exceptions: stale but blocked</h2>
<table><tr><th>loan</th><th>rule</th><th>at</th><th>next eligible</th></tr>{blocked_rows or NONE_4}</table>
<h2>Exceptions: connections needing the borrower</h2>
<table><tr><th>loan</th><th>connection</th><th>why</th><th>since</th><th>days</th></tr>{reauth_rows or NONE_5}</table>
<h2>Exceptions: loans set aside (a new order, or a person, is needed)</h2>
<table><tr><th>loan</th><th>needs</th><th>why</th><th>since</th></tr>{aside_rows or NONE_4}</table>
<h2>Changes since the last verification (income monitoring)</h2>
{_bars("Findings by severity", report["changes"]["by_severity"], "#c05621")}
{_bars("Findings by rule", report["changes"]["by_rule"], "#c05621")}
<table><tr>{change_header}</tr>{change_rows or NONE_CHANGES}</table>
<h2>Pre-closing evidence</h2>
<p>Each loan closing in the period: its last completed verification before closing, and whether it falls
within its policy's pre-closing window (business days before closing). "no" is an exception.</p>
<table><tr><th>loan</th><th>closing</th><th>window (business days)</th><th>window starts</th>
<th>last verification</th><th>refresh order</th><th>VOIE report id</th><th>in window</th></tr>{closing_rows or NONE_8}</table>
<h2>Per loan</h2>
<table><tr>{header}</tr>{loan_rows}</table>
{more_note}
</body></html>
"""
