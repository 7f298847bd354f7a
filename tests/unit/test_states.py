"""One vocabulary: the README's skip-reason table, the code's skip sites and state literals, and
`monitor.core.states` say the same words, so a new reason or state cannot be added silently."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from enum import StrEnum
from functools import cache
from pathlib import Path

import pytest

from monitor.core import states
from monitor.core.outcomes import Outcome
from monitor.core.states import (
    ConnectionState,
    LoanHold,
    ReportState,
    ReservationState,
    RunState,
    SkipReason,
    WebhookAnswer,
    WebhookState,
)

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "monitor"
STATES_FILE = PACKAGE / "core" / "states.py"
ENUMS: dict[str, type[StrEnum]] = {
    cls.__name__: cls
    for cls in (ConnectionState, ReservationState, WebhookState, WebhookAnswer, RunState, ReportState, LoanHold)
} | {"SkipReason": SkipReason}


@cache
def sources() -> tuple[tuple[Path, ast.Module], ...]:
    """The package's modules but the vocabulary itself, migrations (history) and the simulator (it
    speaks Truv's words, not ours)."""
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).parts
        if path == STATES_FILE or "migrations" in rel or rel[0] == "sandbox":
            continue
        out.append((path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))))
    return tuple(out)


def words(node: ast.AST | None, *, deep: bool = False) -> Iterator[str]:
    """The strings an expression can evaluate to as written: literals, also inside `x or "y"`, `a if c
    else "b"`, tuples, sets and `frozenset({...})`, and members of our enums (`SkipReason.GSE_BUDGET`).

    `deep` takes every literal anywhere inside (a whole module), not only the expression's own values.
    """
    if node is None:
        return
    if deep:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant | ast.Attribute):
                yield from words(sub)
    elif isinstance(node, ast.Constant):
        if isinstance(node.value, str):
            yield node.value
    elif isinstance(node, ast.Attribute):
        yield from member_words(node)
    elif isinstance(node, ast.IfExp):
        yield from words(node.body)
        yield from words(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from words(value)
    elif isinstance(node, ast.Tuple | ast.List | ast.Set):
        for elt in node.elts:
            yield from words(elt)
    elif isinstance(node, ast.Call) and name_of(node.func) in ("frozenset", "set", "tuple"):
        for arg in node.args:
            yield from words(arg)


def member_words(node: ast.Attribute) -> Iterator[str]:
    if node.attr == "value":
        yield from words(node.value)  # `ReservationState.RELEASED.value`
        return
    enum = name_of(node.value)  # `SkipReason.X`, also `states.SkipReason.X`
    if enum in ENUMS and node.attr.isupper():
        member = ENUMS[enum].__members__.get(node.attr)
        assert member is not None, f"{enum}.{node.attr} is not a member"
        yield str(member)


def name_of(func: ast.AST) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


# -- the README ---------------------------------------------------------------------------------------


def readme_skip_reasons() -> list[str]:
    lines = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Skip reasons"))
    rows = []
    for line in lines[start + 1 :]:
        if rows and not line.startswith("|"):
            break
        cell = re.match(r"^\| `([a-z_]+)` \|", line)
        if cell:
            rows.append(cell.group(1))
    return rows


def test_the_readme_table_lists_every_skip_reason_once():
    listed = readme_skip_reasons()
    assert len(listed) == len(set(listed)), "a reason is listed twice"
    assert set(listed) == {str(r) for r in SkipReason}


def test_the_readme_table_has_a_why_and_a_what_to_do_for_each_reason():
    text = (ROOT / "docs" / "commands.md").read_text(encoding="utf-8")
    for reason in SkipReason:
        row = re.search(rf"^\| `{reason}` \|(.*)\|(.*)\|$", text, re.MULTILINE)
        assert row is not None, reason
        why, what = (cell.strip() for cell in row.groups())
        assert why and what, f"{reason}: an empty cell"


# -- skip sites in the code ---------------------------------------------------------------------------


# Functions whose return value is a skip reason (the last element when they return a tuple).
REASON_FUNCTIONS = ("_refusal", "_order_ended", "held_back")


def skip_sites() -> Iterator[tuple[str, int, str]]:
    """(file, line, reason) for every place the code names a skip reason.

    Covered: `skip(reason, ...)` / `Skip(reason)` and any call named like them, `...skipped[reason]`,
    `held[reason]`, `skip_reason=`, `_set_aside(..., reason)`, `result("skip", reason)` (loans show),
    `for reason, ... in (...)`, and what REASON_FUNCTIONS (or a function annotated `-> SkipReason`) return.
    """
    for path, tree in sources():
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            for expr in _reason_exprs(node):
                for word in words(expr):
                    yield rel, getattr(expr, "lineno", 0), word


def _reason_exprs(node: ast.AST) -> list[ast.expr]:
    found: list[ast.expr] = []
    if isinstance(node, ast.Call):
        name = name_of(node.func)
        if "skip" in name.lower() and node.args:
            found.append(node.args[0])
        if name == "_set_aside":
            found += [k.value for k in node.keywords if k.arg == "reason"] + node.args[2:3]
        if len(node.args) >= 2 and isinstance(node.args[0], ast.Constant) and node.args[0].value == "skip":
            found.append(node.args[1])
        found += [k.value for k in node.keywords if k.arg == "skip_reason"]
    elif isinstance(node, ast.Subscript) and name_of(node.value) in ("skipped", "held"):
        found.append(node.slice)
    elif isinstance(node, ast.For) and name_of(_first(node.target)) == "reason":
        found += [_first(e) for e in node.iter.elts] if isinstance(node.iter, ast.Tuple | ast.List) else []
    elif isinstance(node, ast.FunctionDef) and (
        node.name in REASON_FUNCTIONS or "SkipReason" in ast.unparse(node.returns or ast.Constant(None))
    ):
        for ret in ast.walk(node):
            if isinstance(ret, ast.Return) and ret.value is not None:
                found.append(ret.value.elts[-1] if isinstance(ret.value, ast.Tuple) else ret.value)
    return found


def _first(node: ast.expr) -> ast.expr:
    return node.elts[0] if isinstance(node, ast.Tuple) and node.elts else node


def test_every_skip_reason_the_code_names_is_a_member():
    sites = list(skip_sites())
    # The scan must keep finding the sites: a rename that hides them from it should fail here, not pass.
    assert len(sites) >= 20, f"only {len(sites)} skip sites found: update skip_sites() to the code's new shape"
    unknown = sorted({(f, line, w) for f, line, w in sites if w not in SkipReason.__members__.values()})
    assert not unknown, f"skip reasons missing from SkipReason (and the README): {unknown}"


@pytest.mark.parametrize("enum", list(ENUMS.values()), ids=list(ENUMS))
def test_every_member_is_still_named_somewhere_in_the_code(enum):
    named = {w for _, tree in sources() for w in words(tree, deep=True)}
    assert {str(m) for m in enum} - named == set(), "a member nothing uses: remove it (and its README row)"


# -- states in the code ---------------------------------------------------------------------------------

STATE_COLUMNS = {
    "connection": ConnectionState,
    "reservation": ReservationState,
    "webhook_event": WebhookState,
    "run": RunState,
    "report_due": ReportState,
}
ANY_STATE = {str(m) for enum in STATE_COLUMNS.values() for m in enum} | {str(m) for m in WebhookAnswer}


def state_literals() -> Iterator[tuple[str, int, str]]:
    """Literals written as `state=` / `status=` of a run, compared with `.state` / `.status`, or
    listed in `.state.in_(...)` / `.state.not_in(...)`, outside the simulator."""
    for path, tree in sources():
        rel = str(path.relative_to(ROOT))
        for node in ast.walk(tree):
            exprs: list[ast.AST] = []
            if isinstance(node, ast.Call):
                exprs += [k.value for k in node.keywords if k.arg == "state"]
                if name_of(node.func) in ("in_", "not_in") and isinstance(node.func, ast.Attribute):
                    column = node.func.value
                    if name_of(column) == "state" or (
                        isinstance(column, ast.Attribute) and column.attr == "status" and name_of(column.value) == "Run"
                    ):
                        exprs += node.args
                if name_of(node.func) in ("Run", "start_run", "finish_run"):
                    exprs += [k.value for k in node.keywords if k.arg == "status"]
            elif isinstance(node, ast.Compare) and name_of(node.left) == "state":
                exprs += node.comparators
            elif isinstance(node, ast.Assign):
                exprs += assigned_state(node)
            for expr in exprs:
                for word in words(expr):
                    yield rel, getattr(expr, "lineno", 0), word


def assigned_state(node: ast.Assign) -> list[ast.AST]:
    """`state = ...` (also one name of a tuple assignment) and `....summary.status = ...`."""
    out: list[ast.AST] = []
    for target in node.targets:
        if isinstance(target, ast.Name) and target.id == "state":
            # Literal values only: `state = x["state"] or "-"` is a rendering, not a state.
            if isinstance(node.value, ast.Constant | ast.IfExp):
                out.append(node.value)
        elif isinstance(target, ast.Attribute) and target.attr == "status" and name_of(target.value) == "summary":
            out.append(node.value)
        elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
            out += [v for k, v in zip(target.elts, node.value.elts, strict=False) if name_of(k) == "state"]
    return out


def test_every_state_the_code_writes_or_compares_is_a_member():
    found = list(state_literals())
    assert len(found) >= 40, f"only {len(found)} state sites found: update state_literals() to the code's new shape"
    unknown = sorted({(f, line, w) for f, line, w in found if w not in ANY_STATE})
    assert not unknown, f"states missing from monitor.core.states: {unknown}"


def named_sets() -> dict[str, set[str]]:
    """Module-level tuples and frozensets of state words, by name (wherever they live now)."""
    out: dict[str, set[str]] = {}
    for _, tree in sources():
        for node in tree.body:
            # `NAME = (...)` or, once typed, `NAME: frozenset[str] = frozenset({...})`
            target = node.targets[0] if isinstance(node, ast.Assign) and len(node.targets) == 1 else None
            target = node.target if isinstance(node, ast.AnnAssign) else target
            value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
            if isinstance(target, ast.Name) and isinstance(value, ast.Tuple | ast.Call | ast.Set):
                out.setdefault(target.id, set()).update(words(value))
    return out


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("IN_FLIGHT", ReservationState),
        ("NOT_COUNTING", ReservationState),
        ("HELD_STATES", ConnectionState),
        # a connection held back makes its state the loan's skip reason
        ("HELD_STATES", SkipReason),
        ("BUDGET_REASONS", SkipReason),
    ],
)
def test_named_sets_of_states_hold_only_members(name, enum):
    # A set renamed or moved fails here (update this table with it), never skips.
    sets = named_sets()
    assert name in sets, f"{name} is no longer defined where named_sets() looks: update this table"
    assert sets[name] and sets[name] <= {str(m) for m in enum}


def test_reservations_that_stop_counting_are_the_released_and_the_declined():
    # DESIGN.md rules 3 and 15: a request that provably never left, or one Truv refused outright (no
    # order made), stops counting; everything else may have made a refresh and counts.
    sets = named_sets()
    assert "NOT_COUNTING" in sets, "NOT_COUNTING is no longer defined where named_sets() looks: update this test"
    assert sets["NOT_COUNTING"] == {ReservationState.RELEASED, ReservationState.DECLINED}


def test_in_flight_is_every_state_whose_outcome_is_not_settled():
    sets = named_sets()
    assert "IN_FLIGHT" in sets, "IN_FLIGHT is no longer defined where named_sets() looks: update this test"
    assert sets["IN_FLIGHT"] == {
        ReservationState.RESERVED,
        ReservationState.SENT,
        ReservationState.UNKNOWN,
        ReservationState.ACCEPTED,
    }


# -- the enums themselves -------------------------------------------------------------------------------


@pytest.mark.parametrize("enum", [*STATE_COLUMNS.values(), WebhookAnswer, LoanHold, SkipReason])
def test_values_are_the_stored_words(enum):
    for member in enum:
        assert member == member.value and isinstance(member, str)
        assert re.fullmatch(r"[a-z][a-z_]*", member.value), member.value
        # A member's name is its value, upper-cased: what a reader greps for is what is stored.
        assert member.name == member.value.upper()


@pytest.mark.parametrize("enum", [*STATE_COLUMNS.values(), WebhookAnswer, LoanHold, SkipReason])
def test_each_member_says_why_in_a_comment(enum):
    source = STATES_FILE.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(source))
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == enum.__name__)
    assert ast.get_docstring(cls)
    undocumented = []
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and isinstance(stmt.targets[0], ast.Name):
            above = source[stmt.lineno - 2].strip()
            obvious = enum in (WebhookState, ReportState, RunState) and stmt.targets[0].id in (
                "APPLIED",
                "DUE",
                "READ",
                "FINISHED",
            )
            if not above.startswith("#") and not obvious:
                undocumented.append(stmt.targets[0].id)
    assert undocumented == []


def test_connection_states_are_the_outcome_buckets_plus_ok():
    # DESIGN.md failure outcomes: a settled connection is fresh, needs the borrower, retries, or needs review.
    settled = {Outcome.REAUTH, Outcome.RETRY, Outcome.MANUAL}
    assert {str(o) for o in settled} <= {str(s) for s in ConnectionState}
    assert set(ConnectionState) - {str(o) for o in settled} == {
        ConnectionState.OK,
        ConnectionState.NEEDS_NEW_ORDER,
    }


def test_holds_are_connection_states_that_stop_a_loan_and_hold_reasons_are_skip_reasons():
    assert {str(h) for h in LoanHold} <= {str(s) for s in ConnectionState}
    assert {str(h) for h in LoanHold} <= {str(r) for r in SkipReason}
    for reason in ("forbidden", "order_finalized", "order_canceled", "never_verified"):
        assert reason in SkipReason.__members__.values()
    # `is_expired` is the borrower invitation's expiry (truv-api.md section 3): never a reason to set aside.
    assert "order_expired" not in SkipReason.__members__.values()


def test_webhook_answers_are_never_stored_states():
    assert not {str(a) for a in WebhookAnswer} & {str(s) for s in WebhookState}


def test_the_module_defines_only_str_enums():
    public = {n: v for n, v in vars(states).items() if isinstance(v, type) and v.__module__ == states.__name__}
    assert public and all(issubclass(v, StrEnum) for v in public.values())
    assert set(public) == set(ENUMS)
