"""``dvclab sim …``: validate, run, compare, sweep and plan simulation scenarios.

Every action that runs replications takes the same run options (``--replications --seed --horizon-days
--warmup-days --jobs --out --lang --dask``), shows progress, keeps the finished replications on Ctrl-C
(written, marked partial, exit 130) and writes its results folder with an HTML report atomically. Bad
input (a scenario, a parameter path, a range, a target) is named on stderr with exit 2 and nothing is
written.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dvclab.paths import results_dir

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--replications", type=_positive, help="independent replications (default: scenario)")
    parser.add_argument("--seed", type=_non_negative, help="seed of the random streams (default: scenario)")
    parser.add_argument("--horizon-days", type=_positive, help="simulated days counted (default: scenario)")
    parser.add_argument(
        "--warmup-days",
        type=_non_negative,
        help="warm-up days before the horizon (overrides startup.warmup_days)",
    )
    parser.add_argument("--jobs", type=_positive, help="parallel processes (default: number of cores)")
    parser.add_argument(
        "--out", type=Path, default=results_dir("sim"), help="results root (default: ./results/sim)"
    )
    parser.add_argument("--lang", choices=("vi", "en"), help="report language (default: the scenario's lang)")
    parser.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run replications on this Dask scheduler, e.g. tcp://10.0.0.5:8786 (default: local processes)",
    )


def register(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("sim", help="run what-if scenarios of the procedure pipeline")
    actions = sim.add_subparsers(dest="sim_command", metavar="ACTION")
    actions.required = True

    validate = actions.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", type=Path)
    validate.set_defaults(handler=validate_command)

    run = actions.add_parser("run", help="run replications of a scenario and write its results folder")
    run.add_argument("scenario", type=Path)
    _run_options(run)
    run.add_argument("--no-report", action="store_true", help="skip report.html (faster)")
    run.set_defaults(handler=run_command)

    compare = actions.add_parser(
        "compare", help="compare what-ifs with a baseline: paired differences under common random numbers"
    )
    compare.add_argument("scenario", type=Path, metavar="BASE")
    compare.add_argument("whatifs", type=Path, nargs="+", metavar="WHATIF")
    _run_options(compare)
    compare.set_defaults(handler=compare_command)

    sweep = actions.add_parser("sweep", help="run a scenario at each value of one parameter")
    sweep.add_argument("scenario", type=Path)
    sweep.add_argument(
        "--param",
        required=True,
        metavar="PATH=VALUES",
        help="e.g. back_office.staffing.district.land=12..20 or channels.capable_share=0.8,0.9",
    )
    sweep.add_argument("--kpi", action="append", metavar="KPI", help="KPI to tabulate and plot (repeatable)")
    _run_options(sweep)
    sweep.set_defaults(handler=sweep_command)

    plan = actions.add_parser("plan", help="smallest value of a parameter whose CI bound meets a target")
    plan.add_argument("scenario", type=Path)
    plan.add_argument("--target", required=True, metavar="KPI<=VALUE", help="e.g. 'overdue_rate<=0.02'")
    plan.add_argument(
        "--vary",
        required=True,
        metavar="PATH[=VALUES]",
        help="the parameter; without values, whole numbers 1..4× its current value",
    )
    plan.add_argument("--kpi", action="append", metavar="KPI", help="more KPIs to plot (repeatable)")
    _run_options(plan)
    plan.set_defaults(handler=plan_command)


# -- loading ------------------------------------------------------------------------------------------
def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for option, path in (
        ("seed", "run.seed"),
        ("horizon_days", "run.horizon_days"),
        ("replications", "run.replications"),
        ("warmup_days", "startup.warmup_days"),
    ):
        if getattr(args, option, None) is not None:
            overrides[path] = getattr(args, option)
    return overrides


def _load(args: argparse.Namespace, path: Path | None = None, **extra: Any):  # noqa: ANN202
    """(scenario, catalog), or None after naming the problem on stderr."""
    from dvclab.sim.scenario import ScenarioError, load_scenario

    try:
        return load_scenario(path or args.scenario, **{**_overrides(args), **extra})
    except ScenarioError as error:
        print(f"dvclab sim: invalid scenario: {error}", file=sys.stderr)
        return None


def _bad(message: str) -> int:
    print(f"dvclab sim: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _command(args: argparse.Namespace) -> list[str]:
    """The command line as given (``dvclab.cli.main`` records it; ``sys.argv`` would name pytest in tests)."""
    return ["dvclab", *getattr(args, "command_line", sys.argv[1:])]


# -- running with progress ----------------------------------------------------------------------------
class Runner:
    """Runs experiments with one rich progress display; plain lines when stderr is not a terminal (CI
    logs), one per finished replication."""

    def __init__(self, args: argparse.Namespace, total: int) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.args = args
        self.console = Console(stderr=True)
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.progress.add_task("replications", total=total)
        self.done = 0

    def __enter__(self) -> Runner:
        self.progress.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.__exit__(*exc)

    def experiment(self, scenario: Any, catalog: Any, label: str = ""):  # noqa: ANN201
        from dvclab.sim.experiment import multiple_replications
        from dvclab.sim.observe import observed_run

        def finished(r: int) -> None:
            self.done += 1
            self.progress.advance(self.task)
            if not self.console.is_terminal:
                print(
                    f"{label or scenario.name}: replication {r} done ({self.done} finished)",
                    file=sys.stderr,
                    flush=True,
                )

        self.progress.update(self.task, description=label or scenario.name)
        return multiple_replications(
            scenario,
            catalog,
            scenario.run.replications,
            self.args.jobs,
            on_done=finished,
            runner=observed_run,
            dask=self.args.dask,
        )


def _guarded(action: Callable[[], int]) -> int:
    """Errors the user can fix end with a message and an exit code, not a traceback."""
    from dvclab.sim.cluster import ClusterError
    from dvclab.sim.model import OverloadError
    from dvclab.sim.scenario import ScenarioError
    from dvclab.sim.sweep import SweepError

    try:
        return action()
    except (ScenarioError, SweepError) as error:
        return _bad(str(error))
    except OverloadError as error:
        print(f"dvclab sim: {error}", file=sys.stderr)
        return EXIT_FAILED
    except ClusterError as error:
        print(f"dvclab sim: {error}", file=sys.stderr)
        return EXIT_FAILED


def _lang(args: argparse.Namespace, scenario: Any) -> str:
    return args.lang or scenario.lang


# -- actions ------------------------------------------------------------------------------------------
def validate_command(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    scenario, catalog = loaded
    print(f"{args.scenario}: valid scenario {scenario.name!r} ({len(catalog)} procedures)")
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    scenario, catalog = loaded
    return _guarded(lambda: _run(args, scenario, catalog))


def _run(args: argparse.Namespace, scenario: Any, catalog: Any) -> int:
    from dvclab.sim.outputs import write_run
    from dvclab.sim.report import run_report

    n = scenario.run.replications
    with Runner(args, n) as runner:
        runner.console.print(
            f"[bold]{scenario.name}[/]: {n} replication(s) of {scenario.run.horizon_days} "
            f"days, seed {scenario.run.seed}"
        )
        try:
            experiment = runner.experiment(scenario, catalog)
        except KeyboardInterrupt:
            print("interrupted before any replication finished: nothing written", file=sys.stderr)
            return EXIT_INTERRUPTED
    command = _command(args)
    report = (
        None if args.no_report else (lambda: run_report(experiment, catalog, _lang(args, scenario), command))
    )
    folder = write_run(experiment, catalog, args.out, command, report)
    print_summary(experiment.summary())
    return _finish(folder, experiment.partial, args.no_report)


def _finish(folder: Path, partial: bool, no_report: bool = False) -> int:
    print(f"results: {folder}")
    if not no_report:
        print(f"report: {folder / 'report.html'}")
    if partial:
        print("interrupted: the finished replications were written, marked partial", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def compare_command(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    base, catalog = loaded
    # common random numbers: every what-if runs the baseline's seed and replication count
    pinned = {"run.seed": base.run.seed, "run.replications": base.run.replications}
    whatifs = []
    for path in args.whatifs:
        other = _load(args, path, **pinned)
        if other is None:
            return EXIT_BAD_INPUT
        whatifs.append(other)
    return _guarded(lambda: _compare(args, (base, catalog), whatifs))


def _compare(args: argparse.Namespace, base: Any, whatifs: list[Any]) -> int:
    from dvclab.sim.compare import compare
    from dvclab.sim.outputs import csv_text, write_run, write_study
    from dvclab.sim.report import compare_report, run_report

    scenarios = [base, *whatifs]
    total = sum(s.run.replications for s, _ in scenarios)
    names = [s.name for s, _ in scenarios]
    labels = _unique(names)
    experiments = []
    partial = False
    with Runner(args, total) as runner:
        runner.console.print(
            f"[bold]compare[/]: {', '.join(labels)}; {base[0].run.replications} paired "
            f"replication(s), seed {base[0].run.seed}"
        )
        for (scenario, catalog), label in zip(scenarios, labels, strict=True):
            if label != scenario.name:
                scenario = scenario.model_copy(update={"name": label})
            try:
                experiment = runner.experiment(scenario, catalog, label)
            except KeyboardInterrupt:
                partial = True
                break
            experiments.append(experiment)
            if experiment.partial:
                partial = True
                break
    command = _command(args)
    lang = _lang(args, base[0])
    catalog = base[1]
    if not experiments:
        print("interrupted before any replication finished: nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if len(experiments) == 1:  # Ctrl-C during the baseline: keep it as a partial run
        folder = write_run(
            experiments[0],
            catalog,
            args.out,
            command,
            lambda: run_report(experiments[0], catalog, lang, command),
        )
        return _finish(folder, True)
    comparisons = [compare(experiments[0], whatif) for whatif in experiments[1:]]
    rows = [
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
    kpi_rows = [
        [e.scenario.name, kpi, est.mean, est.ci_low, est.ci_high, est.unit]
        for e in experiments
        for kpi, est in e.summary().items()
    ]
    files = {
        "differences.csv": csv_text(
            [
                "whatif",
                "kpi",
                "baseline_mean",
                "whatif_mean",
                "difference",
                "ci_low",
                "ci_high",
                "unit",
                "verdict",
            ],
            rows,
        ),
        "kpis_by_scenario.csv": csv_text(["scenario", "kpi", "mean", "ci_low", "ci_high", "unit"], kpi_rows),
        "changes.csv": csv_text(
            ["whatif", "path", "baseline", "whatif"],
            [[c.whatif.scenario.name, p, a, b] for c in comparisons for p, a, b in c.changes],
        ),
        "report.html": compare_report(comparisons, catalog, lang, command),
    }
    folder = write_study(
        args.out,
        "compare",
        experiments[0].scenario.name,
        experiments,
        files,
        command,
        partial,
        {"baseline": experiments[0].scenario.name},
    )
    print_comparison(comparisons)
    return _finish(folder, partial)


def _unique(names: list[str]) -> list[str]:
    """Scenario labels, numbered when a file is compared with itself (``base``, ``base#2``)."""
    seen: dict[str, int] = {}
    labels = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        labels.append(name if seen[name] == 1 else f"{name}#{seen[name]}")
    return labels


def _default_kpis(path: str, requested: list[str] | None, target: str | None = None) -> list[str]:
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


def sweep_command(args: argparse.Namespace) -> int:
    from dvclab.sim.sweep import SweepError, check_param, parse_param

    try:
        param = parse_param(args.param)
    except SweepError as error:
        return _bad(str(error))
    return _guarded(lambda: _sweep(args, param, check_param(args.scenario, param, _overrides(args))))


def _check_kpis(kpis: list[str], scenario: Any, catalog: Any, option: str) -> None:
    from dvclab.sim.sweep import SweepError, known_kpi

    for kpi in kpis:
        if not known_kpi(kpi, scenario, catalog):
            raise SweepError(f"{option} {kpi!r}: no such KPI (see kpis.csv of a run for the names)")


def _sweep(args: argparse.Namespace, param: Any, points: list[Any]) -> int:
    from dvclab.sim.outputs import csv_text, write_study
    from dvclab.sim.report import sweep_report
    from dvclab.sim.sweep import run_sweep

    base, catalog = points[0]
    kpis = _default_kpis(param.path, args.kpi)
    _check_kpis(kpis, base, catalog, "--kpi")
    total = sum(s.run.replications for s, _ in points)
    with Runner(args, total) as runner:
        runner.console.print(
            f"[bold]sweep[/] {param.path} over {len(points)} value(s), "
            f"{base.run.replications} replication(s) each, seed {base.run.seed}"
        )
        sweep = run_sweep(
            param, points, lambda s, c, k: runner.experiment(s, c, f"{param.path}={param.values[k]}")
        )
    if not sweep.experiments:
        print("no point finished: nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED if sweep.partial else EXIT_FAILED
    lang = _lang(args, base)
    command = _command(args)
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
    name = base.name.split("[")[0]
    folder = write_study(
        args.out,
        "sweep",
        name,
        sweep.experiments,
        files,
        command,
        sweep.partial,
        {
            "param": param.path,
            "values": list(sweep.param.values),
            "overloaded": {str(k): v for k, v in sweep.failed.items()},
        },
    )
    print_sweep(param.path, list(sweep.param.values), sweep.experiments, kpis)
    for value, why in sweep.failed.items():
        print(f"{param.path}={value}: overloaded, not in the table ({why})")
    return _finish(folder, sweep.partial)


def plan_command(args: argparse.Namespace) -> int:
    from dvclab.sim.plan import default_candidates, parse_target
    from dvclab.sim.sweep import Param, SweepError, check_param, current_value, parse_param

    try:
        target = parse_target(args.target)
        vary = parse_param(args.vary, "--vary") if "=" in args.vary else None
    except SweepError as error:
        return _bad(str(error))

    def plan() -> int:
        loaded = _load(args)
        if loaded is None:
            return EXIT_BAD_INPUT
        scenario, catalog = loaded
        _check_kpis([target.kpi], scenario, catalog, "--target")
        param = vary
        if param is None:
            path = args.vary.strip()
            param = Param(path, default_candidates(current_value(scenario, path)))
        points = check_param(args.scenario, param, _overrides(args))
        return _plan(args, target, param, points)

    return _guarded(plan)


def _plan(args: argparse.Namespace, target: Any, param: Any, points: list[Any]) -> int:
    import json

    from dvclab.sim.model import OverloadError
    from dvclab.sim.outputs import csv_text, write_study
    from dvclab.sim.plan import find_smallest
    from dvclab.sim.report import plan_report, plan_summary

    base, catalog = points[0]
    by_value = dict(zip(param.values, points, strict=True))
    kpis = _default_kpis(param.path, args.kpi, target.kpi)
    _check_kpis(kpis, base, catalog, "--kpi")
    steps = max(1, len(param.values).bit_length() + 1)  # bisection: about log2(n) + 1 points
    with Runner(args, steps * base.run.replications) as runner:
        runner.console.print(f"[bold]plan[/] {target} by {param.path} over {len(param.values)} candidate(s)")

        def evaluate(value: Any) -> Any:
            scenario, point_catalog = by_value[value]
            try:
                experiment = runner.experiment(scenario, point_catalog, f"{param.path}={value}")
            except OverloadError:
                return None
            return experiment

        plan = find_smallest(param.path, target, param.values, evaluate)
    ran = [p for p in plan.sorted_points() if p.experiment is not None]
    if not ran:
        print("no value finished: nothing written", file=sys.stderr)
        return EXIT_INTERRUPTED if plan.partial else EXIT_FAILED
    lang = _lang(args, base)
    command = _command(args)
    name = base.name.split("[")[0]
    summary = {
        "target": str(target),
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
        "report.html": plan_report(plan, name, catalog, kpis, lang, command),
    }
    folder = write_study(
        args.out,
        "plan",
        name,
        [p.experiment for p in ran if p.experiment],
        files,
        command,
        plan.partial,
        {"plan": summary},
    )
    print(plan_summary(plan, "en"))
    code = _finish(folder, plan.partial)
    return code if code != EXIT_OK or plan.answer is not None else EXIT_FAILED


# -- printing -----------------------------------------------------------------------------------------
def print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="KPIs (mean and 95% CI over replications)")
    for column in ("KPI", "mean", "95% CI", "unit"):
        table.add_column(column, justify="left" if column in ("KPI", "unit") else "right")
    from dvclab.sim.kpis import KPI_CONTRACT

    names = [n for n in KPI_CONTRACT if n in summary]
    names += [n for n in summary if n.startswith(("overdue_rate_by_level", "index_766"))]
    for name in names:
        e = summary[name]
        fmt = "{:,.0f}" if e.unit == "dossiers" else "{:.4f}" if e.unit == "fraction" else "{:.2f}"
        table.add_row(name, fmt.format(e.mean), f"{fmt.format(e.ci_low)} – {fmt.format(e.ci_high)}", e.unit)
    Console().print(table)


def print_comparison(comparisons: list) -> None:
    from rich.console import Console
    from rich.table import Table

    from dvclab.sim.kpis import KPI_CONTRACT
    from dvclab.sim.report import fmt

    table = Table(title="paired differences (what-if − baseline), 95% CI, common random numbers")
    for column in ("what-if", "KPI", "baseline", "what-if mean", "difference", "95% CI", "verdict"):
        table.add_column(column, justify="left" if column in ("what-if", "KPI", "verdict") else "right")
    for comparison in comparisons:
        for row in comparison.rows:
            if row.kpi not in KPI_CONTRACT and not row.kpi.startswith("overdue_rate_by_level"):
                continue
            d = row.difference
            style = {"better": "green", "worse": "red"}.get(row.verdict, "")
            table.add_row(
                comparison.whatif.scenario.name,
                row.kpi,
                fmt(row.base, d.unit),
                fmt(row.whatif, d.unit),
                fmt(d.mean, d.unit),
                f"{fmt(d.ci_low, d.unit)} – {fmt(d.ci_high, d.unit)}",
                f"[{style}]{row.verdict}[/]" if style else row.verdict,
            )
    Console().print(table)


def print_sweep(path: str, values: list, experiments: list, kpis: list[str]) -> None:
    from rich.console import Console
    from rich.table import Table

    from dvclab.sim.experiment import confidence_interval
    from dvclab.sim.report import fmt

    table = Table(title=f"sweep of {path} (mean and 95% CI)")
    table.add_column(path)
    for kpi in kpis:
        table.add_column(kpi, justify="right")
    for value, experiment in zip(values, experiments, strict=True):
        cells = []
        for kpi in kpis:
            e = confidence_interval(experiment.values(kpi), kpi)
            cells.append(f"{fmt(e.mean, e.unit)} ({fmt(e.ci_low, e.unit)} – {fmt(e.ci_high, e.unit)})")
        table.add_row(str(value), *cells)
    Console().print(table)
