"""The report's plots, one function each, for one scenario or several side by side.

Figures are built with ``matplotlib.figure.Figure`` (no pyplot state, safe in any process) in DejaVu
Sans, which ships with matplotlib and has the Vietnamese glyphs (ă, ơ, ư, ộ, ữ …). Every plot takes the
scenarios as (label, experiment) pairs and the report language.
"""

from __future__ import annotations

import base64
import datetime as dt
import io

import numpy as np
from matplotlib import rcParams
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from dvclab.catalog import LEVELS
from dvclab.sim import report_format
from dvclab.sim.experiment import NON_NEGATIVE, Estimate, Experiment, confidence_interval
from dvclab.sim.kpis import INDEX_766_MAX, unit_of
from dvclab.sim.observe import WAIT_EDGES, ObservedOutput, utilisation_heatmap
from dvclab.sim.report_text import code_label, kpi_label, text
from dvclab.sim.scenario import CHANNELS

rcParams["font.family"] = "DejaVu Sans"
Labelled = list[tuple[str, Experiment]]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b"]
REFERENCE_766 = 82.18  # Nam Định 2024, Decision 766 service index (of 100)


def png(figure: Figure) -> str:
    """The figure as a base64 PNG, for an ``<img src="data:image/png;base64,…">``."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=96, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _percent_axis(axes: Axes, lang: str, which: str = "y") -> None:
    """Rates on this axis as percentages in the language's style (``2,5 %``)."""
    axis = axes.yaxis if which == "y" else axes.xaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: report_format.percent(v, lang, decimals=1)))


def _number_axis(axes: Axes, lang: str, which: str = "y") -> None:
    axis = axes.yaxis if which == "y" else axes.xaxis
    axis.set_major_formatter(FuncFormatter(lambda v, _: report_format.axis_number(v, lang)))


def _errors(estimates: list[Estimate]) -> np.ndarray:
    return np.array([[e.mean - e.ci_low for e in estimates], [e.ci_high - e.mean for e in estimates]])


def _grouped_bars(axes, names: list[str], runs: Labelled, horizontal: bool = False) -> None:  # noqa: ANN001
    width = 0.8 / len(runs)
    positions = np.arange(len(names))
    for k, (label, experiment) in enumerate(runs):
        summary = experiment.summary()
        estimates = [summary.get(n, Estimate(np.nan, np.nan, np.nan, "")) for n in names]
        means = [e.mean for e in estimates]
        offset = positions + (k - (len(runs) - 1) / 2) * width
        bar = axes.barh if horizontal else axes.bar
        bar(
            offset,
            means,
            width,
            label=label,
            color=COLOURS[k % len(COLOURS)],
            **{"xerr" if horizontal else "yerr": np.nan_to_num(_errors(estimates))},
            capsize=2,
        )


def overdue(runs: Labelled, lang: str) -> Figure:
    summary = runs[0][1].summary()
    levels = [n for n in LEVELS if f"overdue_rate_by_level.{n}" in summary]
    groups = sorted(
        (n for n in summary if n.startswith("overdue_rate_by_group.")), key=lambda n: summary[n].mean
    )[-12:]
    figure = Figure(figsize=(11, 4.6))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
    _grouped_bars(left, [f"overdue_rate_by_level.{n}" for n in levels], runs)
    left.set_xticks(range(len(levels)), [code_label(lang, "level", n) for n in levels])
    _percent_axis(left, lang)
    left.set_title(text(lang, "plot_overdue_level"))
    left.set_ylabel(text(lang, "plot_overdue_axis"))
    _grouped_bars(right, groups, runs, horizontal=True)
    right.set_yticks(range(len(groups)), [code_label(lang, "group", g.split(".", 1)[1]) for g in groups])
    _percent_axis(right, lang, "x")
    right.set_title(text(lang, "plot_overdue_group"))
    right.set_xlabel(text(lang, "plot_overdue_axis"))
    if len(runs) > 1:
        right.legend(fontsize=8)
    figure.suptitle(text(lang, "plot_overdue"))
    return figure


def counter_waits(runs: Labelled, lang: str) -> Figure:
    """Share of counter visits that waited at most x open minutes (mean over replications, CI band)."""
    figure = Figure(figsize=(8, 4.2))
    axes = figure.subplots()
    x = WAIT_EDGES[1:-1]
    reach = 30.0  # the x axis ends where every curve has (nearly) reached 1
    for k, (label, experiment) in enumerate(runs):
        observed = [o for o in experiment.outputs if isinstance(o, ObservedOutput)]
        if not observed:
            continue
        curves = []
        for output in observed:
            counts = output.counter_wait_counts
            total = counts.sum()
            curves.append(np.cumsum(counts)[:-1] / total if total else np.ones(len(x)))
        curves = np.array(curves)
        estimates = [confidence_interval(curves[:, j], within=(0.0, 1.0)) for j in range(len(x))]
        colour = COLOURS[k % len(COLOURS)]
        below = np.flatnonzero(curves.min(axis=0) < 0.999)
        reach = max(reach, float(x[below[-1]]) * 1.2 if below.size else 0.0)
        axes.plot(x, [e.mean for e in estimates], color=colour, label=label, drawstyle="steps-post")
        axes.fill_between(
            x,
            [e.ci_low for e in estimates],
            [e.ci_high for e in estimates],
            color=colour,
            alpha=0.2,
            step="post",
        )
    axes.set_xlabel(text(lang, "plot_wait_x"))
    axes.set_ylabel(text(lang, "plot_wait_y"))
    axes.set_ylim(0, 1.02)
    _percent_axis(axes, lang)
    _number_axis(axes, lang, "x")
    axes.set_xlim(0, min(reach, float(x[-1])))
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    axes.set_title(text(lang, "plot_wait"))
    return figure


def backlog(runs: Labelled, lang: str) -> Figure:
    """Dossiers in progress at each day's end (what ``backlog_by_day.csv`` holds), mean and CI band."""
    figure = Figure(figsize=(10, 4))
    axes = figure.subplots()
    for k, (label, experiment) in enumerate(runs):
        series = np.array([o.backlog_by_day for o in experiment.outputs])
        start = experiment.scenario.run.start_date
        days = [start + dt.timedelta(days=d) for d in range(series.shape[1])]
        estimates = [confidence_interval(series[:, d], within=NON_NEGATIVE) for d in range(series.shape[1])]
        colour = COLOURS[k % len(COLOURS)]
        axes.plot(days, [e.mean for e in estimates], color=colour, label=label)
        axes.fill_between(
            days, [e.ci_low for e in estimates], [e.ci_high for e in estimates], color=colour, alpha=0.2
        )
    axes.set_ylabel(text(lang, "plot_backlog_y"))
    _number_axis(axes, lang)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=8)
    axes.set_title(text(lang, "plot_backlog"))
    figure.autofmt_xdate()
    return figure


def channel_mix(runs: Labelled, lang: str) -> Figure:
    figure = Figure(figsize=(11, 4.4))
    left, right = figure.subplots(1, 2)
    labels = [label for label, _ in runs]
    bottoms = np.zeros(len(runs))
    for c, channel in enumerate(CHANNELS):
        shares = []
        for _, experiment in runs:
            observed = [o for o in experiment.outputs if isinstance(o, ObservedOutput)]
            counts = np.sum([o.channel_counts for o in observed], axis=0) if observed else None
            shares.append(counts[c] / counts.sum() if counts is not None and counts.sum() else 0.0)
        left.bar(
            labels, shares, bottom=bottoms, label=text(lang, f"ch_{channel}"), color=COLOURS[c % len(COLOURS)]
        )
        bottoms += shares
    left.set_ylabel(text(lang, "plot_channels_share"))
    left.set_ylim(0, 1)
    left.legend(fontsize=7, loc="lower right")
    _grouped_bars(right, ["reported_online_rate", "self_service_online_rate"], runs)
    right.set_xticks([0, 1], [text(lang, "reported_online"), text(lang, "genuine_online")], fontsize=8)
    right.set_ylim(0, 1)
    right.set_ylabel(text(lang, "plot_channels_share"))
    if len(runs) > 1:
        right.legend(fontsize=8)
    for axes in (left, right):
        axes.tick_params(axis="x", labelsize=8)
        _percent_axis(axes, lang)
    figure.suptitle(text(lang, "plot_channels"))
    return figure


def utilisation(runs: Labelled, lang: str) -> Figure:
    """Officers' utilisation by weekday × hour: one-stop counters (reception minutes over officer-minutes
    open) beside the back office (working minutes over officer-minutes open)."""
    figure = Figure(figsize=(13, 2.6 * len(runs) + 0.8), layout="constrained")
    grid_axes = figure.subplots(len(runs), 2, squeeze=False)
    image = None
    for row, (label, experiment) in zip(grid_axes, runs, strict=True):
        for axes, officers in zip(row, ("counter", "back_office"), strict=True):
            heat = utilisation_heatmap(experiment.outputs, officers)
            if heat is None:
                heat = np.full((7, 24), np.nan)
            hours = [h for h in range(24) if not np.all(np.isnan(heat[:, h]))] or list(range(24))
            grid = np.ma.masked_invalid(heat[:, hours[0] : hours[-1] + 1])
            image = axes.imshow(grid, aspect="auto", cmap="viridis", vmin=0, vmax=1)
            axes.set_yticks(range(7), text(lang, "weekdays").split(","))
            axes.set_xticks(range(len(grid[0])), [str(h) for h in range(hours[0], hours[-1] + 1)])
            axes.set_title(f"{label} · {text(lang, f'heatmap_{officers}')}", fontsize=9)
    for axes in grid_axes[-1]:
        axes.set_xlabel(text(lang, "hour"))
    figure.colorbar(image, ax=list(grid_axes.ravel()), label=text(lang, "utilisation"))
    figure.suptitle(text(lang, "plot_heatmap"))
    return figure


def index_766(runs: Labelled, lang: str) -> Figure:
    groups = list(INDEX_766_MAX)
    figure = Figure(figsize=(11, 4.4))
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [2, 1]})
    positions = np.arange(len(groups))
    left.bar(
        positions,
        [INDEX_766_MAX[g] for g in groups],
        0.85,
        color="none",
        edgecolor="#555",
        linestyle="--",
        label=text(lang, "plot_766_max"),
    )
    _grouped_bars(left, [f"index_766.{g}" for g in groups], runs)
    left.set_xticks(positions, [text(lang, f"g766_{g}") for g in groups], fontsize=8)
    left.set_ylabel(text(lang, "plot_766_points"))
    left.legend(fontsize=8)
    covered = sum(INDEX_766_MAX.values())
    shares = []
    for _, experiment in runs:
        totals = np.sum([experiment.values(f"index_766.{g}") for g in groups], axis=0)
        shares.append(confidence_interval(100 * totals / covered, within=(0.0, 100.0)))
    labels = [label for label, _ in runs]
    right.bar(
        labels,
        [e.mean for e in shares],
        yerr=_errors(shares),
        capsize=3,
        color=[COLOURS[k % len(COLOURS)] for k in range(len(runs))],
    )
    right.axhline(REFERENCE_766, color="black", linestyle=":", label=text(lang, "plot_766_reference"))
    right.set_ylim(0, 100)
    _number_axis(right, lang)
    right.set_ylabel(text(lang, "plot_766_share"))
    right.set_title(text(lang, "plot_766_covered"), fontsize=9)
    right.legend(fontsize=7, loc="lower right")
    right.tick_params(axis="x", labelsize=8)
    figure.suptitle(text(lang, "plot_766"))
    return figure


def forest(rows: list[tuple[str, str, Estimate, float]], lang: str) -> Figure:
    """Paired differences as % of the baseline mean: (what-if label, kpi, difference, baseline mean)."""
    kpis = list(dict.fromkeys(kpi for _, kpi, _, _ in rows))
    labels = list(dict.fromkeys(label for label, _, _, _ in rows))
    figure = Figure(figsize=(9, 0.45 * len(kpis) * len(labels) + 1.4))
    axes = figure.subplots()
    ticks, names = [], []
    y = 0
    for kpi in kpis:
        for k, label in enumerate(labels):
            for row_label, row_kpi, diff, base in rows:
                if row_label == label and row_kpi == kpi and base:
                    scale = 100 / abs(base)
                    axes.errorbar(
                        diff.mean * scale,
                        y,
                        xerr=[[(diff.mean - diff.ci_low) * scale], [(diff.ci_high - diff.mean) * scale]],
                        fmt="o",
                        color=COLOURS[k % len(COLOURS)],
                        capsize=3,
                        label=label if kpi == kpis[0] else None,
                    )
            y += 1
        ticks.append(y - (len(labels) + 1) / 2)
        names.append(kpi_label(lang, kpi))
        y += 0.5
    axes.axvline(0, color="black", linewidth=0.8)
    axes.set_yticks(ticks, names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel(text(lang, "plot_forest_axis"))
    _number_axis(axes, lang, "x")
    axes.grid(alpha=0.3, axis="x")
    axes.legend(fontsize=8)
    axes.set_title(text(lang, "plot_forest"))
    return figure


def sweep_curves(
    path: str,
    values: list,
    experiments: list[Experiment],
    kpis: list[str],
    lang: str,
    target: tuple[str, float] | None = None,
) -> Figure:
    columns = min(2, len(kpis))
    rows = (len(kpis) + columns - 1) // columns
    figure = Figure(figsize=(5.2 * columns, 3.4 * rows))
    axes_list = figure.subplots(rows, columns, squeeze=False).ravel()
    numeric = all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
    x = np.array(values, dtype=float) if numeric else np.arange(len(values))
    for axes, kpi in zip(axes_list, kpis, strict=False):
        estimates = [confidence_interval(e.values(kpi), kpi) for e in experiments]
        axes.plot(x, [e.mean for e in estimates], "o-", color=COLOURS[0])
        axes.fill_between(
            x, [e.ci_low for e in estimates], [e.ci_high for e in estimates], color=COLOURS[0], alpha=0.25
        )
        if target and target[0] == kpi:
            axes.axhline(target[1], color=COLOURS[1], linestyle="--", label=text(lang, "target"))
            axes.legend(fontsize=8)
        if not numeric:
            axes.set_xticks(x, [str(v) for v in values])
        axes.set_title(kpi_label(lang, kpi), fontsize=9)
        if unit_of(kpi) == "fraction":
            _percent_axis(axes, lang)
        else:
            _number_axis(axes, lang)
        axes.set_xlabel(path, fontsize=8)
        axes.grid(alpha=0.3)
    for axes in axes_list[len(kpis) :]:
        axes.axis("off")
    figure.suptitle(text(lang, "plot_sweep"))
    figure.tight_layout()
    return figure
