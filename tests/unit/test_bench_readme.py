"""The README's benchmark section from one run's JSON (tests/bench_readme.py): targets judged from the
figures, provenance named, and the section replaced in place with the rest of the README untouched."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench import targets
from tests.bench_readme import main, render, replace_section


def run_results() -> dict[str, Any]:
    results: dict[str, Any] = {
        "command": "python -m tests.bench --full --out bench-full.json",
        "full": True,
        "revision": {"commit": "abc1234", "dirty": True},
        "machine": {
            "name": "bench-host",
            "cpus": 2,
            "cpu": "AMD EPYC",
            "memory_gib": 23,
            "platform": "Linux",
            "python": "3.11.7",
            "sqlite": "3.40.1",
            "postgres": "15.20",
            "postgres_host": "same host",
        },
        "when": "2026-06-05T12:00:00+00:00",
        "seconds": {"import_plan": 100.0, "total": 1380.0},
        "import_plan": [
            {"backend": "sqlite", "loans": 10_000, "import_s": 0.8, "import_peak_mb": 80.0, "plan_s": 0.6,
             "plan_peak_mb": 90.0, "plan_stale": 1000},
            {"backend": "sqlite", "loans": 1_000_000, "import_s": 31.2, "import_peak_mb": 95.0, "plan_s": 4.1,
             "plan_peak_mb": 140.0, "plan_stale": 100_000},
        ],
        "naive": [
            {"who": "naive", "loans": 1000, "calls": 1100, "http_429": 800, "refused_refreshes": 40,
             "refreshes_made": 60, "refreshes_needed": 100, "completed": 60, "calls_per_completed_refresh": 18.3,
             "wall_s": 240.0},
            {"who": "monitor/sqlite", "loans": 1000, "calls": 220, "http_429": 0, "refused_refreshes": 0,
             "refreshes_made": 100, "refreshes_needed": 100, "completed": 100, "calls_per_completed_refresh": 2.2,
             "wall_s": 50.0},
        ],
        "webhooks": [
            {"backend": "sqlite", "workers": 1, "events": 9000, "per_second": 1125.0, "p50_ms": 6.0, "p99_ms": 41.0},
            {"backend": "postgres", "workers": 2, "events": 6000, "per_second": 750.0, "p50_ms": 9.0, "p99_ms": 60.0},
        ],
        "console": [
            {"backend": "sqlite", "loans": 10_000, "repeats": 40, "worst_p95_ms": 63.0,
             "pages": {"/loans": {"cold_ms": 20.0, "p50_ms": 10.0, "p95_ms": 63.0, "max_ms": 70.0}}},
        ],
    }  # fmt: skip
    results["targets"] = targets(results)
    return results


def test_targets_are_judged_from_the_figures_and_only_at_their_size() -> None:
    found = {(t["target"], t["backend"]): t for t in run_results()["targets"]}
    assert found[("loans import, 1M loans: under 30 s", "sqlite")]["status"] == "MISS"
    assert found[("loans import, 1M loans: under 150 MB", "sqlite")]["status"] == "PASS"
    assert found[("plan, 1M loans: under 5 s", "sqlite")]["status"] == "PASS"
    # 90 MB at 10k against 140 MB at 1M: more than a quarter up.
    assert found[("plan: memory flat (largest within 1.25x of smallest)", "sqlite")]["status"] == "MISS"
    naive = found[("naive comparison: monitor makes fewer calls, no 429, no refused refresh", "sqlite")]
    assert naive["status"] == "PASS"
    assert found[("webhooks, SQLite: p99 under 50 ms", "sqlite")]["status"] == "PASS"
    console = found[("console, 100k loans: every page's p95 under 200 ms", "sqlite")]
    assert console["status"] == "-" and "the target is for 100,000" in console["figure"]
    assert all(t["command"].startswith("python -m tests.bench --only ") for t in found.values())


def test_the_section_names_its_run_and_carries_every_figure() -> None:
    body = render(run_results())
    assert "`python -m tests.bench --full --out bench-full.json` on commit `abc1234` with uncommitted changes" in body
    assert "2026-06-05, which took 23 minutes, on the machine `bench-host`: 2 cores (AMD EPYC)" in body
    assert "PostgreSQL 15.20 on the same host" in body
    assert "| loans import, 1M loans: under 30 s | SQLite | 31.2 s | **MISS** |" in body
    assert "| naive script | 1100 | 800 | 40 | 60 / 100 | 18.3 | 240.0 |" in body
    assert "| `loans import`, 10k / 1M loans (10% stale) | 0.8 s / 31.2 s | - |" in body
    assert "`webhooks serve --workers 2`" in body and "750.0/s, p50 9.0 ms, p99 60.0 ms" in body
    assert "| `/loans` | 20.0; 10.0 / 63.0 |" in body


def test_write_replaces_the_section_in_place_and_again_to_the_same_text(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text("# monitor\n\n## Benchmark\n\nold figure 42 s\n\n### Old sub\n\n## Layout\n\nkept\n")
    results = tmp_path / "bench-full.json"
    results.write_text(json.dumps(run_results()))
    assert main([str(results), "--write", str(readme)]) == 0
    once = readme.read_text()
    assert "old figure" not in once and "Old sub" not in once
    assert once.startswith("# monitor\n\n## Benchmark\n\n`python -m tests.bench` runs")
    assert once.endswith(".\n\n## Layout\n\nkept\n")
    assert main([str(results), "--write", str(readme)]) == 0
    assert readme.read_text() == once


def test_a_readme_without_the_heading_or_unreadable_results_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(ValueError, match='no "## Benchmark" heading'):
        replace_section("# monitor\n\n## Layout\n", "body\n")
    broken = tmp_path / "bench-full.json"
    broken.write_text("{not json")
    assert main([str(broken)]) == 2
    assert "bench-full.json: cannot read benchmark results" in capsys.readouterr().err


def test_the_5m_book_rows_are_judged_at_5m_only() -> None:
    """Issue 26: import and plan of a 5M-loan book, time and peak memory each against the wanted column."""
    at_1m = {(t["target"], t["backend"]): t for t in run_results()["targets"]}
    assert at_1m[("import 5M loans (SQLite): at most 120 s and 150 MB", "sqlite")]["status"] == "-"
    results = run_results()
    results["import_plan"] += [
        {"backend": "sqlite", "loans": 5_000_000, "import_s": 118.0, "import_peak_mb": 131.0, "plan_s": 16.0,
         "plan_peak_mb": 101.0, "plan_stale": 500_000},
        {"backend": "postgres", "loans": 5_000_000, "import_s": 121.0, "import_peak_mb": 120.0, "plan_s": 9.0,
         "plan_peak_mb": 100.0, "plan_stale": 500_000},
    ]  # fmt: skip
    found = {(t["target"], t["backend"]): t for t in targets(results)}
    imported = found[("import 5M loans (SQLite): at most 120 s and 150 MB", "sqlite")]
    assert (imported["status"], imported["figure"]) == ("PASS", "118.0 s (- s CPU), 131.0 MB")
    assert "--sizes 100000,1000000,5000000" in imported["command"]
    assert found[("plan 5M loans: at most 15 s and 150 MB", "sqlite")]["status"] == "MISS"  # 16 s
    assert found[("import 5M loans (Postgres): at most 120 s and 150 MB", "postgres")]["status"] == "MISS"
    assert found[("plan 5M loans: at most 15 s and 150 MB", "postgres")]["status"] == "PASS"
