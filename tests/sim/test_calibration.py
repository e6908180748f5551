"""Back tests: the baseline against the reported Nam Định 2024 figures (DESIGN.md, domain-facts.md)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from dvclab.catalog import load_catalog
from tests.sim.conftest import experiment

pytestmark = [pytest.mark.validation, pytest.mark.slow]
# The province is data (its units file), so the calibration must hold whatever the seed.
SEEDS = (2024, 7, 31)


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
