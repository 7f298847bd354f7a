"""The compliance report as one self-contained HTML file: inline SVG charts, no script, no network,
prints well. Outside text never reorders the page: every value goes through `html_text`."""

from __future__ import annotations

from monitor.reports.cells import cell, utc_said
from monitor.reports.charts import bars, stacked_daily
from monitor.reports.compliance_shapes import CHANGE_COLUMNS, LOAN_COLUMNS, Report
from monitor.reports.html_tables import (
    CLOSING_HTML,
    MAX_HTML_ROWS,
    NONE_CLOSING,
    backlog_html,
    closing_rows,
    exception_rows,
    table_rows,
)
from monitor.reports.safe_text import html_text

NONE_4 = '<tr><td colspan="4">none</td></tr>'
NONE_5 = '<tr><td colspan="5">none</td></tr>'
NONE_CHANGES = f'<tr><td colspan="{len(CHANGE_COLUMNS)}">none</td></tr>'


def _window_note(report: Report) -> str:
    if report["pre_closing_business_days"] is not None:
        return f"{report['pre_closing_business_days']} business days before closing for every loan (--pre-closing-days)"
    windows = ", ".join(f"{name} {days}" for name, days in report["pre_closing_windows"].items())
    if not windows:
        return "no policy sets one, so no loan is judged (--pre-closing-days judges every loan)"
    return f"each loan's first matching policy's, in business days ({html_text(windows)}); other loans are not judged"


def render_html(report: Report) -> str:
    t = report["totals"]
    e = report["exceptions"]
    esc = html_text  # bidi controls shown, then HTML-escaped: outside text never reorders the page
    loan_rows = table_rows(report["loans"], LOAN_COLUMNS)
    more = len(report["loans"]) - MAX_HTML_ROWS
    blocked_rows, reauth_rows, aside_rows = exception_rows(e)
    change_rows = table_rows(report["changes"]["findings"], CHANGE_COLUMNS)
    closing = closing_rows(report["pre_closing"])
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
<p>Period {period["from"]} to {period["to"]} (UTC). Generated {esc(cell(report["generated_at"]))}{utc_said()} by monitor
{esc(report["version"])}. Access tokens appear only as short hashes. Pre-closing window: {_window_note(report)}
(weekends and US federal holidays excluded).</p>
<h2>Totals</h2>
<table class="totals"><tr><th>loans</th><th>refreshes</th><th>billable</th><th>GSE, free</th><th>failures</th>
<th>blocked by a budget</th><th>backlog</th><th>needing re-auth</th></tr><tr><td>{t["loans"]}</td><td>{t["refreshes"]}</td>
<td>{t["billable"]}</td><td>{t["gse_free"]}</td><td>{t["failures"]}</td><td>{t["blocked"]}</td><td>{t["backlog"]}</td>
<td>{t["needs_reauth"]}</td></tr></table>
{stacked_daily(report["daily"])}
{bars("Budget use in the period", budget)}
{bars("Failure causes (each failed connection's status)", e["failures_by_status"], "#c53030")}
<h2>Exceptions: blocked by a budget (its last word in the period)</h2>
<table><tr><th>loan</th><th>rule</th><th>at</th><th>next eligible</th></tr>{blocked_rows or NONE_4}</table>
{backlog_html(e["backlog"], e["persistent_skips"])}
<h2>Exceptions: connections needing the borrower</h2>
<table><tr><th>loan</th><th>connection</th><th>why</th><th>since</th><th>waiting</th></tr>{reauth_rows or NONE_5}</table>
<h2>Exceptions: loans set aside (a new order, or a person, is needed)</h2>
<table><tr><th>loan</th><th>needs</th><th>why</th><th>since</th></tr>{aside_rows or NONE_4}</table>
<h2>Changes since the last verification (income monitoring)</h2>
{bars("Findings by severity", report["changes"]["by_severity"], "#c05621")}
{bars("Findings by rule", report["changes"]["by_rule"], "#c05621")}
<table><tr>{change_header}</tr>{change_rows or NONE_CHANGES}</table>
<h2>Pre-closing evidence</h2>
<p>Each loan closing in the period, judged when a policy with a pre-closing window matches it (else
<code>not_covered</code>): VOE evidence is an income or employment verification inside the window (an assets
one never is; an assets policy's window adds a VOA row). Status <code>verified</code>,
<code>verified_with_findings</code>, <code>missing</code>, <code>unverified</code> (the refresh failed) or
<code>outside_window</code>; an exception once it closes without a verified one, or with an unresolved high or
critical finding.</p>
<div class="scroll"><table class="nowrap"><tr>{closing_header}<th>exception</th></tr>{closing or NONE_CLOSING}</table></div>
<h2>Per loan</h2>
<details><summary>{t["loans"]} loans, one row each (open to list them; the CSV and JSON reports hold the same)</summary>
<div class="scroll"><table class="nowrap"><tr>{header}</tr>{loan_rows}</table></div>
{more_note}</details>
</body></html>
"""
