"""Shared fixtures: scenario paths and a cache of experiments, so each scenario runs once per session."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from sim.experiment import Experiment, multiple_replications
from sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "sim"
# Short runs: 45 days after the 30-day warm-up, 3 replications. Rates settle well within that.
HORIZON_DAYS = 45
REPLICATIONS = 3


@cache
def experiment(name: str, horizon_days: int = HORIZON_DAYS, replications: int = REPLICATIONS) -> Experiment:
    scenario, catalog = load_scenario(SCENARIOS / f"{name}.yaml", **{"run.horizon_days": horizon_days})
    return multiple_replications(scenario, catalog, replications, jobs=2)


@pytest.fixture
def scenarios_dir() -> Path:
    return SCENARIOS
