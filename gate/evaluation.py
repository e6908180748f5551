"""The threshold gate's judgement: every rule of the thresholds file against the results it applies to.

``evaluate`` gives one :class:`~dvclab.gate.verdict.Outcome` per rule × subject (an endpoint of a load
run, a run's security checks, a simulation run, a benchmark file). Rules whose results are absent are
*skipped*, never passed.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from dvclab.gate.metrics import (
    BENCH_METRICS,
    SIM_KPI_FAMILIES,
    SIM_KPIS,
    Metrics,
    is_sim_family_metric,
    known_sim_metric,
)
from dvclab.gate.results import BenchFile, LoadRun, Results, SimRun
from dvclab.gate.rules import EVERY, TOTAL, Rule, Thresholds
from dvclab.gate.verdict import NO_DATA, NO_RESULTS, GateInputError, Outcome, Status, Verdict
from dvclab.hints import did_you_mean


def _judge(
    section: str,
    subject: str,
    rule: Rule,
    observed: float | None,
    detail: str = "",
    *,
    name: str = "",
    part: str = "",
) -> Outcome:
    if observed is None:
        return Outcome(section, subject, rule, "skipped", detail=NO_DATA, name=name, part=part)
    status: Status = "pass" if rule.holds(observed) else "fail"
    detail = detail if status == "fail" else ""
    return Outcome(section, subject, rule, status, observed, detail, name=name, part=part)


def _skipped(
    section: str,
    subject: str,
    rules: Iterable[Rule],
    why: str = NO_RESULTS,
    *,
    name: str = "",
    part: str = "",
) -> list[Outcome]:
    return [Outcome(section, subject, rule, "skipped", detail=why, name=name, part=part) for rule in rules]


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
            outcomes += _skipped("load", key, rules, part=key)
        for run in runs:
            subjects = _load_subjects(run, key)
            if subjects is None:
                why = "endpoint not in results"
                outcomes += _skipped("load", f"{run.name} · {key}", rules, why, name=run.profile, part=key)
                continue
            for endpoint, metrics in subjects:
                subject = f"{run.name} · {endpoint}"
                for rule in rules:
                    few = rule.too_few_requests(metrics)
                    if few:
                        outcomes += _skipped("load", subject, [rule], few, name=run.profile, part=endpoint)
                        continue
                    observed = metrics.get(rule.metric)
                    outcomes.append(_judge("load", subject, rule, observed, name=run.profile, part=endpoint))
    return outcomes


def _evaluate_security(thresholds: Thresholds, runs: list[LoadRun]) -> list[Outcome]:
    if not runs:
        return _skipped("security", "security", thresholds.security)
    outcomes: list[Outcome] = []
    for run in runs:
        metrics = run.security_metrics()
        # Name the checks that failed or did not run: a red build says which invariant broke or went untested.
        failed = "; ".join(
            [f"{c.id} {c.name}: {_as_text(c.observed)}" for c in run.failed_checks()]
            + [f"{c.id} {c.name}: not run ({c.reason or 'no reason given'})" for c in run.not_run_checks()]
        )
        outcomes += [
            _judge("security", run.name, r, metrics[r.metric], failed, name=run.profile)
            for r in thresholds.security
        ]
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
        subject = f"{run.name} · {TOTAL}"
        outcomes.append(
            Outcome("load", subject, COMPLETED, "fail", 0.0, detail, name=run.profile, part=TOTAL)
        )
    return outcomes


def _as_text(observed: Any) -> str:
    return observed if isinstance(observed, str) else json.dumps(observed, ensure_ascii=False)


def _evaluate_sim(thresholds: Thresholds, runs: list[SimRun]) -> tuple[list[Outcome], list[str]]:
    outcomes: list[Outcome] = []
    for key, rules in thresholds.sim.items():
        matching = [run for run in runs if key in (EVERY, run.scenario_name)]
        if not matching:
            for index, rule in enumerate(rules):
                if not known_sim_metric(rule.metric):
                    raise GateInputError(
                        f"sim.{key}[{index}]: unknown metric {rule.metric!r}"
                        f"{did_you_mean(rule.metric, [*SIM_KPIS, *SIM_KPI_FAMILIES])}"
                    )
            outcomes += _skipped("sim", key, rules, name=key)
        for run in matching:
            for index, rule in enumerate(rules):
                subject = f"{run.scenario_name} · {run.name}"
                if run.resolve(rule.metric) is None and is_sim_family_metric(rule.metric):
                    # Levels, groups and pools differ by scenario (ninh-binh-2025 has no district level).
                    why = "not reported by this run"
                    outcomes += _skipped("sim", subject, [rule], why, name=run.scenario_name)
                    continue
                if run.resolve(rule.metric) is None:
                    raise GateInputError(
                        f"sim.{key}[{index}]: unknown metric {rule.metric!r}: {run.folder / 'kpis.json'} has "
                        f"no such KPI{did_you_mean(rule.metric, run.kpis)}"
                    )
                if rule.min_horizon_days and (run.horizon_days or 0) < rule.min_horizon_days:
                    why = (
                        f"a target for runs of at least {rule.min_horizon_days} days "
                        f"(this run covers {run.horizon_days or 0:g})"
                    )
                    outcomes += _skipped("sim", subject, [rule], why, name=run.scenario_name)
                    continue
                outcomes.append(_judge("sim", subject, rule, run.value(rule.metric), name=run.scenario_name))
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
                    outcomes += _skipped("bench", "bench", [rule])  # no file to name it by
                    continue
                if not having:
                    raise GateInputError(
                        f"{where}: unknown metric {rule.metric!r}: no benchmark file reports it "
                        f"({', '.join(str(bench.path) for bench in files)})"
                    )
            else:
                bench = by_stem.get(key)
                if bench is None:
                    outcomes += _skipped("bench", f"bench/{key}.json", [rule], name=key)
                    continue
                if rule.metric not in bench.metrics:
                    raise GateInputError(
                        f"{where}: unknown metric {rule.metric!r}: {bench.path} has no such number"
                        f"{did_you_mean(rule.metric, bench.metrics)}"
                    )
                having = [bench]
            outcomes += [
                _judge("bench", f"bench/{b.stem}.json", rule, b.metrics[rule.metric], name=b.stem)
                for b in having
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
