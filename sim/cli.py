"""``dvclab sim …``: validate and run simulation scenarios."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dvclab.catalog import REPO_ROOT

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT = 0, 1, 2
HEADLINE = (
    "dossiers",
    "overdue_rate",
    "on_time_rate",
    "early_rate",
    "counter_wait_mean_min",
    "counter_wait_p90_min",
    "trips_per_dossier",
    "reported_online_rate",
    "self_service_online_rate",
    "online_payment_rate",
    "digitised_rate",
    "postal_return_share",
    "sync_discrepancy",
)


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


def register(commands: argparse._SubParsersAction) -> None:
    sim = commands.add_parser("sim", help="run what-if scenarios of the procedure pipeline")
    actions = sim.add_subparsers(dest="sim_command", metavar="ACTION")
    actions.required = True

    validate = actions.add_parser("validate", help="check a scenario file without running it")
    validate.add_argument("scenario", type=Path)
    validate.set_defaults(handler=validate_command)

    run = actions.add_parser("run", help="run replications of a scenario and write its results folder")
    run.add_argument("scenario", type=Path)
    run.add_argument("--replications", type=_positive, help="independent replications (default: scenario)")
    run.add_argument("--seed", type=_non_negative, help="seed of the random streams (default: scenario)")
    run.add_argument("--horizon-days", type=_positive, help="simulated days counted (default: scenario)")
    run.add_argument("--jobs", type=_positive, help="parallel processes (default: number of cores)")
    run.add_argument("--out", type=Path, default=REPO_ROOT / "results" / "sim", help="results root")
    run.set_defaults(handler=run_command)


def _load(args: argparse.Namespace):  # noqa: ANN202 - returns (scenario, catalog) or None
    from sim.scenario import ScenarioError, load_scenario

    overrides = {}
    if getattr(args, "seed", None) is not None:
        overrides["run.seed"] = args.seed
    if getattr(args, "horizon_days", None) is not None:
        overrides["run.horizon_days"] = args.horizon_days
    if getattr(args, "replications", None) is not None:
        overrides["run.replications"] = args.replications
    try:
        return load_scenario(args.scenario, **overrides)
    except ScenarioError as error:
        print(f"dvclab sim: invalid scenario: {error}", file=sys.stderr)
        return None


def validate_command(args: argparse.Namespace) -> int:
    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    scenario, catalog = loaded
    print(f"{args.scenario}: valid scenario {scenario.name!r} ({len(catalog)} procedures)")
    return EXIT_OK


def run_command(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from sim.experiment import multiple_replications
    from sim.model import OverloadError
    from sim.results import write_results
    from sim.scenario import ScenarioError

    loaded = _load(args)
    if loaded is None:
        return EXIT_BAD_INPUT
    scenario, catalog = loaded
    console = Console(stderr=True)
    n = scenario.run.replications
    console.print(
        f"[bold]{scenario.name}[/]: {n} replication(s) of {scenario.run.horizon_days} days, "
        f"seed {scenario.run.seed}"
    )
    columns = (TextColumn("replications"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=console, transient=False) as progress:
            task = progress.add_task("replications", total=n)
            experiment = multiple_replications(
                scenario, catalog, n, args.jobs, on_done=lambda _r: progress.advance(task)
            )
    except (ScenarioError, OverloadError) as error:
        print(f"dvclab sim: {error}", file=sys.stderr)
        return EXIT_BAD_INPUT if isinstance(error, ScenarioError) else EXIT_FAILED
    folder = write_results(experiment, catalog, args.out, ["dvclab", *sys.argv[1:]])
    print_summary(experiment.summary())
    print(f"results: {folder}")
    return EXIT_OK


def print_summary(summary: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title="KPIs (mean and 95% CI over replications)")
    for column in ("KPI", "mean", "95% CI", "unit"):
        table.add_column(column, justify="left" if column in ("KPI", "unit") else "right")
    names = [n for n in HEADLINE if n in summary]
    names += [n for n in summary if n.startswith(("overdue_rate_by_level", "index_766"))]
    for name in names:
        e = summary[name]
        fmt = "{:,.0f}" if e.unit == "dossiers" else "{:.4f}" if e.unit == "fraction" else "{:.2f}"
        table.add_row(name, fmt.format(e.mean), f"{fmt.format(e.ci_low)} – {fmt.format(e.ci_high)}", e.unit)
    Console().print(table)
