"""Human output with rich: tables on a terminal, plain text when piped."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any

from rich.console import Console as _RichConsole
from rich.table import Table as _RichTable
from rich.text import Text

from monitor.core.controls import show_controls
from monitor.core.readable import count_lines, zone_label
from monitor.store.handoff_payloads import FindingDict


def _safe(value: Any) -> Any:
    """A cell or line for the terminal: control characters escaped (a loan id's ESC would colour or clear
    the operator's screen), and text as plain Text, so a value's `[red]` is shown, not taken as markup."""
    if not isinstance(value, str):
        return value
    # Line breaks our own cells put between lines (a count per line) stay: import refuses them in values.
    return Text("\n".join(show_controls(line) for line in value.split("\n")))


class Table(_RichTable):
    """rich's Table whose every cell and title goes through `_safe`: a table added later cannot forget it."""

    def __init__(self, *args: Any, title: str | None = None, **kwargs: Any) -> None:
        super().__init__(*args, title=None if title is None else _safe(title), **kwargs)

    def add_row(self, *renderables: Any, **kwargs: Any) -> None:
        super().add_row(*(_safe(r) for r in renderables), **kwargs)


class Console(_RichConsole):
    """rich's Console whose printed text goes through `_safe`."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*(_safe(o) for o in objects), **kwargs)


def _console() -> Console:
    console = Console(soft_wrap=False)
    if not console.is_terminal:
        # Piped into a log or a file: 80 columns would fold every row of the ledger.
        console = Console(soft_wrap=False, width=132)
    return console


def _t(value: Any, tz: tzinfo | None = None) -> str:
    """A cell. Times are shown in `tz` (the table's one zone, named in its title), else as they are."""
    if value is None:
        return "-"
    if isinstance(value, datetime):
        shown: datetime = value.astimezone(tz) if tz is not None and value.tzinfo is not None else value
        return shown.strftime("%Y-%m-%d %H:%M")
    return str(value)


def _in(tz: tzinfo) -> str:
    return f"times {zone_label(tz)}"


def print_summary(summary: Any) -> None:
    d = summary.as_dict()
    c = _console()
    if d["status"] == "lease_held":
        c.print(f"job {d['job']}: another pass holds the lease ({d['lease_holder']}); nothing done.")
        return
    title = f"{'plan' if d['dry_run'] else 'pass'} {d['run_id'][:12]} job={d['job']} status={d['status']}"
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("count", justify="right")
    rows = [
        ("stale loans (all policies)", d["stale_total"]),
        ("selected", d["selected"]),
        ("would submit" if d["dry_run"] else "submitted", d["submitted"]),
        ("  of which partial (employers filter)", d["partial"]),
        *([("need order details first (1 GET each)", d["details_needed"])] if d["dry_run"] else []),
        ("completed", d["completed"]),
        ("needs borrower re-auth", d["needs_reauth"]),
        ("outcome unknown (reconciled next pass)", d["unknown"]),
        ("reconciled from earlier passes", d["reconciled"]),
        ("Truv requests", d["requests"]),
        ("429 received", d["throttled"]),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    for reason, count in d["skipped"].items():
        table.add_row(f"skipped: {reason}", str(count))
    for status, count in d["failed"].items():
        table.add_row(f"failed: {status}", str(count))
    c.print(table)
    if d.get("error"):
        c.print(f"error: {d['error']}")


def backlog_line(policy: str, line: dict[str, Any]) -> str:
    """One policy's backlog after a pass, in a sentence: what is left, what blocks the rest (`run`, the demo)."""
    blocked = ", ".join(f"{n} {reason}" for reason, n in line["blocked"].items())
    nights = line.get("nights_to_clear")
    clear = "" if not line["not_reached"] else f"; about {nights} night(s) to reach them" if nights else "; no capacity"
    return (
        f"backlog {policy}: {line['stale']} stale, {line['submitted']} submitted, "
        f"{line['not_reached']} not reached (max_refreshes){clear}" + (f"; blocked: {blocked}" if blocked else "")
    )


def print_ledger(view: Mapping[str, Any], tz: tzinfo = UTC) -> None:
    c = _console()
    c.print(_reservations(view, tz))
    c.print(_token_use(view["tokens"], tz))
    c.print(_gse_use(view["gse_loans"], tz))


def _reservations(view: Mapping[str, Any], tz: tzinfo) -> Table:
    res = Table(title=f"reservations, newest first ({_in(tz)}, now {_t(view['now'], tz)})")
    for col in ("loan", "product", "tokens", "state", "outcome", "reserved", "refresh order", "report ids", "billable"):
        res.add_column(col)
    for r in view["reservations"]:
        res.add_row(
            r["loan_id"],
            r["product"],
            ",".join(r["tokens"]),
            r["state"],
            _t(r["outcome"]),
            _t(r["reserved_at"], tz),
            (r["refresh_order_id"] or "-")[:12],
            " ".join(x for x in (r.get("voie_report_id"), r.get("voa_report_id")) if x) or "-",
            "yes" if r["billable"] else "no",
        )
    return res


def _token_use(tokens: list[dict[str, Any]], tz: tzinfo) -> Table:
    tok = Table(title=f"use per access token (rolling 24 h; hashes, never tokens; {_in(tz)})")
    for col in ("token", "used", "limit", "exhausted", "next slot frees", "Truv blocked until"):
        tok.add_column(col)
    for t in tokens:
        tok.add_row(
            t["token"],
            str(t["used_24h"]),
            str(t["limit"]),
            "yes" if t["exhausted"] else "no",
            _t(t["next_slot_frees"], tz),
            _t(t["truv_blocked_until"], tz),
        )
    return tok


def _gse_use(loans: list[dict[str, Any]], tz: tzinfo) -> Table:
    gse = Table(title=f"GSE free re-verifications per loan (90 days from the original order; {_in(tz)})")
    for col in ("loan", "window ends", "used", "limit", "free left", "exhausted"):
        gse.add_column(col)
    for g in loans:
        gse.add_row(
            g["loan_id"],
            _t(g["window_ends"], tz) if g["in_window"] else f"ended {_t(g['window_ends'], tz)}: billable",
            str(g["used_in_window"]),
            str(g["limit"]),
            str(g["free_left"]),
            "yes" if g["exhausted"] else "no",
        )
    return gse


def _waiting_table(title: str, what: tuple[str, str], rows: Sequence[Mapping[str, Any]]) -> Table:
    """Loans waiting for someone: one row each, with why and since when."""
    t = Table(title=title)
    for col in ("loan", "closing", what[0], "why", "since", "hours"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            r["loan_id"], _t(r["closing_date"]), r[what[1]], r["reason"] or "-", _t(r["since"]), _t(r["for_hours"])
        )
    return t


def print_reauth(rows: Sequence[Mapping[str, Any]]) -> None:
    c = _console()
    c.print(_waiting_table("connections needing the borrower (Bridge update mode)", ("token (hash)", "token"), rows))
    if not rows:
        c.print("none")


def print_set_aside(rows: Sequence[Mapping[str, Any]]) -> None:
    if rows:
        title = "loans set aside: a new Truv order (needs_new_order) or a person (manual_review)"
        _console().print(_waiting_table(title, ("needs", "needs"), rows))


def print_changes(rows: list[FindingDict]) -> None:
    c = _console()
    t = Table(title="changes since the last verification (times UTC)")
    cols = ("id", "detected", "loan", "rule", "severity", "employment", "field", "before", "after", "refresh order")
    for col in (*cols, "disposition"):
        t.add_column(col)
    for r in rows:
        severity = r["severity"] + (" (probable)" if r.get("confidence") == "probable" else "")
        t.add_row(
            str(r["id"]),
            _t(r["detected_at"]),
            r["loan_id"],
            r["rule"],
            severity,
            _t(r["employment_id"])[:12],
            _t(r["field"]),
            _t(r["before"]),
            _t(r["after"]),
            (r["order_id"] or "-")[:12],
            disposition_text(r),
        )
    c.print(t)
    if not rows:
        c.print("none")


def disposition_text(finding: Mapping[str, Any], tz: tzinfo = UTC) -> str:
    """`open`, or `resolved by operator:ann@host 2026-06-05 12:00: note`."""
    by = finding.get("disposition_by", finding.get("by"))
    if by is None:
        return str(finding.get("disposition") or "open")
    when = _t(finding.get("disposition_at", finding.get("at")), tz)
    note = finding.get("disposition_note", finding.get("note"))
    return f"{finding['disposition']} by {by} {when}: {note}"


def print_status(data: Mapping[str, Any], tz: tzinfo = UTC) -> None:
    c = _console()
    c.print(f"now {_t(data['now'], tz)} ({_in(tz)})", highlight=False)
    for job in data["jobs"]:
        lease = job["lease"]
        c.print(
            f"job {job['job']} ({job['schedule']}); next: "
            + (", ".join(_t(t, tz) for t in job["next_fire_times"]) or "-")
            + (
                f"; lease held by {lease['holder']} until {_t(lease['expires_at'], tz)}"
                if lease
                else "; no pass running"
            ),
            highlight=False,
        )
        c.print(_passes(job["last_passes"], tz))
        if job.get("backlog"):
            c.print(_backlog(job["backlog"]))
    b = data["budget"]
    c.print(
        f"connections needing re-auth: {data['connections_needing_reauth']}; tokens at the 24 h limit: "
        f"{b['tokens_at_24h_limit']} (Truv-blocked {b['tokens_blocked_by_truv']}); GSE loans with no free re-verification left: "
        f"{b['gse_loans_at_90d_limit']}"
    )


def _passes(passes: list[dict[str, Any]], tz: tzinfo) -> Table:
    """The last passes: failed and skipped as `reason count` lines, biggest first."""
    t = Table(show_header=True, title=f"last passes ({_in(tz)})")
    for col in ("run", "status", "started", "finished", "submitted", "completed", "failed", "skipped"):
        t.add_column(col)
    for r in passes:
        t.add_row(
            r["run_id"][:12],
            r["status"],
            _t(r["started_at"], tz),
            _t(r["finished_at"], tz),
            _t(r["submitted"]),
            _t(r["completed"]),
            count_lines(r["failed"]),
            count_lines(r["skipped"]),
        )
    return t


def _counts_cell(value: Any) -> str:
    """A number, or a reason -> count mapping as lines."""
    return count_lines(value) if isinstance(value, dict) else _t(value)


def _backlog(backlog: dict[str, Any]) -> Table:
    """Per policy: what is stale, what a pass would take, what holds the rest, what the last pass left."""
    t = Table(title=f"backlog per policy (a pass can take about {_t(backlog.get('capacity_per_night'))} a night)")
    for col in ("policy", "stale", "waiting", "in flight", "backoff", "held", "last pass", "nights to clear"):
        t.add_column(col)
    for name, b in backlog.get("policies", {}).items():
        last = b.get("last_pass") or {}
        # `not_reached N`, then the blocked reasons as lines; an empty mapping says nothing.
        left = "\n".join(count_lines(v) if isinstance(v, dict) else f"{k} {_t(v)}" for k, v in last.items() if v != {})
        t.add_row(
            name,
            _t(b.get("stale")),
            _t(b.get("waiting")),
            _t(b.get("in_flight")),
            _t(b.get("retry_backoff")),
            _counts_cell(b.get("held")),
            left or "-",
            _t(b.get("nights_to_clear")),
        )
    return t


def print_webhooks(counts: dict[str, Any]) -> None:
    """`monitor webhooks status`: one table per view of the stored events."""
    c = _console()
    for key, title, what in (
        ("by_state", "webhooks by state", "state"),
        ("by_type", "webhooks by event type", "event type"),
        ("invalid_by_reason", "invalid webhooks (kept, never applied)", "reason"),
        ("rejected_by_reason", "rejected before storing (this process only)", "reason"),
    ):
        if key not in counts:
            continue
        t = Table(title=title)
        t.add_column(what)
        t.add_column("count", justify="right")
        for name, n in sorted(counts[key].items(), key=lambda kv: (-kv[1], kv[0])):
            t.add_row(name, str(n))
        if not counts[key]:
            t.add_row("none", "0")
        c.print(t)
    c.print(f"duplicate deliveries (applied once): {counts['duplicate_deliveries']['count']}", highlight=False)


def print_ledger_totals(view: Mapping[str, Any]) -> None:
    """One line saying what `--limit` and the filters left out of the ledger tables."""
    parts = []
    for key, label in (("reservations", "reservations"), ("tokens", "tokens"), ("gse_loans", "GSE loans")):
        shown, total = len(view[key]), view["totals"][key]
        parts.append(f"{label} {shown} of {total}" + (" (truncated: raise --limit)" if view["truncated"][key] else ""))
    _console().print("shown: " + "; ".join(parts), highlight=False)


def print_loan(view: Mapping[str, Any], tz: tzinfo = UTC) -> None:
    c = _console()
    c.print(f"loan {view['loan']['loan_id']} ({_in(tz)}, now {_t(view['now'], tz)})", highlight=False)
    c.print(_loan_facts(view, tz))
    c.print(_decisions(view["decisions"], tz))
    c.print(_loan_connections(view["connections"], tz))
    c.print(_orders(view["orders"], tz))
    c.print(_outcomes(view["outcomes"], tz))
    if view["findings"]:
        c.print(_findings(view["findings"], tz))
    if view.get("pre_closing"):
        c.print(_pre_closing(view["pre_closing"], tz))
    c.print(_timeline(view["timeline"], tz))


def _pre_closing(rows: list[dict[str, Any]], tz: tzinfo) -> Table:
    t = Table(title=f"pre-closing evidence ({_in(tz)})")
    for col in ("evidence", "rule", "status", "exception", "order", "product", "report id", "data as of", "findings"):
        t.add_column(col, no_wrap=col in ("status", "exception"), min_width=22 if col == "status" else None)
    for r in rows:
        found = "; ".join(f"{f['id']} {f['rule']} {disposition_text(f, tz)}" for f in r["findings"]) or "-"
        t.add_row(
            r["evidence"],
            _t(r["rule"]),
            r["status"],
            "yes" if r["exception"] else "no",
            _t(r["order_id"]),
            _t(r["product"]),
            _t(r["report_id"]),
            _t(r["data_as_of"], tz),
            found,
        )
    return t


def _loan_facts(view: Mapping[str, Any], tz: tzinfo) -> Table:
    loan = view["loan"]
    facts = Table(show_header=False, title=_in(tz))
    facts.add_column("field")
    facts.add_column("value")
    hold = (
        "-"
        if loan["hold"] is None
        else f"{loan['hold']} ({loan['hold_reason'] or '-'}) since {_t(loan['hold_since'], tz)}"
    )
    for key, value in (
        ("gse", "yes" if loan["gse"] else "no"),
        ("status", loan["status"]),
        ("closing date", _t(loan["closing_date"])),
        ("order / original", f"{loan['order_id']} / {loan['original_order_id'] or '-'}"),
        ("data date (oldest connection)", _t(loan["data_as_of"], tz)),
        ("order read", _t(loan["details_fetched_at"], tz)),
        ("GSE window start", _t(loan["gse_window_start"], tz)),
        ("hold", hold),
        ("waits because", loan.get("attention") or "-"),
        ("attributes", ", ".join(f"{k}={v}" for k, v in sorted(loan["attributes"].items())) or "-"),
        ("policies matched", ", ".join(view["policies"]) or "none"),
        ("next eligible", _t(view["next_eligible"], tz)),
    ):
        facts.add_row(key, value)
    return facts


def _decisions(decisions: list[dict[str, Any]], tz: tzinfo) -> Table:
    dec = Table(title=f"what the next pass would do (max_refreshes not applied; {_in(tz)})")
    for col in ("policy", "product", "data date", "decision", "reason", "next eligible"):
        dec.add_column(col)
    for d in decisions:
        dec.add_row(
            d["policy"], d["product"], _t(d["data_as_of"], tz), d["decision"], d["reason"], _t(d["next_eligible"], tz)
        )
    return dec


def _loan_connections(connections: list[dict[str, Any]], tz: tzinfo) -> Table:
    con = Table(title=f"connections (token hashes; use in the rolling 24 h; {_in(tz)})")
    for col in ("kind", "suborder", "token", "data date", "state", "uses", "next slot frees"):
        con.add_column(col)
    for x in connections:
        state = x["state"] or "-"
        if x["reason"]:
            state += f" ({x['reason']})"
        con.add_row(
            x["kind"],
            x["suborder_id"],
            x["token"],
            _t(x["data_as_of"], tz),
            state,
            f"{x['uses_24h']}/{x['limit']}",
            _t(x["next_slot_frees"], tz),
        )
    return con


def _orders(orders: list[dict[str, Any]], tz: tzinfo) -> Table:
    table = Table(title=f"orders ({_in(tz)})")
    for col in ("order", "refresh of", "products", "created", "VOIE report", "VOA report"):
        table.add_column(col)
    for o in orders:
        table.add_row(
            o["id"],
            o["initial_order"] or "-",
            o["products"],
            _t(o["created_at"], tz),
            _t(o["voie_report_id"]),
            _t(o["voa_report_id"]),
        )
    return table


def _outcomes(outcomes: list[dict[str, Any]], tz: tzinfo) -> Table:
    out = Table(title=f"refreshes, newest first ({_in(tz)})")
    for col in ("policy", "state", "outcome", "reserved", "refresh order"):
        out.add_column(col)
    for r in outcomes:
        out.add_row(r["policy"], r["state"], _t(r["outcome"]), _t(r["reserved_at"], tz), _t(r["refresh_order_id"]))
    return out


def _findings(findings: list[dict[str, Any]], tz: tzinfo) -> Table:
    fnd = Table(title=f"findings ({_in(tz)})")
    for col in ("id", "detected", "rule", "severity", "field", "before", "after", "disposition"):
        fnd.add_column(col)
    for f in findings:
        cells = (_t(f.get(k), tz) for k in ("detected_at", "rule", "severity", "field", "before", "after"))
        fnd.add_row(str(f["id"]), *cells, disposition_text(f, tz))
    return fnd


def _timeline(timeline: list[dict[str, Any]], tz: tzinfo) -> Table:
    tl = Table(title=f"audit timeline, newest first ({_in(tz)})")
    for col in ("at", "kind", "detail"):
        tl.add_column(col)
    for e in timeline:
        detail = e["detail"]
        text = ", ".join(f"{k}={v}" for k, v in detail.items()) if isinstance(detail, dict) else str(detail)
        tl.add_row(_t(e["at"], tz), e["kind"], text[:100])
    return tl


def print_loans(view: Mapping[str, Any], tz: tzinfo = UTC) -> None:
    t = Table(title=f"loans ({_in(tz)}, now {_t(view['now'], tz)})")
    for col in ("loan", "status", "gse", "closing", "data date", "hold", "stale for", "last outcome", "last skip"):
        t.add_column(col)
    for r in view["loans"]:
        t.add_row(
            r["loan_id"],
            r["status"],
            "yes" if r["gse"] else "no",
            _t(r["closing_date"]),
            _t(r["data_as_of"], tz),
            r["hold_reason"] or r["hold"] or "-",
            ",".join(r["stale_for"]) or "-",
            _t(r["last_outcome"]),
            _t(r["last_skip_reason"]),
        )
    c = _console()
    c.print(t)
    more = " (truncated: raise --limit)" if view["truncated"] else ""
    c.print(f"{len(view['loans'])} of {view['total']} loans{more}", highlight=False)
