"""``--replications auto``: add replications until the chosen KPIs are known to a relative precision.

The sequential procedure of Hoad, Robinson & Davies (2010, JORS 61:1632), as in the reproducible-SimPy
anchors: after a minimum of replications, a KPI is precise at n replications when the 95% t interval's
half-width is within ``precision`` × |mean| (or within ``absolute`` in the KPI's unit, so a KPI whose mean
is 0, e.g. no overdue dossier at all, is precise when its interval is that narrow). The solution is the
first n at which every chosen KPI is precise and stays precise through ``look_ahead`` more replications
(kLimit; scaled as look_ahead % of n beyond 100, as in the paper), which guards against a lucky small
spread at 3 replications. The experiment keeps the replications up to that point (solution + look-ahead)
and stops at ``cap`` with a warning otherwise.

Replications run in batches of ``--jobs``; the decision is made on the replications in their order, and
a batch's surplus beyond the decision point is dropped, so the count and the numbers do not depend on
how many processes ran them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from dvclab.catalog import Procedure
from dvclab.sim.experiment import (
    MEANINGFUL_REPLICATIONS,
    Experiment,
    Runner,
    run_replications,
    single_run,
    t95,
)
from dvclab.sim.kpis import ReplicationOutput
from dvclab.sim.scenario import Scenario

METHOD = "Hoad, Robinson & Davies (2010) sequential replications, 95% t interval"
DEFAULT_KPIS = ("overdue_rate", "on_time_rate")


class PrecisionError(ValueError):
    """An ``--replications auto`` setting that cannot work; the message names it."""


@dataclass(frozen=True)
class PrecisionRule:
    kpis: tuple[str, ...] = DEFAULT_KPIS
    precision: float = 0.05  # relative 95% CI half-width
    cap: int = 30  # at most this many replications
    minimum: int = MEANINGFUL_REPLICATIONS
    look_ahead: int = 5  # kLimit: replications the precision must hold for after it is first reached
    absolute: float = 0.001  # half-width (KPI's unit) that counts as precise whatever the mean

    def __post_init__(self) -> None:
        if not 0 < self.precision < 1:
            raise PrecisionError(
                f"--precision must be between 0 and 1 (a relative half-width), got {self.precision}"
            )
        if self.minimum < 2:
            raise PrecisionError(
                "the minimum of replications must be at least 2 (an interval needs a spread)"
            )
        if self.cap < self.minimum:
            raise PrecisionError(f"--max-replications {self.cap} is below the minimum of {self.minimum}")
        if self.look_ahead < 0 or self.absolute < 0:
            raise PrecisionError("--look-ahead and the absolute tolerance must be 0 or more")
        if not self.kpis:
            raise PrecisionError("--replications auto needs at least one KPI")

    def look_ahead_at(self, n: int) -> int:
        """kLimit at solution n: ``look_ahead`` up to 100 replications, that percentage of n beyond."""
        return int(self.look_ahead / 100 * max(n, 100))

    def as_dict(self) -> dict:
        return {"method": METHOD, **asdict(self), "kpis": list(self.kpis)}


def half_width(values: np.ndarray) -> float:
    n = len(values)
    return t95(n - 1) * float(np.std(values, ddof=1)) / math.sqrt(n) if n > 1 else math.inf


def precise(values: np.ndarray, rule: PrecisionRule) -> bool:
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.isnan(values).any():
        return False  # no spread yet, or no data (a rate without a denominator)
    half = half_width(values)
    return half <= rule.precision * abs(float(values.mean())) or half <= rule.absolute


@dataclass
class Assessment:
    done: bool
    kept: int  # replications the experiment keeps
    more: int  # replications still needed before a decision (at least, when not done)
    solution: int | None  # Hoad's Nsol: the first n precise through the look-ahead
    capped: bool


def assess(values: dict[str, np.ndarray], rule: PrecisionRule) -> Assessment:
    """The rule applied to the replications so far (each array in replication order, equal lengths)."""
    n = min((len(v) for v in values.values()), default=0)
    ok = [False] + [all(precise(v[:m], rule) for v in values.values()) for m in range(1, n + 1)]
    for solution in range(rule.minimum, n + 1):
        end = solution + rule.look_ahead_at(solution)
        if end > rule.cap:
            break
        if end <= n and all(ok[solution : end + 1]):
            return Assessment(True, end, 0, solution, False)
    if n >= rule.cap:
        return Assessment(True, rule.cap, 0, None, True)
    if n < rule.minimum:
        return Assessment(False, n, rule.minimum - n, None, False)
    # the earliest n whose precision has held up to now is the candidate the look-ahead is checking
    candidate = n
    while candidate > rule.minimum and ok[candidate - 1]:
        candidate -= 1
    if ok[n]:
        return Assessment(False, n, max(1, candidate + rule.look_ahead_at(candidate) - n), None, False)
    return Assessment(False, n, 1, None, False)


def precision_reached(values: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
    """Per KPI: mean, 95% half-width and the half-width relative to the mean (None when the mean is 0)."""
    reached: dict[str, dict[str, float | None]] = {}
    for kpi, v in values.items():
        mean, half = float(np.mean(v)), half_width(np.asarray(v, dtype=float))
        relative = half / abs(mean) if mean != 0 and math.isfinite(half) else None
        reached[kpi] = {"mean": mean, "half_width": half, "relative_half_width": relative}
    return reached


def sequential_replications(
    scenario: Scenario,
    catalog: list[Procedure],
    rule: PrecisionRule,
    jobs: int | None = None,
    on_done: Callable[[int], None] | None = None,
    runner: Runner = single_run,
    dask: str | None = None,
) -> Experiment:
    """Replications in batches of ``jobs`` until ``rule`` decides; the experiment's ``rule`` records the
    rule, the solution, the count kept and the precision reached. Ctrl-C keeps the finished replications
    (a partial experiment), like ``multiple_replications``."""
    import os

    batch_size = max(1, jobs or os.cpu_count() or 1)
    outputs: dict[int, ReplicationOutput] = {}

    def done(r: int, output: ReplicationOutput) -> None:
        outputs[r] = output
        if on_done:
            on_done(r)

    def kpi_values(n: int) -> dict[str, np.ndarray]:
        return {kpi: np.array([outputs[r].kpis[kpi] for r in range(n)], dtype=float) for kpi in rule.kpis}

    try:
        while True:
            n = len(outputs)
            state = assess(kpi_values(n), rule)
            if state.done:
                break
            batch = min(batch_size, rule.cap - n, max(state.more, 1))
            run_replications(scenario, catalog, range(n, n + batch), jobs, done, runner, dask)
    except KeyboardInterrupt:
        if not outputs:
            raise
        ids = sorted(outputs)
        record = {**rule.as_dict(), "interrupted": True, "replications": len(ids)}
        return Experiment(scenario, [outputs[r] for r in ids], True, ids, rule.cap, record)
    kept = state.kept
    record = {
        **rule.as_dict(),
        "solution": state.solution,
        "replications": kept,
        "capped": state.capped,
        "precise": all(precise(v, rule) for v in kpi_values(kept).values()),
        "surplus_dropped": len(outputs) - kept,
        "precision_reached": precision_reached(kpi_values(kept)),
    }
    # the scenario as it ran: the count chosen (the manifest's resolved scenario says so)
    scenario = scenario.model_copy(update={"run": scenario.run.model_copy(update={"replications": kept})})
    return Experiment(scenario, [outputs[r] for r in range(kept)], requested=kept, rule=record)


def describe(record: dict) -> str:
    """One line for the terminal: what the rule chose and the precision each KPI reached."""
    reached = ", ".join(
        f"{kpi} ±{r['relative_half_width']:.1%}"
        if r["relative_half_width"] is not None
        else f"{kpi} ±{r['half_width']:.4g}"
        for kpi, r in record.get("precision_reached", {}).items()
    )
    n = record["replications"]
    if record.get("capped"):
        how = "not confirmed through the look-ahead" if record.get("precise") else "not reached"
        return (
            f"replications auto: stopped at the cap of {n}: ±{record['precision']:.0%} on "
            f"{', '.join(record['kpis'])} {how} ({reached}); raise --max-replications or relax --precision"
        )
    return (
        f"replications auto: {n} replication(s) ({METHOD}): ±{record['precision']:.0%} reached at "
        f"{record['solution']} and held for {n - record['solution']} more; {reached}"
    )
