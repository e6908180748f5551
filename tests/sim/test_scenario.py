"""Functional and extreme-value tests of scenario validation, points of a sweep (``with_value``) and the
CLI's handling of bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dvclab.cli import main
from dvclab.sim.compare import flatten
from dvclab.sim.scenario import ScenarioError, load_scenario, resolved_dict, with_value

LAND = "back_office.staffing.district.land"


def write(tmp_path: Path, text: str, name: str = "whatif.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def baseline_line(scenarios_dir: Path) -> str:
    return f"extends: {scenarios_dir / 'nam-dinh-2024.yaml'}\n"


def test_every_shipped_scenario_is_valid(scenarios_dir: Path) -> None:
    names = {p.stem for p in scenarios_dir.glob("*.yaml")}
    assert {
        "nam-dinh-2024",
        "postal-return-all",
        "true-full-online",
        "digital-teams",
        "land-office-plus-2",
        "ninh-binh-2025",
    } <= names
    for path in scenarios_dir.glob("*.yaml"):
        scenario, catalog = load_scenario(path)
        assert scenario.name == path.stem
        assert len(catalog) == 1679


def test_extends_is_a_small_diff_of_the_baseline(scenarios_dir: Path) -> None:
    base, _ = load_scenario(scenarios_dir / "nam-dinh-2024.yaml")
    plus, _ = load_scenario(scenarios_dir / "land-office-plus-2.yaml")
    assert plus.back_office.staffing["district"]["land"] == base.back_office.staffing["district"]["land"] + 2
    # everything else is inherited, including the other district pools
    assert (
        plus.back_office.staffing["district"]["economy"] == base.back_office.staffing["district"]["economy"]
    )
    assert plus.demand == base.demand


def test_extends_relative_to_the_extending_file(tmp_path: Path, scenarios_dir: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, baseline_line(scenarios_dir) + "name: parent\n", "parent.yaml")
    child = write(tmp_path / "sub", "extends: ../parent.yaml\nname: child\nrun: {seed: 7}\n", "child.yaml")
    scenario, _ = load_scenario(child)
    assert scenario.name == "child" and scenario.run.seed == 7
    assert scenario.back_office.staffing["district"]["land"] > 0  # inherited from the baseline


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("name: x\nchannels: {capable_sharee: 0.5}\n", "channels.capable_sharee: unknown field"),
        ("name: x\nchannels: {capable_share: 1.5}\n", "channels.capable_share"),
        ("name: x\ndemand: {dossiers_per_year: -5}\n", "demand.dossiers_per_year"),
        ("name: x\nrun: {horizon_days: 0}\n", "run.horizon_days"),
        ("name: x\nrun: {replications: many}\n", "run.replications"),
        ("name: x\nback_office: {discipline: lifo}\n", "back_office.discipline"),
        (
            "name: x\nprocedures: {NO-SUCH-1: {effort_min: 5}}\n",
            "procedures.NO-SUCH-1: no such procedure code",
        ),
        (
            "name: x\nback_office: {staffing: {district: {lnd: 3}}}\n",
            "back_office.staffing.district.lnd: no such pool",
        ),
        (
            "name: x\ndemand: {surges: [{name: s, start: 2024-01-05, end: 2024-01-01, factor: 2}]}\n",
            "demand.surges.0",
        ),
        ("name: x\ndemand: {level_shares: {province: 0.5, district: 0.5, commune: 0.5}}\n", "add up to 1"),
    ],
)
def test_bad_fields_are_named(tmp_path: Path, scenarios_dir: Path, body: str, expected: str) -> None:
    path = write(tmp_path, baseline_line(scenarios_dir) + body)
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    assert expected in str(error.value)


def test_missing_parent_and_cycles_are_reported(tmp_path: Path) -> None:
    orphan = write(tmp_path, "extends: nowhere.yaml\nname: x\n")
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(orphan)
    write(tmp_path, "extends: b.yaml\nname: a\n", "a.yaml")
    write(tmp_path, "extends: a.yaml\nname: b\n", "b.yaml")
    with pytest.raises(ScenarioError, match="extends itself"):
        load_scenario(tmp_path / "a.yaml")


def test_cli_rejects_a_bad_scenario_with_exit_2_and_no_results(
    tmp_path: Path, scenarios_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, baseline_line(scenarios_dir) + "name: x\nsupplements: {clock: sometimes}\n")
    out = tmp_path / "results"
    assert main(["sim", "run", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "supplements.clock" in err and "Traceback" not in err
    assert not out.exists()
    assert main(["sim", "validate", str(path)]) == 2


def test_cli_rejects_bad_options(tmp_path: Path, scenarios_dir: Path) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sim", "run", str(scenarios_dir / "nam-dinh-2024.yaml"), "--replications", "0"])
    assert exit_.value.code == 2


def test_validate_accepts_the_baseline(scenarios_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sim", "validate", str(scenarios_dir / "nam-dinh-2024.yaml")]) == 0
    assert "valid scenario 'nam-dinh-2024'" in capsys.readouterr().out


def test_with_value_sets_one_field_and_leaves_the_rest(scenarios_dir: Path) -> None:
    base, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml")
    point = with_value(base, LAND, 14, catalog)
    assert point.back_office.staffing["district"]["land"] == 14
    assert base.back_office.staffing["district"]["land"] != 14  # the base is not changed
    before, after = flatten(resolved_dict(base)), flatten(resolved_dict(point))
    assert {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)} == {LAND}
    # a pool the scenario does not list yet is added, checked against the catalog
    assert with_value(base, "back_office.staffing.district.justice", 3, catalog).back_office.staffing[
        "district"
    ]["justice"] == 3
    assert with_value(base, "channels.capable_share", 1, catalog).channels.capable_share == 1.0


@pytest.mark.parametrize(
    ("path", "value", "named"),
    [
        ("back_office.staffing.district.lnd", 3, "back_office.staffing.district.lnd: no such pool"),
        ("run.horizon", 5, "run.horizon: unknown field"),
        ("back_office.nope", 1, "back_office.nope: unknown field"),
        ("channels.capable_share", 1.5, "channels.capable_share"),
        (LAND, 1.5, LAND),
        (LAND, -1, LAND),
        ("run.seed.x", 1, "run.seed is a value"),
        ("back_office.staffing", 3, "back_office.staffing is a section"),
        ("catalog", "other.csv", "cannot change the catalog"),
    ],
)
def test_with_value_refuses_an_unknown_path_or_a_bad_value_naming_it(
    scenarios_dir: Path, path: str, value: object, named: str
) -> None:
    base, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml")
    with pytest.raises(ScenarioError) as error:
        with_value(base, path, value, catalog)
    assert str(error.value).startswith(f"{path}={value}: ") and named in str(error.value)


def test_with_value_reads_no_file(tmp_path: Path, scenarios_dir: Path) -> None:
    """A point is made in memory: it works after the scenario file and its catalog are gone."""
    csv = tmp_path / "catalog.csv"
    shutil.copy(scenarios_dir.parent / "catalog" / "nam-dinh-2024.csv", csv)
    path = write(tmp_path, baseline_line(scenarios_dir) + f"name: gone\ncatalog: {csv}\n")
    base, catalog = load_scenario(path)
    path.unlink()
    csv.unlink()
    point = with_value(base, LAND, 14, catalog)
    assert point.back_office.staffing["district"]["land"] == 14 and point.name == "gone"
    assert point.source == base.source and point.catalog_path() == csv
    with pytest.raises(ScenarioError, match="no such pool"):
        with_value(base, "back_office.staffing.district.lnd", 3, catalog)
