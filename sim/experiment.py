"""Experiments: one replication, independent replications in parallel, and confidence intervals."""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

import numpy as np

from dvclab.catalog import Procedure
from sim.kpis import ReplicationOutput, replication_kpis, unit_of
from sim.model import ProvinceModel
from sim.procedures import build_procedures
from sim.scenario import Scenario

# Two-sided 95% Student t quantiles by degrees of freedom (normal beyond 30).
_T95 = [
    12.706,
    4.303,
    3.182,
    2.776,
    2.571,
    2.447,
    2.365,
    2.306,
    2.262,
    2.228,
    2.201,
    2.179,
    2.160,
    2.145,
    2.131,
    2.120,
    2.110,
    2.101,
    2.093,
    2.086,
    2.080,
    2.074,
    2.069,
    2.064,
    2.060,
    2.056,
    2.052,
    2.048,
    2.045,
    2.042,
]


def t95(dof: int) -> float:
    if dof < 1:
        return math.nan
    return _T95[dof - 1] if dof <= len(_T95) else 1.960


@dataclass
class Estimate:
    mean: float
    ci_low: float
    ci_high: float
    unit: str

    def as_dict(self) -> dict[str, float | str]:
        return {"mean": self.mean, "ci_low": self.ci_low, "ci_high": self.ci_high, "unit": self.unit}


def confidence_interval(values: np.ndarray, name: str = "") -> Estimate:
    """Mean and 95% t-interval over independent replications (one replication: a zero-width interval)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return Estimate(mean, mean, mean, unit_of(name) if name else "")
    half = t95(len(values) - 1) * float(values.std(ddof=1)) / math.sqrt(len(values))
    low, high = mean - half, mean + half
    if name and unit_of(name) == "fraction":
        low, high = max(low, 0.0), min(high, 1.0)
    return Estimate(mean, low, high, unit_of(name) if name else "")


def single_run(scenario: Scenario, catalog: list[Procedure], replication: int = 0) -> ReplicationOutput:
    """One replication of the scenario; replication r uses the r-th child stream of the seed."""
    model = ProvinceModel(scenario, build_procedures(scenario, catalog), replication)
    model.run()
    return replication_kpis(model)


@dataclass
class Experiment:
    scenario: Scenario
    outputs: list[ReplicationOutput]

    @property
    def replications(self) -> int:
        return len(self.outputs)

    def kpi_names(self) -> list[str]:
        return list(self.outputs[0].kpis)

    def values(self, name: str) -> np.ndarray:
        return np.array([o.kpis[name] for o in self.outputs])

    def summary(self) -> dict[str, Estimate]:
        return {name: confidence_interval(self.values(name), name) for name in self.kpi_names()}


def multiple_replications(
    scenario: Scenario,
    catalog: list[Procedure],
    replications: int | None = None,
    jobs: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> Experiment:
    """Independent replications, in parallel processes when ``jobs`` > 1; outputs in replication order."""
    n = replications or scenario.run.replications
    jobs = max(1, min(jobs or os.cpu_count() or 1, n))
    outputs: dict[int, ReplicationOutput] = {}
    if jobs == 1:
        for r in range(n):
            outputs[r] = single_run(scenario, catalog, r)
            if on_done:
                on_done(r)
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(single_run, scenario, catalog, r): r for r in range(n)}
            for future in as_completed(futures):
                r = futures[future]
                outputs[r] = future.result()
                if on_done:
                    on_done(r)
    return Experiment(scenario, [outputs[r] for r in range(n)])


def paired_difference(whatif: Experiment, base: Experiment, kpi: str) -> Estimate:
    """What-if minus baseline, replication by replication: with common random numbers the pairs share
    their citizens, so the interval is far narrower than the two intervals side by side."""
    if whatif.replications != base.replications:
        raise ValueError("paired comparison needs the same number of replications")
    estimate = confidence_interval(whatif.values(kpi) - base.values(kpi))
    return Estimate(estimate.mean, estimate.ci_low, estimate.ci_high, unit_of(kpi))
