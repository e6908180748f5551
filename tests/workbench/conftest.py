"""Shared fixtures: a small province (``tiny.yaml``) run once per session, and a CLI runner.

``tiny`` is the Nam Định baseline at a tenth of its demand, over 5 days after a 7-day warm-up, with its
land offices scaled down so that they still queue: a replication takes about a second.
"""

from __future__ import annotations

import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

from dvclab.sim.experiment import Experiment, multiple_replications
from dvclab.sim.observe import observed_run
from dvclab.sim.scenario import load_scenario

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
TINY = HERE / "tiny.yaml"
TINY_PLUS = HERE / "tiny-land-plus-1.yaml"
SCENARIOS = REPO / "scenarios" / "sim"


@cache
def tiny(path: Path = TINY, replications: int = 2, **overrides: object) -> Experiment:
    scenario, catalog = load_scenario(path, **overrides)
    return multiple_replications(scenario, catalog, replications, jobs=2, runner=observed_run)


@cache
def catalog() -> list:
    return load_scenario(TINY)[1]


def dvclab(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """The console script in a subprocess, as a planner runs it (stderr not a terminal: plain lines)."""
    return subprocess.run(
        [sys.executable, "-m", "dvclab.cli", *args], capture_output=True, text=True, timeout=timeout, cwd=REPO
    )


@pytest.fixture
def out(tmp_path: Path) -> Path:
    return tmp_path / "results"
