"""``dvclab sim …``: validate, run, compare, sweep and plan simulation scenarios; calibrate one from a
province's records and back-test it (``sim.calibrate``, ``sim.backtest``).

The parser and thin handlers: each loads the scenario, calls its study (``sim.studies``) and prints what
came back (``sim.console``). Every action that runs replications takes the same run options
(``--replications --seed --horizon-days --warmup-days --jobs --out --lang --dask``; ``--replications auto``
with ``--precision --max-replications --look-ahead`` adds replications until the KPIs are precise), shows
progress, warns when fewer than 3 replications make the intervals meaningless,
keeps the finished replications on Ctrl-C (written, marked partial, exit 130) and writes its results
folder with an HTML report atomically. ``run --format table|plain|json|csv`` prints its KPIs as
``dvclab check --format`` does. ``compare``, ``sweep`` and ``plan`` reuse matching finished runs
unless ``--fresh``. Bad input (a scenario, a parameter path, a range, a target) is
named on stderr with exit 2 and nothing is written.
"""

from __future__ import annotations

import argparse
import contextlib
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


def _replications(text: str) -> int | str:
    return "auto" if text.strip().lower() == "auto" else _positive(text)


def _warmup(text: str) -> int | str:
    return "auto" if text.strip().lower() == "auto" else _non_negative(text)


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"a relative half-width between 0 and 1, e.g. 0.05; got {value}")
    return value


def _run_options(parser: argparse.ArgumentParser, reuse: bool = False) -> None:
    parser.add_argument(
        "--replications",
        type=_replications,
        metavar="N|auto",
        help="independent replications (default: scenario); auto: until the KPIs reach --precision",
    )
    parser.add_argument(
        "--precision",
        type=_fraction,
        help="auto: relative 95%% CI half-width to reach on every chosen KPI (default 0.05)",
    )
    parser.add_argument(
        "--max-replications", type=_positive, help="auto: stop at this many replications (default 30)"
    )
    parser.add_argument(
        "--look-ahead",
        type=_non_negative,
        help="auto: replications the precision must hold for once reached (default 5, Hoad et al. 2010)",
    )
    if reuse:
        parser.add_argument(
            "--fresh", action="store_true", help="simulate again even when a matching finished run exists"
        )
    parser.add_argument("--seed", type=_non_negative, help="seed of the random streams (default: scenario)")
    parser.add_argument("--horizon-days", type=_positive, help="simulated days counted (default: scenario)")
    parser.add_argument(
        "--warmup-days",
        type=_warmup,
        help="warm-up days before the horizon, or auto: chosen from a pilot's backlogs (overrides "
        "startup.warmup_days)",
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
    run.add_argument("--kpi", action="append", metavar="KPI", help="auto: a KPI to make precise (repeatable)")
    run.add_argument("--no-report", action="store_true", help="skip report.html (faster)")
    run.add_argument(
        "--event-log",
        action="store_true",
        help="also write replication 0's dossier events as event_log.csv and .xes (the register format)",
    )
    run.add_argument(
        "--format",
        dest="form",
        choices=("table", "plain", "json", "csv"),
        default="table",
        help="the KPIs as a table (default; names fold, never cut), plain lines, or every KPI as JSON or "
        "CSV (then stdout holds only that; the results folder goes to stderr, and into the JSON)",
    )
    run.set_defaults(handler=run_command)

    compare = actions.add_parser(
        "compare", help="compare what-ifs with a baseline: paired differences under common random numbers"
    )
    compare.add_argument("scenario", type=Path, metavar="BASE")
    compare.add_argument("whatifs", type=Path, nargs="+", metavar="WHATIF")
    _run_options(compare, reuse=True)
    compare.add_argument(
        "--kpi", action="append", metavar="KPI", help="auto: a baseline KPI to make precise (repeatable)"
    )
    compare.set_defaults(handler=compare_command)

    sweep = actions.add_parser("sweep", help="run a scenario at each value of one parameter")
    sweep.add_argument("scenario", type=Path)
    sweep.add_argument(
        "--param",
        required=True,
        metavar="PATH=VALUES",
        help="e.g. back_office.staffing.district.land=12..20 or channels.capable_share=0.8,0.9",
    )
    sweep.add_argument(
        "--kpi", action="append", metavar="KPI", help="KPI to tabulate and plot, and for auto to make precise"
    )
    _run_options(sweep, reuse=True)
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
    plan.add_argument(
        "--kpi", action="append", metavar="KPI", help="more KPIs to plot, and for auto to make precise"
    )
    _run_options(plan, reuse=True)
    plan.set_defaults(handler=plan_command)

    calibrate = actions.add_parser(
        "calibrate", help="fit a scenario to a province's records (CSV, XLSX, XES)"
    )
    _records_options(calibrate)
    calibrate.add_argument(
        "--out", type=Path, required=True, metavar="FILE.yaml", help="the scenario to write"
    )
    calibrate.add_argument("--train-from", type=_date, metavar="DATE", help="fit dossiers received from DATE")
    calibrate.add_argument("--train-until", type=_date, metavar="DATE", help="... and before DATE")
    calibrate.add_argument("--recency-half-life", type=_days, metavar="DAYS", help=HALF_LIFE_HELP)
    calibrate.add_argument("--lang", choices=("vi", "en"), default="en", help="the report's language")
    calibrate.set_defaults(handler=calibrate_command)

    backtest = actions.add_parser(
        "backtest",
        help="calibrate before a date, forecast after it, compare with the records and a naive forecast",
    )
    _records_options(backtest)
    backtest.add_argument("--split", type=_date, required=True, metavar="DATE", help="first day forecast")
    backtest.add_argument("--train-from", type=_date, metavar="DATE", help="fit dossiers received from DATE")
    backtest.add_argument("--recency-half-life", type=_days, metavar="DAYS", help=HALF_LIFE_HELP)
    backtest.add_argument("--replications", type=_positive, default=5, help="replications of the forecast")
    backtest.add_argument("--seed", type=_non_negative, default=2024)
    backtest.add_argument("--jobs", type=_positive, help="parallel processes (default: number of cores)")
    backtest.add_argument(
        "--out", type=Path, default=results_dir("sim"), help="results root (default: ./results/sim)"
    )
    backtest.set_defaults(handler=backtest_command)


HALF_LIFE_HELP = "weight dossiers by 0.5^(age/DAYS) at the training end (arrivals, channels, effort…)"


def _days(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of days, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive number of days, got {text}")
    return value


def _date(text: str):  # noqa: ANN202
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def _records_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "records", type=Path, metavar="RECORDS", help="event log or register: CSV, XLSX or XES"
    )
    parser.add_argument(
        "--map", type=Path, metavar="MAP.yaml", help="column map (default: the one-stop register's, shipped)"
    )


# -- loading ------------------------------------------------------------------------------------------
def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    overrides: dict[str, Any] = {}
    for option, path in (
        ("seed", "run.seed"),
        ("horizon_days", "run.horizon_days"),
        ("replications", "run.replications"),
        ("warmup_days", "startup.warmup_days"),
    ):
        value = getattr(args, option, None)
        if value is not None and (value != "auto" or option == "warmup_days"):
            overrides[path] = value
    return overrides


def _rule(args: argparse.Namespace):  # noqa: ANN202
    """The ``--replications auto`` rule (None for a fixed count); PrecisionError names a bad setting."""
    from dvclab.sim.precision import DEFAULT_KPIS, PrecisionError, PrecisionRule

    tuning = {
        name: value
        for name, value in (
            ("precision", args.precision),
            ("cap", args.max_replications),
            ("look_ahead", args.look_ahead),
        )
        if value is not None
    }
    if args.replications != "auto":
        if tuning:
            raise PrecisionError("--precision, --max-replications and --look-ahead need --replications auto")
        return None
    # run and compare: --kpi chooses the KPIs to make precise; sweep and plan pick theirs in the study
    kpis = tuple(getattr(args, "kpi", None) or ()) if args.sim_command in ("run", "compare") else ()
    return PrecisionRule(kpis=kpis or DEFAULT_KPIS, **tuning)


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


def _options(args: argparse.Namespace):  # noqa: ANN202
    """The run options as a study takes them, with the progress shown on the terminal."""
    from dvclab.sim.console import ProgressDisplay
    from dvclab.sim.studies import StudyOptions

    # dvclab.cli.main records the command line as given (sys.argv would name pytest in tests)
    command = ["dvclab", *getattr(args, "command_line", sys.argv[1:])]
    return StudyOptions(
        args.out,
        args.jobs,
        args.dask,
        args.lang,
        command,
        ProgressDisplay(),
        rule=_rule(args),
        fresh=getattr(args, "fresh", False),
        event_log=getattr(args, "event_log", False),
    )


def _guarded(action: Callable[[], int]) -> int:
    """Errors the user can fix end with a message and an exit code, not a traceback."""
    from dvclab.sim.cluster import ClusterError
    from dvclab.sim.model import OverloadError
    from dvclab.sim.precision import PrecisionError
    from dvclab.sim.scenario import ScenarioError
    from dvclab.sim.sweep import SweepError

    try:
        return action()
    except (ScenarioError, SweepError, PrecisionError) as error:
        return _bad(str(error))
    except (OverloadError, ClusterError) as error:
        print(f"dvclab sim: {error}", file=sys.stderr)
        return EXIT_FAILED


def _finish(folder: Path, partial: bool, report: bool = True) -> int:
    print(f"results: {folder}")
    if report:
        print(f"report: {folder / 'report.html'}")
    if partial:
        print("interrupted: the finished replications were written, marked partial", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK


def _nothing_written(why: str, interrupted: bool = True) -> int:
    print(f"{why}: nothing written", file=sys.stderr)
    return EXIT_INTERRUPTED if interrupted else EXIT_FAILED


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

    def run() -> int:
        from dvclab.sim.console import print_replications, print_summary
        from dvclab.sim.studies import run_study

        outcome = run_study(*loaded, _options(args), report=not args.no_report)
        if outcome.experiment is None or outcome.folder is None:
            return _nothing_written("interrupted before any replication finished")
        report = not args.no_report
        machine = args.form in ("json", "csv")  # stdout holds the document alone
        experiment = outcome.experiment
        where: dict[str, Any] = {
            "scenario": experiment.scenario.name,
            "replications": experiment.replications,
            "partial": experiment.partial,
            "results": str(outcome.folder),
        }
        if report:
            where["report"] = str(outcome.folder / "report.html")
        print_summary(experiment.summary(), args.form, where)
        with contextlib.redirect_stdout(sys.stderr) if machine else contextlib.nullcontext():
            print_replications([experiment])
            return _finish(outcome.folder, experiment.partial, report)

    return _guarded(run)


def compare_command(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    base, _ = loaded
    # common random numbers: every what-if runs the baseline's seed and replication count
    pinned = {"run.seed": base.run.seed, "run.replications": base.run.replications}
    whatifs = []
    for path in args.whatifs:
        other = _load(args, path, **pinned)
        if other is None:
            return EXIT_BAD_INPUT
        whatifs.append(other)

    def run() -> int:
        from dvclab.sim.console import print_comparison, print_replications
        from dvclab.sim.studies import compare_study

        outcome = compare_study(loaded, whatifs, _options(args))
        if outcome.folder is None:
            return _nothing_written("interrupted before any replication finished")
        if outcome.comparisons:
            print_comparison(outcome.comparisons)
            print_replications([outcome.comparisons[0].base])
        return _finish(outcome.folder, outcome.partial)

    return _guarded(run)


def sweep_command(args: argparse.Namespace) -> int:
    from dvclab.sim.sweep import SweepError, parse_param

    try:
        param = parse_param(args.param)
    except SweepError as error:
        return _bad(str(error))
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT

    def run() -> int:
        from dvclab.sim.console import print_replications, print_sweep
        from dvclab.sim.studies import sweep_study

        outcome = sweep_study(*loaded, param, _options(args), args.kpi)
        if outcome.folder is None:
            return _nothing_written("no point finished", outcome.sweep.partial)
        print_sweep(outcome.sweep, outcome.kpis)
        print_replications(outcome.sweep.experiments)
        return _finish(outcome.folder, outcome.sweep.partial)

    return _guarded(run)


def plan_command(args: argparse.Namespace) -> int:
    from dvclab.sim.plan import parse_target
    from dvclab.sim.sweep import SweepError, parse_param

    try:
        target = parse_target(args.target)
        vary = parse_param(args.vary, "--vary") if "=" in args.vary else args.vary
    except SweepError as error:
        return _bad(str(error))
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT

    def run() -> int:
        from dvclab.sim.console import print_plan, print_replications
        from dvclab.sim.studies import plan_study

        outcome = plan_study(*loaded, target, vary, _options(args), args.kpi)
        if outcome.folder is None:
            return _nothing_written("no value finished", outcome.plan.partial)
        print_plan(outcome.plan)
        print_replications([p.experiment for p in outcome.plan.sorted_points() if p.experiment])
        code = _finish(outcome.folder, outcome.plan.partial)
        return code if code != EXIT_OK or outcome.plan.answer is not None else EXIT_FAILED

    return _guarded(run)


def _read(args: argparse.Namespace):  # noqa: ANN202
    from dvclab.sim.record_map import load_map
    from dvclab.sim.records import read_records

    records = read_records(args.records, load_map(args.map))
    for line in records.report.lines():
        print(f"records: {line}")
    return records


def calibrate_command(args: argparse.Namespace) -> int:
    from dvclab.sim.calibrate import calibrate
    from dvclab.sim.record_map import RecordsError
    from dvclab.sim.scenario import ScenarioError

    if args.out.suffix.lower() not in (".yaml", ".yml"):
        return _bad(f"--out {args.out}: a scenario file ends in .yaml")
    try:
        records = _read(args)
        calibration = calibrate(
            records, args.train_from, args.train_until, name=args.out.stem, half_life=args.recency_half_life
        )
        written = calibration.write(args.out)
    except (RecordsError, ScenarioError) as error:
        return _bad(str(error))
    from dvclab.files import atomic_write

    report = args.out.with_name(f"{args.out.stem}-report.html")
    atomic_write(report, calibration.report(records, args.lang))
    written.append(report)
    for line in calibration.summary():
        print(f"calibrated: {line}")
    for path in written:
        print(f"wrote: {path}")
    return EXIT_OK


def backtest_command(args: argparse.Namespace) -> int:
    from dvclab.sim.backtest import backtest, print_backtest, write_backtest
    from dvclab.sim.record_map import RecordsError
    from dvclab.sim.scenario import ScenarioError

    try:
        records = _read(args)
        outcome = backtest(records, args.split, args.train_from, args.replications, args.seed, args.jobs,
                           half_life=args.recency_half_life)  # fmt: skip
    except (RecordsError, ScenarioError) as error:
        return _bad(str(error))
    print_backtest(outcome)
    print(f"results: {write_backtest(outcome, args.out)}")
    return EXIT_OK
