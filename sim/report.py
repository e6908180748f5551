"""One self-contained HTML report per run, comparison, sweep or plan (plots embedded as base64 PNG).

The page opens with a first screen that says in plain words what was asked, the answer, and how sure it
is; then the STRESS-DES sections (Monks et al. 2019): objective; model logic (the pipeline's flow
diagram); data and assumptions (what is sourced, what is estimated); experimentation (replications,
seeds, warm-up, horizon); results with 95% confidence intervals. The page is a jinja2 template
(``templates/report.html.j2``) fed with blocks (paragraphs, tables, figures) built here; words come from
``sim.report_text``, numbers are formatted for the language by ``sim.report_format``.

Over ~400 lines because it is one concept: the four reports are assembled from the same first screen,
STRESS-DES sections, tables and figures, kept together so they stay alike.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from dvclab.catalog import Procedure
from dvclab.sim import plots
from dvclab.sim import report_format as f
from dvclab.sim.assumptions import estimated_parameters
from dvclab.sim.compare import MINIMAL_DIFFERENCE, Comparison
from dvclab.sim.experiment import Estimate, Experiment
from dvclab.sim.flow import flow_figure
from dvclab.sim.kpis import KPI_CONTRACT
from dvclab.sim.plan import Plan
from dvclab.sim.report_text import code_label, kpi_label, text
from dvclab.sim.results import versions
from dvclab.sim.scenario import Scenario
from dvclab.sim.sweep import Sweep
from dvclab.sim.warmup import report_block

# the report's headline KPIs: the kpis.json contract, with the apology slips and without the count
HEADLINE = (*KPI_CONTRACT[1:4], "apology_slips", *KPI_CONTRACT[4:])
# the few a first screen shows: overdue, waiting, trips, genuine and reported online, digitised
FIRST_SCREEN = (
    "overdue_rate",
    "counter_wait_mean_min",
    "trips_per_dossier",
    "self_service_online_rate",
    "reported_online_rate",
    "digitised_rate",
)
# the plots every run, comparison and sweep report carries (their HTML ids)
RESULT_PLOTS = ("plot-overdue", "plot-wait", "plot-backlog", "plot-channels", "plot-heatmap", "plot-766")
SECTIONS = ("objective", "logic", "data", "experimentation", "results")

Block = dict[str, Any]


# -- the template -------------------------------------------------------------------------------------
_NUMERIC = re.compile(r"^[-+−–\d.,\s%()\u00a0]+$")


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("dvclab.sim", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    environment.tests["numeric_cell"] = lambda cell: bool(_NUMERIC.match(str(cell)))
    return environment


def _page(
    title: str,
    lang: str,
    summary: list[Block],
    sections: list[Block],
    partial: bool,
    subtitle: str = "",
) -> str:
    created = dt.datetime.now(dt.UTC)
    return (
        _environment()
        .get_template("report.html.j2")
        .render(
            lang=lang,
            title=title,
            subtitle=subtitle,
            partial=text(lang, "partial_banner") if partial else "",
            summary=summary,
            sections=sections,
            generated=f"{text(lang, 'generated')}: {f.date(created.date(), lang)} {created:%H:%M} UTC",
        )
    )


# -- building blocks ----------------------------------------------------------------------------------
def fmt(value: float, unit: str = "") -> str:
    """A value in plain English style for the terminal (``sim.console``); the report uses report_format."""
    if value != value:  # NaN: no data
        return "–"
    if unit == "dossiers":
        return f"{value:,.0f}" if value == int(value) or abs(value) >= 100 else f"{value:,.1f}"
    if unit == "fraction":
        return f"{value:.4f}"
    if unit == "VND":
        return f"{value:,.0f}"
    return f"{value:.3f}" if abs(value) < 10 else f"{value:,.1f}"


def _p(words: str, css: str = "") -> Block:
    return {"kind": "p", "text": words, "css": css}


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]], classes: list[str] | None = None) -> Block:
    return {
        "kind": "table",
        "header": list(header),
        "rows": [list(r) for r in rows],
        "classes": classes,
        "css": "",
    }


def _figure(plot_id: str, figure: Any, caption: str) -> Block:
    return {"kind": "figure", "id": plot_id, "png": plots.png(figure), "caption": caption}


def _section(key: str, lang: str, blocks: list[Block], title: str = "") -> Block:
    return {"id": key, "title": title or text(lang, key), "blocks": blocks}


def words_for(scenario: Scenario, lang: str = "en") -> str:
    """A scenario in words for a headline: its own description's first clause (in ``lang`` when the
    description has one text per language), else its name unslugged (a description inherited through
    ``extends`` belongs to the parent, not to this scenario)."""
    own = ""
    if scenario.source and Path(scenario.source).is_file():
        own_file = Path(scenario.source).read_text(encoding="utf-8")
        if re.search(r"^description\s*:", own_file, re.MULTILINE):
            described = scenario.description
            if isinstance(described, dict):
                described = described.get(lang) or described.get("en") or next(iter(described.values()), "")
            own = described
    clause = re.split(r"[:.(]| - ", " ".join(own.split()), maxsplit=1)[0].strip()
    if clause:
        return clause if len(clause) <= 90 else clause[:87] + "…"
    return scenario.name.replace("-", " ").replace("_", " ")


def _unit(lang: str, unit: str) -> str:
    return code_label(lang, "unit", unit) if unit else ""


def labelled_with_unit(lang: str, kpi: str, unit: str) -> str:
    """A KPI's name with its unit where the value alone does not say it (rates print with ``%``)."""
    return (
        kpi_label(lang, kpi) if unit in ("fraction", "") else f"{kpi_label(lang, kpi)} ({_unit(lang, unit)})"
    )


def _estimate_cells(e: Estimate, lang: str) -> list[str]:
    return [f.value(e.mean, e.unit, lang), f.interval(e.ci_low, e.ci_high, e.unit, lang)]


def _how_sure(lang: str, experiment: Experiment) -> Block:
    run = experiment.scenario.run
    last = run.start_date + dt.timedelta(days=run.horizon_days - 1)
    period = text(lang, "period", first=f.date(run.start_date, lang), last=f.date(last, lang))
    days = f.number(run.horizon_days, lang)
    return _p(text(lang, "how_sure_text", n=experiment.replications, days=days, period=period))


# -- STRESS-DES sections ------------------------------------------------------------------------------
def _logic(lang: str) -> Block:
    return _section(
        "logic",
        lang,
        [_p(text(lang, "logic_text")), _figure("plot-flow", flow_figure(lang), text(lang, "flow_caption"))],
    )


def _data(experiment: Experiment, catalog: list[Procedure], lang: str) -> Block:
    sourced = [p for p in catalog if p.sourced]
    total_weight = sum(p.demand_weight for p in catalog) or 1.0
    share = sum(p.demand_weight for p in sourced) / total_weight
    blocks = [
        _p(
            text(
                lang,
                "data_catalog",
                total=f.number(len(catalog), lang),
                sourced=f.number(len(sourced), lang),
                sourced_share=f.percent(share, lang, decimals=0),
                estimated=f.number(len(catalog) - len(sourced), lang),
            )
        ),
        _p(text(lang, "data_params")),
    ]
    rows = estimated_parameters(experiment.scenario.source)
    if rows:
        header = [text(lang, "file"), text(lang, "parameter"), text(lang, "value"), text(lang, "note")]
        blocks.append({**_table(header, rows), "css": "assumptions"})  # values and comments as written
    else:
        blocks.append(_p(text(lang, "data_none")))
    return _section("data", lang, blocks)


def _experimentation(runs: list[Experiment], lang: str, command: list[str]) -> Block:
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
        rows.append(
            [s.name, reps, str(s.run.seed), f.date(s.run.start_date, lang), s.run.horizon_days, warmup]
        )
    header = [
        text(lang, k)
        for k in ("exp_scenario", "exp_replications", "exp_seed", "exp_start", "exp_horizon", "exp_warmup")
    ]
    software = ", ".join(f"{k} {v}" for k, v in versions().items())
    facts = [(text(lang, "exp_software"), software), (text(lang, "exp_command"), " ".join(command))]
    blocks = [
        _table(header, rows),
        _p(f"{text(lang, 'exp_crn')} {text(lang, 'exp_ci')}"),
        {"kind": "facts", "facts": facts},
    ]
    return _section("experimentation", lang, blocks)


def _kpi_table(summary: dict[str, Estimate], lang: str, names: Iterable[str]) -> Block:
    rows = [
        [kpi_label(lang, name), *_estimate_cells(summary[name], lang), _unit(lang, summary[name].unit)]
        for name in names
        if name in summary
    ]
    return _table([text(lang, k) for k in ("kpi", "mean", "ci", "unit")], rows)


def _result_plots(runs: plots.Labelled, lang: str) -> list[Block]:
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
            parts.append(_p(text(lang, "note_766"), "small"))
    return parts


def _all_kpis(experiment: Experiment, lang: str) -> Block:
    rest = [n for n in experiment.kpi_names() if n not in HEADLINE]
    return {
        "kind": "details",
        "summary": text(lang, "all_kpis"),
        "blocks": [_kpi_table(experiment.summary(), lang, rest)],
    }


def _first_screen(asked: str, answer: list[Block], sure: list[Block], lang: str) -> list[Block]:
    return [
        {"title": text(lang, "asked"), "css": "asked", "blocks": [_p(asked)]},
        {"title": text(lang, "answer"), "css": "answer", "blocks": answer},
        {"title": text(lang, "how_sure"), "css": "sure", "blocks": sure},
    ]


# -- reports ------------------------------------------------------------------------------------------
def run_report(experiment: Experiment, catalog: list[Procedure], lang: str, command: list[str]) -> str:
    scenario = experiment.scenario
    name, summary = words_for(scenario, lang), experiment.summary()
    answer = [
        _p(
            text(
                lang,
                "answer_run",
                overdue=f.percent(summary["overdue_rate"].mean, lang),
                online=f.percent(summary["self_service_online_rate"].mean, lang),
            )
        ),
        _kpi_table(summary, lang, FIRST_SCREEN),
    ]
    first = _first_screen(text(lang, "asked_run", name=name), answer, [_how_sure(lang, experiment)], lang)
    results = [_kpi_table(summary, lang, HEADLINE), _all_kpis(experiment, lang)]
    results += _result_plots([(scenario.name, experiment)], lang)
    sections = [
        _section("objective", lang, [_p(text(lang, "objective_run", name=name))]),
        _logic(lang),
        _data(experiment, catalog, lang),
        _experimentation([experiment], lang, command),
        _section("results", lang, results),
    ]
    sections[-2]["blocks"].append(report_block(experiment, catalog, lang))  # 4.1: warm-up, stability
    return _page(f"{text(lang, 'run_title')}: {name}", lang, first, sections, experiment.partial)


def parameter_words(lang: str, path: str) -> str:
    """A scenario parameter as a reader says it: staffing paths in words, the dotted path beside."""
    parts = path.split(".")
    if len(parts) == 4 and parts[:2] == ["back_office", "staffing"]:
        level, pool = code_label(lang, "level", parts[2]), code_label(lang, "pool", parts[3])
        return f"{text(lang, 'staffing_of', pool=pool, level=level)} ({path})"
    if len(parts) == 3 and parts[:2] == ["counters", "officers"]:
        return f"{text(lang, 'counter_officers', level=code_label(lang, 'level', parts[2]))} ({path})"
    return path


def _changes_table(comparisons: list[Comparison], lang: str) -> Block:
    rows = [
        [comparison.whatif.scenario.name, parameter_words(lang, path), _short(old), _short(new)]
        for comparison in comparisons
        for path, old, new in comparison.changes
    ]
    if not rows:
        return _p(text(lang, "no_changes"))
    header = [text(lang, "whatif"), text(lang, "parameter"), text(lang, "baseline"), text(lang, "whatif")]
    if len(comparisons) == 1:
        return _table(header[1:], [row[1:] for row in rows])
    return _table(header, rows)


def _short(value: Any) -> str:
    words = str(value)
    return words if len(words) <= 80 else words[:77] + "…"


def _difference_cells(comparison: Comparison, row: Any, lang: str) -> list[str]:
    d = row.difference
    return [
        comparison.whatif.scenario.name,
        labelled_with_unit(lang, row.kpi, d.unit),
        f.value(row.base, d.unit, lang),
        f.value(row.whatif, d.unit, lang),
        f.difference(d.mean, d.unit, lang),
        f.difference_interval(d.ci_low, d.ci_high, d.unit, lang),
        text(lang, row.verdict),
    ]


_DIFFERENCE_HEADER = (
    "whatif", "kpi", "baseline_mean", "whatif_mean", "difference", "ci_difference", "verdict"
)


def _differences_table(comparisons: list[Comparison], lang: str, only: Iterable[str] = ()) -> list[Block]:
    """Headline KPIs, overdue by level and every material change first; the rest folded away. With
    ``only``: just those KPIs (the first screen)."""
    wanted = tuple(only)
    main: tuple[list[list[str]], list[str]] = ([], [])
    more: tuple[list[list[str]], list[str]] = ([], [])
    for comparison in comparisons:
        for row in comparison.rows:
            if wanted and row.kpi not in wanted:
                continue
            headline = row.kpi in HEADLINE or row.kpi.startswith("overdue_rate_by_level")
            material = row.verdict in ("better", "worse", "higher", "lower")
            rows, classes = main if wanted or headline or material else more
            rows.append(_difference_cells(comparison, row, lang))
            classes.append(row.verdict if row.verdict in ("better", "worse") else "")
    header = [text(lang, k) for k in _DIFFERENCE_HEADER]
    if len(comparisons) == 1:  # one what-if: its name is in the question, not on every row
        header = header[1:]
        for rows, _ in (main, more):
            rows[:] = [row[1:] for row in rows]
    blocks = [_table(header, *main)]
    if more[0]:
        blocks.append(
            {"kind": "details", "summary": text(lang, "all_kpis"), "blocks": [_table(header, *more)]}
        )
    return blocks


def minimal_differences_table(lang: str) -> Block:
    """The stated minimal difference per unit (``compare.MINIMAL_DIFFERENCE``) in the reader's words."""
    rows = []
    for unit, (amount, relative) in MINIMAL_DIFFERENCE.items():
        if relative:
            shown = text(lang, "minimal_relative", share=f.percent(amount, lang))
        else:
            shown = f.difference(amount, unit, lang, signed=False)
        rows.append([text(lang, f"minimal_{unit}"), shown])
    return _table([text(lang, "kpi"), text(lang, "minimal_differences")], rows)


def _compare_answer(comparison: Comparison, lang: str) -> Block:
    changes = [
        text(
            lang,
            "answer_change",
            kpi=kpi_label(lang, row.kpi),
            verdict=text(lang, row.verdict),
            base=f.value(row.base, row.difference.unit, lang),
            whatif=f.value(row.whatif, row.difference.unit, lang),
            diff=f.difference(row.difference.mean, row.difference.unit, lang),
        )
        for row in comparison.rows
        # the on-time rate is the overdue rate's complement: saying both says one thing twice
        if row.kpi in HEADLINE and row.kpi != "on_time_rate" and row.verdict in ("better", "worse")
    ]
    name = words_for(comparison.whatif.scenario, lang)
    if not changes:
        return _p(text(lang, "answer_compare_none", name=name))
    return {"kind": "strong", "text": text(lang, "answer_compare", name=name, changes="; ".join(changes))}


def compare_report(
    comparisons: list[Comparison], catalog: list[Procedure], lang: str, command: list[str]
) -> str:
    base = comparisons[0].base
    runs = [(base.scenario.name, base)] + [(c.whatif.scenario.name, c.whatif) for c in comparisons]
    base_words = words_for(base.scenario, lang)
    whatif_words = ", ".join(
        text(lang, "quoted", words=words_for(c.whatif.scenario, lang)) for c in comparisons
    )
    answer: list[Block] = [_compare_answer(c, lang) for c in comparisons]
    answer.append(_changes_table(comparisons, lang))
    answer += _differences_table(comparisons, lang, only=FIRST_SCREEN)
    sure = [
        _how_sure(lang, comparisons[0].base),
        _p(text(lang, "how_sure_compare")),
        minimal_differences_table(lang),
    ]
    first = _first_screen(
        text(lang, "asked_compare", base=base_words, whatifs=whatif_words), answer, sure, lang
    )
    forest_rows = [
        (c.whatif.scenario.name, row.kpi, row.difference, row.base)
        for c in comparisons
        for row in c.rows
        if row.kpi in HEADLINE
    ]
    differences = _differences_table(comparisons, lang)
    differences.append(_figure("plot-forest", plots.forest(forest_rows, lang), text(lang, "plot_forest")))
    sections = [
        _section("changes", lang, [_changes_table(comparisons, lang)]),
        _section("differences", lang, differences),
        _section("objective", lang, [_p(text(lang, "objective_compare", base=base_words))]),
        _logic(lang),
        _data(base, catalog, lang),
        _experimentation([experiment for _, experiment in runs], lang, command),
        _section("results", lang, _result_plots(runs, lang)),
    ]
    partial = any(experiment.partial for _, experiment in runs)
    title = f"{text(lang, 'compare_title')}: {base_words} – " + ", ".join(
        words_for(c.whatif.scenario, lang) for c in comparisons
    )
    return _page(title, lang, first, sections, partial)


def _point_cell(e: Estimate, lang: str) -> str:
    return f"{f.value(e.mean, e.unit, lang)} ({f.interval(e.ci_low, e.ci_high, e.unit, lang)})"


def _sweep_table(
    path: str,
    values: list[Any],
    experiments: list[Experiment],
    kpis: list[str],
    failed: dict[Any, str],
    lang: str,
) -> Block:
    header = [path] + [f"{kpi_label(lang, k)} ({text(lang, 'ci')})" for k in kpis]
    rows = []
    for value, experiment in zip(values, experiments, strict=True):
        summary = experiment.summary()
        rows.append([value, *(_point_cell(summary[kpi], lang) for kpi in kpis)])
    for value in failed:
        rows.append([value] + [text(lang, "failed_point")] + [""] * (len(kpis) - 1))
    return _table(header, rows)


def sweep_report(
    sweep: Sweep, catalog: list[Procedure], kpis: list[str], lang: str, command: list[str]
) -> str:
    name = words_for(sweep.base, lang)
    path = sweep.param.path
    values, experiments = list(sweep.param.values), sweep.experiments
    middle = experiments[len(experiments) // 2]
    table = _sweep_table(path, values, experiments, kpis, sweep.failed, lang)
    ran = [v for v in values if v not in sweep.failed][: len(experiments)]
    first_kpi = kpis[0]
    ends = [experiments[0].summary()[first_kpi], experiments[-1].summary()[first_kpi]]
    answer = [
        _p(
            text(
                lang,
                "answer_sweep",
                first=ran[0],
                last=ran[-1],
                kpi=kpi_label(lang, first_kpi),
                low=f.value(ends[0].mean, ends[0].unit, lang),
                high=f.value(ends[1].mean, ends[1].unit, lang),
            )
        ),
        table,
    ]
    asked = text(
        lang,
        "asked_sweep",
        path=path,
        name=name,
        values=text(lang, "range_values", first=values[0], last=values[-1]),
    )
    first = _first_screen(asked, answer, [_how_sure(lang, experiments[0])], lang)
    results = [
        {"kind": "h3", "text": text(lang, "sweep_table")},
        table,
        _figure(
            "plot-sweep", plots.sweep_curves(path, values, experiments, kpis, lang), text(lang, "plot_sweep")
        ),
        *_result_plots(
            [(f"{path}={v}", e) for v, e in zip(values, experiments, strict=True)][:4]
            if len(experiments) <= 4
            else [(middle.scenario.name, middle)],
            lang,
        ),
    ]
    sections = [
        _section("objective", lang, [_p(text(lang, "objective_sweep", path=path, name=name))]),
        _logic(lang),
        _data(middle, catalog, lang),
        _experimentation(experiments, lang, command),
        _section("results", lang, results),
    ]
    return _page(f"{text(lang, 'sweep_title')}: {name} · {path}", lang, first, sections, sweep.partial)


def plan_summary(plan: Plan, lang: str, closest: bool = True) -> str:
    """The plan's answer in one or two sentences (also printed by the CLI); with no answer and
    ``closest``, how close the nearest value came (``Plan.nearest``: the console says it on its own line)."""
    kpi = plan.target.kpi
    answer = plan.answer
    if answer is None or answer.estimate is None:
        words = text(lang, "plan_none", target=str(plan.target))
        nearest = plan.nearest() if closest else None
        if nearest is not None:
            point, missed_by = nearest
            e = point.estimate
            assert e is not None  # nearest() only returns points with an estimate
            words += " " + text(
                lang,
                "plan_closest",
                path=plan.path,
                value=point.value,
                kpi=kpi_label(lang, kpi),
                mean=f.value(e.mean, e.unit, lang),
                bound=f.value(plan.target.bound(e), e.unit, lang),
                missed=f.difference(missed_by, e.unit, lang, signed=False),
                confidence=f.percent(point.confidence, lang),
            )
        return words
    e = answer.estimate
    words = text(
        lang,
        "plan_answer",
        path=plan.path,
        value=answer.value,
        kpi=kpi_label(lang, kpi),
        mean=f.value(e.mean, e.unit, lang),
        low=f.value(e.ci_low, e.unit, lang),
        high=f.value(e.ci_high, e.unit, lang),
        confidence=f.percent(answer.confidence, lang),
    )
    if plan.partial:
        words = text(lang, "plan_partial") + " " + words
    below = plan.below
    if below is not None:
        if below.estimate is None:
            mean, bound = text(lang, "failed_point"), "–"
        else:
            b = below.estimate
            mean = f.value(b.mean, b.unit, lang)
            bound = f.value(b.ci_high if plan.target.upper else b.ci_low, b.unit, lang)
        words += " " + text(
            lang, "plan_below", value=below.value, kpi=kpi_label(lang, kpi), mean=mean, bound=bound
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
                _point_cell(e, lang) if e else p.note,
                text(lang, "yes" if p.met else "no") + (f" ({p.note})" if p.note and e else ""),
                f.percent(p.confidence, lang),
            ]
        )
    header = [plan.path, kpi_label(lang, plan.target.kpi), text(lang, "meets"), text(lang, "confidence")]
    points = _table(header, rows)
    chosen = plan.answer.experiment if plan.answer and plan.answer.experiment else experiments[-1]
    name = words_for(chosen.scenario, lang) if chosen.scenario.name == base_name else base_name
    target = f"{kpi_label(lang, plan.target.kpi)} {plan.target}"
    first = _first_screen(
        text(lang, "asked_plan", path=plan.path, target=target, name=name),
        [{"kind": "strong", "text": plan_summary(plan, lang)}, points],
        [_how_sure(lang, experiments[0])],
        lang,
    )
    results = [
        {"kind": "strong", "text": plan_summary(plan, lang)},
        {"kind": "h3", "text": text(lang, "plan_points")},
        points,
        _figure(
            "plot-sweep",
            plots.sweep_curves(
                plan.path, values, experiments, kpis, lang, (plan.target.kpi, plan.target.value)
            ),
            text(lang, "plot_sweep"),
        ),
        *_result_plots([(chosen.scenario.name, chosen)], lang),
    ]
    sections = [
        _section(
            "objective",
            lang,
            [_p(text(lang, "objective_plan", path=plan.path, target=str(plan.target), name=name))],
        ),
        _logic(lang),
        _data(chosen, catalog, lang),
        _experimentation(experiments, lang, command),
        _section("results", lang, results),
    ]
    return _page(f"{text(lang, 'plan_title')}: {name} · {plan.target}", lang, first, sections, plan.partial)
