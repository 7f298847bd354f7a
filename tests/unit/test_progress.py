"""Progress on long work (issue 14, point 4): lines off a terminal every 30 s, driven by an injected
monotonic clock that advances per loan (no sleeping), and the bar on a terminal."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from monitor.clock import FixedClock
from monitor.progress import BarProgress, LogProgress, counted, for_terminal


class Lines:
    """A logger that keeps what it was asked to log."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, dict[str, Any]]] = []

    def info(self, event: str, **fields: Any) -> None:
        self.lines.append((event, fields))


def clock() -> FixedClock:
    return FixedClock(datetime(2026, 6, 5, 12, tzinfo=UTC))


def test_a_line_every_30_seconds_with_rate_and_eta():
    c, out = clock(), Lines()
    progress = LogProgress(c, "run", logger=out)
    progress.expect(100, cap=40)
    for i in range(1, 31):  # 4 s a loan, every other one submitted
        c.advance(4)
        progress.step(submitted=i // 2, skipped=i - i // 2)
    progress.close()
    # 120 s of work: lines at 32 s, 64 s, 96 s (the first loan past each 30 s), none at the end
    assert [f["worked"] for _, f in out.lines] == [8, 16, 24]
    event, first = out.lines[0]
    assert event == "progress"
    assert first == {
        "what": "run",
        "worked": 8,
        "total": 100,
        "submitted": 4,
        "skipped": 4,
        "elapsed_s": 32.0,
        "per_s": 0.25,
        # 92 loans left at 0.25/s is 368 s; 36 submissions to the cap at 0.125/s is 288 s: the sooner
        "eta_s": 288.0,
    }


def test_no_line_when_the_work_is_quicker_than_the_interval():
    c, out = clock(), Lines()
    progress = LogProgress(c, "run", logger=out)
    progress.expect(10)
    for _ in range(10):
        c.advance(2)
        progress.step(submitted=1, skipped=0)
    assert out.lines == []


def test_a_stalled_loan_then_a_burst_gives_one_line_not_a_backlog_of_them():
    c, out = clock(), Lines()
    progress = LogProgress(c, "import", logger=out)
    c.advance(125)  # one slow step
    progress.step()
    progress.step()
    assert len(out.lines) == 1 and out.lines[0][1]["worked"] == 1


def test_counted_steps_in_strides_and_closes():
    c, out = clock(), Lines()
    progress = LogProgress(c, "import", logger=out, every=0.0)
    progress.expect(1200)
    items = []
    for item in counted(iter(range(1200)), progress, every=500):
        c.advance(0.01)
        items.append(item)
    assert items == list(range(1200))
    assert [f["worked"] for _, f in out.lines] == [500, 1000, 1200]


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_the_bar_on_a_terminal_and_lines_elsewhere():
    c = clock()
    assert isinstance(for_terminal(c, "run", io.StringIO()), LogProgress)
    stream = Tty()
    bar = for_terminal(c, "run nightly", stream)
    assert isinstance(bar, BarProgress)
    bar.expect(3)
    for i in range(3):
        c.advance(1)
        bar.step(submitted=i + 1, skipped=0)
    bar.close()
    shown = stream.getvalue()
    assert "run nightly" in shown and "3/3" in shown and "submitted 3" in shown


def test_the_eta_comes_from_the_pace_since_the_work_began_not_from_the_settling_before_it():
    c, out = clock(), Lines()
    progress = LogProgress(c, "run", logger=out, every=0.0)
    c.advance(140)  # settling earlier refreshes: half of a 281 s pass, nothing counted yet
    progress.expect(100)
    for i in range(1, 11):  # 1 s a loan
        c.advance(1)
        progress.step(submitted=i, skipped=0)
    last = out.lines[-1][1]
    assert last["per_s"] == 1.0 and last["eta_s"] == 90.0  # not 90 loans at 10 loans / 150 s = 1,350 s
    assert last["elapsed_s"] == 150.0  # the whole time is still reported


def test_no_eta_from_a_single_loan():
    c, out = clock(), Lines()
    progress = LogProgress(c, "run", logger=out, every=0.0)
    progress.expect(14)
    c.advance(30)  # one slow first loan
    progress.step(submitted=1, skipped=0)
    assert out.lines[-1][1]["eta_s"] is None
    for _ in range(4):
        c.advance(1)
        progress.step(submitted=1, skipped=0)
    assert out.lines[-1][1]["eta_s"] is not None
