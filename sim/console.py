"""What ``dvclab sim`` shows on the terminal: progress while replications run, and the result tables.

Progress goes to stderr (a rich bar; plain lines, one per finished replication, when stderr is not a
terminal, as in CI logs); tables and the plan's answer go to stdout.
"""

from __future__ import annotations

import csv
import json
import math
import sys
from pathlib import Path
from typing import Any

from dvclab.sim.compare import Comparison
from dvclab.sim.experiment import Estimate, Experiment
from dvclab.sim.plan import Plan
from dvclab.sim.sweep import Sweep


class ProgressDisplay:
    """A study's ``Tracker`` on the terminal: one rich progress bar over all its replications."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self.progress: Any = None
        self.task: Any = None
        self.done = 0

    def start(self, total: int, subject: str, detail: str) -> None:
        from rich.markup import escape
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task("replications", total=total)
        self.done = 0
        self.console.print(f"[bold]{escape(subject)}[/]{escape(detail)}")

    def experiment(self, label: str) -> None:
        self.progress.update(self.task, description=label)

    def replication_done(self, label: str, replication: int) -> None:
        self.done += 1
        self._grow_total()
        self.progress.advance(self.task)
        if not self.console.is_terminal:
            print(
                f"{label}: replication {replication} done ({self.done} finished)",
                file=sys.stderr,
                flush=True,
            )

    def reused(self, label: str, folder: Path, replications: int) -> None:
        """A finished run with the same key stands in for this experiment's replications."""
        self.done += replications
        self._grow_total()
        self.progress.advance(self.task, replications)
        message = (
            f"{label}: reusing the finished run {folder} ({replications} replication(s); same scenario, "
            "data files, seed, replications and model version; --fresh to simulate again)"
        )
        if self.console.is_terminal:
            self.progress.console.print(message, markup=False, highlight=False)
        else:
            print(message, file=sys.stderr, flush=True)

    def _grow_total(self) -> None:
        # `--replications auto` adds replications beyond its first round: the bar shows 11/11, not 11/8.
        task = self.progress.tasks[0] if self.progress.tasks else None
        if task is not None and task.total is not None and self.done > task.total:
            self.progress.update(self.task, total=self.done)

    def stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _console() -> Any:
    """stdout, at least 120 columns wide when it is a file or a pipe (rich would assume 80 and cut names)."""
    from rich.console import Console

    console = Console()
    return console if console.is_terminal else Console(width=max(120, console.width))


def _columns(table: Any, names: tuple[str, ...], left: tuple[str, ...], widest: dict[str, int]) -> None:
    """Columns that fold instead of "…": a KPI or scenario name cut short is one nobody can look up.
    ``widest`` keeps a name column at least as wide as its longest name, so it stays on one line."""
    for column in names:
        table.add_column(
            column,
            justify="left" if column in left else "right",
            overflow="fold",
            min_width=widest.get(column),
        )


def print_replications(experiments: list[Experiment]) -> None:
    """What ``--replications auto`` chose for each experiment (stdout), and once on stderr a warning when
    the intervals rest on fewer than 3 replications."""
    from dvclab.sim.experiment import interval_warning
    from dvclab.sim.precision import describe

    for experiment in experiments:
        if experiment.rule is not None and "precision_reached" in experiment.rule:
            prefix = f"{experiment.scenario.name}: " if len(experiments) > 1 else ""
            print(prefix + describe(experiment.rule))
            if experiment.rule.get("capped"):
                print(f"warning: {experiment.scenario.name}: auto stopped at the cap", file=sys.stderr)
    fewest = min((e.replications for e in experiments), default=None)
    warning = interval_warning(fewest) if fewest is not None else None
    if warning:
        print(f"warning: {warning}", file=sys.stderr)


SUMMARY_FORMATS = ("table", "plain", "json", "csv")


def headline_names(summary: dict[str, Estimate]) -> list[str]:
    """The KPIs a run's table shows: the kpis.json contract, overdue by level, the Decision 766 groups."""
    from dvclab.sim.kpis import KPI_CONTRACT

    names = [n for n in KPI_CONTRACT if n in summary]
    return names + [n for n in summary if n.startswith(("overdue_rate_by_level", "index_766"))]


def print_summary(
    summary: dict[str, Estimate], form: str = "table", where: dict[str, str] | None = None
) -> None:
    """A run's KPIs with their 95% intervals in one of ``SUMMARY_FORMATS``, as ``dvclab check --format``:
    a table (headline KPIs; names fold, never cut), plain lines (headline KPIs, one a line, for logs and
    grep), or every KPI as JSON or CSV (stdout then holds nothing else; ``where`` -- the results folder
    and report -- goes into the JSON document)."""
    if form == "json":
        document = {**(where or {}), "kpis": {name: e.as_dict() for name, e in summary.items()}}
        sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    elif form == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["kpi", "mean", "ci_low", "ci_high", "unit"])
        for name, e in summary.items():
            bounds = ["", ""] if math.isnan(e.ci_low) else [e.ci_low, e.ci_high]
            writer.writerow([name, e.mean, *bounds, e.unit])
    elif form == "plain":
        for name in headline_names(summary):
            e = summary[name]
            print(f"{name} {_number(e.mean, e.unit)} (95% CI {_interval(e)}) {e.unit}")
    else:
        _print_summary_table(summary)


def _number(value: float, unit: str) -> str:
    if value != value:  # NaN: one replication has no interval
        return "–"
    return f"{value:,.0f}" if unit == "dossiers" else f"{value:.4f}" if unit == "fraction" else f"{value:.2f}"


def _interval(e: Estimate) -> str:
    if math.isnan(e.ci_low):
        return "none: 1 replication"
    return f"{_number(e.ci_low, e.unit)} – {_number(e.ci_high, e.unit)}"


def _print_summary_table(summary: dict[str, Estimate]) -> None:
    from rich.table import Table

    table = Table(title="KPIs (mean and 95% CI over replications)")
    names = headline_names(summary)
    _columns(
        table, ("KPI", "mean", "95% CI", "unit"), ("KPI", "unit"), {"KPI": max(map(len, names), default=3)}
    )
    for name in names:
        e = summary[name]
        table.add_row(name, _number(e.mean, e.unit), _interval(e), e.unit)
    _console().print(table)


def print_comparison(comparisons: list[Comparison]) -> None:
    """Paired differences of the headline KPIs, coloured by verdict."""
    from rich.table import Table

    from dvclab.sim.kpis import KPI_CONTRACT
    from dvclab.sim.report import fmt

    def shown(kpi: str) -> bool:
        return kpi in KPI_CONTRACT or kpi.startswith("overdue_rate_by_level")

    table = Table(title="paired differences (what-if − baseline), 95% CI, common random numbers")
    widest = {
        "what-if": max((len(c.whatif.scenario.name) for c in comparisons), default=7),
        "KPI": max((len(r.kpi) for c in comparisons for r in c.rows if shown(r.kpi)), default=3),
    }
    columns = ("what-if", "KPI", "baseline", "what-if mean", "difference", "95% CI", "verdict")
    _columns(table, columns, ("what-if", "KPI", "verdict"), widest)
    for comparison in comparisons:
        for row in comparison.rows:
            if not shown(row.kpi):
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
    _console().print(table)


def print_sweep(sweep: Sweep, kpis: list[str]) -> None:
    """One row per value that ran, then a line per overloaded value (not in the table)."""
    print_sweep_table(sweep.param.path, list(sweep.param.values), sweep.experiments, kpis)
    for value, why in sweep.failed.items():
        print(f"{sweep.param.path}={value}: overloaded, not in the table ({why})")


def print_sweep_table(path: str, values: list[Any], experiments: list[Experiment], kpis: list[str]) -> None:
    from rich.table import Table

    from dvclab.sim.experiment import confidence_interval
    from dvclab.sim.report import fmt

    table = Table(title=f"sweep of {path} (mean and 95% CI)")
    table.add_column(path, overflow="fold")
    for kpi in kpis:
        table.add_column(kpi, justify="right", overflow="fold")
    for value, experiment in zip(values, experiments, strict=True):
        cells = []
        for kpi in kpis:
            e = confidence_interval(experiment.values(kpi), kpi)
            cells.append(f"{fmt(e.mean, e.unit)} ({fmt(e.ci_low, e.unit)} – {fmt(e.ci_high, e.unit)})")
        table.add_row(str(value), *cells)
    _console().print(table)


def print_plan(plan: Plan) -> None:
    """The plan's answer and how sure, in English (the report has the chosen language)."""
    from dvclab.sim.report import fmt, plan_summary

    print(plan_summary(plan, "en", closest=False))  # the nearest value has its own line below
    nearest = plan.nearest() if plan.answer is None else None
    if nearest is not None:
        point, missed_by = nearest
        e, target = point.estimate, plan.target
        assert e is not None  # nearest() only returns points with an estimate
        side = "upper" if target.upper else "lower"
        print(
            f"Nearest: {plan.path}={point.value} gives {target.kpi} {fmt(e.mean, e.unit)} "
            f"(95% CI {fmt(e.ci_low, e.unit)} – {fmt(e.ci_high, e.unit)}); its {side} bound "
            f"{fmt(target.bound(e), e.unit)} misses {target} by {fmt(missed_by, e.unit)}; "
            f"{point.confidence:.1%} sure the target holds there."
        )
