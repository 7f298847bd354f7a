"""docs/benchmark.md's "## Benchmark" section, generated from one run of the benchmark.

`python -m tests.bench --full --out bench-full.json` then `python -m tests.bench_readme bench-full.json`
prints the section's body; `--write docs/benchmark.md` puts it in place of the body that is there (from the
line after "## Benchmark" to the next "## " heading), so every figure in it comes from that one run,
on the commit and machine it names, and none is edited by hand.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HEADING = "## Benchmark"
NAMES = {"sqlite": "SQLite", "postgres": "Postgres"}


def _backends(results: dict[str, Any]) -> list[str]:
    seen: list[str] = []
    for part in ("import_plan", "pass", "webhooks", "report", "console", "ledger", "unknown_dates", "shared"):
        for row in results.get(part, []):
            if row["backend"] not in seen:
                seen.append(row["backend"])
    return sorted(seen, key=lambda b: list(NAMES).index(b) if b in NAMES else len(NAMES))


def _row(cells: list[Any]) -> str:
    return "| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |"


def _size(n: int) -> str:
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div and n % div == 0:
            return f"{n // div}{unit}"
    return f"{n:,}"


def _by_backend(results: dict[str, Any], part: str, backend: str) -> list[dict[str, Any]]:
    return [r for r in results.get(part, []) if r["backend"] == backend]


def _joined(rows: list[dict[str, Any]], fmt: Any) -> str:
    return " / ".join(fmt(r) for r in rows) if rows else "-"


def measures(results: dict[str, Any]) -> list[str]:
    """Every figure of the run but the naive comparison's and the console's, one measure a line."""
    backends = _backends(results)
    lines: list[str] = []

    def add(label: str, part: str, fmt: Any, where: Any = None) -> None:
        cells = []
        for b in backends:
            rows = [r for r in _by_backend(results, part, b) if where is None or where(r)]
            cells.append(_joined(rows, fmt))
        if any(c != "-" for c in cells):
            lines.append(_row([label, *cells]))

    imports = results.get("import_plan", [])
    if imports:
        sizes = " / ".join(_size(n) for n in dict.fromkeys(r["loans"] for r in imports))
        add(f"`loans import`, {sizes} loans (10% stale)", "import_plan", lambda r: f"{r['import_s']} s")
        add("peak memory of that import", "import_plan", lambda r: f"{r['import_peak_mb']} MB")
        add(f"`plan`, {sizes} loans", "import_plan", lambda r: f"{r['plan_s']} s")
        add("peak memory of that plan", "import_plan", lambda r: f"{r['plan_peak_mb']} MB")
    for r in results.get("pass", [])[:1]:
        add(
            f"pass of {r['stale_loans']:,} stale loans, {r['latency_s']:g} s latency, limit 300/min: pace while "
            "refreshes remain to send (the whole pass with its polling tail), 429s",
            "pass",
            lambda r: (
                f"{(r.get('share_while_submitting') or 0):.1%} ({r['achieved_rpm']}/min = {r['share_of_limit']:.1%}), "
                f"{r['http_429']} x 429"
            ),
        )
        add(
            "API calls per completed refresh, polling (first pass, which reads each order once)",
            "pass",
            lambda r: f"{r['calls_per_refresh_polling']} ({r['calls_per_refresh_first_pass']})",
        )
    for r in results.get("pass_webhooks", [])[:1]:
        add(
            f"API calls per completed refresh by webhook, {r['stale_loans']:,} loans, income report read included "
            "(first pass)",
            "pass_webhooks",
            lambda r: (
                f"{r['calls_per_refresh_webhooks']} ({r['calls_per_refresh_first_pass']}), "
                f"{r['completed_by_webhook']} completed by webhook"
            ),
        )
    for workers in sorted({r["workers"] for r in results.get("webhooks", [])}):
        add(
            f"webhooks verified and stored per second, `webhooks serve --workers {workers}` (8 connections): "
            "rate, p50, p99",
            "webhooks",
            lambda r: f"{r['per_second']}/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms",
            lambda r, w=workers: r["workers"] == w,
        )
    for r in results.get("unknown_dates", [])[:1]:
        add(
            f"{r['loans']:,} loans imported without `data_as_of`: refresh POSTs for the truly stale, needless, "
            "missed; order reads; seconds",
            "unknown_dates",
            lambda r: (
                f"{r['refresh_posts']} for {r['truly_stale']}, {r['needless']}, {r['missed']}; "
                f"{r['order_reads']:,}; {r['pass_s']} s"
            ),
        )
    if results.get("ledger"):
        counts = " / ".join(str(w) for w in dict.fromkeys(r["workers"] for r in results["ledger"]))
        add(f"ledger reservations per second, {counts} processes", "ledger", lambda r: f"{r['per_second']}")
    shared = results.get("shared", [])
    if shared:
        counts = " / ".join(str(c) for c in dict.fromkeys(r["instances"] for r in shared))
        add(
            f"{shared[0]['loans']:,}-loan pass split by {counts} instances (no latency, shared pace 60,000/min)",
            "shared",
            lambda r: f"{r['pass_s']} s",
        )
    for r in results.get("report", [])[:1]:
        add(
            f"report over {_size(r['loans'])} loans and {_size(r['audit_entries'])} audit entries: HTML; CSV",
            "report",
            lambda r: f"{r['html_s']} s, {r['html_peak_mb']} MB; {r['csv_s']} s, {r['csv_peak_mb']} MB",
        )
        add(
            f"`audit verify` over {_size(r['audit_entries'])} entries",
            "report",
            lambda r: f"{r['verify_s']} s, {r['verify_peak_mb']} MB",
        )
    for r in results.get("console", [])[:1]:
        add(
            f"console under {r['loans']:,} loans: slowest page's p95 of {r['repeats']} requests",
            "console",
            lambda r: f"{r['worst_p95_ms']} ms",
        )
    if not lines:
        return []
    head = [_row(["measure", *(NAMES.get(b, b) for b in backends)]), _row(["---"] * (len(backends) + 1))]
    return [*head, *lines]


def naive(results: dict[str, Any]) -> list[str]:
    rows = results.get("naive", [])
    if not rows:
        return []
    first = rows[0]
    lines = [
        f"A lender's first cron script (tests/bench_naive.py) against `monitor run` on {first['loans']:,} loans, "
        f"{first['refreshes_needed']} of them stale, tokens shared by 5 loans, 50 ms latency, limit 300/min; "
        "counted by the sandbox:",
        "",
        _row(["", "API calls", "429s", "refused refreshes", "made / needed", "calls per completed refresh", "wall s"]),
        _row(["---"] * 7),
    ]
    for r in rows:
        lines.append(
            _row(
                [
                    "naive script"
                    if r["who"] == "naive"
                    else f"monitor, {NAMES.get(r['who'].split('/')[-1], r['who'])}",
                    r["calls"],
                    r["http_429"],
                    r["refused_refreshes"],
                    f"{r['refreshes_made']} / {r['refreshes_needed']}",
                    r["calls_per_completed_refresh"] if r["calls_per_completed_refresh"] is not None else "-",
                    r["wall_s"],
                ]
            )
        )
    return lines


def console(results: dict[str, Any]) -> list[str]:
    rows = results.get("console", [])
    if not rows:
        return []
    paths = list(dict.fromkeys(p for r in rows for p in r["pages"]))
    lines = [
        f"Console pages over HTTP on loopback (cold, then p50 / p95 of {rows[0]['repeats']} requests, ms):",
        "",
        _row(["page", *(f"{NAMES.get(r['backend'], r['backend'])}, {r['loans']:,} loans" for r in rows)]),
        _row(["---"] * (len(rows) + 1)),
    ]
    for path in paths:
        cells = []
        for r in rows:
            p = r["pages"].get(path)
            cells.append(f"{p['cold_ms']}; {p['p50_ms']} / {p['p95_ms']}" if p else "-")
        lines.append(_row([f"`{path}`", *cells]))
    return lines


def targets(results: dict[str, Any]) -> list[str]:
    rows = results.get("targets", [])
    if not rows:
        return []
    lines = [_row(["target", "database", "figure", "met", "measured alone by"]), _row(["---"] * 5)]
    for t in rows:
        status = {"PASS": "**PASS**", "MISS": "**MISS**"}.get(t["status"], t["status"])
        lines.append(
            _row([t["target"], NAMES.get(t["backend"], t["backend"]), t["figure"], status, f"`{t['command']}`"])
        )
    return lines


def provenance(results: dict[str, Any]) -> list[str]:
    m, rev = results.get("machine", {}), results.get("revision", {})
    commit = rev.get("commit") or "unknown"
    state = {True: " with uncommitted changes", False: ""}.get(rev.get("dirty"), " (working tree state unknown)")
    parts = [
        f"{m.get('cpus')} cores ({m.get('cpu')})",
        f"{m.get('memory_gib')} GiB",
        str(m.get("platform")),
        f"Python {m.get('python')}",
        f"SQLite {m.get('sqlite')}",
    ]
    if m.get("postgres"):
        parts.append(f"PostgreSQL {m['postgres']} on the {m.get('postgres_host', 'same host')}")
    total = results.get("seconds", {}).get("total")
    took = f", which took {total / 60:.0f} minutes" if isinstance(total, int | float) else ""
    return [
        f"Every figure below comes from one run: `{results.get('command', 'python -m tests.bench')}` on commit "
        f"`{commit}`{state}, {str(results.get('when', 'unknown'))[:10]}{took}, on the machine `{m.get('name')}`: "
        f"{', '.join(parts)}. The load generators share its cores.",
    ]


def render(results: dict[str, Any]) -> str:
    """The section's body: what runs it, where the figures come from, then the tables."""
    blocks = [
        [
            "`python -m tests.bench` runs the short version (as in CI, a few minutes) and prints JSON, a table and "
            "each target with PASS or MISS; `python -m tests.bench --full` measures every target at its size "
            "(about 25 minutes on 2 cores); `--backends`, `--sizes`, `--only`, `--skip` narrow it. This section "
            "is generated, not edited: `python -m tests.bench --full --out bench-full.json`, then "
            "`python -m tests.bench_readme bench-full.json --write docs/benchmark.md`.",
        ],
        provenance(results),
        targets(results),
        naive(results),
        measures(results),
        console(results),
    ]
    seconds = results.get("seconds", {})
    if seconds:
        blocks.append(["Time per part (s): " + ", ".join(f"{k} {v}" for k, v in seconds.items()) + "."])
    return "\n\n".join("\n".join(b) for b in blocks if b) + "\n"


def replace_section(readme: str, body: str) -> str:
    """`readme` with the body under HEADING (up to the next "## " heading or the end) replaced by `body`."""
    lines = readme.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip("\n") == HEADING)
    except StopIteration:
        raise ValueError(f'no "{HEADING}" heading') from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    tail = "\n" if end < len(lines) else ""
    return "".join(lines[: start + 1]) + "\n" + body + tail + "".join(lines[end:])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", type=Path, help="the JSON written by `python -m tests.bench --out`")
    parser.add_argument("--write", type=Path, metavar="README", help="replace the section in this file")
    args = parser.parse_args(argv)
    try:
        results = json.loads(args.results.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"{args.results}: cannot read benchmark results: {exc}", file=sys.stderr)
        return 2
    if not isinstance(results, dict) or "machine" not in results:
        print(f"{args.results}: not the JSON of `python -m tests.bench --out` (no machine key)", file=sys.stderr)
        return 2
    if not results.get("full"):
        print(f"{args.results}: not a --full run; its figures are not the README's", file=sys.stderr)
    if results.get("revision", {}).get("dirty"):
        print(f"{args.results}: measured with uncommitted changes", file=sys.stderr)
    body = render(results)
    if args.write is None:
        sys.stdout.write(body)
        return 0
    try:
        updated = replace_section(args.write.read_text(encoding="utf-8"), body)
    except (OSError, ValueError) as exc:
        print(f"{args.write}: {exc}", file=sys.stderr)
        return 2
    args.write.write_text(updated, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
