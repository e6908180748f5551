"""Sweeping one scenario parameter: ``PATH=VALUES`` parsed, checked, and run point by point.

VALUES is a range ``2..8`` (inclusive, step 1), ``0.5..0.9:0.1`` (with a step) or a list ``4,6,9``.
Every point runs the same seed, so neighbouring points share their citizens (common random numbers)
and the curve is smooth where the model is. A point is the loaded scenario with the value set in memory
(``scenario.with_value``, validated against the catalog already read); the value travels beside it as
data. The path and every value are checked before anything runs: a typo is named, not silently added.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dvclab.catalog import LEVELS, Procedure
from dvclab.sim.experiment import Experiment
from dvclab.sim.scenario import Scenario, ScenarioError, resolved_dict, with_value

_NUMBER = r"-?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^({_NUMBER})\.\.({_NUMBER})(?::({_NUMBER}))?$")
MAX_POINTS = 200


class SweepError(ValueError):
    """A malformed ``--param``/``--vary`` or one the scenario cannot take; the message names it."""


@dataclass(frozen=True)
class Param:
    path: str
    values: tuple[Any, ...]


def parse_value(text: str) -> Any:
    text = text.strip()
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def parse_values(text: str, what: str) -> tuple[Any, ...]:
    text = text.strip()
    match = _RANGE.match(text)
    if match:
        low, high, step = match.groups()
        numbers = [parse_value(x) for x in (low, high, step or "1")]
        low_v, high_v, step_v = numbers
        if step_v <= 0:
            raise SweepError(f"{what}: the step of {text!r} must be positive")
        if high_v < low_v:
            raise SweepError(f"{what}: the range {text!r} runs backwards ({low} > {high})")
        count = math.floor((high_v - low_v) / step_v + 1e-9) + 1
        if count > MAX_POINTS:
            raise SweepError(f"{what}: {text!r} has {count} points; at most {MAX_POINTS}")
        if all(isinstance(v, int) for v in numbers):
            return tuple(range(low_v, high_v + 1, step_v))
        return tuple(round(low_v + k * step_v, 10) for k in range(count))
    if ".." in text:
        raise SweepError(f"{what}: bad range {text!r}; write LOW..HIGH or LOW..HIGH:STEP, e.g. 2..8")
    items = [item for item in text.split(",")]
    if not text or any(not item.strip() for item in items):
        raise SweepError(f"{what}: no values in {text!r}; write a range 2..8 or a list 2,4,8")
    values = tuple(parse_value(item) for item in items)
    if len(values) > MAX_POINTS:
        raise SweepError(f"{what}: {len(values)} values; at most {MAX_POINTS}")
    return values


def parse_param(text: str, option: str = "--param") -> Param:
    path, sep, values = text.partition("=")
    path = path.strip()
    if not sep or not path:
        raise SweepError(
            f"{option} {text!r}: write PATH=VALUES, e.g. back_office.staffing.district.land=2..8"
        )
    if not re.fullmatch(r"[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*", path):
        raise SweepError(f"{option} {text!r}: {path!r} is not a dotted parameter path")
    return Param(path, parse_values(values, f"{option} {path}"))


def current_value(scenario: Scenario, path: str) -> Any:
    """The value at ``path`` in the resolved scenario; None when a mapping does not have the key yet
    (e.g. a pool not listed in ``staffing``). A path through a number or list is refused."""
    node: Any = resolved_dict(scenario)
    walked = []
    for part in path.split("."):
        if not isinstance(node, dict):
            where = ".".join(walked)
            raise SweepError(f"{path}: {where} is a value ({node!r}), not a section")
        walked.append(part)
        if part not in node:
            return None
        node = node[part]
    if isinstance(node, dict):
        raise SweepError(
            f"{path}: is a section ({', '.join(sorted(node)) or 'empty'}); name one of its fields"
        )
    return node


@dataclass(frozen=True)
class SweepPoint:
    """One value of the swept parameter, carried as data, and the scenario that runs it: a validated
    copy of the base with the value set (named ``base[path=value]`` so manifests tell points apart)."""

    value: Any
    scenario: Scenario


def sweep_points(base: Scenario, catalog: list[Procedure], param: Param) -> list[SweepPoint]:
    """Every point, validated before any runs (on a bad value nothing runs and nothing is written). The
    points share ``catalog`` and the base's run options; no file is read again."""
    current_value(base, param.path)  # a path through a value, or to a section, is named first
    points = []
    for value in param.values:
        try:
            scenario = with_value(base, param.path, value, catalog)
        except ScenarioError as error:
            raise SweepError(str(error)) from None
        label = f"{base.name}[{param.path}={value}]"
        points.append(SweepPoint(value, scenario.model_copy(update={"name": label})))
    return points


@dataclass
class Sweep:
    param: Param  # the values that ran, in order
    base: Scenario
    experiments: list[Experiment]  # one per value of ``param.values`` that ran (Ctrl-C: maybe fewer)
    failed: dict[Any, str]  # value -> why it could not run (e.g. a pool that cannot keep up)
    partial: bool = False


def run_sweep(
    path: str,
    base: Scenario,
    points: list[SweepPoint],
    run_point: Callable[[SweepPoint], Experiment],
) -> Sweep:
    """Run every point with ``run_point``; an overloaded point is recorded as failed (its queues never
    drain), not fatal. Ctrl-C keeps the points done (and the partial one)."""
    from dvclab.sim.model import OverloadError

    experiments: list[Experiment] = []
    values: list[Any] = []
    failed: dict[Any, str] = {}
    partial = False
    for point in points:
        try:
            experiment = run_point(point)
        except OverloadError as error:
            failed[point.value] = str(error)
            continue
        except KeyboardInterrupt:
            partial = True
            break
        experiments.append(experiment)
        values.append(point.value)
        if experiment.partial:
            partial = True
            break
    return Sweep(Param(path, tuple(values)), base, experiments, failed, partial)


def known_kpi(kpi: str, scenario: Scenario, catalog: list[Procedure]) -> bool:
    """Whether a run of ``scenario`` reports ``kpi`` (checked before running, to fail fast on a typo)."""
    from dvclab.sim.kpis import PLAIN_KPIS
    from dvclab.sim.procedures import build_procedures

    if kpi in PLAIN_KPIS:
        return True
    table = build_procedures(scenario, catalog)
    family, _, member = kpi.partition(".")
    if family in ("overdue_rate_by_level", "dossier_share_by_level"):
        return member in set(table.levels)
    if family == "overdue_rate_by_group":
        return member in set(table.groups)
    if family in ("utilisation", "utilisation_max"):  # the pool's mean, or its busiest unit
        level, _, unit = member.partition(".")
        return member in set(table.pools) or (level == "counter" and unit in LEVELS)
    return False


def default_kpis(path: str, requested: list[str] | None, target: str | None = None) -> list[str]:
    """The KPIs a sweep or plan tabulates: the ones asked for, else the headline ones and the
    utilisation of the pool or counter being varied (the target first)."""
    if requested:
        return list(dict.fromkeys(([target] if target else []) + requested))
    kpis = [target] if target else []
    kpis += ["overdue_rate", "counter_wait_mean_min", "self_service_online_rate"]
    parts = path.split(".")
    if len(parts) == 4 and parts[:2] == ["back_office", "staffing"]:
        kpis.append(f"utilisation.{parts[2]}.{parts[3]}")
    if len(parts) == 3 and parts[:2] == ["counters", "officers"]:
        kpis.append(f"utilisation.counter.{parts[2]}")
    return list(dict.fromkeys(kpis))


def check_kpis(kpis: list[str], scenario: Scenario, catalog: list[Procedure], option: str) -> None:
    for kpi in kpis:
        if not known_kpi(kpi, scenario, catalog):
            raise SweepError(f"{option} {kpi!r}: no such KPI (see kpis.csv of a run for the names)")
