"""Functional tests of `dvclab sim run`: the results folder and the kpis.json contract."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dvclab.cli import main
from dvclab.sim.kpis import KPI_CONTRACT as CONTRACT

pytestmark = pytest.mark.slow  # a province simulation run through the CLI


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("results")
    scenario = Path(__file__).resolve().parents[2] / "scenarios" / "sim" / "nam-dinh-2024.yaml"
    code = main(
        [
            "sim",
            "run",
            str(scenario),
            "--replications",
            "2",
            "--horizon-days",
            "3",
            "--seed",
            "5",
            "--jobs",
            "2",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    runs = list((out / "nam-dinh-2024").iterdir())
    assert len(runs) == 1, runs  # no partial folder left behind
    return runs[0]


def test_every_file_is_written(run_dir: Path) -> None:
    for name in (
        "manifest.json",
        "kpis.json",
        "kpis.csv",
        "replications.csv",
        "arrivals_by_hour.csv",
        "backlog_by_day.csv",
        "overdue_top_procedures.csv",
        "overdue_top_units.csv",
        "busiest_units.csv",
    ):
        assert (run_dir / name).stat().st_size > 0, name


def test_kpis_json_contract(run_dir: Path) -> None:
    kpis = json.loads((run_dir / "kpis.json").read_text())
    for name in CONTRACT:
        assert set(kpis[name]) == {"mean", "ci_low", "ci_high", "unit"}, name
        assert kpis[name]["ci_low"] <= kpis[name]["mean"] <= kpis[name]["ci_high"], name
    for family in (
        "overdue_rate_by_level.", "overdue_rate_by_group.", "utilisation.", "utilisation_max.", "index_766."
    ):
        assert any(name.startswith(family) for name in kpis), family
    # rates lie within 0 and 1; utilisation may pass 1 (work finished after hours), never below 0
    rates = [v for k, v in kpis.items() if v["unit"] == "fraction" and not k.startswith("utilisation")]
    assert all(v["ci_low"] >= 0.0 and v["ci_high"] <= 1.0 for v in rates)
    assert all(v["ci_low"] >= 0.0 for k, v in kpis.items() if k.startswith("utilisation"))
    assert kpis["dossiers"]["mean"] > 1000


def test_manifest_records_what_produced_the_run(run_dir: Path) -> None:
    manifest = json.loads((run_dir / "manifest.json").read_text())
    assert manifest["kind"] == "sim" and manifest["scenario_name"] == "nam-dinh-2024"
    assert manifest["seed"] == 5 and manifest["replications"] == 2
    assert manifest["scenario"]["run"]["horizon_days"] == 3
    assert manifest["scenario"]["back_office"]["staffing"]["district"]["land"] > 0  # resolved scenario
    assert {"python", "simpy", "numpy"} <= set(manifest["versions"])
    assert manifest["command"][:3] == ["dvclab", "sim", "run"]


def test_hourly_forecast_and_replications(run_dir: Path) -> None:
    with (run_dir / "arrivals_by_hour.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 * 24
    assert sum(float(r["portal_submissions"]) for r in rows) > 0
    with (run_dir / "replications.csv").open() as handle:
        assert len(list(csv.DictReader(handle))) == 2


def test_plain_kpis_list_every_kpi_outside_the_dotted_families(run_dir: Path) -> None:
    from dvclab.sim.kpis import PLAIN_KPIS

    kpis = json.loads((run_dir / "kpis.json").read_text())
    families = ("overdue_rate_by_", "dossier_share_by_level.", "utilisation.", "utilisation_max.")
    plain = {name for name in kpis if not name.startswith(families)}
    assert plain == set(PLAIN_KPIS)
