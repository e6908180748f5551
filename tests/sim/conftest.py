"""Shared fixtures: scenario paths and a cache of experiments, so each scenario runs once per session."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from dvclab.sim.experiment import Experiment, multiple_replications
from dvclab.sim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "sim"
# Short runs, 3 replications after a 30-day warm-up. Calibration reads 45 ordinary days (March-April
# 2024); what-ifs are compared over the busy first month (after the year-end rush), when queues matter.
# Scenarios with their own start date (ninh-binh-2025) keep it.
REPLICATIONS = 3
ORDINARY = ("2024-03-01", 45)
BUSY = ("2024-01-01", 30)


@cache
def experiment(
    name: str, window: tuple[str, int] = ORDINARY, replications: int = REPLICATIONS, seed: int | None = None
) -> Experiment:
    start, horizon_days = window
    # a 14-day warm-up is enough for the land offices' queues at these loads, and halves the cost
    overrides: dict[str, object] = {"run.horizon_days": horizon_days, "startup.warmup_days": 14}
    if name != "ninh-binh-2025":
        overrides["run.start_date"] = start
    if seed is not None:
        overrides["run.seed"] = seed
    scenario, catalog = load_scenario(SCENARIOS / f"{name}.yaml", **overrides)
    return multiple_replications(scenario, catalog, replications, jobs=2)


@pytest.fixture
def scenarios_dir() -> Path:
    return SCENARIOS
