"""Deterministic tests: seeds, replications and common random numbers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dvclab.sim.experiment import single_run
from dvclab.sim.model import ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.scenario import load_scenario

SHORT = {"run.horizon_days": 5, "startup.warmup_days": 3}


@pytest.mark.slow
def test_same_seed_same_results(scenarios_dir: Path) -> None:
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **SHORT)
    first = single_run(scenario, catalog, replication=0)
    second = single_run(scenario, catalog, replication=0)
    assert first.kpis == second.kpis
    assert np.array_equal(first.arrivals_by_hour, second.arrivals_by_hour)


@pytest.mark.slow
def test_different_seeds_and_replications_differ(scenarios_dir: Path) -> None:
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **SHORT)
    other, _ = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **SHORT, **{"run.seed": 99})
    base = single_run(scenario, catalog, 0).kpis
    assert single_run(other, catalog, 0).kpis["dossiers"] != base["dossiers"]
    assert single_run(scenario, catalog, 1).kpis["dossiers"] != base["dossiers"]


def _model(path: Path) -> ProvinceModel:
    scenario, catalog = load_scenario(path, **SHORT)
    return ProvinceModel(scenario, build_procedures(scenario, catalog))


def test_common_random_numbers_keep_citizens_where_nothing_changed(scenarios_dir: Path) -> None:
    base = _model(scenarios_dir / "nam-dinh-2024.yaml")
    staffed = _model(scenarios_dir / "land-office-plus-2.yaml")
    # staffing changes nothing about who arrives, when, for what, through which channel
    assert np.array_equal(base.dossiers.arrival, staffed.dossiers.arrival)
    assert np.array_equal(base.dossiers.procedure, staffed.dossiers.procedure)
    assert np.array_equal(base.dossiers.channel, staffed.dossiers.channel)
    assert np.array_equal(base.dossiers.z_effort, staffed.dossiers.z_effort)

    teams = _model(scenarios_dir / "digital-teams.yaml")
    # A citizen who switches to online files at another hour, so the arrival order changes: match
    # citizens by their own reception draw, which no scenario changes.
    b = np.argsort(base.dossiers.z_reception)
    w = np.argsort(teams.dossiers.z_reception)
    assert np.array_equal(base.dossiers.z_reception[b], teams.dossiers.z_reception[w])
    # the digital teams change channels, never procedures or anyone's own draws ...
    assert np.array_equal(base.dossiers.procedure[b], teams.dossiers.procedure[w])
    assert np.array_equal(base.dossiers.z_effort[b], teams.dossiers.z_effort[w])
    changed = base.dossiers.channel[b] != teams.dossiers.channel[w]
    assert 0 < changed.mean() < 0.2
    # ... and only towards filing online (self-service or online with a visit)
    assert (teams.dossiers.channel[w][changed] <= 1).all()


def test_a_surge_in_one_group_leaves_other_groups_untouched(scenarios_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "land-rush.yaml"
    path.write_text(
        f"extends: {scenarios_dir / 'nam-dinh-2024.yaml'}\nname: land-rush\n"
        "demand:\n  surges:\n"  # a list replaces the base's: keep its year-end rushes
        "    - {name: year-end-2023, start: 2023-12-01, end: 2023-12-31, factor: 1.1}\n"
        "    - {name: year-end, start: 2024-12-01, end: 2024-12-31, factor: 1.1}\n"
        "    - {name: rush, start: 2023-12-01, end: 2024-02-01, factor: 2.0, groups: [land]}\n",
        encoding="utf-8",
    )
    base = _model(scenarios_dir / "nam-dinh-2024.yaml")
    rush = _model(path)
    land = base.table.groups.index("land")
    assert land >= 0
    groups = np.asarray(base.table.groups)
    base_land = groups[base.dossiers.procedure] == "land"
    rush_land = groups[rush.dossiers.procedure] == "land"
    assert rush_land.sum() > 1.6 * base_land.sum()
    assert np.array_equal(
        np.sort(base.dossiers.arrival[~base_land]), np.sort(rush.dossiers.arrival[~rush_land])
    )


def test_replications_share_the_province_geography(scenarios_dir: Path) -> None:
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **SHORT)
    table = build_procedures(scenario, catalog)
    first, second = ProvinceModel(scenario, table, 0), ProvinceModel(scenario, table, 1)
    assert np.array_equal(first.communes, second.communes)
    assert not np.array_equal(first.dossiers.arrival[:100], second.dossiers.arrival[:100])
