"""Comparisons under common random numbers: a scenario against itself differs by exactly zero, a known
improvement is found significant, and verdicts know which way is good."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from dvclab.sim.compare import compare, good_direction, minimal_difference, verdict
from dvclab.sim.experiment import Estimate
from tests.workbench.conftest import SCENARIOS, TINY, TINY_PLUS, dvclab, tiny


@pytest.mark.slow
def test_a_scenario_compared_with_itself_differs_by_exactly_zero() -> None:
    # two separate runs of the same file: the same seed gives the same citizens, draw for draw
    again = tiny(TINY, 2, **{"run.seed": 2024})
    comparison = compare(tiny(), again)
    assert comparison.changes == []
    assert len(comparison.rows) > 50
    for row in comparison.rows:
        d = row.difference
        assert (d.mean, d.ci_low, d.ci_high) == (0.0, 0.0, 0.0), row.kpi
        assert row.verdict == "no significant change"


@pytest.mark.slow
def test_only_the_changed_office_moves() -> None:
    rows = {row.kpi: row for row in compare(tiny(), tiny(TINY_PLUS)).rows}
    assert rows["utilisation.district.land"].difference.mean < 0
    # common random numbers: the citizens, channels and counters are the same in both
    for kpi in (
        "dossiers",
        "self_service_online_rate",
        "counter_wait_mean_min",
        "utilisation.province.justice",
    ):
        assert rows[kpi].difference.mean == 0.0, kpi


@pytest.mark.parametrize(
    ("kpi", "low", "high", "expected"),
    [
        ("overdue_rate", -0.02, -0.01, "better"),
        ("overdue_rate_by_group.land", 0.01, 0.02, "worse"),
        ("counter_wait_p90_min", -3.0, -1.0, "better"),
        ("self_service_online_rate", 0.01, 0.05, "better"),
        ("index_766.timeliness", -1.0, -0.5, "worse"),
        ("utilisation.district.land", -0.2, -0.1, "lower"),
        ("dossiers", 10.0, 20.0, "higher"),
        ("overdue_rate", -0.01, 0.01, "no significant change"),
        # significant but below the minimal difference (0.5 percentage points): not "better"
        ("overdue_rate", -0.0006, -0.0002, "no material change"),
        ("counter_wait_mean_min", 0.1, 0.3, "no material change"),
        ("index_766.timeliness", -0.3, -0.1, "no material change"),
    ],
)
def test_verdicts_know_each_kpis_good_direction(kpi: str, low: float, high: float, expected: str) -> None:
    assert verdict(kpi, Estimate((low + high) / 2, low, high, "")) == expected


def test_good_directions() -> None:
    assert good_direction("trips_per_dossier") == -1
    assert good_direction("digitised_rate") == 1
    assert good_direction("postal_return_share") == 0


@pytest.mark.slow
def test_land_office_plus_2_is_found_significantly_better_on_land(out: Path) -> None:
    """The shipped what-if against the baseline, through the CLI: 10 days after a 14-day warm-up."""
    result = dvclab(
        "sim", "compare", str(SCENARIOS / "nam-dinh-2024.yaml"), str(SCENARIOS / "land-office-plus-2.yaml"),
        "--horizon-days", "10", "--warmup-days", "14", "--replications", "3", "--jobs", "2",
        "--lang", "en", "--out", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    [folder] = (out / "compare" / "nam-dinh-2024").iterdir()
    with (folder / "differences.csv").open(encoding="utf-8") as handle:
        rows = {row["kpi"]: row for row in csv.DictReader(handle)}
    land = rows["overdue_rate_by_group.land"]
    assert land["verdict"] == "better", land
    assert float(land["ci_high"]) < 0
    assert (
        rows["dossiers"]["verdict"] == "no significant change" and float(rows["dossiers"]["difference"]) == 0
    )
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "sim-compare" and manifest["partial"] is False
    assert [s["name"] for s in manifest["scenarios"]] == ["nam-dinh-2024", "land-office-plus-2"]
    assert {s["scenario"]["run"]["seed"] for s in manifest["scenarios"]} == {2024}
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert "What changes vs the baseline" in page and "better" in page
    assert f"report: {folder / 'report.html'}" in result.stdout


def test_minimal_differences_are_absolute_or_relative_to_the_baseline() -> None:
    assert minimal_difference("overdue_rate") == 0.005
    assert minimal_difference("apology_slips", 2000.0) == 20.0
    tiny_change = Estimate(10.0, 5.0, 15.0, "dossiers")
    assert verdict("apology_slips", tiny_change, 2000.0) == "no material change"
    assert verdict("apology_slips", tiny_change, 200.0) == "worse"


def test_the_same_catalog_through_two_paths_is_not_a_change(tmp_path: Path) -> None:
    from types import SimpleNamespace

    from dvclab.paths import shipped
    from dvclab.sim.compare import same_catalog, scenario_changes
    from dvclab.sim.scenario import load_scenario

    base, _ = load_scenario(shipped("sim", "nam-dinh-2024.yaml"))  # names it relative to itself
    whatif, _ = load_scenario(shipped("sim", "land-office-plus-2.yaml"))  # inherits it resolved
    assert base.catalog != whatif.catalog and same_catalog(base, whatif)
    changes = scenario_changes(SimpleNamespace(scenario=base), SimpleNamespace(scenario=whatif))
    assert [path for path, _, _ in changes] == ["back_office.staffing.district.land"]
    # a copy elsewhere is the same catalog by content; an edited copy is a change
    copy = tmp_path / "copy.csv"
    copy.write_bytes(base.catalog_path().read_bytes())
    assert same_catalog(base, base.model_copy(update={"catalog": str(copy)}))
    copy.write_bytes(copy.read_bytes() + b"\n")
    assert not same_catalog(base, base.model_copy(update={"catalog": str(copy)}))
