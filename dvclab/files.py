"""Atomic files and folders: a reader (a person, CI, the gate) never sees half a result.

A file is written beside its target and renamed over it; a results folder is filled under a hidden
``.NAME.partial`` name and renamed when whole, and removed if filling it fails or is interrupted.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all (text as UTF-8), readable like any new file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode("utf-8") if isinstance(data, str) else data)
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; results are shared artifacts
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, value: Any) -> None:
    """JSON with Vietnamese kept readable (no \\u escapes), two-space indent, a final newline."""
    atomic_write(path, json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


@contextmanager
def staged_folder(final: Path) -> Iterator[Path]:
    """Yield a hidden staging folder beside ``final``; rename it to ``final`` when the block ends cleanly."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent))
    try:
        os.chmod(staging, 0o777 & ~_umask())  # mkdtemp makes 0700; a results folder is shared like others
        yield staging
        os.replace(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def fill_folder(final: Path, fill: Callable[[Path], None]) -> Path:
    """``staged_folder`` for a function that fills the folder; returns ``final``."""
    with staged_folder(final) as staging:
        fill(staging)
    return final


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
