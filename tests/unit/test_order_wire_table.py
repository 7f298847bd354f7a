"""Truv's order and link objects -> our types, field by field (truv-api.md sections 3, 6 and 10).

Each table row is one field of the documented order object in one documented, missing, null or odd form,
and what the parsed object must then say. No HTTP, no database.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from monitor.truv.wire import LinkInfo, OrderInfo, Suborder, effective_status, parse_link, parse_order, parse_time

CREATED = "2026-03-01T10:00:00Z"
UPDATED = "2026-03-02T11:00:00+00:00"
T_CREATED = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
T_UPDATED = datetime(2026, 3, 2, 11, 0, tzinfo=UTC)

# The doc example of a refresh's answer (truv-api.md section 2), with every top-level field of section 3.
FULL_ORDER: dict[str, Any] = {
    "id": "new-order-id",
    "products": ["income"],
    "source": "internal",
    "order_number": "LN-000123",
    "loan_number": "deprecated",
    "custom_field": "x",
    "client_name": "Lender",
    "first_name": "John",
    "last_name": "Doe",
    "user_id": "user-1",
    "share_url": "https://cdn.truv.com/share",
    "bridge_token": "bridge-secret-token",
    "template_id": "tmpl-1",
    "created_at": CREATED,
    "updated_at": UPDATED,
    "canceled_at": None,
    "expired_at": "2026-03-04T10:00:00Z",
    "is_expired": False,
    "initial_order": "original-order-id",
    "refresh_order": None,
    "employers": [
        {
            "id": "emp-1",
            "suborder_number": "SUB-1",
            "status": "completed",
            "created_at": CREATED,
            "updated_at": "2026-03-01T12:00:00Z",
            "completed_at": "2026-03-01T11:30:00Z",
            "employments": [{"id": "x"}],
            "bridge_token": "bridge-secret-2",
            "link_id": "link-1",
            "access_token": "access-secret-1",
            "data_source": "payroll",
            "provider": "adp",
            "is_suspicious": False,
        }
    ],
    "financial_accounts": [],
    "manager": {"name": "M"},
    "voie_report_id": "voie-1",
    "voa_report_id": "voa-1",
}


def order(**fields: Any) -> OrderInfo:
    base = {"id": "o1", "products": ["income"], "created_at": CREATED}
    return parse_order({**base, **fields})


def employer(**fields: Any) -> dict[str, Any]:
    return {"id": "e1", "status": "completed", **fields}


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# -- the documented example ------------------------------------------------------------------------


def test_the_documented_refresh_answer_reads_whole():
    info = parse_order(FULL_ORDER)
    assert info.id == "new-order-id"
    assert info.products == ("income",)
    assert info.user_id == "user-1"
    assert info.order_number == "LN-000123"  # carries over from the original: the correlation key
    assert info.initial_order == "original-order-id"
    assert info.refresh_order is None
    assert (info.created_at, info.updated_at) == (T_CREATED, T_UPDATED)
    assert info.is_expired is False
    assert (info.voie_report_id, info.voa_report_id) == ("voie-1", "voa-1")
    (sub,) = info.suborders
    assert sub == Suborder(
        kind="employer",
        id="emp-1",
        suborder_number="SUB-1",
        status="completed",
        token_hash=sha("access-secret-1"),
        link_id="link-1",
        updated_at=datetime(2026, 3, 1, 12, 0, tzinfo=UTC),
        completed_at=datetime(2026, 3, 1, 11, 30, tzinfo=UTC),
    )


def test_no_secret_of_the_order_survives_parsing():
    text = repr(parse_order(FULL_ORDER))
    for secret in ("access-secret-1", "bridge-secret-token", "bridge-secret-2"):
        assert secret not in text


# -- the order object's own fields -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(None, "needs an id", id="null"),
        pytest.param([], "needs an id", id="array"),
        pytest.param("o1", "needs an id", id="string"),
        pytest.param({}, "needs an id", id="empty-object"),
        pytest.param({"id": None}, "needs an id", id="null-id"),
        pytest.param({"id": ""}, "needs an id", id="empty-id"),
        pytest.param({"products": ["income"]}, "needs an id", id="no-id-key"),
        pytest.param({"detail": "Not Found."}, "needs an id", id="404-body"),
        pytest.param({"error": {"code": "throttled"}}, "needs an id", id="error-body"),
    ],
)
def test_something_without_an_order_id_is_not_an_order(body, message):
    with pytest.raises(ValueError, match=message):
        parse_order(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("abc123", "abc123", id="hex-string"),
        pytest.param(12345, "12345", id="number"),
    ],
)
def test_the_order_id_is_text(value, expected):
    assert parse_order({"id": value}).id == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(["income"], ("income",), id="income"),
        pytest.param(["employment"], ("employment",), id="employment"),
        pytest.param(["assets"], ("assets",), id="assets"),
        pytest.param(["insurance"], ("insurance",), id="insurance"),
        pytest.param(["transactions"], ("transactions",), id="transactions"),
        pytest.param(["income", "assets"], ("income", "assets"), id="two-in-order"),
        pytest.param([], (), id="empty"),
        pytest.param(None, (), id="null"),
        pytest.param("income", (), id="a-string-is-not-a-list"),
        pytest.param({"income": True}, (), id="object"),
        pytest.param(["income", 3, None, {"x": 1}], ("income",), id="non-strings-dropped"),
    ],
)
def test_products(value, expected):
    assert order(products=value).products == expected


def test_no_products_key_is_no_products():
    assert parse_order({"id": "o1"}).products == ()


@pytest.mark.parametrize(
    ("field", "attribute"),
    [
        pytest.param("user_id", "user_id", id="user_id"),
        pytest.param("order_number", "order_number", id="order_number"),
        pytest.param("voie_report_id", "voie_report_id", id="voie_report_id"),
        pytest.param("voa_report_id", "voa_report_id", id="voa_report_id"),
    ],
)
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("v-1", "v-1", id="text"),
        pytest.param(42, "42", id="number"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param(True, None, id="boolean"),
        pytest.param(1.5, None, id="float"),
        pytest.param(["v"], None, id="array"),
        pytest.param({"id": "v"}, None, id="object"),
    ],
)
def test_optional_text_fields(field, attribute, value, expected):
    assert getattr(order(**{field: value}), attribute) == expected


@pytest.mark.parametrize("field", ["user_id", "order_number", "voie_report_id", "voa_report_id"])
def test_optional_text_fields_may_be_absent(field):
    assert getattr(parse_order({"id": "o1"}), field) is None


@pytest.mark.parametrize("field", ["initial_order", "refresh_order"])
@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("root", "root", id="id"),
        pytest.param({"id": "root"}, "root", id="object"),
        pytest.param({"id": "root", "products": ["income"]}, "root", id="object-with-more"),
        pytest.param({"id": 77}, "77", id="object-numeric-id"),
        pytest.param(77, "77", id="numeric-id"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param({}, None, id="empty-object"),
        pytest.param({"id": None}, None, id="object-null-id"),
        pytest.param(["root"], None, id="array"),
        pytest.param(False, None, id="boolean"),
    ],
)
def test_order_references(field, value, expected):
    assert getattr(order(**{field: value}), field) == expected


def test_an_original_order_has_no_initial_order_and_names_its_latest_refresh():
    info = order(initial_order=None, refresh_order="r2")
    assert (info.initial_order, info.refresh_order) == (None, "r2")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(True, True, id="true"),
        pytest.param(False, False, id="false"),
        pytest.param(None, False, id="null"),
        pytest.param("true", False, id="string-true"),
        pytest.param(1, False, id="one"),
        pytest.param("yes", False, id="yes"),
    ],
)
def test_is_expired_only_a_json_true(value, expected):
    assert order(is_expired=value).is_expired is expected


def test_expiry_defaults_to_not_expired():
    assert parse_order({"id": "o1"}).is_expired is False


# -- times -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("2026-03-01T10:00:00Z", datetime(2026, 3, 1, 10, tzinfo=UTC), id="Z"),
        pytest.param("2026-03-01T10:00:00+00:00", datetime(2026, 3, 1, 10, tzinfo=UTC), id="plus-zero"),
        pytest.param("2026-03-01T10:00:00.000Z", datetime(2026, 3, 1, 10, tzinfo=UTC), id="millis-Z"),
        pytest.param("2026-03-01T10:00:00.123456Z", datetime(2026, 3, 1, 10, 0, 0, 123456, tzinfo=UTC), id="micros-Z"),
        pytest.param("2026-03-01T12:00:00+02:00", datetime(2026, 3, 1, 10, tzinfo=UTC), id="east-offset"),
        pytest.param("2026-03-01T05:00:00-05:00", datetime(2026, 3, 1, 10, tzinfo=UTC), id="west-offset"),
        pytest.param("2026-03-01T10:00:00", datetime(2026, 3, 1, 10, tzinfo=UTC), id="naive-is-utc"),
        pytest.param("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC), id="date-only-is-midnight-utc"),
        pytest.param("2018-05-15T00:00:00.000Z", datetime(2018, 5, 15, tzinfo=UTC), id="section-9-format"),
    ],
)
def test_times_are_aware(value, expected):
    parsed = parse_time(value)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() is not None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param("", id="empty"),
        pytest.param("yesterday", id="words"),
        pytest.param("2026-13-01T00:00:00Z", id="month-13"),
        pytest.param("2026-02-30", id="feb-30"),
        pytest.param(1772359200, id="epoch-number"),
        pytest.param(1772359200.5, id="epoch-float"),
        pytest.param(["2026-03-01"], id="array"),
        pytest.param({"at": "2026-03-01"}, id="object"),
        pytest.param(True, id="boolean"),
    ],
)
def test_unreadable_times_are_absent_not_errors(value):
    assert parse_time(value) is None


@pytest.mark.parametrize("field", ["created_at", "updated_at"])
def test_an_unreadable_order_time_leaves_the_order_readable(field):
    info = parse_order({"id": "o1", field: "not a time"})
    assert getattr(info, field) is None


# -- suborders: employers, financial accounts, insurance --------------------------------------------


@pytest.mark.parametrize(
    ("key", "kind"),
    [
        pytest.param("employers", "employer", id="employers"),
        pytest.param("financial_accounts", "account", id="financial_accounts"),
        pytest.param("bank", "account", id="bank-older-name"),
        pytest.param("bank_accounts", "account", id="bank_accounts"),
        pytest.param("insurance", "insurance", id="insurance"),
    ],
)
def test_each_group_of_connections_has_its_kind(key, kind):
    info = order(**{key: [employer(id="s1"), employer(id="s2")]})
    assert [(s.kind, s.id) for s in info.suborders] == [(kind, "s1"), (kind, "s2")]


def test_groups_come_employers_then_accounts_then_insurance():
    info = order(
        insurance=[employer(id="i1")],
        financial_accounts=[employer(id="a1")],
        employers=[employer(id="e1"), employer(id="e2")],
    )
    assert [(s.kind, s.id) for s in info.suborders] == [
        ("employer", "e1"),
        ("employer", "e2"),
        ("account", "a1"),
        ("insurance", "i1"),
    ]


def test_an_empty_financial_accounts_list_falls_back_to_the_older_bank():
    info = order(financial_accounts=[], bank=[employer(id="b1")])
    assert [(s.kind, s.id) for s in info.suborders] == [("account", "b1")]


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="empty"),
        pytest.param({"id": "e1"}, id="object-not-list"),
        pytest.param("e1", id="string"),
        pytest.param(["e1", 3, None], id="no-objects"),
        pytest.param([{"status": "completed"}], id="objects-without-id"),
        pytest.param([{"id": None, "status": "completed"}], id="null-id"),
    ],
)
def test_no_usable_employers_is_no_suborders(value):
    assert order(employers=value).suborders == ()


def test_items_without_an_id_are_skipped_the_rest_kept():
    info = order(employers=[{"status": "completed"}, employer(id="e2"), "junk", employer(id="e3")])
    assert [s.id for s in info.suborders] == ["e2", "e3"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("e-1", "e-1", id="text"),
        pytest.param(9, "9", id="number"),
        pytest.param(0, "0", id="zero-is-an-id"),
    ],
)
def test_a_suborder_id_is_text(value, expected):
    assert order(employers=[employer(id=value)]).suborders[0].id == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("SUB-1", "SUB-1", id="text"),
        pytest.param(101, "101", id="number"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param(["SUB-1"], None, id="array"),
    ],
)
def test_suborder_number(value, expected):
    assert order(employers=[employer(suborder_number=value)]).suborders[0].suborder_number == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("link-1", "link-1", id="text"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param({"id": "link-1"}, None, id="object"),
    ],
)
def test_link_id(value, expected):
    assert order(employers=[employer(link_id=value)]).suborders[0].link_id == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("tok-abc", sha("tok-abc"), id="token-hashed"),
        pytest.param("sandbox-token-123", sha("sandbox-token-123"), id="another-token"),
        pytest.param(None, None, id="null"),
        pytest.param("", None, id="empty"),
        pytest.param(12345, None, id="number"),
        pytest.param({"token": "x"}, None, id="object"),
        pytest.param("****7610", sha("****7610"), id="masked-as-given"),
    ],
)
def test_the_access_token_is_kept_only_as_its_sha256(value, expected):
    sub = order(employers=[employer(access_token=value)]).suborders[0]
    assert sub.token_hash == expected
    if isinstance(value, str) and value:
        assert value not in repr(sub)
        assert len(sub.token_hash or "") == 64


def test_two_connections_sharing_a_token_share_its_hash():
    info = order(
        employers=[employer(id="e1", access_token="shared"), employer(id="e2", access_token="shared")],
        financial_accounts=[employer(id="a1", access_token="other")],
    )
    hashes = [s.token_hash for s in info.suborders]
    assert hashes[0] == hashes[1] != hashes[2]


@pytest.mark.parametrize(
    ("fields", "updated", "completed"),
    [
        pytest.param(
            {"updated_at": "2026-03-05T00:00:00Z", "completed_at": "2026-03-04T00:00:00Z"},
            datetime(2026, 3, 5, tzinfo=UTC),
            datetime(2026, 3, 4, tzinfo=UTC),
            id="both",
        ),
        # `finished_at` is not documented on a suborder: the client depends on no such field.
        pytest.param({"finished_at": "2026-03-04T00:00:00Z"}, None, None, id="finished_at-undocumented-ignored"),
        pytest.param(
            {"completed_at": "2026-03-04T00:00:00Z", "finished_at": "2026-03-01T00:00:00Z"},
            None,
            datetime(2026, 3, 4, tzinfo=UTC),
            id="completed-not-finished",
        ),
        pytest.param({"completed_at": None, "updated_at": None}, None, None, id="nulls"),
        pytest.param({"completed_at": "soon"}, None, None, id="unreadable"),
    ],
)
def test_suborder_times(fields, updated, completed):
    sub = order(employers=[employer(**fields)]).suborders[0]
    assert (sub.updated_at, sub.completed_at) == (updated, completed)


# -- suborder status: the employer enum and the task that may already have ended ----------------------

SUBORDER_STATUSES = ("pending", "sent", "completed", "error", "canceled", "expired", "no_data", "skipped")
TERMINAL_TASK = (
    "done",
    "login_error",
    "mfa_error",
    "config_error",
    "account_locked",
    "unable_to_reset",
    "no_data",
    "unavailable",
    "error",
    "not_supported",
)
IN_PROGRESS_TASK = ("new", "login", "mfa", "parse", "base_parse", "full_parse")


@pytest.mark.parametrize("status", SUBORDER_STATUSES)
def test_each_documented_suborder_status_reads_as_itself(status):
    assert order(employers=[employer(status=status)]).suborders[0].status == status


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        pytest.param("Completed", "completed", id="dashboard-case"),
        pytest.param("COMPLETED", "completed", id="upper"),
        pytest.param("Sent", "sent", id="sent"),
        pytest.param(None, None, id="null"),
        pytest.param(3, None, id="number"),
    ],
)
def test_suborder_status_is_lower_case(given, expected):
    assert order(employers=[employer(status=given)]).suborders[0].status == expected


@pytest.mark.parametrize("task", TERMINAL_TASK)
def test_a_sent_suborder_whose_task_ended_takes_the_tasks_status(task):
    sub = order(employers=[employer(status="sent", last_task_status=task)]).suborders[0]
    assert sub.status == task


@pytest.mark.parametrize("task", [t.upper() for t in TERMINAL_TASK])
def test_the_task_status_is_lower_cased_too(task):
    assert effective_status("sent", task) == task.lower()


@pytest.mark.parametrize("task", IN_PROGRESS_TASK)
def test_a_sent_suborder_whose_task_still_runs_stays_sent(task):
    assert effective_status("sent", task) == "sent"


@pytest.mark.parametrize("status", [s for s in SUBORDER_STATUSES if s not in ("sent", "pending")])
@pytest.mark.parametrize("task", ["done", "login_error", "no_data", "unavailable"])
def test_a_final_suborder_status_is_never_overridden_by_the_task(status, task):
    assert effective_status(status, task) == status


@pytest.mark.parametrize(
    ("status", "task", "expected"),
    [
        pytest.param(None, None, None, id="nothing"),
        pytest.param(None, "login_error", "login_error", id="only-task-final"),
        pytest.param(None, "parse", None, id="only-task-running"),
        pytest.param("sent", 5, "sent", id="task-not-text"),
        pytest.param(5, "done", "done", id="status-not-text"),
        pytest.param("sent", "", "sent", id="task-empty"),
        pytest.param("sent", "something_new", "sent", id="task-unknown"),
    ],
)
def test_effective_status_odd_values(status, task, expected):
    assert effective_status(status, task) == expected


# -- data dates (truv-api.md section 10: the order's `completed_at`, refined by a suborder's; never `updated_at`) --


@pytest.mark.parametrize(
    ("sub_fields", "order_fields", "expected"),
    [
        pytest.param(
            {},
            {"completed_at": "2026-03-02T00:00:00Z", "updated_at": "2026-03-05T00:00:00Z"},
            datetime(2026, 3, 2, tzinfo=UTC),
            id="documented-order-completed_at",
        ),
        pytest.param(
            {"completed_at": "2026-03-03T00:00:00Z", "updated_at": "2026-03-04T00:00:00Z"},
            {"completed_at": "2026-03-02T00:00:00Z", "updated_at": "2026-03-05T00:00:00Z"},
            datetime(2026, 3, 3, tzinfo=UTC),
            id="suborder-completed_at-refines",
        ),
        pytest.param(
            {"updated_at": "2026-03-04T00:00:00Z"},
            {"completed_at": "2026-03-02T00:00:00Z", "updated_at": "2026-03-05T00:00:00Z"},
            datetime(2026, 3, 2, tzinfo=UTC),
            id="suborder-updated_at-never",
        ),
        pytest.param(
            {"updated_at": "2026-03-04T00:00:00Z"},
            {"updated_at": "2026-03-05T00:00:00Z"},
            T_CREATED,
            id="no-completed_at-then-creation-never-updated_at",
        ),
        pytest.param({}, {}, T_CREATED, id="else-order-created_at"),
        pytest.param({}, {"created_at": None}, None, id="no-time-at-all"),
        pytest.param(
            {"finished_at": "2026-03-02T00:00:00Z", "updated_at": "2026-03-04T00:00:00Z"},
            {"completed_at": "2026-03-01T00:00:00Z"},
            datetime(2026, 3, 1, tzinfo=UTC),
            id="finished_at-undocumented-ignored",
        ),
    ],
)
def test_data_date_of_a_completed_connection(sub_fields, order_fields, expected):
    info = order(employers=[employer(status="completed", **sub_fields)], **order_fields)
    assert info.data_date(info.suborders[0]) == expected


@pytest.mark.parametrize(
    ("status", "task", "has_date"),
    [
        pytest.param("completed", None, True, id="completed"),
        pytest.param("sent", "done", True, id="sent-but-task-done"),
        pytest.param("pending", None, False, id="pending"),
        pytest.param("sent", None, False, id="sent"),
        pytest.param("error", None, False, id="error"),
        pytest.param("canceled", None, False, id="canceled"),
        pytest.param("expired", None, False, id="expired"),
        pytest.param("no_data", None, False, id="no_data-is-not-fresh-data"),
        pytest.param("skipped", None, False, id="skipped"),
        pytest.param("sent", "login_error", False, id="sent-task-login_error"),
        pytest.param(None, None, False, id="no-status"),
    ],
)
def test_only_completed_data_has_a_date(status, task, has_date):
    info = order(
        employers=[employer(status=status, last_task_status=task, completed_at="2026-03-03T00:00:00Z")],
    )
    assert (info.data_date(info.suborders[0]) is not None) is has_date


def test_first_completion_is_the_earliest_completed_connection():
    info = order(
        employers=[
            employer(id="e1", completed_at="2026-03-05T00:00:00Z"),
            employer(id="e2", completed_at="2026-03-03T00:00:00Z"),
            employer(id="e3", status="error", completed_at="2026-03-01T00:00:00Z"),
        ],
        financial_accounts=[employer(id="a1", completed_at="2026-03-04T00:00:00Z")],
    )
    assert info.first_completion() == datetime(2026, 3, 3, tzinfo=UTC)


@pytest.mark.parametrize(
    ("employers", "created", "expected"),
    [
        pytest.param([], CREATED, None, id="no-connections"),
        pytest.param([employer(status="pending")], CREATED, None, id="none-completed"),
        pytest.param([employer(status="expired")], CREATED, None, id="expired-never-completed"),
        pytest.param([employer(status="pending")], None, None, id="none-completed-no-creation"),
    ],
)
def test_first_completion_without_a_completed_connection_is_unknown(employers, created, expected):
    info = order(employers=employers, created_at=created)
    assert info.first_completion() == expected


def test_first_completion_compares_across_offsets():
    info = order(
        employers=[
            employer(id="e1", completed_at="2026-03-03T01:00:00+02:00"),  # 2026-03-02T23:00Z
            employer(id="e2", completed_at="2026-03-03T00:00:00Z"),
        ]
    )
    assert info.first_completion() == datetime(2026, 3, 2, 23, tzinfo=UTC)


# -- links (truv-api.md section 6: status is the last task's; deleted_at when the link is gone) -----


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        pytest.param(
            {"id": "l1", "status": "done", "updated_at": "2026-03-01T00:00:00Z", "deleted_at": None},
            LinkInfo("l1", "done", datetime(2026, 3, 1, tzinfo=UTC), False),
            id="healthy",
        ),
        pytest.param(
            {"id": "l1", "status": "login_error"},
            LinkInfo("l1", "login_error", None, False),
            id="needs-reauth",
        ),
        pytest.param(
            {"id": "l1", "status": "done", "deleted_at": "2026-03-01T00:00:00Z"},
            LinkInfo("l1", "done", None, True),
            id="deleted",
        ),
        pytest.param({"id": "l1"}, LinkInfo("l1", None, None, False), id="bare"),
        pytest.param({"id": 5, "status": ["done"]}, LinkInfo("5", None, None, False), id="odd-types"),
        pytest.param({"id": "l1", "deleted_at": ""}, LinkInfo("l1", None, None, False), id="empty-deleted_at"),
    ],
)
def test_parse_link(body, expected):
    assert parse_link(body) == expected


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="array"),
        pytest.param({}, id="empty"),
        pytest.param({"id": ""}, id="empty-id"),
        pytest.param({"detail": "Not Found."}, id="404-body"),
    ],
)
def test_a_link_needs_an_id(body):
    with pytest.raises(ValueError, match="link object needs an id"):
        parse_link(body)


def test_the_links_masked_access_token_is_not_kept():
    info = parse_link({"id": "l1", "status": "done", "access_token": "****7610", "link_hash": "h"})
    assert "7610" not in repr(info)


def test_a_time_with_an_offset_keeps_its_instant():
    parsed = parse_time("2026-03-01T10:00:00+05:30")
    assert parsed == datetime(2026, 3, 1, 4, 30, tzinfo=UTC)
    assert parsed is not None and parsed.astimezone(timezone(timedelta(hours=5, minutes=30))).hour == 10
