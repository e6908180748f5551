"""The simulation studies: run, compare, sweep and plan, callable from Python without the command line.

Each study takes loaded scenarios with their catalog and ``StudyOptions``, validates what it will run
before running anything, runs the replications (telling a ``Tracker`` how far it got), writes its results
folder with the HTML report atomically (``sim.outputs``) and returns what it found and where. Ctrl-C
keeps the finished replications (written, marked partial); when nothing finished nothing is written and
``folder`` is None. Input the user can fix raises ``ScenarioError`` or ``SweepError`` before anything
runs; a pool that can never keep up raises ``OverloadError``.

Replications are a fixed count or, with ``StudyOptions.rule``, as many as ``sim.precision`` needs.
``compare``, ``sweep`` and ``plan`` take a matching finished run from the results root instead of
simulating (``sim.reuse``; not with ``fresh``) and keep each experiment they simulate as a run folder, so
the next study can reuse it; their manifests list the runs and whether each was reused. (Over 400 lines:
the four studies share these helpers and their options, and each study is a screenful.)
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from dvclab.catalog import Procedure
from dvclab.paths import results_dir
from dvclab.sim.compare import Comparison, compare
from dvclab.sim.event_log import EventLogRunner, take_event_log, write_event_log
from dvclab.sim.experiment import Experiment, multiple_replications
from dvclab.sim.model import OverloadError
from dvclab.sim.observe import observed_run
from dvclab.sim.outputs import csv_text, write_run, write_study
from dvclab.sim.plan import Plan, Target, default_param, find_smallest
from dvclab.sim.precision import DEFAULT_KPIS, PrecisionRule, sequential_replications
from dvclab.sim.report import compare_report, plan_report, run_report, sweep_report
from dvclab.sim.results import interval_flag
from dvclab.sim.reuse import reuse_run
from dvclab.sim.scenario import Scenario, with_value
from dvclab.sim.stability import run_trends, warn_growing
from dvclab.sim.sweep import Param, Sweep, SweepPoint, check_kpis, default_kpis, run_sweep, sweep_points
from dvclab.sim.warmup import needs_choice, resolve_warmup, with_warmup

Loaded = tuple[Scenario, list[Procedure]]


class Tracker(Protocol):
    """Where a study reports its progress (``sim.console.ProgressDisplay`` on a terminal)."""

    def start(self, total: int, subject: str, detail: str) -> None: ...
    def experiment(self, label: str) -> None: ...
    def replication_done(self, label: str, replication: int) -> None: ...
    def reused(self, label: str, folder: Path, replications: int) -> None: ...
    def stop(self) -> None: ...


class Silent:
    """No progress shown: the default when a study is called from Python."""

    def start(self, total: int, subject: str, detail: str) -> None:
        pass

    def experiment(self, label: str) -> None:
        pass

    def replication_done(self, label: str, replication: int) -> None:
        pass

    def reused(self, label: str, folder: Path, replications: int) -> None:
        pass

    def stop(self) -> None:
        pass


@dataclass(frozen=True)
class StudyOptions:
    out: Path = field(default_factory=lambda: results_dir("sim"))  # results root
    jobs: int | None = None  # parallel processes (None: the number of cores)
    dask: str | None = None  # a Dask scheduler's address, instead of local processes
    lang: str | None = None  # report language (None: the scenario's)
    command: list[str] = field(default_factory=list)  # recorded in the manifests
    tracker: Tracker = field(default_factory=Silent)
    rule: PrecisionRule | None = None  # --replications auto: replications until this precision
    fresh: bool = False  # compare, sweep, plan: never reuse a finished run
    event_log: bool = False  # run: write replication 0's events in the register format (sim.event_log)

    def rule_for(self, *kpis: str | None) -> PrecisionRule | None:
        """The precision rule on ``kpis`` (the ones a study reads) when none were chosen for it."""
        if self.rule is None or self.rule.kpis != DEFAULT_KPIS:
            return self.rule
        chosen = tuple(dict.fromkeys([k for k in kpis if k] or DEFAULT_KPIS))
        return replace(self.rule, kpis=chosen)

    def lang_for(self, scenario: Scenario) -> str:
        return self.lang or scenario.lang


@dataclass
class RunOutcome:
    experiment: Experiment | None  # None: interrupted before any replication finished
    folder: Path | None


@dataclass
class CompareOutcome:
    comparisons: list[Comparison]  # empty when only the baseline finished (then a partial run)
    folder: Path | None
    partial: bool


@dataclass
class SweepOutcome:
    sweep: Sweep
    kpis: list[str]  # the KPIs tabulated and plotted
    folder: Path | None  # None: no point finished


@dataclass
class PlanOutcome:
    plan: Plan
    folder: Path | None  # None: no value finished


@contextmanager
def _tracking(options: StudyOptions, total: int, subject: str, detail: str) -> Iterator[None]:
    options.tracker.start(total, subject, detail)
    try:
        yield
    finally:
        options.tracker.stop()


def _replications(
    options: StudyOptions,
    scenario: Scenario,
    catalog: list[Procedure],
    label: str,
    rule: PrecisionRule | None = None,
) -> Experiment:
    """The scenario's replications: its fixed count, or as many as ``rule`` needs."""
    options.tracker.experiment(label)
    on_done = lambda r: options.tracker.replication_done(label, r)  # noqa: E731
    runner = EventLogRunner() if options.event_log else observed_run
    if rule is not None:
        experiment = sequential_replications(
            scenario, catalog, rule, options.jobs, on_done, runner=runner, dask=options.dask
        )
    else:
        experiment = multiple_replications(
            scenario,
            catalog,
            scenario.run.replications,
            options.jobs,
            on_done=on_done,
            runner=runner,
            dask=options.dask,
        )
    warn_growing(run_trends(experiment), label)  # after the run: a unit whose backlog grew through it
    return experiment


def _reused_or_run(
    options: StudyOptions,
    scenario: Scenario,
    catalog: list[Procedure],
    label: str,
    runs: list[dict[str, Any]],
    rule: PrecisionRule | None = None,
    warmup: dict[str, Any] | None = None,
) -> Experiment:
    """compare, sweep and plan: a matching finished run under the results root (unless ``--fresh``);
    else the replications, kept as a run folder (no report) for the next study to reuse. ``runs`` gets
    where each experiment's run folder is and whether it was reused (the study's manifest lists them)."""
    request = rule.as_dict() if rule is not None else scenario.run.replications
    found = None if options.fresh else reuse_run(options.out, scenario, request)
    if found is not None:
        experiment, folder = found
        options.tracker.reused(label, folder, experiment.replications)
        runs.append({"scenario": label, "run": str(folder), "reused": True})
        experiment.warmup = experiment.warmup or warmup
        return experiment
    experiment = _replications(options, scenario, catalog, label, rule)
    experiment.warmup = warmup
    if not experiment.partial:
        folder = write_run(experiment, catalog, options.out, options.command, None)
        runs.append({"scenario": label, "run": str(folder), "reused": False})
    return experiment


def _intervals(experiments: list[Experiment]) -> dict[str, Any]:
    """The study manifest's word on its intervals: judged on its experiment with the fewest replications."""
    return interval_flag(min(e.replications for e in experiments))


def _expected(scenario: Scenario, rule: PrecisionRule | None) -> int:
    """Replications the progress bar expects (auto: the minimum and its look-ahead)."""
    if rule is None:
        return scenario.run.replications
    return min(rule.cap, rule.minimum + rule.look_ahead_at(rule.minimum))


def _count(scenario: Scenario, rule: PrecisionRule | None) -> str:
    if rule is None:
        return f"{scenario.run.replications} replication(s)"
    return f"replications until ±{rule.precision:.0%} on {', '.join(rule.kpis)} (at most {rule.cap})"


def _chosen_warmup(
    options: StudyOptions, scenario: Scenario, catalog: list[Procedure]
) -> tuple[Scenario, dict[str, Any] | None]:
    """``warmup_days: auto``: the pilot chooses it once for the study (every experiment of a compare,
    sweep or plan then shares it, so they keep common random numbers)."""
    if not needs_choice(scenario):
        return scenario, None
    print(f"{scenario.name}: warm-up auto: a pilot replication chooses it ...", file=sys.stderr)
    scenario, warmup = resolve_warmup(scenario, catalog, fresh=options.fresh)
    reused = " (the pilot's choice kept from an earlier study)" if warmup and "pilot_reused" in warmup else ""
    print(f"{scenario.name}: warm-up {scenario.startup.warmup_days} days{reused}", file=sys.stderr)
    return scenario, warmup


# -- run ----------------------------------------------------------------------------------------------
def run_study(
    scenario: Scenario, catalog: list[Procedure], options: StudyOptions, report: bool = True
) -> RunOutcome:
    """Replications of one scenario, written as a run folder (``report.html`` unless ``report`` is off)."""
    rule = options.rule
    if rule is not None:
        check_kpis(list(rule.kpis), scenario, catalog, "--kpi")
    scenario, warmup = _chosen_warmup(options, scenario, catalog)
    detail = f": {_count(scenario, rule)} of {scenario.run.horizon_days} days, seed {scenario.run.seed}"
    with _tracking(options, _expected(scenario, rule), scenario.name, detail):
        try:
            experiment = _replications(options, scenario, catalog, scenario.name, rule)
        except KeyboardInterrupt:
            return RunOutcome(None, None)
    experiment.warmup = warmup
    lang, command = options.lang_for(scenario), options.command
    html = (lambda: run_report(experiment, catalog, lang, command)) if report else None
    events = take_event_log(experiment.outputs)
    extra = {"event_log": lambda folder: write_event_log(folder, events)} if events is not None else {}
    folder = write_run(experiment, catalog, options.out, command, html, extra_files=extra)
    return RunOutcome(experiment, folder)


# -- compare ------------------------------------------------------------------------------------------
def compare_study(base: Loaded, whatifs: list[Loaded], options: StudyOptions) -> CompareOutcome:
    """What-ifs against a baseline under common random numbers (each what-if runs the baseline's seed
    and replication count), written as a comparison folder. Ctrl-C during the baseline keeps it as a
    partial run folder."""
    chosen, warmup = _chosen_warmup(options, base[0], base[1])
    base = (chosen, base[1])
    whatifs = [_paired_with(base[0], scenario, catalog) for scenario, catalog in whatifs]
    scenarios = [base, *whatifs]
    labels = _unique([s.name for s, _ in scenarios])
    experiments: list[Experiment] = []
    partial = False
    run = base[0].run
    rule = options.rule_for()  # auto: the baseline's precision decides the count every what-if runs
    runs: list[dict[str, Any]] = []
    if rule is not None:
        check_kpis(list(rule.kpis), base[0], base[1], "--kpi")
    count = _count(base[0], rule).replace("replication", "paired replication", 1)
    detail = f": {', '.join(labels)}; {count}, seed {run.seed}"
    total = sum(_expected(s, rule) for s, _ in scenarios)
    with _tracking(options, total, "compare", detail):
        for index, ((scenario, catalog), label) in enumerate(zip(scenarios, labels, strict=True)):
            if label != scenario.name:
                scenario = scenario.model_copy(update={"name": label})
            if index and rule is not None and scenario.run.replications != experiments[0].replications:
                scenario = with_value(scenario, "run.replications", experiments[0].replications, catalog)
            try:
                experiment = _reused_or_run(
                    options, scenario, catalog, label, runs, None if index else rule, warmup
                )
            except KeyboardInterrupt:
                partial = True
                break
            experiments.append(experiment)
            if experiment.partial:
                partial = True
                break
    lang, command, catalog = options.lang_for(base[0]), options.command, base[1]
    if not experiments:
        return CompareOutcome([], None, True)
    if len(experiments) == 1:  # Ctrl-C during the baseline: keep it as a partial run
        only = experiments[0]
        folder = write_run(
            only, catalog, options.out, command, lambda: run_report(only, catalog, lang, command)
        )
        return CompareOutcome([], folder, True)
    comparisons = [compare(experiments[0], whatif) for whatif in experiments[1:]]
    files = _comparison_files(comparisons, experiments)
    files["report.html"] = compare_report(comparisons, catalog, lang, command)
    name = experiments[0].scenario.name
    folder = write_study(
        options.out,
        "compare",
        name,
        experiments,
        files,
        command,
        partial,
        {"baseline": name, "runs": runs, "intervals": _intervals(experiments)},
    )
    return CompareOutcome(comparisons, folder, partial)


def _paired_with(base: Scenario, whatif: Scenario, catalog: list[Procedure]) -> Loaded:
    """The what-if on the baseline's seed and replication count (common random numbers)."""
    for path, value in (("run.seed", base.run.seed), ("run.replications", base.run.replications)):
        if getattr(whatif.run, path.split(".")[1]) != value:
            whatif = with_value(whatif, path, value, catalog)
    if needs_choice(whatif) and not needs_choice(base):  # the baseline's chosen warm-up (same citizens)
        whatif = with_warmup(whatif, int(base.startup.warmup_days))
    return whatif, catalog


def _unique(names: list[str]) -> list[str]:
    """Scenario labels, numbered when a file is compared with itself (``base``, ``base#2``)."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def _comparison_files(comparisons: list[Comparison], experiments: list[Experiment]) -> dict[str, str]:
    differences = [
        [
            c.whatif.scenario.name,
            r.kpi,
            r.base,
            r.whatif,
            r.difference.mean,
            r.difference.ci_low,
            r.difference.ci_high,
            r.difference.unit,
            r.verdict,
        ]
        for c in comparisons
        for r in c.rows
    ]
    kpis = [
        [e.scenario.name, kpi, est.mean, est.ci_low, est.ci_high, est.unit]
        for e in experiments
        for kpi, est in e.summary().items()
    ]
    header = ["whatif", "kpi", "baseline_mean", "whatif_mean", "difference", "ci_low", "ci_high", "unit"]
    return {
        "differences.csv": csv_text([*header, "verdict"], differences),
        "kpis_by_scenario.csv": csv_text(["scenario", "kpi", "mean", "ci_low", "ci_high", "unit"], kpis),
        "changes.csv": csv_text(
            ["whatif", "path", "baseline", "whatif"],
            [[c.whatif.scenario.name, p, a, b] for c in comparisons for p, a, b in c.changes],
        ),
    }


# -- sweep and plan -----------------------------------------------------------------------------------
def _label(point: SweepPoint, path: str) -> str:
    return f"{path}={point.value}"


def sweep_study(
    base: Scenario,
    catalog: list[Procedure],
    param: Param,
    options: StudyOptions,
    kpis: list[str] | None = None,
) -> SweepOutcome:
    """``base`` at each value of ``param``, written as a sweep folder; a value whose queues never drain
    is recorded as overloaded, not fatal."""
    base, warmup = _chosen_warmup(options, base, catalog)
    points = sweep_points(base, catalog, param)
    rule = options.rule_for(*(kpis or []))
    kpis = default_kpis(param.path, kpis)
    check_kpis(kpis, base, catalog, "--kpi")
    if rule is not None:
        check_kpis(list(rule.kpis), base, catalog, "--kpi")
    total = sum(_expected(p.scenario, rule) for p in points)
    runs: list[dict[str, Any]] = []
    detail = f" {param.path} over {len(points)} value(s), {_count(base, rule)} each, seed {base.run.seed}"
    with _tracking(options, total, "sweep", detail):
        sweep = run_sweep(
            param.path,
            base,
            points,
            lambda p: _reused_or_run(options, p.scenario, catalog, _label(p, param.path), runs, rule, warmup),
        )
    if not sweep.experiments:
        return SweepOutcome(sweep, kpis, None)
    lang, command = options.lang_for(base), options.command
    rows = [
        [value, kpi, est.mean, est.ci_low, est.ci_high, est.unit]
        for value, e in zip(sweep.param.values, sweep.experiments, strict=True)
        for kpi, est in e.summary().items()
    ]
    rows += [[value, "overloaded", "", "", "", why] for value, why in sweep.failed.items()]
    files = {
        "sweep.csv": csv_text([param.path, "kpi", "mean", "ci_low", "ci_high", "unit"], rows),
        "report.html": sweep_report(sweep, catalog, kpis, lang, command),
    }
    extra = {
        "param": param.path,
        "values": list(sweep.param.values),
        "overloaded": {str(k): v for k, v in sweep.failed.items()},
        "runs": runs,
        "intervals": _intervals(sweep.experiments),
    }
    folder = write_study(
        options.out, "sweep", base.name, sweep.experiments, files, command, sweep.partial, extra
    )
    return SweepOutcome(sweep, kpis, folder)


def plan_study(
    base: Scenario,
    catalog: list[Procedure],
    target: Target,
    vary: Param | str,
    options: StudyOptions,
    kpis: list[str] | None = None,
) -> PlanOutcome:
    """The smallest value of ``vary`` whose confidence bound meets ``target`` (a path alone: whole
    numbers 1..4× its current value), by bisection; written as a plan folder."""
    check_kpis([target.kpi], base, catalog, "--target")
    param = vary if isinstance(vary, Param) else default_param(base, vary.strip())
    base, warmup = _chosen_warmup(options, base, catalog)
    by_value = {p.value: p for p in sweep_points(base, catalog, param)}
    rule = options.rule_for(target.kpi, *(kpis or []))
    runs: list[dict[str, Any]] = []
    kpis = default_kpis(param.path, kpis, target.kpi)
    check_kpis(kpis, base, catalog, "--kpi")
    steps = max(1, len(param.values).bit_length() + 1)  # bisection: about log2(n) + 1 points
    detail = f" {target} by {param.path} over {len(param.values)} candidate(s)"

    def evaluate(value: Any) -> Experiment | None:
        point = by_value[value]
        try:
            return _reused_or_run(
                options, point.scenario, catalog, _label(point, param.path), runs, rule, warmup
            )
        except OverloadError:
            return None

    with _tracking(options, steps * _expected(base, rule), "plan", detail):
        plan = find_smallest(param.path, target, param.values, evaluate)
    ran = [p for p in plan.sorted_points() if p.experiment is not None]
    if not ran:
        return PlanOutcome(plan, None)
    lang, command = options.lang_for(base), options.command
    summary = _plan_summary(plan, param)
    files = {
        "plan.json": json.dumps(summary, indent=2, ensure_ascii=False),
        "points.csv": csv_text(
            [param.path, "mean", "ci_low", "ci_high", "met", "confidence", "note"],
            [
                [
                    p.value,
                    *(
                        [p.estimate.mean, p.estimate.ci_low, p.estimate.ci_high]
                        if p.estimate
                        else ["", "", ""]
                    ),
                    p.met,
                    round(p.confidence, 4),
                    p.note,
                ]
                for p in plan.sorted_points()
            ],
        ),
        "report.html": plan_report(plan, base.name, catalog, kpis, lang, command),
    }
    experiments = [p.experiment for p in ran if p.experiment]
    folder = write_study(
        options.out,
        "plan",
        base.name,
        experiments,
        files,
        command,
        plan.partial,
        {"plan": summary, "runs": runs},
    )
    return PlanOutcome(plan, folder)


def _plan_summary(plan: Plan, param: Param) -> dict[str, Any]:
    """``plan.json``, also the manifest's ``plan``."""
    return {
        "target": str(plan.target),
        "param": param.path,
        "candidates": list(param.values),
        "answer": plan.answer.value if plan.answer else None,
        "confidence": plan.answer.confidence if plan.answer else None,
        "points": [
            {
                "value": p.value,
                "met": p.met,
                "confidence": p.confidence,
                "note": p.note,
                **(
                    {"mean": p.estimate.mean, "ci_low": p.estimate.ci_low, "ci_high": p.estimate.ci_high}
                    if p.estimate
                    else {}
                ),
            }
            for p in plan.sorted_points()
        ],
    }
