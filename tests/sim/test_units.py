"""Figures per unit: the busiest unit of each pool and the units with the most overdue dossiers."""

from __future__ import annotations

import csv
import json
from functools import cache
from pathlib import Path

from dvclab.sim.experiment import Experiment, multiple_replications
from dvclab.sim.results import busiest_units, top_overdue_units, write_results
from dvclab.sim.scenario import load_scenario

TINY = Path(__file__).resolve().parents[1] / "workbench" / "tiny.yaml"


@cache
def tiny() -> Experiment:
    scenario, catalog = load_scenario(TINY)
    return multiple_replications(scenario, catalog, 2, jobs=1)


def test_the_busiest_unit_is_at_least_as_busy_as_its_pool() -> None:
    experiment = tiny()
    summary = experiment.summary()
    busiest = busiest_units(experiment)
    assert "district.land" in busiest and "counter.district" in busiest
    for pool, (unit, estimate) in busiest.items():
        assert unit.rsplit(".", 1)[0] == pool
        mean = summary[f"utilisation.{pool}"].mean
        assert summary[f"utilisation_max.{pool}"].mean >= estimate.mean >= mean - 1e-12, pool
    # nine land offices of 2 officers each at a tenth of the demand: they differ, and the mean hides it
    assert summary["utilisation_max.district.land"].mean > summary["utilisation.district.land"].mean


def test_unit_figures_add_up_to_the_province() -> None:
    for output in tiny().outputs:
        assert sum(output.units.dossiers.values()) == output.kpis["dossiers"]
        assert sum(output.units.overdue.values()) == output.kpis["apology_slips"]


def test_run_folder_names_the_busiest_and_the_worst_units(tmp_path: Path) -> None:
    experiment = tiny()
    scenario, catalog = load_scenario(TINY)
    folder = write_results(experiment, catalog, tmp_path, ["test"])
    kpis = json.loads((folder / "kpis.json").read_text())
    land = kpis["utilisation_max.district.land"]
    assert land["busiest_unit"] == busiest_units(experiment)["district.land"][0]
    assert {"mean", "ci_low", "ci_high", "unit"} <= set(land)
    with (folder / "overdue_top_units.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    top = top_overdue_units(experiment)
    assert 0 < len(rows) <= 10 and [row["unit"] for row in rows] == [unit for unit, *_ in top]
    overdue = [float(row["overdue_mean"]) for row in rows]
    assert overdue == sorted(overdue, reverse=True)
    with (folder / "busiest_units.csv").open() as handle:
        assert {row["pool"]: row["busiest_unit"] for row in csv.DictReader(handle)}["district.land"] == (
            land["busiest_unit"]
        )
