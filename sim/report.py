"""One self-contained HTML report per run, comparison, sweep or plan (plots embedded as base64 PNG).

The sections follow STRESS-DES (Monks et al. 2019): objective; model logic (the pipeline's flow
diagram); data and assumptions (what is sourced, what is estimated); experimentation (replications,
seeds, warm-up, horizon); results with 95% confidence intervals. A comparison leads with what the
what-ifs change. Words come from ``sim.report_text`` in Vietnamese or English.

Over ~400 lines because it is one concept: the four reports are assembled from the same STRESS-DES
sections, tables and figures, kept together so they stay alike.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from dvclab.catalog import Procedure
from dvclab.sim import plots
from dvclab.sim.compare import Comparison
from dvclab.sim.experiment import Estimate, Experiment, confidence_interval
from dvclab.sim.flow import flow_figure
from dvclab.sim.kpis import KPI_CONTRACT
from dvclab.sim.plan import Plan
from dvclab.sim.report_text import kpi_label, text
from dvclab.sim.results import versions
from dvclab.sim.sweep import Sweep

# the report's headline KPIs: the kpis.json contract, with the apology slips and without the count
HEADLINE = (*KPI_CONTRACT[1:4], "apology_slips", *KPI_CONTRACT[4:])
# the plots every run, comparison and sweep report carries (their HTML ids)
RESULT_PLOTS = ("plot-overdue", "plot-wait", "plot-backlog", "plot-channels", "plot-heatmap", "plot-766")
SECTIONS = ("objective", "logic", "data", "experimentation", "results")

_CSS = """
body{font-family:'DejaVu Sans',Arial,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{font-size:1.6em}h2{border-bottom:2px solid #34495e;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;font-size:.88em}
th,td{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#eef2f5}
td.n{text-align:right;white-space:nowrap}
figure{margin:1em 0}figure img{max-width:100%}figcaption{font-size:.9em;color:#555}
.better{background:#d9f2dd}.worse{background:#f8d7d7}
.partial{background:#fff3cd;padding:.6em;border:1px solid #e0c36c}
.small{font-size:.85em;color:#555}code{font-size:.9em}
"""


# -- building blocks --------------------------------------------------------------------------------
def _e(value: Any) -> str:
    return html.escape(str(value))


def fmt(value: float, unit: str = "") -> str:
    if value != value:  # NaN: no data
        return "–"
    if unit == "dossiers":
        return f"{value:,.0f}" if value == int(value) or abs(value) >= 100 else f"{value:,.1f}"
    if unit == "fraction":
        return f"{value:.4f}"
    if unit == "VND":
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


_NUMERIC = re.compile(r"^[-+−–\d.,\s%()]+$")


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for k, row in enumerate(rows):
        css = f' class="{classes[k]}"' if classes and classes[k] else ""
        cells = "".join(
            f'<td class="n">{_e(c)}</td>' if _NUMERIC.match(str(c)) else f"<td>{_e(c)}</td>" for c in row
        )
        body.append(f"<tr{css}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _figure(plot_id: str, figure: Any, caption: str) -> str:
    return (
        f'<figure id="{plot_id}"><img alt="{_e(caption)}" src="data:image/png;base64,{plots.png(figure)}">'
        f"<figcaption>{_e(caption)}</figcaption></figure>"
    )


def _section(key: str, lang: str, body: str) -> str:
    return f'<section id="{key}"><h2>{_e(text(lang, key))}</h2>{body}</section>'


def _page(title: str, lang: str, body: str, partial: bool) -> str:
    banner = f'<p class="partial">{_e(text(lang, "partial_banner"))}</p>' if partial else ""
    created = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return (
        f'<!DOCTYPE html>\n<html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>{banner}{body}"
        f'<p class="small">{_e(text(lang, "generated"))}: {created} · dvclab</p></body></html>\n'
    )


# -- STRESS-DES sections ------------------------------------------------------------------------------
def _logic(lang: str) -> str:
    return _section(
        "logic",
        lang,
        f"<p>{_e(text(lang, 'logic_text'))}</p>"
        + _figure("plot-flow", flow_figure(lang), text(lang, "flow_caption")),
    )


def estimated_parameters(source: str) -> list[tuple[str, str, str, str]]:
    """(file, parameter, value, note) for every line a scenario file (and what it extends) marks EST or
    VERIFY in a comment; a comment on its own line applies to the next key."""
    found: list[tuple[str, str, str, str]] = []
    path: Path | None = Path(source) if source else None
    seen: set[Path] = set()
    while path is not None and path.is_file() and path not in seen:
        seen.add(path)
        pending = ""
        parent = None
        for line in path.read_text(encoding="utf-8").splitlines():
            code, _, comment = line.partition("#")
            key_match = re.match(r"\s*([A-Za-z_][\w\-]*)\s*:\s*(.*)$", code)
            if key_match and key_match.group(1) == "extends":
                parent = path.parent / key_match.group(2).strip()
            marked = re.search(r"\b(EST|VERIFY)\b", comment)
            if key_match:
                note = comment.strip() if marked else pending
                if note:
                    found.append((path.name, key_match.group(1), key_match.group(2).strip(), note))
                pending = ""
            elif marked and not code.strip():
                pending = comment.strip()
        path = parent.resolve() if parent else None
    return found


def _data(experiment: Experiment, catalog: list[Procedure], lang: str) -> str:
    sourced = [p for p in catalog if p.sourced]
    total_weight = sum(p.demand_weight for p in catalog) or 1.0
    share = sum(p.demand_weight for p in sourced) / total_weight
    body = (
        "<p>"
        + _e(
            text(
                lang,
                "data_catalog",
                total=len(catalog),
                sourced=len(sourced),
                sourced_share=f"{share:.0%}",
                estimated=len(catalog) - len(sourced),
            )
        )
        + "</p>"
    )
    rows = estimated_parameters(experiment.scenario.source)
    body += f"<p>{_e(text(lang, 'data_params'))}</p>"
    if rows:
        header = [text(lang, "file"), text(lang, "parameter"), text(lang, "value"), text(lang, "note")]
        body += _table(header, rows)
    else:
        body += f"<p>{_e(text(lang, 'data_none'))}</p>"
    return _section("data", lang, body)


def _experimentation(runs: list[Experiment], lang: str, command: list[str]) -> str:
    rows = []
    for experiment in runs:
        s = experiment.scenario
        warmup = (
            text(lang, "exp_warmup_days", days=s.startup.warmup_days)
            if s.startup.mode == "warmup"
            else text(lang, "exp_backlog")
        )
        reps = f"{experiment.replications}"
        if experiment.partial:
            reps += f" / {experiment.requested}"
        rows.append([s.name, reps, s.run.seed, s.run.start_date.isoformat(), s.run.horizon_days, warmup])
    header = [
        text(lang, k)
        for k in ("exp_scenario", "exp_replications", "exp_seed", "exp_start", "exp_horizon", "exp_warmup")
    ]
    software = ", ".join(f"{k} {v}" for k, v in versions().items())
    body = (
        _table(header, rows)
        + f"<p>{_e(text(lang, 'exp_crn'))} {_e(text(lang, 'exp_ci'))}</p>"
        + f"<p class='small'>{_e(text(lang, 'exp_software'))}: {_e(software)}<br>"
        + f"{_e(text(lang, 'exp_command'))}: <code>{_e(' '.join(command))}</code></p>"
    )
    return _section("experimentation", lang, body)


def _kpi_table(experiment: Experiment, lang: str, names: Iterable[str]) -> str:
    summary = experiment.summary()
    rows = []
    for name in names:
        if name in summary:
            e = summary[name]
            rows.append(
                [
                    kpi_label(lang, name),
                    fmt(e.mean, e.unit),
                    f"{fmt(e.ci_low, e.unit)} – {fmt(e.ci_high, e.unit)}",
                    e.unit,
                ]
            )
    return _table([text(lang, k) for k in ("kpi", "mean", "ci", "unit")], rows)


def _result_plots(runs: plots.Labelled, lang: str) -> str:
    figures = [
        ("plot-overdue", plots.overdue, "plot_overdue"),
        ("plot-wait", plots.counter_waits, "plot_wait"),
        ("plot-backlog", plots.backlog, "plot_backlog"),
        ("plot-channels", plots.channel_mix, "plot_channels"),
        ("plot-heatmap", plots.utilisation, "plot_heatmap"),
        ("plot-766", plots.index_766, "plot_766"),
    ]
    parts = []
    for plot_id, draw, caption in figures:
        parts.append(_figure(plot_id, draw(runs, lang), text(lang, caption)))
        if plot_id == "plot-766":
            parts.append(f"<p class='small'>{_e(text(lang, 'note_766'))}</p>")
    return "".join(parts)


def _all_kpis(experiment: Experiment, lang: str) -> str:
    rest = [n for n in experiment.kpi_names() if n not in HEADLINE]
    summary = f"<summary>{_e(text(lang, 'all_kpis'))}</summary>"
    return f"<details>{summary}{_kpi_table(experiment, lang, rest)}</details>"


# -- reports ------------------------------------------------------------------------------------------
def run_report(experiment: Experiment, catalog: list[Procedure], lang: str, command: list[str]) -> str:
    name = experiment.scenario.name
    results = _kpi_table(experiment, lang, HEADLINE) + _all_kpis(experiment, lang)
    results += _result_plots([(name, experiment)], lang)
    body = (
        _section("objective", lang, f"<p>{_e(text(lang, 'objective_run', name=name))}</p>")
        + _logic(lang)
        + _data(experiment, catalog, lang)
        + _experimentation([experiment], lang, command)
        + _section("results", lang, results)
    )
    return _page(f"{text(lang, 'run_title')}: {name}", lang, body, experiment.partial)


def _changes_table(comparisons: list[Comparison], lang: str) -> str:
    rows = []
    for comparison in comparisons:
        for path, old, new in comparison.changes:
            rows.append([comparison.whatif.scenario.name, path, _short(old), _short(new)])
    if not rows:
        return f"<p>{_e(text(lang, 'no_changes'))}</p>"
    header = [text(lang, "whatif"), text(lang, "parameter"), text(lang, "baseline"), text(lang, "whatif")]
    return _table(header, rows)


def _short(value: Any) -> str:
    words = str(value)
    return words if len(words) <= 80 else words[:77] + "…"


def _differences_table(comparisons: list[Comparison], lang: str) -> str:
    """Headline KPIs, overdue by level and every significant change first; the rest folded away."""
    main: tuple[list[list[str]], list[str]] = ([], [])
    more: tuple[list[list[str]], list[str]] = ([], [])
    for comparison in comparisons:
        for row in comparison.rows:
            d = row.difference
            unit = d.unit
            cells = [
                comparison.whatif.scenario.name,
                kpi_label(lang, row.kpi),
                fmt(row.base, unit),
                fmt(row.whatif, unit),
                fmt(d.mean, unit),
                f"{fmt(d.ci_low, unit)} – {fmt(d.ci_high, unit)}",
                text(lang, row.verdict),
            ]
            headline = row.kpi in HEADLINE or row.kpi.startswith("overdue_rate_by_level")
            rows, classes = main if headline or row.verdict != "no significant change" else more
            rows.append(cells)
            classes.append(row.verdict if row.verdict in ("better", "worse") else "")
    keys = ("whatif", "kpi", "baseline_mean", "whatif_mean", "difference", "ci", "verdict")
    header = [text(lang, k) for k in keys]
    folded = f"<details><summary>{_e(text(lang, 'all_kpis'))}</summary>{_table(header, *more)}</details>"
    return _table(header, *main) + (folded if more[0] else "")


def compare_report(
    comparisons: list[Comparison], catalog: list[Procedure], lang: str, command: list[str]
) -> str:
    base = comparisons[0].base
    runs = [(base.scenario.name, base)] + [(c.whatif.scenario.name, c.whatif) for c in comparisons]
    forest_rows = [
        (c.whatif.scenario.name, row.kpi, row.difference, row.base)
        for c in comparisons
        for row in c.rows
        if row.kpi in HEADLINE
    ]
    body = (
        f'<section id="changes"><h2>{_e(text(lang, "changes"))}</h2>'
        + _changes_table(comparisons, lang)
        + "</section>"
        + f'<section id="differences"><h2>{_e(text(lang, "differences"))}</h2>'
        + _differences_table(comparisons, lang)
        + _figure("plot-forest", plots.forest(forest_rows, lang), text(lang, "plot_forest"))
        + "</section>"
        + _section(
            "objective", lang, f"<p>{_e(text(lang, 'objective_compare', base=base.scenario.name))}</p>"
        )
        + _logic(lang)
        + _data(base, catalog, lang)
        + _experimentation([experiment for _, experiment in runs], lang, command)
        + _section("results", lang, _result_plots(runs, lang))
    )
    partial = any(experiment.partial for _, experiment in runs)
    title = f"{text(lang, 'compare_title')}: {base.scenario.name} – " + ", ".join(n for n, _ in runs[1:])
    return _page(title, lang, body, partial)


def _sweep_table(
    path: str,
    values: list[Any],
    experiments: list[Experiment],
    kpis: list[str],
    failed: dict[Any, str],
    lang: str,
) -> str:
    header = [path] + [f"{kpi_label(lang, k)} ({text(lang, 'ci')})" for k in kpis]
    rows = []
    for value, experiment in zip(values, experiments, strict=True):
        cells = [value]
        for kpi in kpis:
            e: Estimate = confidence_interval(experiment.values(kpi), kpi)
            cells.append(f"{fmt(e.mean, e.unit)} ({fmt(e.ci_low, e.unit)} – {fmt(e.ci_high, e.unit)})")
        rows.append(cells)
    for value in failed:
        rows.append([value] + [text(lang, "failed_point")] + [""] * (len(kpis) - 1))
    return _table(header, rows)


def sweep_report(
    sweep: Sweep, catalog: list[Procedure], kpis: list[str], lang: str, command: list[str]
) -> str:
    name = sweep.base.name
    values, experiments = list(sweep.param.values), sweep.experiments
    middle = experiments[len(experiments) // 2]
    results = (
        f"<h3>{_e(text(lang, 'sweep_table'))}</h3>"
        + _sweep_table(sweep.param.path, values, experiments, kpis, sweep.failed, lang)
        + _figure(
            "plot-sweep",
            plots.sweep_curves(sweep.param.path, values, experiments, kpis, lang),
            text(lang, "plot_sweep"),
        )
        + _result_plots(
            [(f"{sweep.param.path}={v}", e) for v, e in zip(values, experiments, strict=True)][:4]
            if len(experiments) <= 4
            else [(middle.scenario.name, middle)],
            lang,
        )
    )
    body = (
        _section(
            "objective", lang, f"<p>{_e(text(lang, 'objective_sweep', path=sweep.param.path, name=name))}</p>"
        )
        + _logic(lang)
        + _data(middle, catalog, lang)
        + _experimentation(experiments, lang, command)
        + _section("results", lang, results)
    )
    return _page(f"{text(lang, 'sweep_title')}: {name} · {sweep.param.path}", lang, body, sweep.partial)


def plan_summary(plan: Plan, lang: str) -> str:
    """The plan's answer in one or two sentences (also printed by the CLI)."""
    kpi = plan.target.kpi
    answer = plan.answer
    if answer is None or answer.estimate is None:
        return text(lang, "plan_none", target=str(plan.target))
    e = answer.estimate
    words = text(
        lang,
        "plan_answer",
        path=plan.path,
        value=answer.value,
        kpi=kpi_label(lang, kpi),
        mean=fmt(e.mean, e.unit),
        low=fmt(e.ci_low, e.unit),
        high=fmt(e.ci_high, e.unit),
        confidence=f"{answer.confidence:.1%}",
    )
    if plan.partial:
        words = text(lang, "plan_partial") + " " + words
    below = plan.below
    if below is not None:
        if below.estimate is None:
            words += " " + text(
                lang,
                "plan_below",
                value=below.value,
                kpi=kpi_label(lang, kpi),
                mean=text(lang, "failed_point"),
                bound="–",
            )
        else:
            b = below.estimate
            bound = b.ci_high if plan.target.upper else b.ci_low
            words += " " + text(
                lang,
                "plan_below",
                value=below.value,
                kpi=kpi_label(lang, kpi),
                mean=fmt(b.mean, b.unit),
                bound=fmt(bound, b.unit),
            )
    return words


def plan_report(
    plan: Plan, base_name: str, catalog: list[Procedure], kpis: list[str], lang: str, command: list[str]
) -> str:
    ran = [p for p in plan.sorted_points() if p.experiment is not None]
    values = [p.value for p in ran]
    experiments = [p.experiment for p in ran if p.experiment is not None]
    rows = []
    for p in plan.sorted_points():
        e = p.estimate
        rows.append(
            [
                p.value,
                f"{fmt(e.mean, e.unit)} ({fmt(e.ci_low, e.unit)} – {fmt(e.ci_high, e.unit)})"
                if e
                else p.note,
                text(lang, "yes" if p.met else "no") + (f" ({p.note})" if p.note and e else ""),
                f"{p.confidence:.1%}",
            ]
        )
    header = [plan.path, kpi_label(lang, plan.target.kpi), text(lang, "meets"), text(lang, "confidence")]
    chosen = plan.answer.experiment if plan.answer and plan.answer.experiment else experiments[-1]
    results = (
        f"<p><strong>{_e(plan_summary(plan, lang))}</strong></p>"
        + f"<h3>{_e(text(lang, 'plan_points'))}</h3>"
        + _table(header, rows)
        + _figure(
            "plot-sweep",
            plots.sweep_curves(
                plan.path, values, experiments, kpis, lang, (plan.target.kpi, plan.target.value)
            ),
            text(lang, "plot_sweep"),
        )
        + _result_plots([(chosen.scenario.name, chosen)], lang)
    )
    body = (
        _section(
            "objective",
            lang,
            "<p>"
            + _e(text(lang, "objective_plan", path=plan.path, target=str(plan.target), name=base_name))
            + "</p>",
        )
        + _logic(lang)
        + _data(chosen, catalog, lang)
        + _experimentation(experiments, lang, command)
        + _section("results", lang, results)
    )
    return _page(f"{text(lang, 'plan_title')}: {base_name} · {plan.target}", lang, body, plan.partial)
