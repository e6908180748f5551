"""Planning: the smallest value of a parameter whose confidence bound meets a target, and how sure.

A target is ``KPI<=VALUE`` (also ``<``, ``>=``, ``>``). A value meets ``overdue_rate<=0.02`` when the
upper end of the 95% interval is at most 0.02: the planner is then at least 97.5% sure (one-sided) that
the true rate meets it. The search assumes the KPI improves as the parameter grows (more officers, more
coverage) and bisects the candidate values, so a 2..40 range costs about six points, not 39. A value
whose queues never drain (the model's overload) does not meet any target.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from dvclab.hints import did_you_mean
from dvclab.sim.experiment import Estimate, Experiment, confidence_interval
from dvclab.sim.scenario import Scenario
from dvclab.sim.sweep import Param, SweepError, current_value

_TARGET = re.compile(r"^\s*([A-Za-z0-9_.]+)\s*(<=|>=|<|>)\s*(-?\d+(?:\.\d+)?(?:[eE]-?\d+)?)\s*$")


@dataclass(frozen=True)
class Target:
    kpi: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.kpi}{self.op}{self.value:g}"

    @property
    def upper(self) -> bool:
        """The KPI must stay below the value (judged on the interval's upper end)."""
        return self.op in ("<", "<=")

    def bound(self, estimate: Estimate) -> float:
        """The end of the interval the target is judged on."""
        return estimate.ci_high if self.upper else estimate.ci_low

    def shortfall(self, estimate: Estimate) -> float:
        """How far the judged bound is on the wrong side of the target (0 or less: met)."""
        bound = self.bound(estimate)
        return bound - self.value if self.upper else self.value - bound

    def met_by(self, estimate: Estimate) -> bool:
        bound = estimate.ci_high if self.upper else estimate.ci_low
        return {
            "<=": bound <= self.value,
            "<": bound < self.value,
            ">=": bound >= self.value,
            ">": bound > self.value,
        }[self.op]


def parse_target(text: str, known_kpis: list[str] | None = None) -> Target:
    match = _TARGET.match(text)
    if not match:
        raise SweepError(f"--target {text!r}: write KPI<=VALUE (or <, >=, >), e.g. 'overdue_rate<=0.02'")
    kpi, op, value = match.groups()
    if known_kpis is not None and kpi not in known_kpis:
        near = [k for k in known_kpis if kpi.split(".")[0] in k][:8]
        hint = f"; e.g. {', '.join(near)}" if near else ""
        raise SweepError(f"--target {text!r}: no KPI {kpi!r}{did_you_mean(kpi, known_kpis)}{hint}")
    return Target(kpi, op, float(value))


def t_cdf(x: float, dof: int) -> float:
    """Student t distribution function (exact, SciPy); NaN below one degree of freedom."""
    if dof < 1:
        return math.nan
    return float(student_t.cdf(x, dof))


def confidence_met(values: np.ndarray, target: Target) -> float:
    """One-sided confidence that the true mean meets the target, from the replications' t statistic."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n < 2:
        return math.nan  # one replication says nothing about its spread
    mean = float(values.mean())
    spread = float(values.std(ddof=1))
    margin = (target.value - mean) if target.upper else (mean - target.value)
    if spread == 0.0:
        return 1.0 if margin > 0 or (margin == 0 and "=" in target.op) else 0.0
    return t_cdf(margin / (spread / math.sqrt(n)), n - 1)


@dataclass
class Point:
    value: Any
    experiment: Experiment | None  # None: overloaded
    estimate: Estimate | None
    met: bool
    confidence: float  # one-sided confidence that the target holds at this value
    note: str = ""


@dataclass
class Plan:
    path: str
    target: Target
    candidates: tuple[Any, ...]
    points: list[Point]  # in the order they ran
    answer: Point | None  # the smallest value that meets the target; None if none does
    below: Point | None  # the largest value tried below the answer (it failed)
    partial: bool = False

    def nearest(self) -> tuple[Point, float] | None:
        """When no value meets the target: the point whose judged bound came closest, and by how much it
        missed (in the KPI's unit, positive). None when no point ran to an estimate."""
        misses = [
            (point, self.target.shortfall(point.estimate))
            for point in self.points
            if point.estimate is not None
        ]
        return min(misses, key=lambda miss: miss[1]) if misses else None

    def sorted_points(self) -> list[Point]:
        order = {v: k for k, v in enumerate(self.candidates)}
        return sorted(self.points, key=lambda p: order[p.value])


def find_smallest(
    path: str,
    target: Target,
    candidates: tuple[Any, ...],
    evaluate: Callable[[Any], Experiment | None],
) -> Plan:
    """Bisect ``candidates`` (ascending) for the smallest one that meets ``target``; ``evaluate`` runs a
    value's replications (None: overloaded)."""
    points: dict[Any, Point] = {}

    def judge(value: Any) -> Point:
        if value not in points:
            experiment = evaluate(value)
            if experiment is None:
                points[value] = Point(value, None, None, False, 0.0, "overloaded")
            else:
                values = experiment.values(target.kpi)
                estimate = confidence_interval(values, target.kpi)
                points[value] = Point(
                    value,
                    experiment,
                    estimate,
                    target.met_by(estimate),
                    confidence_met(values, target),
                    "partial" if experiment.partial else "",
                )
                if experiment.partial:  # Ctrl-C inside this point: keep it, stop the search
                    raise KeyboardInterrupt
        return points[value]

    partial = False
    answer_index: int | None = None
    try:
        low, high = 0, len(candidates) - 1
        if judge(candidates[high]).met:
            answer_index = high
            while low < answer_index:
                middle = (low + answer_index) // 2
                if judge(candidates[middle]).met:
                    answer_index = middle
                else:
                    low = middle + 1
    except KeyboardInterrupt:
        partial = True
        met = [k for k, v in enumerate(candidates) if v in points and points[v].met]
        answer_index = min(met) if met else None
    answer = points[candidates[answer_index]] if answer_index is not None else None
    below = None
    if answer_index is not None:
        tried_below = [points[v] for v in candidates[:answer_index] if v in points]
        below = tried_below[-1] if tried_below else None
    return Plan(path, target, candidates, list(points.values()), answer, below, partial)


def default_candidates(current: Any) -> tuple[Any, ...]:
    """``--vary PATH`` with no values: whole numbers from 1 to four times the current value (at least 8)."""
    if isinstance(current, bool) or not isinstance(current, int):
        raise SweepError("--vary: give the values (PATH=LOW..HIGH) for a parameter that is not a count")
    return tuple(range(1, max(4 * current, 8) + 1))


def default_param(scenario: Scenario, path: str) -> Param:
    """The candidates of ``--vary PATH`` given without values, from the value ``scenario`` has now."""
    return Param(path, default_candidates(current_value(scenario, path)))
