"""A pass's counting: its summary, its refresh budget and its own Truv calls, from many threads at once."""

from __future__ import annotations

import contextvars
import os
import socket
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

from monitor.jobs.pass_lease import holder_is_dead, this_holder
from monitor.jobs.pass_summary import PassSummary, RefreshBudget, Tally
from monitor.store.backlog import StaleCounts
from monitor.truv.call_count import CallCount, counting, note_request, note_throttled

T0 = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)


def summary() -> PassSummary:
    return PassSummary("r1", "nightly", False, T0)


def test_tally_counts_from_many_threads_without_losing_any():
    tally = Tally(summary())

    def work(i: int) -> None:
        tally.skip("token_budget")
        tally.submitted(partial=i % 2 == 0)
        tally.selected(1)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(4000)))
    s = tally.summary
    assert (s.selected, s.submitted, s.partial, s.skipped["token_budget"]) == (4000, 4000, 2000, 4000)


def test_a_submission_truv_did_not_take_is_uncounted_and_skipped_with_its_reason():
    tally = Tally(summary())
    tally.submitted(partial=False)
    tally.submitted(partial=False)
    tally.not_submitted("truv_refused")
    tally.not_submitted()  # set aside: its skip was counted when it was set aside
    assert tally.summary.submitted == 0 and tally.summary.skipped == Counter({"truv_refused": 1})


def test_stale_counts_name_what_selection_leaves_out():
    tally = Tally(summary())
    tally.stale_counts(StaleCounts(stale=10, in_flight=2, backoff=1, held=3, unknown=4))
    tally.stale_counts(StaleCounts(stale=5))
    s = tally.summary
    assert (s.stale_total, s.data_date_unknown) == (15, 4)
    assert s.skipped == Counter({"on_hold": 3, "in_flight": 2, "retry_backoff": 1})


def test_settled_outcomes_add_up():
    tally = Tally(summary())
    tally.settled(completed=2, failed={"no_data": 1}, needs_reauth=1, reconciled=3)
    tally.settled(completed=1, failed={"no_data": 1, "error": 1}, needs_reauth=0)
    s = tally.summary
    assert (s.completed, s.needs_reauth, s.reconciled) == (3, 1, 3)
    assert s.failed == Counter({"no_data": 2, "error": 1})


def test_summary_as_dict_sorts_counters_and_the_log_line_keeps_the_headline():
    s = summary()
    s.skipped.update({"b": 1, "a": 2})
    out = s.as_dict()
    assert list(out["skipped"]) == ["a", "b"] and out["started_at"] == T0.isoformat() and out["finished_at"] is None
    assert set(s.logged()) == {
        "status",
        "selected",
        "submitted",
        "skipped",
        "completed",
        "failed",
        "needs_reauth",
        "unknown",
        "requests",
    }


def test_refresh_budget_never_hands_out_more_than_it_has():
    budget = RefreshBudget(100)
    taken = []

    def take(_: int) -> None:
        if budget.take():
            taken.append(1)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(take, range(1000)))
    assert len(taken) == 100 and budget.left == 0 and not budget.take()
    budget.give_back()
    assert budget.left == 1 and budget.take()


def test_calls_count_into_the_context_that_made_them():
    mine, theirs = CallCount(), CallCount()
    note_request("outside")  # nobody counting: nothing happens
    with counting(mine):
        note_request("get_order_details")
        note_request("get_order_details")
        note_throttled()
        with counting(theirs):
            note_request("refresh")
        note_request("refresh")
    note_request("outside")
    assert (mine.requests, mine.throttled, mine.by_endpoint) == (3, 1, {"get_order_details": 2, "refresh": 1})
    assert (theirs.requests, theirs.throttled, theirs.by_endpoint) == (1, 0, {"refresh": 1})


def test_two_passes_sharing_threads_count_only_their_own_calls():
    """Two passes at once (the daemon), each with workers running in a copy of its context."""
    counts = {"a": CallCount(), "b": CallCount()}
    start = threading.Barrier(2)

    def one_pass(name: str, calls: int) -> None:
        with counting(counts[name]):
            start.wait()
            context = contextvars.copy_context()
            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(lambda _: context.copy().run(note_request, name), range(calls)))

    threads = [threading.Thread(target=one_pass, args=(n, c)) for n, c in (("a", 3000), ("b", 1000))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert counts["a"].by_endpoint == {"a": 3000} and counts["b"].by_endpoint == {"b": 1000}


def test_a_holder_of_this_host_that_is_gone_is_dead():
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    gone = f"{socket.gethostname()}:{done.stdout.strip()}"
    assert holder_is_dead(gone)
    assert not holder_is_dead(this_holder())  # this process
    assert not holder_is_dead(f"{socket.gethostname()}:{os.getpid()}")
    assert not holder_is_dead("another-host:1")  # cannot be checked from here: its lease must expire
    assert not holder_is_dead(f"{socket.gethostname()}:not-a-pid")
