"""A pydantic validation error as ConfigErrors naming key path and line, every problem kept for
`check-config`; a misspelt key with the nearest allowed one."""

from __future__ import annotations

from collections.abc import Mapping

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from monitor.config.refs import UNDEFINED, RefError, some, undefined_policy
from monitor.config.unknown_key import unknown_key
from monitor.config.yaml_nodes import line_at, loc_text
from monitor.errors import ConfigError


def validation_error(
    exc: ValidationError, root: yaml.Node | None, source: str, raw: Mapping[str, object]
) -> ConfigError:
    """Every problem pydantic found, the first named and the rest carried for `check-config`; with the
    jobs' references to undefined policies too, which pydantic checks only once every field is valid."""
    problems = [p for err in _kept(exc.errors(include_url=False)) for p in _problems(err, root, source)]
    if not any(UNDEFINED in p.message for p in problems):
        problems += [_located(source, root, loc, message) for loc, message in _undefined_policies(raw)]
    if len(problems) == 1:
        return problems[0]
    head = problems[0]
    more = f" (and {len(problems) - 1} more: `monitor check-config` lists them all)"
    error = ConfigError(head.source, head.location, head.message + more)
    error.problems = tuple(problems)
    return error


def _kept(errors: list[ErrorDetails]) -> list[ErrorDetails]:
    """A misspelt key first (it also shows up as a missing one, and the spelling is the useful message),
    without the missing-key errors it explains."""
    first = next((e for e in errors if e["type"] == "extra_forbidden"), errors[0])
    misspelt = {tuple(e["loc"][:-1]) for e in errors if e["type"] == "extra_forbidden"}
    ordered = [first] + [e for e in errors if e is not first]
    return [e for e in ordered if not (e["type"] == "missing" and tuple(e["loc"][:-1]) in misspelt)]


def _undefined_policies(raw: Mapping[str, object]) -> list[tuple[tuple[str | int, ...], str]]:
    """Jobs naming a policy the file does not define, read from the raw YAML (the rest may not validate)."""
    policies, jobs = raw.get("policies"), raw.get("jobs")
    if not isinstance(policies, list) or not isinstance(jobs, list):
        return []
    names = _policy_names(policies)
    defined, known = set(names), some(names) or "none defined"
    return [
        (("jobs", i, "policies", k), undefined_policy(name, known))
        for i, job in enumerate(jobs)
        for k, name in enumerate(_listed_policies(job))
        if isinstance(name, str) and name not in defined
    ]


def _policy_names(policies: list[object]) -> list[str]:
    return [p["name"] for p in policies if isinstance(p, dict) and isinstance(p.get("name"), str)]


def _listed_policies(job: object) -> list[object]:
    listed = job.get("policies") if isinstance(job, dict) else None
    return listed if isinstance(listed, list) else []


def _located(source: str, root: yaml.Node | None, loc: tuple[str | int, ...], message: str) -> ConfigError:
    line = line_at(root, loc)
    return ConfigError(source, loc_text(loc) + (f" (line {line})" if line else ""), message)


def _problems(err: ErrorDetails, root: yaml.Node | None, source: str) -> list[ConfigError]:
    """One pydantic error as ConfigErrors naming key path and line (a reference check may carry several)."""
    ctx_error = (err.get("ctx") or {}).get("error")
    refs = [ctx_error, *ctx_error.more] if isinstance(ctx_error, RefError) else [None]
    out = []
    for ref in refs:
        loc = (*err["loc"], *(ref.loc if ref is not None else ()))
        out.append(_located(source, root, loc, _message(err, loc, ref, ctx_error)))
    return out


def _message(err: ErrorDetails, loc: tuple[str | int, ...], ref: RefError | None, ctx_error: object) -> str:
    if err["type"] == "extra_forbidden":
        return unknown_key(loc)
    if err["type"] == "missing":
        return "required key is missing"
    if err["type"] == "literal_error":
        return f"{err['msg']}, got {err.get('input')!r}"
    if ctx_error is None:
        return err["msg"]
    return str(ref if ref is not None else ctx_error)
