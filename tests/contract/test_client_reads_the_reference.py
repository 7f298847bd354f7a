"""The client on Truv's documented examples, not only on the sandbox's answers (issue 21, point 9a and 9c).

(a) Each example in `examples/` is read by the client's own parsers and must give the documented meaning:
    data date = the order's `completed_at`, `is_expired` never the end of the data, the GSE window from
    `completed_at`, the report ids, the webhook's instruction and ordering moment, the error's code.
(c) Every field the client reads from Truv is one the reference documents (a model field in `shapes.py`),
    or one of the few readings the README's table of choices where Truv is silent names.
"""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import BaseModel

from monitor.core.refresh_choice import Choice, LoanToRefresh, ScopedConnection, choose
from monitor.core.webhook_events import Action, interpret, validate
from monitor.truv.answers import error_fields
from monitor.truv.orders_page import filter_honoured, parse_orders_page
from monitor.truv.report_wire import parse_report
from monitor.truv.secrets import token_hash
from monitor.truv.wire import parse_link, parse_order
from tests.contract import shapes

EXAMPLES = Path(__file__).parent / "examples"
ROOT = Path(__file__).parents[2]


def example(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# -- (a) orders -------------------------------------------------------------------------------------------


def test_the_documented_order_reads_its_data_date_from_completed_at():
    body = example("order_read.json")
    info = parse_order(body)
    (sub,) = info.suborders
    assert body["is_expired"] is True and body["refresh_order"]  # completed, refreshed, invitation expired
    assert info.data_date(sub) == utc(body["completed_at"])
    assert info.data_date(sub) != utc(body["updated_at"])
    assert info.first_completion() == utc(body["completed_at"])  # the GSE window's start
    assert info.voie_report_id == body["voie_report_id"] and info.voa_report_id is None
    assert info.refresh_order == body["refresh_order"] and info.initial_order is None
    assert sub.token_hash == token_hash(body["employers"][0]["access_token"])


def test_the_documented_order_is_refreshed_when_stale_whatever_is_expired_says():
    body = example("order_read.json")
    info = parse_order(body)
    (sub,) = info.suborders
    loan = LoanToRefresh(
        loan_id="L1",
        original_order_id=info.id,
        order_products=info.products,
        gse=True,
        gse_window_start=info.first_completion(),
        closing_date=None,
        hold=None,
        hold_reason=None,
        connections=(ScopedConnection(sub.id, sub.token_hash or "", "employer", info.data_date(sub)),),
    )
    later = utc(body["completed_at"]) + timedelta(days=60)
    got = choose(loan, product="income", max_age=timedelta(days=30), pre_closing_business_days=None, now=later)
    assert isinstance(got, Choice) and got.suborders == {sub.token_hash: [sub.id]}


def test_a_new_refresh_order_has_no_data_date_until_it_completes():
    info = parse_order(example("refresh_order.json"))
    assert info.initial_order and info.completed_at is None
    assert [info.data_date(s) for s in info.suborders] == [None] * len(info.suborders)


def test_a_list_page_holds_whole_orders():
    page = example("orders_list.json")
    orders = [parse_order(o) for o in page["results"]]
    assert [o.id for o in orders] == [o["id"] for o in page["results"]]


def test_the_client_reads_the_list_page_as_the_single_order_read():
    body = example("orders_list.json")
    page = parse_orders_page(body)
    assert page.count == 1 and page.next_query is None
    (listed,) = page.results
    assert listed == parse_order(example("orders_list.json")["results"][0])
    assert listed.completed_at == utc("2022-05-04T11:52:13Z")  # the data date, as a single read gives it
    assert listed.refresh_order == "5b0f7c3e9d1a4e6f8a2b3c4d5e6f7a8b"


def test_the_next_page_is_asked_of_our_own_host_with_the_query_next_carries():
    body = {**example("orders_list.json"), "next": "https://elsewhere.example/v1/orders/?page=2&page_size=100"}
    assert parse_orders_page(body).next_query == (("page", "2"), ("page_size", "100"))
    for wrong in ("https://prod.truv.com/v1/links/?page=2", 42):
        with pytest.raises(ValueError):
            parse_orders_page({**body, "next": wrong})
    with pytest.raises(ValueError):
        parse_orders_page({"count": 1, "next": None, "previous": None})  # no results: not a page


def test_a_filter_truv_did_not_apply_is_seen_on_the_page():
    page = parse_orders_page(example("orders_list.json"))  # updated_at 2022-05-20T09:12:41Z
    assert filter_honoured(page, utc("2022-05-20T00:00:00Z"))
    assert not filter_honoured(page, utc("2022-06-01T00:00:00Z"))
    assert filter_honoured(page, None)


def test_the_documented_link_reads_its_status_and_deletion():
    body = example("link.json")
    info = parse_link(body)
    assert (info.id, info.status, info.deleted) == (body["id"], body["status"], bool(body["deleted_at"]))


@pytest.mark.parametrize("name", ["link_income_report.json", "link_employment_report.json"])
def test_the_documented_reports_read_as_of_their_completion(name):
    body = example(name)
    snap = parse_report(body, fallback_as_of=datetime(2000, 1, 1, tzinfo=UTC))
    assert snap.as_of == utc(body["completed_at"])
    assert [e.id for e in snap.employments] == [e["id"] for e in body["employments"]]
    assert "access_token" not in repr(snap)


# -- (a) errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status"),
    [("error_400.json", 400), ("error_401.json", 401), ("error_403.json", 403), ("error_429.json", 429)],
)
def test_the_documented_error_body_gives_its_code_and_message(name, status):
    body = example(name)
    code, message = error_fields(httpx.Response(status, json=body))
    assert code == body["error"]["code"]
    assert message.startswith(body["error"]["message"])


def test_the_documented_404_reads_its_detail():
    code, message = error_fields(httpx.Response(404, json=example("error_404.json")))
    assert (code, message) == (None, "Not Found.")


# -- (a) webhooks -----------------------------------------------------------------------------------------

NOW = datetime(2030, 1, 1, tzinfo=UTC)  # after every example: none is "in the future"
SKEW = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("webhook_order_status_updated.json", Action.SUBORDER_STATUS),
        ("webhook_order_status_updated_refresh_guide.json", Action.ORDER_CHANGED),
        ("webhook_order_refresh_failed.json", Action.SUBORDER_STATUS),
        ("webhook_order_created.json", Action.IGNORE),
        ("webhook_order_finalized.json", Action.ORDER_FINALIZED),
        ("webhook_task_status_updated.json", Action.TASK_STATUS),
        ("webhook_statements_updated.json", Action.DATA_CHANGED),
        ("webhook_link_connected.json", Action.LINK_CONNECTED),
        ("webhook_link_disconnected.json", Action.LINK_DISCONNECTED),
        ("webhook_link_deleted.json", Action.LINK_DELETED),
    ],
)
def test_each_documented_webhook_means_what_it_says(name, action):
    event = example(name)
    assert interpret(event).action is action
    moment = validate(event, now=NOW, skew=SKEW)
    field = "event_created_at" if event["event_type"].startswith("link-") else "updated_at"
    assert moment == utc(event[field])


# -- (c) no field the reference does not document ---------------------------------------------------------

# Readings the client makes where the reference is silent or inferred; each is in the README's table of
# choices where Truv is silent (checked below).
CHOICES = {
    "bank": "older name of financial_accounts (truv-api.md section 3)",
    "bank_accounts": "older name of financial_accounts",
    "insurance": "insurance items of an order",
    "completed_at": "a suborder-level completion time, read only to refine the order's",
    # An assets report's accounts: documented as balances and transactions, their keys not named.
    "balances": "an account's balances",
    "balance": "the current balance",
    "available_balance": "the available balance, when no current one",
    "transactions": "an account's transactions",
    "amount": "a transaction's amount",
    "posted_at": "a transaction's date",
    "transacted_at": "a transaction's date when not posted",
    "status": "an account closed (also a report's status, documented)",
    "is_closed": "an account closed",
}
CLIENT_MODULES = (
    "monitor/truv/wire.py",
    "monitor/truv/orders_page.py",
    "monitor/truv/report_wire.py",
    "monitor/truv/assets_wire.py",
    "monitor/core/webhook_events.py",
)
# Keys of our own (error-body plumbing, JSON containers) that are not Truv fields.
PLUMBING = {"invalid-params"}


def documented_fields() -> set[str]:
    names: set[str] = set()
    for value in vars(shapes).values():
        if isinstance(value, type) and issubclass(value, BaseModel):
            for name, info in value.model_fields.items():
                names.add(info.alias or name)
    return names


def keys_read(path: Path) -> set[str]:
    """String keys the module reads from Truv's JSON: `x.get("k")`, `x["k"]`, and the names `_items(body, ...)`
    tries in turn."""
    keys: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_items":
            keys |= {a.value for a in node.args[1:] if isinstance(a, ast.Constant) and isinstance(a.value, str)}
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "get"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            keys.add(node.args[0].value)
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            keys.add(node.slice.value)
    return keys


def test_the_client_reads_only_documented_fields_or_named_choices():
    documented = documented_fields() | {"error", "detail"}
    undocumented = {}
    for module in CLIENT_MODULES:
        for key in keys_read(ROOT / module) - documented - PLUMBING:
            undocumented[key] = module
    assert {k: v for k, v in undocumented.items() if k not in CHOICES} == {}
    # ...and the choices are real readings, not a list that outlived the code.
    assert {"bank", "insurance"} <= set(undocumented)


def test_fields_the_documented_shapes_leave_out_are_never_read():
    # Named explicitly: a suborder documents created_at only; `finished_at` is documented nowhere.
    for module in CLIENT_MODULES:
        assert "finished_at" not in keys_read(ROOT / module), module
    wire_keys = keys_read(ROOT / "monitor/truv/wire.py")
    assert "updated_at" in wire_keys  # read, kept for the record...
    source = (ROOT / "monitor/truv/wire.py").read_text(encoding="utf-8")
    assert "sub.updated_at" not in source.split("def data_date", 1)[1].split("def first_completion", 1)[0]


def test_no_refusal_is_judged_by_undocumented_message_text():
    # The only message text the client reads is Truv's documented per-token refusal; "finaliz" is gone.
    for path in (ROOT / "monitor").rglob("*.py"):
        if "sandbox" in path.parts:
            continue
        assert 'finaliz"' not in path.read_text(encoding="utf-8"), path


def test_every_choice_is_in_the_readmes_table_of_choices():
    readme = (ROOT / "docs" / "truv.md").read_text(encoding="utf-8")
    table = readme.split("## Where Truv is silent", 1)[1].split("\n## ", 1)[0]
    for key in CHOICES:
        assert f"`{key}`" in table, key
