"""Experiments: one replication, independent replications in parallel, and confidence intervals."""

from __future__ import annotations

import math
import os
import signal
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from dvclab.catalog import Procedure
from dvclab.sim.kpis import INDEX_766_MAX, ReplicationOutput, replication_kpis, unit_of
from dvclab.sim.model import ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.scenario import Scenario

# Below this many replications the t interval rests on too few values to mean much (n = 1: none at all).
MEANINGFUL_REPLICATIONS = 3


def t95(dof: int) -> float:
    """The two-sided 95% Student t quantile, exact for every degree of freedom (NaN below 1)."""
    if dof < 1:
        return math.nan
    return float(student_t.ppf(0.975, dof))


def interval_warning(replications: int) -> str | None:
    """Why the intervals of ``replications`` replications are not meaningful, or None when they are."""
    if replications >= MEANINGFUL_REPLICATIONS:
        return None
    if replications == 1:
        return "1 replication: no confidence interval (its spread is unknown); run at least 3"
    return (
        f"{replications} replications: the 95% intervals rest on {replications} values and are not "
        f"meaningful; run at least {MEANINGFUL_REPLICATIONS}"
    )


@dataclass
class Estimate:
    mean: float
    ci_low: float
    ci_high: float
    unit: str

    def as_dict(self) -> dict[str, float | str | None]:
        # no interval (one replication) is written as null, never as a zero-width "95% CI"
        low, high = (None, None) if math.isnan(self.ci_low) else (self.ci_low, self.ci_high)
        return {"mean": self.mean, "ci_low": low, "ci_high": high, "unit": self.unit}


UNBOUNDED = (-math.inf, math.inf)
NON_NEGATIVE = (0.0, math.inf)  # counts and times without a KPI's name (dossiers in progress per day)


def natural_range(name: str) -> tuple[float, float]:
    """Where a KPI's values lie by definition: every KPI counts, times, shares or scores something, so
    none is negative; rates and shares are at most 1, except utilisation (work finished after closing
    time counts beyond the opening hours); a Decision 766 group is at most its points."""
    if name.startswith("index_766."):
        return 0.0, INDEX_766_MAX.get(name.split(".", 1)[1], math.inf)
    if unit_of(name) == "fraction" and not name.startswith("utilisation"):
        return 0.0, 1.0
    return NON_NEGATIVE


def confidence_interval(
    values: np.ndarray, name: str = "", *, within: tuple[float, float] | None = None
) -> Estimate:
    """Mean and 95% t-interval over independent replications (one replication: no interval, NaN bounds:
    every comparison with them is false, so no verdict or plan target rests on it).

    The one rule for every interval written or shown (kpis.json, CSV, workbook, report, console): its
    bounds are clipped to the KPI's natural range (``within``, by default ``natural_range(name)``; a
    nameless series such as a paired difference is not clipped) and the mean is never clipped. The mean
    of values inside the range lies inside it, so it always lies inside its own clipped interval.
    """
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    unit = unit_of(name) if name else ""
    if len(values) < 2:
        return Estimate(mean, math.nan, math.nan, unit)
    half = t95(len(values) - 1) * float(values.std(ddof=1)) / math.sqrt(len(values))
    lowest, highest = within or (natural_range(name) if name else UNBOUNDED)
    return Estimate(mean, max(mean - half, lowest), min(mean + half, highest), unit)


def single_run(scenario: Scenario, catalog: list[Procedure], replication: int = 0) -> ReplicationOutput:
    """One replication of the scenario; replication r uses the r-th child stream of the seed."""
    model = ProvinceModel(scenario, build_procedures(scenario, catalog), replication)
    model.run()
    return replication_kpis(model)


@dataclass
class Experiment:
    scenario: Scenario
    outputs: list[ReplicationOutput]
    # Ctrl-C: the replications that finished (``ids``, in order) out of ``requested``
    partial: bool = False
    ids: list[int] | None = None
    requested: int | None = None
    # --replications auto: the rule, what it chose and the precision reached (``sim.precision``)
    rule: dict[str, Any] | None = None
    # warmup_days: auto: the warm-up a pilot chose and its evidence (``sim.warmup``)
    warmup: dict[str, Any] | None = None

    @property
    def replications(self) -> int:
        return len(self.outputs)

    @property
    def replication_ids(self) -> list[int]:
        return self.ids if self.ids is not None else list(range(len(self.outputs)))

    def kpi_names(self) -> list[str]:
        return list(self.outputs[0].kpis)

    def values(self, name: str) -> np.ndarray:
        return np.array([o.kpis[name] for o in self.outputs])

    def summary(self) -> dict[str, Estimate]:
        return {name: confidence_interval(self.values(name), name) for name in self.kpi_names()}

    def subset(self, ids: list[int]) -> Experiment:
        """The replications ``ids`` only (to pair two partial experiments on the citizens they share)."""
        where = {r: k for k, r in enumerate(self.replication_ids)}
        outputs = [self.outputs[where[r]] for r in ids]
        return Experiment(
            self.scenario, outputs, self.partial, list(ids), self.requested, self.rule, self.warmup
        )


Runner = Callable[[Scenario, list[Procedure], int], ReplicationOutput]


def _ignore_sigint() -> None:
    # Ctrl-C reaches the whole process group; only the parent decides what to keep.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def multiple_replications(
    scenario: Scenario,
    catalog: list[Procedure],
    replications: int | None = None,
    jobs: int | None = None,
    on_done: Callable[[int], None] | None = None,
    runner: Runner = single_run,
    dask: str | None = None,
) -> Experiment:
    """Independent replications, in parallel processes when ``jobs`` > 1 (or on the Dask cluster at
    ``dask``); outputs in replication order. Ctrl-C keeps the replications already finished: the
    experiment comes back marked ``partial`` (KeyboardInterrupt again only when none had finished)."""
    from dvclab.sim.warmup import resolve_warmup

    scenario, warmup = resolve_warmup(scenario, catalog)  # warmup_days: auto (a study resolves it first)
    n = replications or scenario.run.replications
    outputs: dict[int, ReplicationOutput] = {}

    def done(r: int, output: ReplicationOutput) -> None:
        outputs[r] = output
        if on_done:
            on_done(r)

    try:
        run_replications(scenario, catalog, range(n), jobs, done, runner, dask)
    except KeyboardInterrupt:
        if not outputs:
            raise
        ids = sorted(outputs)
        return Experiment(scenario, [outputs[r] for r in ids], True, ids, n, warmup=warmup)
    return Experiment(scenario, [outputs[r] for r in range(n)], requested=n, warmup=warmup)


def run_replications(
    scenario: Scenario,
    catalog: list[Procedure],
    ids: range,
    jobs: int | None,
    done: Callable[[int, ReplicationOutput], None],
    runner: Runner = single_run,
    dask: str | None = None,
) -> None:
    """Replications ``ids`` (replication r always draws from the r-th child stream, wherever it runs),
    handing each to ``done`` as it finishes."""
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(ids)))
    if dask:
        from dvclab.sim.cluster import dask_replications

        shifted = _Shifted(runner, ids.start)
        dask_replications(dask, shifted, scenario, catalog, len(ids), lambda k, o: done(ids.start + k, o))
    elif jobs == 1:
        for r in ids:
            done(r, runner(scenario, catalog, r))
    else:
        _in_processes(runner, scenario, catalog, ids, jobs, done)


@dataclass(frozen=True)
class _Shifted:
    """``runner`` on replication ``first + k`` for task k (picklable: Dask numbers its tasks from 0)."""

    runner: Runner
    first: int

    def __call__(self, scenario: Scenario, catalog: list[Procedure], k: int) -> ReplicationOutput:
        return self.runner(scenario, catalog, self.first + k)


def _in_processes(
    runner: Runner,
    scenario: Scenario,
    catalog: list[Procedure],
    ids: range,
    jobs: int,
    done: Callable[[int, ReplicationOutput], None],
) -> None:
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_ignore_sigint)
    try:
        futures = {pool.submit(runner, scenario, catalog, r): r for r in ids}
        for future in as_completed(futures):
            done(futures[future], future.result())
    except BaseException:
        # interrupted or failed: drop the queued replications and stop the running ones now
        running = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in running:
            process.terminate()
        raise
    pool.shutdown()


def paired_difference(whatif: Experiment, base: Experiment, kpi: str) -> Estimate:
    """What-if minus baseline, replication by replication: with common random numbers the pairs share
    their citizens, so the interval is far narrower than the two intervals side by side."""
    if whatif.replications != base.replications:
        raise ValueError("paired comparison needs the same number of replications")
    estimate = confidence_interval(whatif.values(kpi) - base.values(kpi))
    return Estimate(estimate.mean, estimate.ci_low, estimate.ci_high, unit_of(kpi))
