"""Writing a run's results folder, atomically: a reader never sees a half-written run.

Everything goes into a hidden temporary folder beside the target, which is renamed into place last.
Every run records what produced it (STRESS-DES): the resolved scenario, seed, versions and command.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import platform
import sys
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from dvclab.catalog import Procedure
from dvclab.files import staged_folder
from dvclab.sim.experiment import NON_NEGATIVE, Estimate, Experiment, confidence_interval, interval_warning
from dvclab.sim.kpis import HOURLY_COLUMNS
from dvclab.sim.procedures import ProcedureTable, build_procedures
from dvclab.sim.reuse import key_of, save_outputs
from dvclab.sim.scenario import resolved_dict
from dvclab.sim.stability import run_trends, scenario_loads, stability_section
from dvclab.sim.warmup import warmup_section

VERSIONED = ("dvclab", "simpy", "numpy", "pydantic", "holidays")


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in VERSIONED:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = "not installed"
    return found


def interval_flag(replications: int) -> dict[str, Any]:
    """The manifest's word on the 95% intervals: meaningful from 3 replications; why not below."""
    warning = interval_warning(replications)
    return {"confidence": 0.95, "meaningful": warning is None, **({"warning": warning} if warning else {})}


def new_run_id() -> str:
    now = dt.datetime.now(dt.UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_results(
    experiment: Experiment, catalog: list[Procedure], out_root: Path, command: list[str] | None = None
) -> Path:
    scenario = experiment.scenario
    run_id = new_run_id()
    final = out_root / scenario.name / run_id
    with staged_folder(final) as staging:
        _write_all(experiment, catalog, staging, run_id, command or sys.argv)
    return final


def _write_all(
    experiment: Experiment, catalog: list[Procedure], folder: Path, run_id: str, command: list[str]
) -> None:
    scenario = experiment.scenario
    summary = experiment.summary()
    manifest = {
        "kind": "sim",
        "run_id": run_id,
        "scenario_name": scenario.name,
        "scenario_file": scenario.source,
        "scenario": resolved_dict(scenario),
        "seed": scenario.run.seed,
        "replications": experiment.replications,
        "horizon_days": scenario.run.horizon_days,
        # the warm-up used, how it was chosen, and whether the run's own backlogs say it was enough
        "warmup": warmup_section(experiment),
        "units_file": str(scenario.units_path()),
        # each unit's offered load before the run (ρ ≥ 1: the unit cannot keep up)
        # and each unit's backlog through the run (growing: it did not keep up)
        "stability": stability_section(scenario_loads(scenario, catalog), run_trends(experiment)),
        "replication_rule": experiment.rule or {"method": "fixed", "replications": experiment.replications},
        "intervals": interval_flag(experiment.replications),
        "command": command,
        "versions": versions(),
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "partial": experiment.partial,
        # what decides the numbers, for compare, sweep and plan to reuse this run (``sim.reuse``)
        "run_key": {**key_of(experiment), "scenario": "the resolved scenario without its name and file"},
    }
    if not experiment.partial and (outputs_file := save_outputs(experiment, folder)):
        manifest["outputs"] = outputs_file
    (folder / "manifest.json").write_text(
        json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8"
    )
    table = build_procedures(scenario, catalog)
    top = top_overdue_procedures(experiment, table)
    kpis = {name: estimate.as_dict() for name, estimate in summary.items()}
    for k, estimate, _, _ in top:
        kpis[f"overdue_rate_by_procedure.{table.codes[k]}"] = estimate.as_dict()
    busiest = busiest_units(experiment)
    for pool, (unit, _) in busiest.items():
        kpis[f"utilisation_max.{pool}"]["busiest_unit"] = unit  # a label: the gate reads extra fields as such
    (folder / "kpis.json").write_text(json.dumps(kpis, indent=2), encoding="utf-8")
    _write_csv(
        folder / "kpis.csv",
        ["kpi", "mean", "ci_low", "ci_high", "unit"],
        [[name, *_csv_estimate(e), e.unit] for name, e in summary.items()],
    )
    names = experiment.kpi_names()
    _write_csv(
        folder / "replications.csv",
        ["replication", *names],
        [[r, *(o.kpis[name] for name in names)] for r, o in enumerate(experiment.outputs)],
    )

    # hourly arrival forecast (mean over replications): the load tests' forecast shape replays it
    hourly = np.mean([o.arrivals_by_hour for o in experiment.outputs], axis=0)
    start = dt.datetime.combine(scenario.run.start_date, dt.time())
    rows = []
    for h in range(hourly.shape[0]):
        moment = start + dt.timedelta(hours=h)
        rows.append([moment.isoformat(), moment.hour, moment.weekday(), *np.round(hourly[h], 3)])
    _write_csv(folder / "arrivals_by_hour.csv", ["datetime", "hour", "weekday", *HOURLY_COLUMNS], rows)

    backlog = np.array([o.backlog_by_day for o in experiment.outputs])
    rows = []
    for day in range(backlog.shape[1]):
        e = confidence_interval(backlog[:, day], within=NON_NEGATIVE)  # dossiers in progress
        rows.append(
            [(scenario.run.start_date + dt.timedelta(days=day)).isoformat(), e.mean, e.ci_low, e.ci_high]
        )
    _write_csv(folder / "backlog_by_day.csv", ["date", "mean", "ci_low", "ci_high"], rows)

    _write_csv(
        folder / "overdue_top_procedures.csv",
        [
            "code",
            "name",
            "group",
            "level",
            "dossiers_mean",
            "overdue_mean",
            "overdue_rate",
            "ci_low",
            "ci_high",
        ],
        [
            [
                table.codes[k],
                table.names[k],
                table.groups[k],
                table.levels[k],
                round(dossiers, 1),
                round(overdue, 1),
                round(e.mean, 4),
                round(e.ci_low, 4),
                round(e.ci_high, 4),
            ]
            for k, e, dossiers, overdue in top
        ],
    )
    _write_unit_files(folder, experiment, busiest)


def _write_unit_files(folder: Path, experiment: Experiment, busiest: dict[str, tuple[str, Estimate]]) -> None:
    summary = experiment.summary()
    _write_csv(
        folder / "busiest_units.csv",
        ["pool", "utilisation_mean", "busiest_unit", "utilisation", "ci_low", "ci_high"],
        [
            [pool, round(summary[f"utilisation.{pool}"].mean, 4), unit, round(e.mean, 4), round(e.ci_low, 4),
             round(e.ci_high, 4)]
            for pool, (unit, e) in busiest.items()
        ],
    )
    _write_csv(
        folder / "overdue_top_units.csv",
        ["unit", "pool", "level", "dossiers_mean", "overdue_mean", "overdue_rate", "ci_low", "ci_high"],
        [
            [unit, unit.rsplit(".", 1)[0], unit.split(".", 1)[0], round(dossiers, 1), round(overdue, 1),
             round(e.mean, 4), round(e.ci_low, 4), round(e.ci_high, 4)]
            for unit, e, dossiers, overdue in top_overdue_units(experiment)
        ],
    )


def busiest_units(experiment: Experiment) -> dict[str, tuple[str, Estimate]]:
    """Per pool (``district.land``, ``counter.commune``), the unit with the highest mean utilisation over
    the replications, and that utilisation."""
    names = sorted({unit for o in experiment.outputs for unit in o.units.utilisation})
    values = np.array([[o.units.utilisation.get(unit, 0.0) for unit in names] for o in experiment.outputs])
    means = values.mean(axis=0)
    best: dict[str, int] = {}
    for k, unit in enumerate(names):
        pool = unit.rsplit(".", 1)[0]
        if pool not in best or means[k] > means[best[pool]]:
            best[pool] = k
    return {
        pool: (names[k], confidence_interval(values[:, k], f"utilisation.{pool}"))
        for pool, k in sorted(best.items())
    }


def top_overdue_units(experiment: Experiment, count: int = 10) -> list[tuple[str, Estimate, float, float]]:
    """The units with the most overdue dossiers: (unit, overdue-rate estimate, dossiers and overdue
    dossiers per replication), as ``top_overdue_procedures``."""
    names = sorted({unit for o in experiment.outputs for unit in o.units.dossiers})
    overdue = np.array([[o.units.overdue.get(unit, 0.0) for unit in names] for o in experiment.outputs])
    dossiers = np.array([[o.units.dossiers.get(unit, 0.0) for unit in names] for o in experiment.outputs])
    return [(names[k], *rest) for k, *rest in _most_overdue(overdue, dossiers, count)]


def _csv_estimate(e: Estimate) -> list[float | str]:
    """Mean and bounds for a CSV cell; no interval (one replication) is left empty, not zero-width."""
    return [e.mean, *(["", ""] if np.isnan(e.ci_low) else [e.ci_low, e.ci_high])]


def top_overdue_procedures(
    experiment: Experiment, table: ProcedureTable, count: int = 10
) -> list[tuple[int, Estimate, float, float]]:
    """The procedures with the most overdue dossiers: (index, overdue-rate estimate, dossiers and
    overdue dossiers per replication)."""
    overdue = np.array([o.overdue_by_procedure for o in experiment.outputs])
    dossiers = np.array([o.dossiers_by_procedure for o in experiment.outputs])
    return _most_overdue(overdue, dossiers, count)


def _most_overdue(
    overdue: np.ndarray, dossiers: np.ndarray, count: int
) -> list[tuple[int, Estimate, float, float]]:
    """Columns (replications × items) ranked by overdue dossiers, those with none left out."""
    top = []
    for k in np.argsort(-overdue.sum(axis=0), kind="stable")[:count]:
        if overdue[:, k].sum() == 0:
            break
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = np.where(dossiers[:, k] > 0, overdue[:, k] / dossiers[:, k], 0.0)
        top.append(
            (int(k), confidence_interval(rates, "overdue_rate"), dossiers[:, k].mean(), overdue[:, k].mean())
        )
    return top
