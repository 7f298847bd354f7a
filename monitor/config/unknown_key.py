"""An unknown key in jobs.yaml, with the nearest allowed one and the keys allowed where it stands."""

from __future__ import annotations

import difflib
import typing

from pydantic import BaseModel

from monitor.config.jobs_file import JobsFile


def unknown_key(loc: tuple[str | int, ...]) -> str:
    """An unknown key, with the nearest allowed one and the keys allowed there."""
    keys = _keys_at(loc[:-1])
    key = str(loc[-1])
    close = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    return f"unknown key {key!r}{hint} (keys here: {', '.join(keys)})" if keys else f"unknown key {key!r}"


def _keys_at(loc: tuple[str | int, ...]) -> list[str]:
    """The keys the model at `loc` (a path into JobsFile) accepts; [] when it is not a model."""
    model: type[BaseModel] | None = JobsFile
    for part in loc:
        if isinstance(part, int):
            continue  # a list's item: its model was taken from the list's annotation
        field = model.model_fields.get(part) if model is not None else None
        model = _model_in(field.annotation) if field is not None else None
    return list(model.model_fields) if model is not None else []


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model in an annotation such as `list[PolicyConfig]` or `NotifyConfig | None`."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if found := _model_in(arg):
            return found
    return None
