"""Baselines: store a run's metrics under stable keys, read them back, and name each regression.

``compare_baseline`` names each metric that got worse than a stored baseline by more than a tolerance,
in the metric's direction (:func:`dvclab.gate.metrics.direction`); neutral metrics are never compared.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dvclab.gate.metrics import NEUTRAL, Metrics, direction
from dvclab.gate.results import Results
from dvclab.gate.rules import TOTAL
from dvclab.gate.verdict import GateInputError, Regression


def baseline_subjects(results: Results) -> list[tuple[str, Metrics]]:
    """The results as (stable key, metrics): keys name profiles and scenarios, not timestamped folders."""
    subjects: list[tuple[str, Metrics]] = []
    for run in results.load:
        subjects += [
            (f"load/{run.profile}/{name}", metrics) for name, metrics in sorted(run.endpoints.items())
        ]
        subjects.append((f"load/{run.profile}/{TOTAL}", run.total))
        subjects.append((f"security/{run.profile}", run.security_metrics()))
    for run in results.sim:
        subjects.append(
            (f"sim/{run.scenario_name}", {name: kpi.mean for name, kpi in sorted(run.kpis.items())})
        )
    subjects += [(f"bench/{bench.stem}", bench.metrics) for bench in results.bench]
    return subjects


class BaselineFile(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    schema_: Literal[1] = Field(default=1, alias="schema")
    written_at: str | None = None
    subjects: dict[str, dict[str, float | None]]


def write_baseline(results: Results, path: Path, written_at: str | None = None) -> None:
    from dvclab.files import atomic_write

    subjects: dict[str, dict[str, float | None]] = {}
    for run in results.load:
        if run.interrupted is not None:  # partial figures would make a lenient baseline
            raise GateInputError(f"--write-baseline: {run.folder} was interrupted; its results are partial")
    for key, metrics in baseline_subjects(results):
        if key in subjects:
            raise GateInputError(
                f"--write-baseline: two runs give {key!r}; check one run per profile/scenario"
            )
        subjects[key] = {name: value for name, value in sorted(metrics.items()) if value is not None}
    document = {"schema": 1, "written_at": written_at, "subjects": subjects}
    atomic_write(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n")


def read_baseline(path: Path) -> BaselineFile:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GateInputError(f"{path}: baseline file not found") from None
    except (OSError, ValueError) as error:
        raise GateInputError(f"{path}: not readable JSON ({error})") from None
    try:
        return BaselineFile.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        raise GateInputError(f"{path}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _worse_by(metric: str, baseline: float, observed: float) -> float:
    """How much worse observed is, relative to the baseline (> 0 worse, ≤ 0 same or better)."""
    sign = direction(metric)
    delta = (observed - baseline) * sign
    if baseline == 0:
        return math.inf if delta > 0 else 0.0
    return delta / abs(baseline)


def compare_baseline(
    results: Results, baseline: BaselineFile, tolerance: float
) -> tuple[list[Regression], list[str]]:
    regressions: list[Regression] = []
    notices: list[str] = []
    for key, metrics in baseline_subjects(results):
        stored = baseline.subjects.get(key)
        if stored is None:
            notices.append(f"baseline: no entry for {key}")
            continue
        for metric, base in sorted(stored.items()):
            observed = metrics.get(metric)
            if base is None or observed is None or direction(metric) == NEUTRAL:
                continue
            if _worse_by(metric, base, observed) > tolerance:
                change = math.inf if base == 0 else (observed - base) / abs(base)
                regressions.append(Regression(key, metric, base, observed, change))
    return regressions, notices
