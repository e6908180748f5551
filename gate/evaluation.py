"""The threshold gate: judge results against rules, compare with a baseline, and decide live aborts.

``evaluate`` gives one :class:`Outcome` per rule × subject (an endpoint of a load run, a run's security
checks, a simulation run, a benchmark file). Rules whose results are absent are *skipped*, never passed.
``compare_baseline`` names each metric that got worse than a stored baseline by more than a tolerance.
``AbortWatch`` is what the live load runner feeds snapshots to, to stop a run once an
``abort_on_fail`` rule has kept failing for its ``for`` duration.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from dvclab.gate.results import (
    BENCH_METRICS,
    BenchFile,
    LoadRun,
    Metrics,
    Results,
    SimRun,
    endpoint_metrics,
    is_sim_family_metric,
    known_sim_metric,
    total_metrics,
)
from dvclab.gate.rules import EVERY, TOTAL, Rule, Thresholds, format_number

Status = Literal["pass", "fail", "skipped"]
NO_RESULTS = "no results"
NO_DATA = "no data"


class GateInputError(ValueError):
    """A rule names a metric the results do not have, or a baseline is unusable: exit 2."""


@dataclass(frozen=True)
class Outcome:
    section: str  # load, security, sim, bench
    subject: str  # what the rule was applied to, e.g. "smoke-1 · GET /api/v1/procedures"
    rule: Rule
    status: Status
    observed: float | None = None
    detail: str = ""

    @property
    def message(self) -> str:
        if self.status == "skipped":
            return f"skipped ({self.detail})"
        text = f"observed {format_number(self.observed)}, threshold {self.rule.text}"
        return f"{text}; {self.detail}" if self.detail else text


@dataclass(frozen=True)
class Regression:
    subject: str  # baseline key, e.g. "load/smoke/total"
    metric: str
    baseline: float
    observed: float
    change: float  # relative change observed vs baseline, signed (+0.25 = 25 % higher); inf from 0

    @property
    def message(self) -> str:
        change = "from 0" if math.isinf(self.change) else f"{self.change:+.1%}"
        return (
            f"{self.subject}: {self.metric} {format_number(self.baseline)} → "
            f"{format_number(self.observed)} ({change}, {DIRECTION_WORDS[direction(self.metric)]})"
        )


@dataclass
class Verdict:
    outcomes: list[Outcome] = field(default_factory=list)
    regressions: list[Regression] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    baseline_compared: bool = False

    def count(self, status: Status) -> int:
        return sum(1 for outcome in self.outcomes if outcome.status == status)

    @property
    def failed(self) -> bool:
        return self.count("fail") > 0 or bool(self.regressions)


def _judge(section: str, subject: str, rule: Rule, observed: float | None, detail: str = "") -> Outcome:
    if observed is None:
        return Outcome(section, subject, rule, "skipped", detail=NO_DATA)
    status: Status = "pass" if rule.holds(observed) else "fail"
    return Outcome(section, subject, rule, status, observed, detail if status == "fail" else "")


def _skipped(section: str, subject: str, rules: Iterable[Rule], why: str = NO_RESULTS) -> list[Outcome]:
    return [Outcome(section, subject, rule, "skipped", detail=why) for rule in rules]


# --- sections -----------------------------------------------------------------------------------------
def _load_subjects(run: LoadRun, key: str) -> list[tuple[str, Metrics]] | None:
    if key == TOTAL:
        return [(TOTAL, run.total)]
    if key == EVERY:
        return sorted(run.endpoints.items())
    return [(key, run.endpoints[key])] if key in run.endpoints else None


def _evaluate_load(thresholds: Thresholds, runs: list[LoadRun]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for key, rules in thresholds.load.items():
        if not runs:
            outcomes += _skipped("load", key, rules)
        for run in runs:
            subjects = _load_subjects(run, key)
            if subjects is None:
                outcomes += _skipped("load", f"{run.name} · {key}", rules, "endpoint not in results")
                continue
            for name, metrics in subjects:
                outcomes += [_judge("load", f"{run.name} · {name}", r, metrics.get(r.metric)) for r in rules]
    return outcomes


def _evaluate_security(thresholds: Thresholds, runs: list[LoadRun]) -> list[Outcome]:
    if not runs:
        return _skipped("security", "security", thresholds.security)
    outcomes: list[Outcome] = []
    for run in runs:
        metrics = run.security_metrics()
        # Name the checks that failed, so a red build says which invariant broke.
        failed = "; ".join(f"{c.id} {c.name}: {_as_text(c.observed)}" for c in run.failed_checks())
        outcomes += [_judge("security", run.name, r, metrics[r.metric], failed) for r in thresholds.security]
    return outcomes


# Not a rule of the thresholds file: every load run must have run to its end to be judged at all.
COMPLETED = Rule(metric="completed", op="==", threshold=1.0)


def _evaluate_completion(runs: list[LoadRun]) -> list[Outcome]:
    """An interrupted run fails, named, whatever its partial figures say (they would often pass)."""
    outcomes = []
    for run in runs:
        if run.interrupted is None:
            continue
        signal, after = run.interrupted.get("signal"), run.interrupted.get("after_s")
        how = (f" by {signal}" if signal else "") + (f" after {after} s" if after is not None else "")
        detail = f"the run was interrupted{how}: its results are partial"
        outcomes.append(Outcome("load", f"{run.name} · {TOTAL}", COMPLETED, "fail", 0.0, detail))
    return outcomes


def _as_text(observed: Any) -> str:
    return observed if isinstance(observed, str) else json.dumps(observed, ensure_ascii=False)


def _close_names(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _evaluate_sim(thresholds: Thresholds, runs: list[SimRun]) -> tuple[list[Outcome], list[str]]:
    outcomes: list[Outcome] = []
    for key, rules in thresholds.sim.items():
        matching = [run for run in runs if key in (EVERY, run.scenario_name)]
        if not matching:
            for index, rule in enumerate(rules):
                if not known_sim_metric(rule.metric):
                    raise GateInputError(f"sim.{key}[{index}]: unknown metric {rule.metric!r}")
            outcomes += _skipped("sim", key, rules)
        for run in matching:
            for index, rule in enumerate(rules):
                subject = f"{run.scenario_name} · {run.name}"
                if run.resolve(rule.metric) is None and is_sim_family_metric(rule.metric):
                    # Levels, groups and pools differ by scenario (ninh-binh-2025 has no district level).
                    outcomes += _skipped("sim", subject, [rule], "not reported by this run")
                    continue
                if run.resolve(rule.metric) is None:
                    raise GateInputError(
                        f"sim.{key}[{index}]: unknown metric {rule.metric!r}: {run.folder / 'kpis.json'} has "
                        f"no such KPI{_close_names(rule.metric, run.kpis)}"
                    )
                outcomes.append(_judge("sim", subject, rule, run.value(rule.metric)))
    unchecked = (
        sorted({run.scenario_name for run in runs} - set(thresholds.sim))
        if EVERY not in thresholds.sim
        else []
    )
    notices = [f"sim: no rules for scenario {name!r}" for name in unchecked]
    return outcomes, notices


def _evaluate_bench(thresholds: Thresholds, files: list[BenchFile]) -> list[Outcome]:
    outcomes: list[Outcome] = []
    by_stem = {bench.stem: bench for bench in files}
    for key, rules in thresholds.bench.items():
        for index, rule in enumerate(rules):
            where = f"bench[{index}]" if key == EVERY else f"bench.{key}[{index}]"
            if key == EVERY:
                having = [bench for bench in files if rule.metric in bench.metrics]
                expected_in = [stem for stem, known in BENCH_METRICS.items() if rule.metric in known]
                if (
                    not having
                    and not any(stem in by_stem for stem in expected_in)
                    and (expected_in or not files)
                ):
                    outcomes += _skipped("bench", "bench", [rule])
                    continue
                if not having:
                    raise GateInputError(
                        f"{where}: unknown metric {rule.metric!r}: no benchmark file reports it "
                        f"({', '.join(str(bench.path) for bench in files)})"
                    )
            else:
                bench = by_stem.get(key)
                if bench is None:
                    outcomes += _skipped("bench", f"bench/{key}.json", [rule])
                    continue
                if rule.metric not in bench.metrics:
                    raise GateInputError(
                        f"{where}: unknown metric {rule.metric!r}: {bench.path} has no such number"
                        f"{_close_names(rule.metric, bench.metrics)}"
                    )
                having = [bench]
            outcomes += [
                _judge("bench", f"bench/{b.stem}.json", rule, b.metrics[rule.metric]) for b in having
            ]
    return outcomes


def evaluate(thresholds: Thresholds, results: Results) -> Verdict:
    """Every rule against every subject it applies to; raises GateInputError on an unknown metric."""
    sim_outcomes, notices = _evaluate_sim(thresholds, results.sim)
    verdict = Verdict(
        outcomes=[
            *_evaluate_completion(results.load),
            *_evaluate_load(thresholds, results.load),
            *_evaluate_security(thresholds, results.load),
            *sim_outcomes,
            *_evaluate_bench(thresholds, results.bench),
        ],
        notices=notices,
    )
    if results.load and not thresholds.load and not thresholds.security:
        verdict.notices.append("load: results found but the thresholds file has no load or security rules")
    return verdict


# --- baselines ----------------------------------------------------------------------------------------
HIGHER_WORSE, HIGHER_BETTER, NEUTRAL = 1, -1, 0
DIRECTION_WORDS = {
    HIGHER_WORSE: "higher is worse",
    HIGHER_BETTER: "higher is better",
    NEUTRAL: "not compared",
}
# First match wins. Counts that scale with the offered load (requests, dossiers) and inputs (offered_rps,
# the Ciw reference speed) are neutral: a change there is not a regression of the system.
DIRECTIONS: tuple[tuple[str, int], ...] = (
    ("requests", NEUTRAL),
    ("failures", NEUTRAL),
    ("scheduled", NEUTRAL),
    ("dropped", NEUTRAL),
    ("offered_rps", NEUTRAL),
    ("duration_s", NEUTRAL),
    ("checks", NEUTRAL),
    ("passes", NEUTRAL),
    ("dossiers", NEUTRAL),
    ("utilisation.*", NEUTRAL),
    ("postal_return_share", NEUTRAL),
    ("ciw_customers_per_s", NEUTRAL),
    ("plain_rps", NEUTRAL),
    ("*_ms", HIGHER_WORSE),
    ("fail_ratio", HIGHER_WORSE),
    ("dropped_ratio", HIGHER_WORSE),
    ("violations", HIGHER_WORSE),
    ("generator_cpu_max_pct", HIGHER_WORSE),
    ("overdue_rate*", HIGHER_WORSE),
    ("counter_wait_*", HIGHER_WORSE),
    ("trips_per_dossier", HIGHER_WORSE),
    ("sync_discrepancy", HIGHER_WORSE),
    ("province_year_seconds", HIGHER_WORSE),
    ("peak_rss_mib", HIGHER_WORSE),
    ("*_seconds", HIGHER_WORSE),
    ("rps", HIGHER_BETTER),
    ("*_rps", HIGHER_BETTER),
    ("achieved_ratio", HIGHER_BETTER),
    ("*_per_s", HIGHER_BETTER),
    ("ratio_vs_ciw", HIGHER_BETTER),
    ("ratio", HIGHER_BETTER),
    ("on_time_rate", HIGHER_BETTER),
    ("early_rate", HIGHER_BETTER),
    ("*_online_rate", HIGHER_BETTER),
    ("online_payment_rate", HIGHER_BETTER),
    ("digitised_rate", HIGHER_BETTER),
    ("index_766.*", HIGHER_BETTER),
)


def direction(metric: str) -> int:
    return next((sign for pattern, sign in DIRECTIONS if fnmatch.fnmatchcase(metric, pattern)), NEUTRAL)


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


# --- the live runner's abort decision -----------------------------------------------------------------
@dataclass(frozen=True)
class Abort:
    """Why a run should stop: which rule failed, on what, and for how long."""

    rule: Rule
    subject: str
    observed: float
    failing_since: float
    at: float

    @property
    def message(self) -> str:
        return (
            f"abort: {self.subject}: {self.rule.text} failed for {self.at - self.failing_since:g}s "
            f"(observed {format_number(self.observed)}, limit {self.rule.for_s:g}s)"
        )


class AbortWatch:
    """Feed it (time, snapshot) as the run goes; it answers with an :class:`Abort` or None.

    A snapshot has the layout of ``summary.json`` so far (``endpoints``, ``total``), optionally with a
    ``security`` list in the layout of ``security.json``. A rule aborts once it has failed in every
    snapshot over at least its ``for`` duration (0: at the first failing snapshot); any snapshot where it
    holds, or has no data yet, restarts the clock.
    """

    def __init__(self, thresholds: Thresholds) -> None:
        self.rules: list[tuple[str, Rule]] = [
            (key, rule) for key, rules in thresholds.load.items() for rule in rules if rule.abort_on_fail
        ]
        self.rules += [("security", rule) for rule in thresholds.security if rule.abort_on_fail]
        self._failing_since: dict[tuple[int, str], float] = {}

    def __bool__(self) -> bool:
        return bool(self.rules)

    @staticmethod
    def _subjects(key: str, snapshot: Mapping[str, Any]) -> list[tuple[str, Metrics]]:
        if key == "security":
            checks = snapshot.get("security") or []
            failed = sum(1 for check in checks if check.get("verdict") == "fail")
            return [
                ("security", {"violations": failed, "checks": len(checks), "passes": len(checks) - failed})
            ]
        if key == TOTAL:
            return [(TOTAL, total_metrics(snapshot["total"]))] if "total" in snapshot else []
        endpoints = snapshot.get("endpoints") or {}
        names = sorted(endpoints) if key == EVERY else [key] if key in endpoints else []
        return [(name, endpoint_metrics(endpoints[name])) for name in names]

    def observe(self, at: float, snapshot: Mapping[str, Any]) -> Abort | None:
        failing_now: set[tuple[int, str]] = set()
        decision: Abort | None = None
        for index, (key, rule) in enumerate(self.rules):
            for subject, metrics in self._subjects(key, snapshot):
                observed = metrics.get(rule.metric)
                if observed is None or rule.holds(observed):
                    continue
                failing_now.add((index, subject))
                since = self._failing_since.setdefault((index, subject), at)
                if decision is None and at - since >= rule.for_s:
                    decision = Abort(rule, subject, float(observed), since, at)
        # A rule that held (or had no data) in this snapshot starts its clock again next time it fails.
        self._failing_since = {k: v for k, v in self._failing_since.items() if k in failing_now}
        return decision


def first_abort(thresholds: Thresholds, snapshots: Iterable[tuple[float, Mapping[str, Any]]]) -> Abort | None:
    """Replay a stream of snapshots; the first abort decision, or None if the run may go on."""
    watch = AbortWatch(thresholds)
    for at, snapshot in snapshots:
        decision = watch.observe(at, snapshot)
        if decision is not None:
            return decision
    return None
