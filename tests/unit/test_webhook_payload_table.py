"""Truv's webhook payloads as truv-api.md section 4 lists them, one event type per row: whether the
envelope can be stored, whether a signed event is valid (README "Outcomes as they happen"), and what it
instructs. Complements test_webhook_events_table.py with the full documented payloads and the edges of
every limit. Pure: no receiver, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.core.webhook_events import (
    ID_FIELDS,
    MAX_EVENT_TYPE,
    MAX_ID,
    MAX_STATUS,
    MAX_WEBHOOK_ID,
    Action,
    InvalidEvent,
    envelope_problem,
    event_type_label,
    interpret,
    validate,
)

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)

# Fields in every payload (section 4), some null as the older examples have them.
COMMON: dict[str, Any] = {
    "webhook_id": "9a6b1f2c3d4e5f60718293a4b5c6d7e8",
    "event_created_at": "2026-06-05T11:00:00Z",
    "updated_at": "2026-06-05T11:00:00+00:00",
    "user_id": "u-1",
    "template_id": None,
}


def order_event(event_type: str, **fields: Any) -> dict[str, Any]:
    base = {
        "order_id": "r1",
        "order_number": "LN-1",
        "employer_id": "e1",
        "link_id": "l1",
        "product": "income",
        "data_source": "payroll",
        "status": "completed",
    }
    return {**COMMON, "event_type": event_type, **base, **fields}


def task_event(event_type: str, **fields: Any) -> dict[str, Any]:
    base = {
        "task_id": "t1",
        "link_id": "l1",
        "product": "income",
        "data_source": "payroll",
        "tracking_info": "e1",
        "status": "done",
    }
    return {**COMMON, "event_type": event_type, **base, **fields}


def link_event(event_type: str, **fields: Any) -> dict[str, Any]:
    base = {"link_id": "l1", "product": "income", "data_source": "payroll", "tracking_info": "e1"}
    return {**COMMON, "event_type": event_type, **base, **fields}


# -- every documented event type: valid, and what it means ---------------------------------------------

DOCUMENTED = [
    pytest.param(
        order_event("order-created", status="pending", employer_id=None, link_id=None, data_source=None),
        Action.IGNORE,
        None,
        id="order-created",
    ),
    pytest.param(order_event("order-status-updated"), Action.SUBORDER_STATUS, "suborder:r1:e1", id="status-completed"),
    pytest.param(
        order_event("order-status-updated", status="expired"), Action.SUBORDER_STATUS, "suborder:r1:e1", id="expired"
    ),
    pytest.param(
        order_event("order-refresh-failed", status="login_error"),
        Action.SUBORDER_STATUS,
        "suborder:r1:e1",
        id="order-refresh-failed",
    ),
    pytest.param(order_event("order-finalized", status=None), Action.ORDER_FINALIZED, "order:r1", id="order-finalized"),
    pytest.param(task_event("task-status-updated"), Action.TASK_STATUS, "link:l1", id="task-status-updated"),
    pytest.param(link_event("link-connected"), Action.LINK_CONNECTED, "link:l1", id="link-connected"),
    pytest.param(link_event("link-disconnected"), Action.LINK_DISCONNECTED, "link:l1", id="link-disconnected"),
    pytest.param(link_event("link-deleted"), Action.LINK_DELETED, "link:l1", id="link-deleted"),
    pytest.param(
        task_event("employment-updated", object_id="emp-9", objects_count=1), Action.DATA_CHANGED, None, id="emp-upd"
    ),
    pytest.param(
        task_event("statements-updated", employment_id="emp-9", objects_count=32),
        Action.DATA_CHANGED,
        None,
        id="statements-updated",
    ),
    pytest.param(task_event("profile-updated"), Action.DATA_CHANGED, None, id="profile-updated"),
    pytest.param(task_event("shifts-updated"), Action.DATA_CHANGED, None, id="shifts-updated"),
    pytest.param(task_event("bank-accounts-updated"), Action.DATA_CHANGED, None, id="bank-accounts-updated"),
    pytest.param(task_event("employment-created"), Action.IGNORE, None, id="employment-created"),
    pytest.param(task_event("profile-created"), Action.IGNORE, None, id="profile-created"),
    pytest.param(task_event("statements-created"), Action.IGNORE, None, id="statements-created"),
    pytest.param(task_event("shifts-created"), Action.IGNORE, None, id="shifts-created"),
    pytest.param(task_event("bank-accounts-created"), Action.IGNORE, None, id="bank-accounts-created"),
]


@pytest.mark.parametrize(("payload", "action", "target"), DOCUMENTED)
def test_every_documented_event_is_storable_valid_and_understood(payload, action, target):
    assert envelope_problem(payload) is None
    assert validate(payload, now=NOW, skew=SKEW) == datetime(2026, 6, 5, 11, 0, tzinfo=UTC)
    ins = interpret(payload)
    assert (ins.action, ins.target) == (action, target)


@pytest.mark.parametrize(
    "status",
    [
        "login_error",
        "mfa_error",
        "account_locked",
        "unable_to_reset",
        "unavailable",
        "error",
        "no_data",
        "config_error",
    ],
)
def test_order_refresh_failed_carries_its_failure_status_to_the_suborder(status):
    ins = interpret(order_event("order-refresh-failed", status=status))
    assert (ins.action, ins.order_id, ins.suborder_id, ins.link_id, ins.status) == (
        Action.SUBORDER_STATUS,
        "r1",
        "e1",
        "l1",
        status,
    )


@pytest.mark.parametrize("status", ["pending", "sent", "completed", "error", "canceled", "expired", "no_data"])
def test_order_status_updated_carries_each_suborder_status(status):
    ins = interpret(order_event("order-status-updated", status=status))
    assert (ins.action, ins.status) == (Action.SUBORDER_STATUS, status)


@pytest.mark.parametrize(
    ("given", "expected"), [("Completed", "completed"), ("LOGIN_ERROR", "login_error"), ("No_Data", "no_data")]
)
def test_statuses_are_read_in_lower_case(given, expected):
    assert interpret(order_event("order-status-updated", status=given)).status == expected
    assert interpret(task_event("task-status-updated", status=given)).status == expected


@pytest.mark.parametrize(
    "status", ["new", "login", "mfa", "parse", "full_parse", "done", "login_error", "mfa_error", "unavailable"]
)
def test_task_status_updated_carries_every_task_status_for_its_link(status):
    ins = interpret(task_event("task-status-updated", status=status))
    assert (ins.action, ins.target, ins.link_id, ins.status) == (Action.TASK_STATUS, "link:l1", "l1", status)


@pytest.mark.parametrize(
    ("payload", "missing"),
    [
        pytest.param(order_event("order-status-updated", order_id=None), "order_id", id="status-no-order"),
        pytest.param(order_event("order-status-updated", status=None), "status", id="status-no-status"),
        pytest.param(order_event("order-finalized", order_id=None), "order_id", id="finalized-no-order"),
        pytest.param(link_event("link-deleted", link_id=None), "link_id", id="deleted-no-link"),
        pytest.param(link_event("link-disconnected", link_id=None), "link_id", id="disconnected-no-link"),
        pytest.param(link_event("link-connected", link_id=""), "link_id", id="connected-empty-link"),
        pytest.param(task_event("task-status-updated", link_id=None), "link_id", id="task-no-link"),
        pytest.param(task_event("task-status-updated", status=None), "status", id="task-no-status"),
    ],
)
def test_an_event_missing_its_target_instructs_nothing(payload, missing):
    assert payload.get(missing) in (None, "")
    ins = interpret(payload)
    assert (ins.action, ins.target) == (Action.IGNORE, None)


@pytest.mark.parametrize(
    "payload",
    [
        # The data-refresh guide's own example names no employer (seed-data-refresh.txt).
        pytest.param(order_event("order-status-updated", employer_id=None, link_id=None), id="status-no-employer"),
        pytest.param(
            order_event("order-refresh-failed", employer_id="", status="login_error"), id="failed-no-employer"
        ),
        pytest.param(order_event("order-status-updated", employer_id=None, status=None), id="no-employer-no-status"),
    ],
)
def test_an_order_event_naming_no_suborder_reads_the_order_once(payload):
    ins = interpret(payload)
    assert (ins.action, ins.target, ins.order_id) == (Action.ORDER_CHANGED, "order:r1", "r1")


def test_link_events_are_ordered_by_event_created_at_others_by_updated_at():
    created, updated = "2026-06-05T10:00:00Z", "2026-06-05T11:00:00+00:00"
    link = link_event("link-disconnected", event_created_at=created, updated_at=updated)
    assert validate(link, now=NOW, skew=SKEW) == datetime(2026, 6, 5, 10, tzinfo=UTC)
    task = task_event("task-status-updated", event_created_at=created, updated_at=updated)
    assert validate(task, now=NOW, skew=SKEW) == datetime(2026, 6, 5, 11, tzinfo=UTC)
    documented = link_event("link-deleted", event_created_at=created)
    documented.pop("updated_at", None)
    assert validate(documented, now=NOW, skew=SKEW) == datetime(2026, 6, 5, 10, tzinfo=UTC)


def test_a_data_event_keeps_its_link_but_no_ordering_target():
    ins = interpret(task_event("employment-updated", link_id="l7"))
    assert (ins.action, ins.target, ins.link_id) == (Action.DATA_CHANGED, None, "l7")


def test_the_suborder_target_names_the_order_and_the_employer():
    a = interpret(order_event("order-status-updated", order_id="r1", employer_id="e1"))
    b = interpret(order_event("order-status-updated", order_id="r1", employer_id="e2"))
    c = interpret(order_event("order-status-updated", order_id="r2", employer_id="e1"))
    assert len({a.target, b.target, c.target}) == 3


def test_a_link_and_an_order_with_the_same_id_are_different_targets():
    assert (
        interpret(link_event("link-deleted", link_id="x")).target
        != interpret(order_event("order-finalized", order_id="x")).target
    )


@pytest.mark.parametrize("event_type", ["ORDER-STATUS-UPDATED", "order_status_updated", "order-status-updated "])
def test_event_types_are_matched_exactly(event_type):
    assert interpret(order_event(event_type)).action is Action.IGNORE


# -- the envelope (what the receiver can store at all, else 400) -----------------------------------------


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        pytest.param({"webhook_id": "w", "event_type": "x"}, None, id="minimal"),
        pytest.param({"webhook_id": "w" * MAX_WEBHOOK_ID, "event_type": "x"}, None, id="id-at-limit"),
        pytest.param({"webhook_id": "w" * (MAX_WEBHOOK_ID + 1), "event_type": "x"}, "longer than 255", id="id-over"),
        pytest.param({"webhook_id": "w\u00e9\u4e2d", "event_type": "x"}, None, id="unicode-id"),
        pytest.param({"webhook_id": "w\t1", "event_type": "x"}, "control", id="tab-in-id"),
        pytest.param({"webhook_id": "w\u202e1", "event_type": "x"}, "control", id="bidi-in-id"),
        pytest.param({"webhook_id": "w\ud8001", "event_type": "x"}, "control", id="lone-surrogate"),
        pytest.param({"webhook_id": None, "event_type": "x"}, "webhook_id: expected a non-empty string", id="null-id"),
        pytest.param({"webhook_id": ["w"], "event_type": "x"}, "webhook_id", id="array-id"),
        pytest.param({"webhook_id": True, "event_type": "x"}, "webhook_id", id="bool-id"),
        pytest.param({"webhook_id": "w", "event_type": None}, "event_type: expected a non-empty string", id="no-type"),
        pytest.param({"webhook_id": "w", "event_type": {"t": 1}}, "event_type", id="object-type"),
        pytest.param(None, "JSON object", id="null"),
        pytest.param(3, "JSON object", id="number"),
        pytest.param([{"webhook_id": "w", "event_type": "x"}], "JSON object", id="batch-array"),
    ],
)
def test_the_envelope(payload, problem):
    got = envelope_problem(payload)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


def test_the_envelope_is_checked_before_the_event_type():
    # Both are wrong: the deduplication key is what is reported first.
    assert (envelope_problem({"webhook_id": "", "event_type": ""}) or "").startswith("webhook_id")


@pytest.mark.parametrize(
    ("event_type", "label"),
    [
        pytest.param("order-status-updated", "order-status-updated", id="documented"),
        pytest.param("something-new", "something-new", id="unknown-is-kept-by-name"),
        pytest.param("e" * MAX_EVENT_TYPE, "e" * MAX_EVENT_TYPE, id="at-limit"),
        pytest.param("e" * (MAX_EVENT_TYPE + 1), "(invalid)", id="over-limit"),
        pytest.param("order\nstatus", "(invalid)", id="newline"),
        pytest.param("order\x00", "(invalid)", id="nul"),
        pytest.param("", "", id="empty"),
    ],
)
def test_event_type_label(event_type, label):
    assert event_type_label(event_type) == label


# -- validation: every limit, at and past its edge ------------------------------------------------------


@pytest.mark.parametrize("field", ID_FIELDS)
@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("x" * MAX_ID, None, id="at-limit"),
        pytest.param("x" * (MAX_ID + 1), f"longer than {MAX_ID}", id="over-limit"),
        pytest.param("9a6b1f2c3d4e5f60718293a4b5c6d7e8", None, id="truv-32-hex"),
        pytest.param(None, None, id="null-is-absent"),
        pytest.param("", None, id="empty-is-a-string"),
        pytest.param("id\r", "contains control", id="carriage-return"),
        pytest.param("id\x7f", "contains control", id="delete-char"),
        pytest.param(12, "expected a string, got number", id="number"),
        pytest.param(1.5, "expected a string, got number", id="float"),
        pytest.param(False, "expected a string, got boolean", id="boolean"),
        pytest.param({"id": "x"}, "expected a string, got object", id="object"),
        pytest.param(["x"], "expected a string, got array", id="array"),
    ],
)
def test_each_id_field(field, value, problem):
    payload = {**order_event("order-status-updated"), "task_id": "t1", field: value}
    if problem is None:
        validate(payload, now=NOW, skew=SKEW)
    else:
        with pytest.raises(InvalidEvent, match=f"^{field}: {problem}"):
            validate(payload, now=NOW, skew=SKEW)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("s" * MAX_STATUS, None, id="at-limit"),
        pytest.param("s" * (MAX_STATUS + 1), f"longer than {MAX_STATUS}", id="over-limit"),
        pytest.param("unable_to_reset", None, id="longest-documented"),
        pytest.param(None, None, id="null"),
        pytest.param("done\n", "contains control", id="newline"),
        pytest.param(0, "expected a string, got number", id="number"),
    ],
)
def test_the_status_field(value, problem):
    payload = order_event("order-status-updated", status=value)
    if problem is None:
        validate(payload, now=NOW, skew=SKEW)
    else:
        with pytest.raises(InvalidEvent, match=f"^status: {problem}"):
            validate(payload, now=NOW, skew=SKEW)


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        pytest.param("e" * MAX_EVENT_TYPE, None, id="at-limit"),
        pytest.param("e" * (MAX_EVENT_TYPE + 1), f"longer than {MAX_EVENT_TYPE}", id="over-limit"),
        pytest.param("bank-accounts-updated", None, id="longest-documented"),
        pytest.param("link\x00deleted", "contains control", id="nul"),
    ],
)
def test_the_event_type_field(value, problem):
    payload = {**link_event("link-deleted"), "event_type": value}
    if problem is None:
        validate(payload, now=NOW, skew=SKEW)
    else:
        with pytest.raises(InvalidEvent, match=f"^event_type: {problem}"):
            validate(payload, now=NOW, skew=SKEW)


@pytest.mark.parametrize(
    "field", ["user_id", "template_id", "product", "data_source", "tracking_info", "order_number", "event_created_at"]
)
@pytest.mark.parametrize("value", [None, "", "x" * 500, 12, ["a"]])
def test_fields_we_do_not_store_are_not_judged(field, value):
    # Some of Truv's examples have user_id null; demo-apps says task events sometimes lack it.
    payload = {**task_event("task-status-updated"), field: value}
    assert validate(payload, now=NOW, skew=SKEW) == datetime(2026, 6, 5, 11, tzinfo=UTC)


@pytest.mark.parametrize(
    ("updated_at", "expected"),
    [
        pytest.param("2026-06-05T11:00:00.123456+00:00", datetime(2026, 6, 5, 11, 0, 0, 123456, tzinfo=UTC), id="us"),
        pytest.param("2026-06-05T11:00:00.123+00:00", datetime(2026, 6, 5, 11, 0, 0, 123000, tzinfo=UTC), id="ms"),
        pytest.param("2026-06-05T16:30:00+05:30", datetime(2026, 6, 5, 11, 0, tzinfo=UTC), id="half-hour-offset"),
        pytest.param("2026-06-05T12:05:00+00:00", NOW + SKEW, id="exactly-the-margin-ahead"),
        pytest.param("2020-01-01T00:00:00+00:00", datetime(2020, 1, 1, tzinfo=UTC), id="long-ago-is-fine"),
    ],
)
def test_updated_at_forms(updated_at, expected):
    got = validate(task_event("task-status-updated", updated_at=updated_at), now=NOW, skew=SKEW)
    assert got == expected
    assert got is not None and got.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    ("updated_at", "skew", "valid"),
    [
        pytest.param(NOW + SKEW, SKEW, True, id="at-margin"),
        pytest.param(NOW + SKEW + timedelta(microseconds=1), SKEW, False, id="just-past-margin"),
        pytest.param(NOW, timedelta(0), True, id="zero-margin-now"),
        pytest.param(NOW + timedelta(seconds=1), timedelta(0), False, id="zero-margin-one-second-ahead"),
        pytest.param(NOW + timedelta(hours=1), timedelta(hours=2), True, id="wide-margin"),
        pytest.param(NOW - timedelta(days=365), SKEW, True, id="a-year-old"),
    ],
)
def test_the_clock_skew_margin(updated_at, skew, valid):
    payload = task_event("task-status-updated", updated_at=updated_at.isoformat())
    if valid:
        assert validate(payload, now=NOW, skew=skew) == updated_at
    else:
        with pytest.raises(InvalidEvent, match="updated_at: more than clock_skew_margin"):
            validate(payload, now=NOW, skew=skew)


@pytest.mark.parametrize(
    ("updated_at", "problem"),
    [
        pytest.param("2026-06-05 11:00", "has no UTC offset", id="naive-space"),
        pytest.param("2026-06-05", "has no UTC offset", id="date-only"),
        pytest.param("06/05/2026 11:00 UTC", "not an ISO-8601", id="us-format"),
        pytest.param("", "not an ISO-8601", id="empty"),
        pytest.param("9999-12-31T23:59:59-05:00", "out of range", id="past-datetime-max"),
        pytest.param(True, "expected an ISO-8601 string, got boolean", id="boolean"),
        pytest.param({"at": 1}, "expected an ISO-8601 string, got object", id="object"),
        pytest.param(1.5, "expected an ISO-8601 string, got number", id="float"),
    ],
)
def test_unusable_updated_at(updated_at, problem):
    with pytest.raises(InvalidEvent, match=f"^updated_at: {problem}"):
        validate(link_event("link-connected", updated_at=updated_at), now=NOW, skew=SKEW)


def test_no_updated_at_is_valid_and_unordered():
    payload = task_event("task-status-updated")
    del payload["updated_at"]
    assert validate(payload, now=NOW, skew=SKEW) is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("order_id", "LOAN-L-1004-john.doe@example.com" * 3),
        ("employer_id", "Jane Borrower SSN 991-91-9991 " * 3),
        ("status", "income 70000.00 for Jane Borrower"),
        ("link_id", "secret\x00value"),
        ("updated_at", "Jane Borrower's birthday"),
    ],
)
def test_the_reason_never_quotes_the_value(field, value):
    with pytest.raises(InvalidEvent) as caught:
        validate(order_event("order-status-updated", **{field: value}), now=NOW, skew=SKEW)
    reason = str(caught.value)
    assert reason.startswith(f"{field}: ")
    for word in ("Jane", "Borrower", "991-91", "john.doe", "70000", "secret"):
        assert word not in reason


def test_an_invalid_event_is_a_value_error_for_callers_that_catch_those():
    assert issubclass(InvalidEvent, ValueError)
