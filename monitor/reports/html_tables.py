"""The compliance report's HTML tables: every cell through `html_text` (bidi controls shown, then escaped),
at most MAX_HTML_ROWS rows each (the CSV and JSON hold them all)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from monitor.reports.cells import cell, cells, closing_cell
from monitor.reports.evidence_shapes import PreClosingRow
from monitor.reports.exception_shapes import Backlog, Exceptions, PersistentSkip
from monitor.reports.exceptions import NOT_REACHED
from monitor.reports.safe_text import html_text

MAX_HTML_ROWS = 5000
NONE_2 = '<tr><td colspan="2">none</td></tr>'


def tds(*cells: object) -> str:
    """Table cells, each shown through `html_text` (bidi controls shown, then HTML-escaped)."""
    return "".join(f"<td>{html_text(cell)}</td>" for cell in cells)


def tr(*cells: object) -> str:
    return f"<tr>{tds(*cells)}</tr>"


def table_rows(rows: Sequence[Mapping[str, object]], columns: tuple[str, ...]) -> str:
    return "".join(tr(*cells(row, columns)) for row in rows[:MAX_HTML_ROWS])


def exception_rows(e: Exceptions) -> tuple[str, str, str]:
    """The blocked, needing re-auth and set-aside tables' rows."""
    blocked = "".join(tr(b["loan_id"], b["rule"], cell(b["at"]), cell(b["next_eligible"])) for b in e["blocked"])
    reauth = "".join(
        tr(a["loan_id"], a["connection"], a["reason"], cell(a["since"]), a["waiting"]) for a in e["needs_reauth"]
    )
    aside = "".join(tr(x["loan_id"], x["needs"], x["reason"], cell(x["since"])) for x in e["set_aside"])
    return blocked, reauth, aside


def backlog_html(backlog: Backlog, persistent: list[PersistentSkip]) -> str:
    """The stale loans no refresh reached, by reason (the loans behind a <details>), and the persistent skips."""
    by_reason = "".join(tr(reason, n) for reason, n in backlog["by_reason"].items())
    loans = "".join(
        tr(x["loan_id"], ", ".join(x["policies"]), x["reason"], cell(x["data_as_of"]))
        for x in backlog["loans"][:MAX_HTML_ROWS]
    )
    listed = (
        f'<details><summary>the {backlog["total"]} loans</summary><div class="scroll"><table class="nowrap">'
        f"<tr><th>loan</th><th>stale for</th><th>why</th><th>data as of</th></tr>{loans}</table></div></details>"
        if backlog["loans"]
        else ""
    )
    kept = "".join(
        tr(p["loan_id"], p["reason"], p["policy"] or "-", p["times"], cell(p["first"]), cell(p["last"]))
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


def closing_rows(closings: list[PreClosingRow]) -> str:
    rows = []
    for c in closings[:MAX_HTML_ROWS]:
        verdict = "<b>yes</b>" if c["exception"] else "no"
        rows.append(f"<tr>{tds(*(closing_cell(c, key) for _, key in CLOSING_HTML))}<td>{verdict}</td></tr>")
    return "".join(rows)
