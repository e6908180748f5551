"""Extreme-value tests: the model at the edges of its parameters behaves as the edges imply."""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path

import pytest
import simpy

from dvclab.cli import main
from dvclab.sim.calendar import BeyondCalendar
from dvclab.sim.experiment import single_run
from dvclab.sim.model import Dossier, OverloadError, ProvinceModel
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
    with pytest.raises(OverloadError, match="district.land.*beyond the calendar"):
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


def _short_model(scenarios_dir: Path) -> ProvinceModel:
    scenario, catalog = load_scenario(
        scenarios_dir / "nam-dinh-2024.yaml", **{"run.horizon_days": 2, "startup.warmup_days": 0}
    )
    return ProvinceModel(scenario, build_procedures(scenario, catalog))


def test_a_fault_inside_the_run_surfaces_and_is_not_called_an_overload(scenarios_dir: Path) -> None:
    model = _short_model(scenarios_dir)

    def broken(*_: object) -> None:
        raise ValueError("a fault in the tally")

    model.tally.received = broken  # type: ignore[method-assign]
    with pytest.raises(ValueError, match="a fault in the tally"):
        model.run()


def test_a_negative_delay_inside_the_calendar_is_a_fault_not_an_overload(scenarios_dir: Path) -> None:
    model = _short_model(scenarios_dir)

    def simpy_refuses() -> Generator[simpy.Event, None, None]:
        yield model.env.timeout(60.0)
        yield model.env.timeout(-5.0)  # SimPy's own "Negative delay", long before the calendar's end

    model.env.process(simpy_refuses())
    with pytest.raises(ValueError, match="Negative delay"):
        model.run()

    model = _short_model(scenarios_dir)

    def scheduled_in_the_past(dossier: Dossier) -> None:
        model._at(model.env.now - 5.0, model._then_receive, dossier)  # a model fault, not a full calendar

    model._receive = scheduled_in_the_past  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="model fault") as raised:
        model.run()
    assert not isinstance(raised.value, OverloadError)


def test_a_rounding_error_before_now_waits_zero_and_a_time_beyond_the_calendar_is_the_overload(
    scenarios_dir: Path,
) -> None:
    model = _short_model(scenarios_dir)
    assert model._negative(-1e-9) == 0.0
    with pytest.raises(RuntimeError, match="model fault"):
        model._negative(-1.0)
    model.env.run(until=model.calendar.end + 1.0)  # the clock past the calendar's last session
    with pytest.raises(BeyondCalendar):
        model._negative(-1.0)
