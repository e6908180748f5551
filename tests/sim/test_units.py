"""Figures per unit: the busiest unit of each pool and the units with the most overdue dossiers."""

from __future__ import annotations

import csv
import json
import re
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from dvclab.sim.experiment import Experiment, multiple_replications
from dvclab.sim.model import UNIT_KEY, ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.results import busiest_units, top_overdue_units, write_results
from dvclab.sim.scenario import ScenarioError, load_scenario
from dvclab.sim.stability import scenario_loads

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


# -- the province is data: the units file ------------------------------------------------------------
SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios" / "sim"
SHORT = {"run.horizon_days": 2, "startup.warmup_days": 0}


def _model(seed: int, path: Path = SCENARIOS / "nam-dinh-2024.yaml", **overrides: object) -> ProvinceModel:
    scenario, catalog = load_scenario(path, **SHORT, **{"run.seed": seed}, **overrides)
    return ProvinceModel(scenario, build_procedures(scenario, catalog))


def test_two_seeds_simulate_the_same_province() -> None:
    first, second = _model(2024), _model(7)
    assert np.array_equal(first.communes, second.communes)
    assert np.array_equal(first.district_of, second.district_of)
    assert len(first.communes) == 175 and first.communes.sum() == pytest.approx(1.0)
    # the seed still varies the citizens
    assert not np.array_equal(first.dossiers.arrival[:100], second.dossiers.arrival[:100])


def test_the_units_file_is_what_the_build_script_writes() -> None:
    from dvclab.scenarios.catalog import build_units

    for name, (districts, communes) in build_units.PROVINCES.items():
        written = (build_units.HERE / name).read_text(encoding="utf-8")
        assert written == build_units.units_csv(districts, communes), name


def _write_units(folder: Path, rows: list[str]) -> Path:
    path = folder / "units.csv"
    path.write_text("unit,level,number,district,demand_share,staffing\n" + "\n".join(rows) + "\n")
    return path


def _scenario_with_units(folder: Path, units: Path, geography: str = "{districts: 2, communes: 3}") -> Path:
    path = folder / "s.yaml"
    base = SCENARIOS / "nam-dinh-2024.yaml"
    path.write_text(f"extends: {base}\nname: s\nunits: {units.name}\ngeography: {geography}\n")
    return path


SMALL = [
    "province.0,province,0,,1.0,",
    "district.0,district,0,,0.7,land=5",
    "district.1,district,1,,0.3,",
    "commune.0,commune,0,0,0.5,",
    "commune.1,commune,1,1,0.3,",
    "commune.2,commune,2,0,0.2,",
]


def test_a_unit_may_have_its_own_staffing(tmp_path: Path) -> None:
    path = _scenario_with_units(tmp_path, _write_units(tmp_path, SMALL))
    model = _model(1, path)
    assert model.district_of.tolist() == [0, 1, 0]
    assert model.officers_of("district.land", 0) == 5  # its own
    assert model.officers_of("district.land", 1) == model.officers_of("district.land") == 16  # its level's
    # dossiers go to the district their commune belongs to, not commune mod districts
    dossiers = model.dossiers
    keys = model.pool_keys(dossiers)
    pool, unit = keys // UNIT_KEY, keys % UNIT_KEY
    district = np.array([model.pool_names[k].startswith("district.") for k in pool.tolist()])
    assert district.any()
    assert np.array_equal(unit[district], model.district_of[dossiers.commune[district]])


@pytest.mark.parametrize(
    ("rows", "geography", "message"),
    [
        (SMALL, "{districts: 2, communes: 4}", "geography.communes: 4, but units.csv has 3 communes"),
        (SMALL[:3] + ["commune.0,commune,0,0,0.5,", "commune.1,commune,1,1,0.3,"], None, "sums to 0.800000"),
        (SMALL[:1] + ["district.0,district,0,,1.0,roads=2"] + SMALL[2:], None, "no such pool"),
        (SMALL[:5] + ["commune.2,commune,2,5,0.2,"], None, "district must be one of the 2"),
        (SMALL[:5] + ["commune.2,commune,2,0,-0.2,"], None, "must be positive"),
        (SMALL[:5] + ["commune.2,commune,2,0,0.2,land"], None, "write agency=officers"),
    ],
)
def test_a_bad_units_file_is_refused_with_its_reason(
    tmp_path: Path, rows: list[str], geography: str | None, message: str
) -> None:
    units = _write_units(tmp_path, rows)
    path = _scenario_with_units(tmp_path, units, geography or "{districts: 2, communes: 3}")
    with pytest.raises(ScenarioError, match=re.escape(message)):
        load_scenario(path)


# -- stability: each unit's offered load before the run ---------------------------------------------
def _understaffed(folder: Path) -> Path:
    """tiny.yaml with district 2's land office down to one officer (its level has two)."""
    rows = (SCENARIOS.parent / "catalog" / "nam-dinh-2024-units.csv").read_text().splitlines()
    rows = [row + "land=1" if row.startswith("district.2,") else row for row in rows]
    (folder / "units.csv").write_text("\n".join(rows) + "\n")
    path = folder / "understaffed.yaml"
    path.write_text(f"extends: {TINY}\nname: understaffed\nunits: units.csv\n")
    return path


def test_an_understaffed_unit_is_named_before_the_run_and_in_the_manifest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    scenario, catalog = load_scenario(_understaffed(tmp_path))
    loads = {load.unit: load for load in scenario_loads(scenario, catalog)}
    lone, staffed = loads["district.land.2"], loads["district.land.3"]
    assert lone.officers == 1 and staffed.officers == 2
    assert lone.rho >= 1.0 > staffed.rho  # tiny's land offices run at ~0.7 with two officers
    assert lone.rho_peak > lone.rho  # the year-end peak is busier than the year
    # ρ is the offered work over the capacity: one officer instead of two doubles it, for the same demand
    share = lone.dossiers_per_year / loads["district.land.0"].dossiers_per_year
    assert lone.rho == pytest.approx(2 * loads["district.land.0"].rho * share)

    experiment = multiple_replications(scenario, catalog, 1, jobs=1)
    warning = capsys.readouterr().err
    assert "understaffed" in warning and "district.land.2 ρ=" in warning and "district.land.3" not in warning

    folder = write_results(experiment, catalog, tmp_path / "out", ["test"])
    manifest = json.loads((folder / "manifest.json").read_text())
    stability = manifest["stability"]
    assert stability["unstable"] == ["district.land.2"]
    assert stability["busiest"][0]["unit"] == "district.land.2" and stability["busiest"][0]["officers"] == 1
    assert stability["rho"]["district.land.3"] == pytest.approx(staffed.rho, abs=1e-4)


def test_the_baseline_names_its_busiest_units() -> None:
    scenario, catalog = load_scenario(SCENARIOS / "nam-dinh-2024.yaml")
    busiest = scenario_loads(scenario, catalog)[:3]
    assert all(load.unit.startswith("district.land.") for load in busiest)


def test_a_scenario_that_still_sets_commune_size_cv_is_told_where_the_sizes_are(tmp_path: Path) -> None:
    path = tmp_path / "old.yaml"
    base = SCENARIOS / "nam-dinh-2024.yaml"
    path.write_text(f"extends: {base}\nname: old\ngeography: {{commune_size_cv: 0.3}}\n")
    with pytest.raises(ScenarioError, match="commune sizes are data, in the scenario's units file"):
        load_scenario(path)
