"""Reading Truv's order JSON: every plausible form where truv-api.md marks a field as inferred."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from monitor.truv.secrets import token_hash
from monitor.truv.wire import effective_status, parse_link, parse_order

BASE = {"id": "o1", "products": ["income", "assets"], "created_at": "2026-01-02T03:04:05Z"}


def order(**fields):
    return parse_order({**BASE, **fields})


@pytest.mark.parametrize("value", ["root", {"id": "root"}, {"id": "root", "created_at": "x"}])
def test_initial_order_as_an_id_or_an_object(value):
    assert order(initial_order=value).initial_order == "root"


@pytest.mark.parametrize("value", [None, "", {}, [], 5.5])
def test_missing_or_odd_initial_order_is_none(value):
    assert order(initial_order=value).initial_order is None


@pytest.mark.parametrize("key", ["financial_accounts", "bank", "bank_accounts"])
def test_financial_accounts_under_any_documented_name(key):
    info = order(**{key: [{"id": "a1", "status": "completed", "access_token": "t"}]})
    assert [(s.kind, s.id, s.token_hash) for s in info.suborders] == [("account", "a1", token_hash("t"))]


def test_insurance_items_are_their_own_kind():
    info = order(insurance=[{"id": "i1", "status": "completed", "access_token": "t"}])
    assert [s.kind for s in info.suborders] == ["insurance"]


@pytest.mark.parametrize(
    ("status", "last_task", "expected"),
    [
        ("sent", "done", "done"),
        ("sent", "login_error", "login_error"),
        ("pending", "no_data", "no_data"),
        ("sent", "parse", "sent"),  # the task is still working
        ("sent", None, "sent"),
        ("completed", "login_error", "completed"),  # a final suborder status is not overridden
        ("COMPLETED", None, "completed"),
        (None, "done", "done"),
    ],
)
def test_sent_suborder_is_classified_by_its_last_task_status(status, last_task, expected):
    assert effective_status(status, last_task) == expected


def test_data_date_is_the_orders_completed_at_refined_by_a_suborders_never_updated_at():
    info = order(
        completed_at="2026-01-02T12:00:00Z",
        updated_at="2026-01-05T00:00:00Z",
        employers=[
            {"id": "e1", "status": "completed", "completed_at": "2026-01-03T00:00:00Z", "updated_at": "2026-01-04"},
            {"id": "e2", "status": "completed", "updated_at": "2026-01-04T00:00:00+00:00"},
            {"id": "e3", "status": "completed"},
            {"id": "e4", "status": "error", "completed_at": "2026-01-03T00:00:00Z"},
        ],
    )
    dates = [info.data_date(s) for s in info.suborders]
    assert dates == [
        datetime(2026, 1, 3, tzinfo=UTC),  # a suborder-level completion time refines the order's
        datetime(2026, 1, 2, 12, tzinfo=UTC),  # the order's completed_at, not the suborder's updated_at
        datetime(2026, 1, 2, 12, tzinfo=UTC),
        None,  # not completed: no data date
    ]
    assert info.first_completion() == datetime(2026, 1, 3, tzinfo=UTC)


def test_first_completion_is_unknown_until_a_connection_completed():
    assert order(employers=[{"id": "e1", "status": "pending"}]).first_completion() is None
    done = order(completed_at="2026-01-04T00:00:00Z", employers=[{"id": "e1", "status": "completed"}])
    assert done.first_completion() == datetime(2026, 1, 4, tzinfo=UTC)


def test_report_ids_and_expiry():
    info = order(voie_report_id="voie-1", voa_report_id=None, is_expired=True)
    assert (info.voie_report_id, info.voa_report_id, info.is_expired) == ("voie-1", None, True)
    assert order(is_expired="yes").is_expired is False  # only a JSON true counts


def test_odd_field_types_do_not_break_parsing():
    info = order(
        products="income",
        user_id={"x": 1},
        order_number=12,
        employers=[{"id": 7, "suborder_number": ["x"], "status": 3, "access_token": None}, "junk", {"no": "id"}],
    )
    assert info.products == () and info.user_id is None and info.order_number == "12"
    assert [(s.id, s.suborder_number, s.status, s.token_hash) for s in info.suborders] == [("7", None, None, None)]


def test_a_deleted_link_reads_as_deleted():
    assert parse_link({"id": "l1", "status": "done", "deleted_at": "2026-01-01T00:00:00Z"}).deleted
    assert not parse_link({"id": "l1", "status": "done", "deleted_at": None}).deleted
