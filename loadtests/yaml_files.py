"""Reading a named YAML file of the load tests (a profile, a portal map): a shipped name or a path, with
the same messages for a missing file or bad YAML whichever kind it is. Light: yaml only."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dvclab.hints import did_you_mean, yaml_error


def read_yaml(
    name_or_path: str | Path,
    path: Path,
    shipped: Path,
    known: list[str],
    noun: str,
    listing: str,
    error: type[ValueError],
    by_name: str = "",
) -> Any:
    """The parsed YAML at ``path`` (resolved from ``name_or_path``), or ``error`` naming what is missing:
    for a name (a file that would be in ``shipped``), the nearest known name and ``listing``."""
    if not path.is_file():
        if path.parent == shipped:  # a name, not a path: suggest the nearest shipped one
            hint = did_you_mean(str(name_or_path), known)
            raise error(f"no {noun} {str(name_or_path)!r}{hint}; {listing}{by_name}")
        raise error(f"{path}: {noun} not found ({listing})")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as bad:
        raise error(yaml_error(path, bad)) from None


Model = TypeVar("Model", bound=BaseModel)


def validated(
    raw: Any,
    model: type[Model],
    path: Path | str,
    noun: str,
    error: type[ValueError],
    explain: Callable[[Path | str, ValidationError], str],
) -> Model:
    """``raw`` validated as ``model``, or ``error`` with ``explain``'s lines (field paths, allowed values)."""
    if not isinstance(raw, dict):
        raise error(f"{path}: a {noun} is a mapping of fields, got {type(raw).__name__}")
    try:
        return model.model_validate(raw)
    except ValidationError as bad:
        raise error(explain(path, bad)) from None
