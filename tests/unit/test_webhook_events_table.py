"""What a Truv webhook means, as tables (truv-api.md section 4 and 10; DESIGN.md rules 9 and 13):
an event in, an instruction out, or the field and rule that make it invalid. No receiver, no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.core.webhook_events import (
    DATA_EVENTS,
    Action,
    InvalidEvent,
    envelope_problem,
    interpret,
    validate,
)

NOW = datetime(2026, 6, 5, 12, 0, tzinfo=UTC)
SKEW = timedelta(minutes=5)


def event(event_type: str, **fields: object) -> dict[str, object]:
    return {"webhook_id": "w1", "event_type": event_type, "updated_at": "2026-06-05T11:00:00+00:00", **fields}


@pytest.mark.parametrize(
    ("payload", "action", "target"),
    [
        # a refresh order's employer (suborder) reached a status
        (
            event("order-status-updated", order_id="o1", employer_id="e1", status="completed"),
            Action.SUBORDER_STATUS,
            "suborder:o1:e1",
        ),
        (
            event("order-refresh-failed", order_id="o1", employer_id="e1", status="login_error"),
            Action.SUBORDER_STATUS,
            "suborder:o1:e1",
        ),
        # without the employer or the status it says nothing about a suborder
        # No employer named (the data-refresh guide's own example): the order is read once.
        (event("order-status-updated", order_id="o1", status="completed"), Action.ORDER_CHANGED, "order:o1"),
        (event("order-status-updated", order_id="o1", employer_id="e1"), Action.IGNORE, None),
        # the end of an order's or a connection's life
        (event("order-finalized", order_id="o1"), Action.ORDER_FINALIZED, "order:o1"),
        (event("link-deleted", link_id="l1"), Action.LINK_DELETED, "link:l1"),
        # the borrower must reconnect; and did
        (event("link-disconnected", link_id="l1"), Action.LINK_DISCONNECTED, "link:l1"),
        (event("link-connected", link_id="l1"), Action.LINK_CONNECTED, "link:l1"),
        (event("task-status-updated", link_id="l1", status="done"), Action.TASK_STATUS, "link:l1"),
        (event("task-status-updated", link_id="l1"), Action.IGNORE, None),
        # hints that data changed: recorded, never the diff (rule 14), not ordered per target
        (event("employment-updated", link_id="l1"), Action.DATA_CHANGED, None),
        (event("statements-updated", link_id="l1"), Action.DATA_CHANGED, None),
        (event("profile-updated", link_id="l1"), Action.DATA_CHANGED, None),
        (event("bank-accounts-updated", link_id="l1"), Action.DATA_CHANGED, None),
        (event("shifts-updated", link_id="l1"), Action.DATA_CHANGED, None),
        # everything else is stored and counted, nothing more
        (event("order-created", order_id="o1", status="pending"), Action.IGNORE, None),
        (event("employment-created", link_id="l1"), Action.IGNORE, None),
        (event("link-deleted"), Action.IGNORE, None),
        (event("something-new", order_id="o1"), Action.IGNORE, None),
    ],
)
def test_what_an_event_means(payload, action, target):
    ins = interpret(payload)
    assert (ins.action, ins.target) == (action, target)


def test_a_suborder_status_is_read_in_lower_case():
    ins = interpret(event("order-status-updated", order_id="o1", employer_id="e1", status="COMPLETED", link_id="l9"))
    assert (ins.order_id, ins.suborder_id, ins.link_id, ins.status) == ("o1", "e1", "l9", "completed")


def test_the_data_events_are_the_updated_ones():
    assert {
        "employment-updated",
        "profile-updated",
        "statements-updated",
        "shifts-updated",
        "bank-accounts-updated",
    } == set(DATA_EVENTS)


@pytest.mark.parametrize(
    ("payload", "problem"),
    [
        ({"webhook_id": "w1", "event_type": "x"}, None),
        ([], "JSON object"),
        ("text", "JSON object"),
        ({"event_type": "x"}, "webhook_id"),
        ({"webhook_id": "", "event_type": "x"}, "webhook_id"),
        ({"webhook_id": 7, "event_type": "x"}, "webhook_id"),
        ({"webhook_id": "w" * 256, "event_type": "x"}, "webhook_id: longer than 255"),
        ({"webhook_id": "w" * 255, "event_type": "x"}, None),
        ({"webhook_id": "w\x00", "event_type": "x"}, "webhook_id: contains control"),
        ({"webhook_id": "w1"}, "event_type"),
        ({"webhook_id": "w1", "event_type": ""}, "event_type"),
        ({"webhook_id": "w1", "event_type": 3}, "event_type"),
    ],
)
def test_what_cannot_even_be_stored(payload, problem):
    got = envelope_problem(payload)
    if problem is None:
        assert got is None
    else:
        assert got is not None and problem in got


@pytest.mark.parametrize(
    ("updated_at", "expected"),
    [
        (None, None),
        ("2026-06-05T11:00:00+00:00", datetime(2026, 6, 5, 11, 0, tzinfo=UTC)),
        ("2026-06-05T07:00:00-04:00", datetime(2026, 6, 5, 11, 0, tzinfo=UTC)),
        ("2026-06-05T11:00:00Z", datetime(2026, 6, 5, 11, 0, tzinfo=UTC)),
        # up to the clock-skew margin ahead of our clock is accepted
        ("2026-06-05T12:05:00+00:00", datetime(2026, 6, 5, 12, 5, tzinfo=UTC)),
    ],
)
def test_updated_at_is_read_in_utc(updated_at, expected):
    payload = event("task-status-updated", link_id="l1", status="done", updated_at=updated_at)
    assert validate(payload, now=NOW, skew=SKEW) == expected


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"updated_at": "2026-06-05T12:05:01+00:00"}, "updated_at: more than clock_skew_margin"),
        ({"updated_at": "2026-06-05T11:00:00"}, "updated_at: has no UTC offset"),
        ({"updated_at": "yesterday"}, "updated_at: not an ISO-8601"),
        ({"updated_at": 1717585200}, "updated_at: expected an ISO-8601 string, got number"),
        ({"updated_at": "0001-01-01T00:00:00+05:00"}, "updated_at: out of range"),
        ({"order_id": 12}, "order_id: expected a string, got number"),
        ({"link_id": ["l1"]}, "link_id: expected a string, got array"),
        ({"employer_id": "e" * 65}, "employer_id: longer than 64"),
        ({"task_id": "t\n1"}, "task_id: contains control"),
        ({"status": "s" * 33}, "status: longer than 32"),
        ({"status": True}, "status: expected a string, got boolean"),
        ({"event_type": "e" * 65}, "event_type: longer than 64"),
    ],
)
def test_a_signed_event_that_breaks_the_schema_is_invalid_naming_field_and_rule(fields, says):
    payload = {**event("order-status-updated", order_id="o1", employer_id="e1", status="done"), **fields}
    with pytest.raises(InvalidEvent, match=says) as caught:
        validate(payload, now=NOW, skew=SKEW)
    # the reason is stored and shown: it names the field and the rule, never the value
    for value in fields.values():
        if isinstance(value, str) and len(value) > 3:
            assert value not in str(caught.value)


def test_ids_at_their_column_width_are_valid():
    payload = event("order-status-updated", order_id="o" * 64, employer_id="e" * 64, status="s" * 32, task_id="t" * 64)
    assert validate(payload, now=NOW, skew=SKEW) is not None


@settings(deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["webhook_id", "event_type", "order_id", "employer_id", "link_id", "status", "updated_at"]),
        st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=80), st.lists(st.integers(), max_size=2)),
    )
)
def test_any_payload_is_storable_valid_or_invalid_never_an_error(payload):
    if envelope_problem(payload) is not None:
        return
    try:
        validate(payload, now=NOW, skew=SKEW)
    except InvalidEvent as exc:
        assert str(exc).split(":")[0] in {
            "event_type",
            "order_id",
            "employer_id",
            "link_id",
            "task_id",
            "status",
            "updated_at",
        }
        return
    ins = interpret(payload)
    assert ins.action in set(Action)
    assert ins.target is None or ins.target.split(":")[0] in {"suborder", "order", "link"}
