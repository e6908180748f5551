"""The harness benchmark (`make bench-harness`) still runs end to end: in miniature, so that a change to
the runner or the users it drives cannot break the benchmark unnoticed (it once did)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dvclab.load import bench_harness

pytestmark = [pytest.mark.slow, pytest.mark.serial]  # the harness benchmark in miniature: portal and Locust


def test_harness_benchmark_runs_in_miniature(tmp_path: Path) -> None:
    out = tmp_path / "harness.json"
    assert bench_harness.main(["--seconds", "2", "--rounds", "1", "--users", "2", "--out", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["plain_rps"] > 0 and figures["harness_rps"] > 0
    assert figures["ratio"] == round(figures["harness_rps"] / figures["plain_rps"], 3)
