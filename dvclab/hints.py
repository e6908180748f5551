"""Small helpers for error messages people can act on: "did you mean" and YAML errors with file and line.

Shared by the scenario, load-profile and thresholds readers so every one of them says the same thing the
same way. Light: no yaml import here (callers pass the exception they caught).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path


def close_matches(name: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """The candidates nearest to ``name``, best first (difflib's ratio, cut-off 0.6)."""
    return difflib.get_close_matches(str(name), [str(c) for c in candidates], n=n, cutoff=0.6)


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" (did you mean 'overdue_rate'?)"``, or "" when nothing is close: to append to a message."""
    close = close_matches(name, candidates)
    if not close:
        return ""
    return " (did you mean " + " or ".join(repr(c) for c in close) + "?)"


def yaml_error(path: Path | str, error: Exception) -> str:
    """``"x.yaml, line 4, column 7: mapping values are not allowed here"``: the file the user edits, never
    PyYAML's ``<unicode string>`` (the text was read first, so PyYAML never saw the file's name)."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    where = f"{path}, line {mark.line + 1}, column {mark.column + 1}" if mark is not None else str(path)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    context, opened = getattr(error, "context", None), getattr(error, "context_mark", None)
    if context and opened is not None and opened is not mark:
        context += f" opened at line {opened.line + 1}"
    detail = f"{problem} ({context})" if context else problem
    return f"{where}: not valid YAML: {detail}"
