"""Back tests: the baseline against the reported Nam Định 2024 figures (DESIGN.md, domain-facts.md)."""

from __future__ import annotations

from collections import Counter
from functools import cache

import numpy as np
import pytest

from dvclab.catalog import load_catalog
from dvclab.sim.experiment import Experiment, multiple_replications
from dvclab.sim.scenario import load_scenario
from dvclab.sim.stability import backlog_trends, scenario_loads
from tests.sim.conftest import SCENARIOS, experiment

pytestmark = [pytest.mark.validation, pytest.mark.slow]
# The province is data (its units file), so the calibration must hold whatever the seed.
SEEDS = (2024, 7, 31)
# Land: the land registration branches run about 10% late (Quảng Nam, Q1 2025; the catalog README). The
# target is over the whole year (the year-end backlog is worked off in the first months), so it is checked
# on the baseline as `dvclab sim run scenarios/sim/nam-dinh-2024.yaml --replications 2 --seed S` runs it.
LAND_LATE = 0.10
# Per seed, the mean of 2 replications: their land rates differ by up to ~1.3 points (seed 7: 10.5% and
# 9.2%), a replication's standard deviation of up to ~0.9 points and the mean's ~0.65, so ±1.5 points is
# ~2.3 standard deviations around the target; the 6 replications of the three seeds together must be
# within ±1 point (~2.5 standard deviations of their mean).
LAND_TOLERANCE_SEED = 0.015
LAND_TOLERANCE_POOLED = 0.01


@cache
def year(seed: int) -> Experiment:
    """The baseline as it is (the whole of 2024, warm-up auto), 2 replications: ~1 min of CPU each."""
    scenario, catalog = load_scenario(SCENARIOS / "nam-dinh-2024.yaml", **{"run.seed": seed})
    return multiple_replications(scenario, catalog, 2, jobs=2)


def test_catalog_matches_the_reported_counts() -> None:
    catalog = load_catalog()
    assert len(catalog) == 1679
    assert Counter(p.online_level for p in catalog) == {"full": 868, "partial": 811}
    deadlines = {p.name: p.deadline_days for p in catalog if p.sourced}
    assert deadlines["Đăng ký khai sinh"] == 0
    assert deadlines["Đăng ký thường trú"] == 7
    assert deadlines["Cấp Phiếu lý lịch tư pháp"] == 10
    assert deadlines["Đăng ký thành lập doanh nghiệp"] == 3
    assert deadlines["Cấp giấy phép xây dựng nhà ở riêng lẻ"] == 15
    assert deadlines["Đăng ký, cấp Giấy chứng nhận quyền sử dụng đất lần đầu"] == 23


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("kpi", "target", "tolerance"),
    [
        ("reported_online_rate", 0.96, 0.015),
        ("self_service_online_rate", 0.53, 0.03),
        ("online_payment_rate", 0.90, 0.03),
        ("digitised_rate", 0.80, 0.03),
    ],
)
def test_baseline_reproduces_the_reported_rates(kpi: str, target: float, tolerance: float, seed: int) -> None:
    estimate = experiment("nam-dinh-2024", seed=seed).summary()[kpi]
    assert target - tolerance <= estimate.ci_low and estimate.ci_high <= target + tolerance, estimate


@pytest.mark.parametrize("seed", SEEDS)
def test_baseline_on_time_rate_and_land_tail(seed: int) -> None:
    run = experiment("nam-dinh-2024", seed=seed)
    summary = run.summary()
    on_time = summary["on_time_rate"]
    assert on_time.ci_low >= 0.96 and on_time.ci_high <= 0.995, on_time
    # land carries the most overdue dossiers of any procedure group
    groups = [name.split(".", 1)[1] for name in summary if name.startswith("overdue_rate_by_group.")]
    dossiers = np.sum([o.dossiers_by_procedure for o in run.outputs], axis=0)
    overdue = np.sum([o.overdue_by_procedure for o in run.outputs], axis=0)
    from dvclab.sim.procedures import build_procedures

    table = build_procedures(run.scenario, load_catalog())
    by_group = {g: overdue[np.asarray(table.groups) == g].sum() for g in groups}
    assert max(by_group, key=by_group.get) == "land", by_group
    assert dossiers.sum() > 0
    assert summary["overdue_rate_by_group.land"].mean > 2 * summary["overdue_rate"].mean


def test_no_unit_gets_more_work_than_its_officers_can_do() -> None:
    scenario, catalog = load_scenario(SCENARIOS / "nam-dinh-2024.yaml")
    loads = scenario_loads(scenario, catalog)
    assert not [load.unit for load in loads if load.unstable]
    # the land offices carry a high load on purpose (the re-calibration), but with room to spare
    assert loads[0].unit.startswith("district.land.") and 0.95 <= loads[0].rho < 0.98, loads[0]


@pytest.mark.parametrize("seed", SEEDS)
def test_land_runs_about_ten_percent_late_over_the_year(seed: int) -> None:
    run = year(seed)
    summary = run.summary()
    land = summary["overdue_rate_by_group.land"]
    assert abs(land.mean - LAND_LATE) <= LAND_TOLERANCE_SEED, land
    assert 0.96 <= summary["on_time_rate"].mean <= 0.999, summary["on_time_rate"]
    assert summary["overdue_rate_by_group.land"].mean > 2 * summary["overdue_rate"].mean
    # the land offices end the year where they began: a high load, not a growing backlog
    trends = backlog_trends(run.outputs, run.scenario.startup.warmup_days, run.scenario.run.horizon_days)
    land_trends = [t for t in trends if t.unit.startswith("district.land.")]
    assert len(land_trends) == 9 and all(t.judged for t in land_trends)
    assert not [t.unit for t in land_trends if t.growing], land_trends


def test_land_runs_about_ten_percent_late_over_the_three_seeds() -> None:
    rates = np.concatenate([year(seed).values("overdue_rate_by_group.land") for seed in SEEDS])
    assert len(rates) == 2 * len(SEEDS)
    assert abs(rates.mean() - LAND_LATE) <= LAND_TOLERANCE_POOLED, rates
