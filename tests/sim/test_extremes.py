"""Extreme-value tests: the model at the edges of its parameters behaves as the edges imply."""

from __future__ import annotations

from pathlib import Path

import pytest

from dvclab.cli import main
from dvclab.sim.experiment import single_run
from dvclab.sim.model import OverloadError, ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.scenario import ScenarioError, load_scenario

SHORT = {"run.horizon_days": 5, "startup.warmup_days": 3}


def run(scenarios_dir: Path, **overrides: object) -> dict[str, float]:
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **{**SHORT, **overrides})
    return single_run(scenario, catalog).kpis


@pytest.mark.slow
def test_everyone_digital_and_no_originals_means_no_paper_channels(scenarios_dir: Path) -> None:
    kpis = run(
        scenarios_dir,
        **{
            "channels.capable_share": 1.0,
            "channels.self_service_propensity": 1.0,
            "channels.partial_online_filing": 1.0,
            "channels.originals_enforced": False,
            "channels.postal_submission_share": 0.0,
        },
    )
    assert kpis["reported_online_rate"] == 1.0
    assert kpis["self_service_online_rate"] > 0.6


@pytest.mark.slow
def test_nobody_digital_and_no_assistance_means_nothing_online(scenarios_dir: Path) -> None:
    kpis = run(
        scenarios_dir,
        **{
            "channels.capable_share": 0.0,
            "channels.digital_team_coverage": 0.0,
            "channels.assisted_filing_share": 0.0,
            "channels.postal_submission_share": 0.0,
        },
    )
    assert kpis["reported_online_rate"] == 0.0
    assert kpis["self_service_online_rate"] == 0.0
    assert kpis["trips_per_dossier"] >= 1.0  # everyone comes to the counter at least once


@pytest.mark.slow
def test_no_supplements_and_instant_decisions_leave_nothing_overdue(scenarios_dir: Path) -> None:
    kpis = run(
        scenarios_dir,
        **{
            "supplements.probability_scale": 0.0,
            "back_office.approval_cv": 0.0,
            "back_office.default_officers": 50,
            "back_office.staffing": {"district": {"land": 60}},
        },
    )
    assert kpis["supplement_rate"] == 0.0
    assert kpis["overdue_rate"] < 0.01


def test_a_pool_without_officers_is_refused(scenarios_dir: Path) -> None:
    scenario, catalog = load_scenario(
        scenarios_dir / "nam-dinh-2024.yaml", **SHORT, **{"back_office.staffing": {"district": {"land": 0}}}
    )
    with pytest.raises(ScenarioError, match="back_office.staffing.district.land: 0 officers"):
        ProvinceModel(scenario, build_procedures(scenario, catalog))


@pytest.mark.slow
def test_an_overloaded_pool_is_reported_not_hung(
    scenarios_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "one-land-officer.yaml"
    path.write_text(
        f"extends: {scenarios_dir / 'nam-dinh-2024.yaml'}\nname: one-land-officer\n"
        "back_office: {staffing: {district: {land: 1}}}\nstartup: {warmup_days: 25}\n",
        encoding="utf-8",
    )
    scenario, catalog = load_scenario(path, **{"run.horizon_days": 5})
    with pytest.raises(OverloadError, match="district.land"):
        ProvinceModel(scenario, build_procedures(scenario, catalog)).run()
    out = tmp_path / "results"
    code = main(["sim", "run", str(path), "--horizon-days", "5", "--replications", "1", "--out", str(out)])
    assert code == 1
    assert "cannot keep up" in capsys.readouterr().err
    assert not any(out.rglob("kpis.json"))


def test_no_demand_is_a_clear_error(scenarios_dir: Path) -> None:
    scenario, catalog = load_scenario(
        scenarios_dir / "nam-dinh-2024.yaml", **SHORT, **{"demand.dossiers_per_year": 0}
    )
    with pytest.raises(ScenarioError, match="generates no dossiers"):
        ProvinceModel(scenario, build_procedures(scenario, catalog))


@pytest.mark.slow
def test_backlog_start_delays_the_first_dossiers(scenarios_dir: Path) -> None:
    empty = run(scenarios_dir, **{"startup.mode": "backlog", "startup.warmup_days": 0})
    loaded = run(
        scenarios_dir,
        **{"startup.mode": "backlog", "startup.warmup_days": 0, "startup.backlog": {"district.land": 3000}},
    )
    assert loaded["overdue_rate_by_group.land"] > empty["overdue_rate_by_group.land"]
    assert loaded["utilisation.district.land"] > empty["utilisation.district.land"]


@pytest.mark.slow
def test_supplement_clock_pausing_forgives_the_citizens_time(scenarios_dir: Path) -> None:
    runs = run(scenarios_dir, **{"supplements.clock": "runs", "supplements.probability_scale": 3.0})
    pauses = run(scenarios_dir, **{"supplements.clock": "pauses", "supplements.probability_scale": 3.0})
    assert pauses["overdue_rate"] < runs["overdue_rate"]
