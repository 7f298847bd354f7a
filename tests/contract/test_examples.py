"""Every documented example under examples/ validates against its shape, and the shapes refuse drifts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

from tests.contract import shapes

EXAMPLES = Path(__file__).parent / "examples"

# One entry per example file: the model it is an instance of.
MODELS: dict[str, type[BaseModel]] = {
    "order_read.json": shapes.Order,
    "refresh_order.json": shapes.RefreshOrder,
    "orders_list.json": shapes.OrderList,
    "link.json": shapes.Link,
    "link_income_report.json": shapes.LinkReport,
    "link_employment_report.json": shapes.EmploymentReport,
    "bridge_token.json": shapes.BridgeToken,
    "error_400.json": shapes.ErrorBody,
    "error_401.json": shapes.ErrorBody,
    "error_403.json": shapes.ErrorBody,
    "error_404.json": shapes.NotFound,
    "error_429.json": shapes.ErrorBody,
    "webhook_order_created.json": shapes.OrderCreated,
    "webhook_order_status_updated.json": shapes.OrderStatusUpdated,
    "webhook_order_status_updated_refresh_guide.json": shapes.OrderStatusUpdated,
    "webhook_order_refresh_failed.json": shapes.OrderRefreshFailed,
    "webhook_order_finalized.json": shapes.OrderEvent,
    "webhook_task_status_updated.json": shapes.TaskStatusUpdated,
    "webhook_statements_updated.json": shapes.DataUpdated,
    "webhook_link_connected.json": shapes.LinkEvent,
    "webhook_link_disconnected.json": shapes.LinkEvent,
    "webhook_link_deleted.json": shapes.LinkEvent,
}


def load(name: str) -> Any:
    return json.loads((EXAMPLES / name).read_text(encoding="utf-8"))


def test_every_example_file_has_a_model_and_a_readme_line():
    assert sorted(p.name for p in EXAMPLES.glob("*.json")) == sorted(MODELS)
    readme = (Path(__file__).parent / "README.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in readme for name in MODELS)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_example_validates_against_its_model(name):
    MODELS[name].model_validate(load(name))


@pytest.mark.parametrize("name", sorted(n for n in MODELS if n.startswith("webhook_")))
def test_webhook_examples_dispatch_by_event_type(name):
    assert type(shapes.webhook(load(name))) is MODELS[name]


def test_every_model_names_its_docs_page():
    models = {*MODELS.values(), shapes.Suborder, shapes.Employment, shapes.Statement}
    assert all(m.SOURCE.startswith("https://docs.truv.com/") for m in models), [m for m in models if not m.SOURCE]


# -- the documented order: the facts the job depends on -----------------------------------------------------


def test_the_documented_order_read_example():
    order = load("order_read.json")
    # A completed and refreshed order: the data date is the order's completed_at...
    assert order["completed_at"] is not None and order["refresh_order"] is not None
    # ...its invitation has expired, which says nothing about its data...
    assert order["is_expired"] is True and order["expired_at"] is not None
    # ...and its suborders document created_at as their only timestamp.
    for suborder in order["employers"]:
        assert "created_at" in suborder
        assert not {"completed_at", "updated_at", "finished_at"} & set(suborder)


def test_link_events_carry_no_updated_at():
    for name in ("webhook_link_connected.json", "webhook_link_disconnected.json", "webhook_link_deleted.json"):
        assert "updated_at" not in load(name)
        with pytest.raises(ValidationError, match="updated_at"):
            shapes.LinkEvent.model_validate({**load(name), "updated_at": "2024-07-11T21:43:08+00:00"})


# -- the shapes refuse what Truv does not send ------------------------------------------------------------


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


@pytest.mark.parametrize(
    ("name", "change", "message"),
    [
        pytest.param(
            "order_read.json", lambda b: _without(b, "completed_at"), "completed_at", id="order-no-completed_at"
        ),
        pytest.param("order_read.json", lambda b: {**b, "is_expired": "true"}, "is_expired", id="order-bool-as-text"),
        pytest.param(
            "order_read.json", lambda b: {**b, "created_at": "2022-05-04T11:30:00"}, "no zone", id="naive-time"
        ),
        pytest.param("order_read.json", lambda b: {**b, "products": ["income", "credit"]}, "products", id="product"),
        pytest.param(
            "order_read.json",
            lambda b: {**b, "employers": [{**b["employers"][0], "status": "done"}]},
            "status",
            id="suborder-status-is-not-a-task-status",
        ),
        pytest.param(
            "refresh_order.json", lambda b: {**b, "initial_order": None}, "initial_order", id="refresh-origin"
        ),
        pytest.param("bridge_token.json", lambda b: {**b, "expires_at": None}, "expires_at", id="bridge-extra"),
        pytest.param("error_400.json", lambda b: {"error": {"code": "x"}}, "message", id="error-message"),
        pytest.param("error_404.json", lambda b: {"detail": None}, "detail", id="detail-null"),
        pytest.param(
            "webhook_order_refresh_failed.json", lambda b: {**b, "status": "completed"}, "status", id="failed-status"
        ),
        pytest.param(
            "webhook_order_finalized.json", lambda b: {**b, "status": "completed"}, "status", id="finalized-status"
        ),
        pytest.param("webhook_order_created.json", lambda b: {**b, "employer_id": "e1"}, "employer_id", id="created"),
        pytest.param("webhook_task_status_updated.json", lambda b: _without(b, "updated_at"), "updated_at", id="task"),
        pytest.param(
            "link_income_report.json",
            lambda b: {**b, "employments": [{**b["employments"][0], "income": 70000.0}]},
            "income",
            id="money-as-float",
        ),
    ],
)
def test_a_drift_from_the_documented_shape_is_refused(name, change, message):
    with pytest.raises(ValidationError, match=message):
        MODELS[name].model_validate(change(load(name)))


def test_employer_id_may_be_null_or_absent_on_order_events():
    documented = load("webhook_order_status_updated.json")
    for body in (documented, {**documented, "employer_id": None}, _without(documented, "employer_id")):
        shapes.webhook(body)
