"""Fixtures for the gate tests: a thresholds-file writer and a `dvclab check` runner."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from dvclab.cli import main


@pytest.fixture
def thresholds(tmp_path: Path) -> Callable[[str], Path]:
    def write(text: str) -> Path:
        path = tmp_path / "thresholds.yaml"
        path.write_text(text)
        return path

    return write


class Check:
    """Runs `dvclab check` through dvclab.cli.main with the reports kept in tmp_path."""

    def __init__(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.out = tmp_path / "check"
        self.capsys = capsys
        self.stdout = self.stderr = ""

    @property
    def junit(self) -> Path:
        return self.out / "junit.xml"

    @property
    def summary(self) -> Path:
        return self.out / "summary.md"

    def __call__(self, *args: str | Path) -> int:
        self.capsys.readouterr()
        code = main(["check", *map(str, args), "--junit", str(self.junit), "--summary", str(self.summary)])
        captured = self.capsys.readouterr()
        self.stdout, self.stderr = captured.out, captured.err
        return code


@pytest.fixture
def check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Check:
    return Check(tmp_path, capsys)
