"""jobs.yaml models (strict: an unknown key is an error) and settings from the environment.

The rooms: values.py (durations, shares), sections.py (database, truv, budgets, notify), monitoring.py
(monitoring, loans), policy.py and preset.py (a policy and its agency preset), match_check.py, job.py,
jobs_file.py (the whole file and its cross-references), yaml_nodes.py (what YAML must not hold, lines),
problems.py (a validation error as ConfigErrors), settings.py (the environment). Here: reading a file.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from monitor.config.job import JobConfig
from monitor.config.jobs_file import JobsFile
from monitor.config.monitoring import LoansConfig, MonitoringConfig
from monitor.config.policy import DEFAULT_PURPOSE, PRODUCTS, PolicyConfig
from monitor.config.problems import validation_error
from monitor.config.sections import DEFAULT_BASE_URL, DEFAULT_DATABASE_URL
from monitor.config.settings import Settings, secret_from_env
from monitor.config.values import parse_duration, parse_share
from monitor.config.yaml_nodes import MAX_DEPTH, check_nodes, yaml_problem
from monitor.errors import ConfigError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_DATABASE_URL",
    "DEFAULT_PURPOSE",
    "PRODUCTS",
    "JobConfig",
    "JobsFile",
    "LoansConfig",
    "MonitoringConfig",
    "PolicyConfig",
    "Settings",
    "load_config",
    "parse_config",
    "parse_duration",
    "parse_share",
    "secret_from_env",
]

# The C loader when PyYAML has libyaml (several times faster on a large file), else the Python one.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@contextmanager
def _collector_paused() -> Iterator[None]:
    """A large file is hundreds of thousands of live nodes, and the cyclic collector rescans them all
    as each batch of new ones is made: that took longer than the parse (6.6 s against 2.7 s for
    50,000 policies). Nothing made here needs it: reference counting frees the tree afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_yaml(text: str, source: str) -> tuple[object, yaml.Node | None]:
    """The document and its node tree (for line numbers), from one parse; the tree is checked first."""
    loader = _LOADER(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        check_nodes(root, source)
        return loader.construct_document(root), root
    finally:
        loader.dispose()


def parse_config(text: str, source: str = "jobs.yaml") -> JobsFile:
    """Validate jobs.yaml text; every failure is a ConfigError naming the key path and line."""
    with _collector_paused():
        return _parse_config(text, source)


def _parse_config(text: str, source: str) -> JobsFile:
    raw, root = _mapping(text, source)
    try:
        return JobsFile.model_validate(raw)
    except ValidationError as exc:
        raise validation_error(exc, root, source, raw) from None


def _mapping(text: str, source: str) -> tuple[dict[Any, object], yaml.Node | None]:
    """The YAML as a mapping of sections, and its node tree (for line numbers); ConfigError otherwise."""
    try:
        raw, root = _load_yaml(text, source)
    except yaml.YAMLError as exc:
        raise ConfigError(source, *yaml_problem(exc, text)) from None
    except RecursionError:  # the pure-Python parser (no libyaml) recurses per level before any check
        raise ConfigError(source, "", f"not valid YAML: nested more than {MAX_DEPTH} levels deep") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(source, "(top level)", "expected a mapping of sections (database, truv, ...)")
    return raw, root


def load_config(path: Path) -> JobsFile:
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(str(path), "", "file not found; pass --config PATH or set MONITOR_CONFIG") from None
    except OSError as exc:
        raise ConfigError(str(path), "", f"cannot be read: {exc.strerror}") from None
    return parse_config(_decode(data, str(path)), str(path))


def _decode(data: bytes, source: str) -> str:
    """UTF-8 (a BOM allowed); anything else is refused with the line, not guessed at."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object.count(b"\n", 0, exc.start) + 1  # exc.object: the bytes after any BOM
        hint = " (it looks like UTF-16)" if data[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ConfigError(
            source, f"line {line}", f"not UTF-8 text (byte {exc.object[exc.start]:#04x}){hint}; save it as UTF-8"
        ) from None
