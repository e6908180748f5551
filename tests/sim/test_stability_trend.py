"""Each unit's backlog trend through a run (``sim.stability``), and the per-pool backlog it reads."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from dvclab.sim.experiment import single_run
from dvclab.sim.scenario import load_scenario
from dvclab.sim.stability import backlog_trends, scenario_loads, stability_section
from tests.sim.conftest import SCENARIOS

WARMUP, YEAR = 60, 366


def output(units: dict[str, np.ndarray]) -> SimpleNamespace:
    return SimpleNamespace(backlog_by_unit_day=units)


def steady(level: float, seed: int, days: int = WARMUP + YEAR) -> np.ndarray:
    return level + np.random.default_rng(seed).normal(0, 0.05 * level, days)


def outputs(growth_per_day: float, replications: int = 3) -> list[SimpleNamespace]:
    t = np.arange(WARMUP + YEAR)
    return [
        output(
            {
                "district.land.2": steady(500.0, r) + growth_per_day * np.clip(t - WARMUP, 0, None),
                "district.land.1": steady(400.0, 10 + r),
                "commune.justice.7": steady(2.0, 20 + r),
            }
        )
        for r in range(replications)
    ]


def test_a_unit_whose_backlog_grows_through_the_year_is_named() -> None:
    trends = {t.unit: t for t in backlog_trends(outputs(2.0), WARMUP, YEAR)}
    grown = trends["district.land.2"]
    assert grown.growing and grown.growth == pytest.approx(2.0 * (YEAR - 4), rel=0.05)
    assert grown.growth_low > 0
    assert not trends["district.land.1"].growing
    assert not trends["commune.justice.7"].growing  # a one-officer backlog's noise is not a trend


def test_a_stable_province_names_no_unit() -> None:
    assert not any(t.growing for t in backlog_trends(outputs(0.0), WARMUP, YEAR))


def test_slow_growth_below_a_quarter_of_the_mean_is_not_named() -> None:
    # 0.3 a day: ~110 dossiers over the year on a mean of ~555, under the 25% bar
    trends = {t.unit: t for t in backlog_trends(outputs(0.3), WARMUP, YEAR)}
    assert not trends["district.land.2"].growing


def test_a_short_horizon_records_the_trend_but_names_nobody() -> None:
    short = [output({u: s[: WARMUP + 31] for u, s in o.backlog_by_unit_day.items()}) for o in outputs(20.0)]
    trends = backlog_trends(short, WARMUP, 31)
    assert trends and not any(t.growing for t in trends) and not trends[0].judged


def test_one_replication_still_names_a_growing_unit() -> None:
    trends = {t.unit: t for t in backlog_trends(outputs(2.0, replications=1), WARMUP, YEAR)}
    assert trends["district.land.2"].growing


def test_the_manifest_names_units_with_rho_at_least_one_or_a_growing_backlog() -> None:
    load = SimpleNamespace(
        unit="district.land.8", officers=16, dossiers_per_year=1.0, rho=1.01, rho_peak=1.3,
        peak_month="2024-12", unstable=True,
    )
    section = stability_section([load], backlog_trends(outputs(2.0), WARMUP, YEAR))
    assert section["unstable"] == ["district.land.8"]
    assert section["growing"] == ["district.land.2"]
    assert section["flagged"] == ["district.land.2", "district.land.8"]
    assert section["backlog_trend"]["fastest"][0]["unit"] == "district.land.2"


def test_backlog_by_pool_adds_up_to_the_province_backlog() -> None:
    scenario, catalog = load_scenario(
        SCENARIOS / "nam-dinh-2024.yaml", **{"run.horizon_days": 3, "startup.warmup_days": 4}
    )
    result = single_run(scenario, catalog, 0)
    pools, units = result.backlog_by_pool_day, result.backlog_by_unit_day
    assert all(len(series) == 7 for series in pools.values())
    total = np.sum(list(pools.values()), axis=0)
    np.testing.assert_array_equal(total[4:], result.backlog_by_day)  # the horizon part
    assert total[0] > 0  # the warm-up is there too
    land = [name for name in units if name.startswith("district.land.")]
    assert len(land) == 9
    np.testing.assert_array_equal(np.sum([units[n] for n in land], axis=0), pools["district.land"])


def test_the_baseline_has_no_unit_at_or_over_its_capacity() -> None:
    # re-calibrated (scenarios/catalog/build_units.py): communes dealt so the districts are of a size;
    # then (build_catalog.py) a high land load on purpose, ρ ~0.97, still with room below 1
    scenario, catalog = load_scenario(SCENARIOS / "nam-dinh-2024.yaml")
    loads = scenario_loads(scenario, catalog)
    assert loads[0].rho < 0.98, loads[0]
    land = [load.rho for load in loads if load.unit.startswith("district.land.")]
    # high but even: every land office within a few points of the others, the busiest units of all
    assert len(land) == 9 and max(land) - min(land) < 0.03 and min(land) > 0.9


def test_the_terminal_warning_names_the_unstable_units_and_counts_the_rest(capsys) -> None:
    from dvclab.sim.stability import UnitLoad, warn_unstable

    loads = [UnitLoad(f"district.land.{i}", 9, 4000.0, 1.0 + i / 100, 1.2, "2024-12") for i in range(7)]
    loads.append(UnitLoad("district.land.99", 20, 4000.0, 0.7, 0.8, "2024-12"))
    warn_unstable(loads, "nd")
    err = capsys.readouterr().err
    assert "nd: 7 unit(s) get more work than their officers can do" in err
    assert "district.land.0 ρ=1.00 (9 officers)" in err and "and 2 more" in err
    assert "district.land.5" not in err and "district.land.99" not in err
    warn_unstable(loads[-1:], "nd")
    assert capsys.readouterr().err == ""
