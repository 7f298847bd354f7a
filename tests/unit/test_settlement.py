"""The settlement of a refresh order as tables (DESIGN.md, failure outcomes; rules 6 and 14).

Given how each suborder ended and the state of its connection before, what changes: the reservation's
state and outcome, each connection's state, failures and backoff, data dates, reports to read, findings
and hand-offs. No database, no Truv, a frozen `now`: the poll and the webhook pipeline both settle here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from monitor.core.changes import Rule
from monitor.core.outcomes import Outcome
from monitor.core.settlement import (
    LINK_UNREADABLE,
    NEW_CONNECTION,
    ConnectionBefore,
    SuborderResult,
    Verdict,
    awaits_link,
    connection_change,
    judge,
    judge_by_link,
    pending,
    settle,
)
from monitor.core.states import ConnectionState, ReservationState

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)
TRUV_DATE = NOW - 2 * H


def sub(status: str | None, token: str | None = "t1", *, kind: str = "employer", date: datetime | None = None):
    return SuborderResult(kind, token, f"link-{token}" if token else None, judge(status), date)


def run(*results: SuborderResult, before: dict[str, ConnectionBefore] | None = None, monitored: bool = True):
    return settle(results, before or {}, monitored=monitored, now=NOW)


# -- one suborder's word and outcome --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "outcome", "word"),
    [
        ("completed", Outcome.COMPLETED, "completed"),
        ("Done", Outcome.COMPLETED, "done"),
        ("login_error", Outcome.REAUTH, "login_error"),
        ("mfa_error", Outcome.REAUTH, "mfa_error"),
        ("unavailable", Outcome.RETRY, "unavailable"),
        ("error", Outcome.RETRY, "error"),
        ("no_data", Outcome.MANUAL, "no_data"),
        ("canceled", Outcome.MANUAL, "canceled"),
        ("pending", Outcome.PENDING, "pending"),
        ("sent", Outcome.PENDING, "sent"),
        ("brand_new", Outcome.MANUAL, "brand_new"),
        (None, Outcome.MANUAL, "unknown"),
        ("", Outcome.MANUAL, "unknown"),
    ],
)
def test_a_suborder_judged_by_its_own_status(status, outcome, word):
    assert judge(status) == Verdict(outcome, word)


@pytest.mark.parametrize(
    ("link_status", "verdict"),
    [
        ("login_error", Verdict(Outcome.REAUTH, "login_error")),
        ("unavailable", Verdict(Outcome.RETRY, "unavailable")),
        ("done", Verdict(Outcome.COMPLETED, "done")),
        ("parse", Verdict(Outcome.PENDING, "parse")),
        ("config_error", Verdict(Outcome.MANUAL, "config_error")),
        (None, Verdict(Outcome.MANUAL, "error")),
    ],
)
def test_an_employer_in_error_is_judged_by_its_link(link_status, verdict):
    assert judge_by_link(link_status) == verdict
    assert Verdict(Outcome.RETRY, "error") == LINK_UNREADABLE


@pytest.mark.parametrize(
    ("status", "link_id", "awaits"),
    [
        ("error", "link-1", True),
        ("ERROR", "link-1", True),
        ("error", None, False),  # no link to ask: judged as `error` (retry later)
        ("error", "", False),
        ("unavailable", "link-1", False),
        ("completed", "link-1", False),
        (None, "link-1", False),
    ],
)
def test_only_an_employer_in_error_with_a_link_awaits_its_link(status, link_id, awaits):
    assert awaits_link(status, link_id) is awaits


# -- the reservation --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("statuses", "state", "outcome"),
    [
        (["completed"], ReservationState.COMPLETED, "completed"),
        (["done", "completed"], ReservationState.COMPLETED, "completed"),
        (["completed", "login_error"], ReservationState.FAILED, "completed,login_error"),
        (["unavailable", "login_error", "unavailable"], ReservationState.FAILED, "login_error,unavailable"),
        (["no_data"], ReservationState.FAILED, "no_data"),
        ([None], ReservationState.FAILED, "unknown"),
        ([], ReservationState.FAILED, "empty"),
    ],
)
def test_the_reservation_completes_only_when_every_suborder_did(statuses, state, outcome):
    results = [sub(s, f"t{i}") for i, s in enumerate(statuses)]
    settled = run(*results)
    assert settled is not None
    assert (settled.state, settled.outcome, settled.completed) == (state, outcome, state is ReservationState.COMPLETED)


@pytest.mark.parametrize(
    "statuses",
    [["pending"], ["completed", "pending"], ["login_error", "full_parse"], ["sent", "sent"]],
)
def test_nothing_settles_while_a_suborder_is_working(statuses):
    results = [sub(s, f"t{i}") for i, s in enumerate(statuses)]
    assert pending(results)
    assert run(*results) is None


def test_a_suborder_with_no_connection_changes_nothing_and_never_counts_as_completed():
    settled = run(sub("completed", None), sub("completed", "t1"))
    assert settled is not None
    assert settled.state is ReservationState.FAILED and settled.outcome == "completed"
    assert settled.steps[0].connection is None and settled.steps[0].completed_at is None
    assert settled.failed_statuses == []  # a failed reservation with no failed word: nothing to count


# -- connections ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "before", "state", "reason", "failures", "retry_in", "entered"),
    [
        ("completed", ConnectionBefore("ok", 0), ConnectionState.OK, None, 0, None, False),
        ("completed", ConnectionBefore("retry_later", 3), ConnectionState.OK, None, 0, None, True),
        ("login_error", ConnectionBefore("ok", 0), ConnectionState.NEEDS_REAUTH, "login_error", 1, None, True),
        ("mfa_error", ConnectionBefore("needs_reauth", 1), ConnectionState.NEEDS_REAUTH, "mfa_error", 2, None, False),
        ("unavailable", ConnectionBefore("ok", 0), ConnectionState.RETRY_LATER, "unavailable", 1, 6 * H, True),
        (
            "unavailable",
            ConnectionBefore("retry_later", 1),
            ConnectionState.RETRY_LATER,
            "unavailable",
            2,
            12 * H,
            False,
        ),
        ("error", ConnectionBefore("retry_later", 2), ConnectionState.RETRY_LATER, "error", 3, 24 * H, False),
        ("error", ConnectionBefore("retry_later", 9), ConnectionState.RETRY_LATER, "error", 10, 72 * H, False),
        ("no_data", ConnectionBefore("ok", 0), ConnectionState.MANUAL_REVIEW, "no_data", 1, None, True),
        ("weird", NEW_CONNECTION, ConnectionState.MANUAL_REVIEW, "weird", 1, None, True),
    ],
)
def test_a_connection_after_its_refresh(status, before, state, reason, failures, retry_in, entered):
    change = connection_change("t1", before, judge(status), now=NOW)
    assert (change.state, change.reason, change.failures, change.entered) == (state, reason, failures, entered)
    assert change.retry_after == (NOW + retry_in if retry_in else None)


def test_a_connection_not_on_record_starts_ok_with_no_failures():
    settled = run(sub("unavailable", "new"))
    assert settled is not None
    change = settled.steps[0].connection
    assert change is not None and (change.failures, change.entered) == (1, True)


def test_one_connection_named_twice_counts_each_failure_in_turn():
    settled = run(sub("unavailable", "t1"), sub("unavailable", "t1"), before={"t1": ConnectionBefore("ok", 0)})
    assert settled is not None
    changes = [step.connection for step in settled.steps]
    assert [(c.failures, c.entered) for c in changes if c] == [(1, True), (2, False)]
    assert settled.next_attempt_at == NOW + 12 * H


@pytest.mark.parametrize(
    ("statuses", "next_attempt_in"),
    [
        (["completed"], None),
        (["login_error"], None),
        (["unavailable"], 6 * H),
        (["unavailable", "completed"], 6 * H),
        (["completed", "error", "no_data"], 6 * H),
    ],
)
def test_a_provider_side_failure_puts_the_loan_off_until_its_backoff(statuses, next_attempt_in):
    settled = run(*[sub(s, f"t{i}") for i, s in enumerate(statuses)])
    assert settled is not None
    assert settled.next_attempt_at == (NOW + next_attempt_in if next_attempt_in else None)


# -- data dates, reports, findings, hand-offs ---------------------------------------------------------------


@pytest.mark.parametrize(("truv_date", "completed_at"), [(TRUV_DATE, TRUV_DATE), (None, NOW)])
def test_a_completed_connection_takes_truvs_date_else_the_settling_moment(truv_date, completed_at):
    settled = run(sub("completed", date=truv_date))
    assert settled is not None
    assert settled.steps[0].completed_at == completed_at and settled.advances_base


@pytest.mark.parametrize(
    ("statuses", "monitored", "findings"),
    [
        (["completed"], True, []),
        (["login_error"], True, ["login_error"]),
        (["completed", "unavailable", "no_data"], True, ["unavailable", "no_data"]),
        (["login_error"], False, []),
    ],
)
def test_a_monitored_refresh_that_did_not_verify_is_a_finding(statuses, monitored, findings):
    settled = run(*[sub(s, f"t{i}") for i, s in enumerate(statuses)], monitored=monitored)
    assert settled is not None
    found = [step.finding for step in settled.steps if step.finding is not None]
    assert [f.after for f in found] == findings
    assert all(f.rule is Rule.UNVERIFIED for f in found)


@pytest.mark.parametrize(
    ("statuses", "before", "advances", "reauths", "failed", "reauth_handoffs"),
    [
        (["completed", "completed"], {}, True, 0, [], []),
        (["completed", "login_error"], {}, True, 1, ["login_error"], ["t1"]),
        (["login_error", "mfa_error"], {}, False, 2, ["login_error", "mfa_error"], ["t0", "t1"]),
        # already waiting for the borrower: counted again, handed off once (when it started)
        (["login_error"], {"t0": ConnectionBefore("needs_reauth", 1)}, False, 1, ["login_error"], []),
        (["unavailable"], {"t0": ConnectionBefore("retry_later", 1)}, False, 0, ["unavailable"], []),
    ],
)
def test_what_the_pass_counts_and_hands_off(statuses, before, advances, reauths, failed, reauth_handoffs):
    settled = run(*[sub(s, f"t{i}") for i, s in enumerate(statuses)], before=before)
    assert settled is not None
    assert (settled.advances_base, settled.needs_reauth, settled.failed_statuses) == (advances, reauths, failed)
    entered = [s.connection for s in settled.steps if s.connection and s.connection.entered]
    assert [c.token_hash for c in entered if c.state is ConnectionState.NEEDS_REAUTH] == reauth_handoffs


def test_steps_keep_the_suborders_order():
    results = [sub("no_data", "t2"), sub("completed", "t1"), sub("login_error", "t3")]
    settled = run(*results)
    assert settled is not None
    assert [step.result for step in settled.steps] == results
