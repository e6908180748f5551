"""Back tests of the shipped what-ifs: each moves its indicators the way its premise implies.

Comparisons are paired over replications run with the same seed (common random numbers): a premise
holds when the 95% interval of the what-if minus the baseline lies wholly on the expected side of zero.
"""

from __future__ import annotations

import pytest

from dvclab.sim.experiment import paired_difference
from tests.sim.conftest import BUSY, experiment

pytestmark = [pytest.mark.validation, pytest.mark.slow]


def lower(whatif: str, kpi: str) -> None:
    diff = paired_difference(experiment(whatif, BUSY), experiment("nam-dinh-2024", BUSY), kpi)
    assert diff.ci_high < 0, f"{whatif}: {kpi} should fall, paired difference {diff}"


def higher(whatif: str, kpi: str) -> None:
    diff = paired_difference(experiment(whatif, BUSY), experiment("nam-dinh-2024", BUSY), kpi)
    assert diff.ci_low > 0, f"{whatif}: {kpi} should rise, paired difference {diff}"


def test_land_office_plus_2_lowers_land_overdue() -> None:
    lower("land-office-plus-2", "overdue_rate_by_group.land")
    lower("land-office-plus-2", "utilisation.district.land")


def test_postal_return_all_lowers_trips() -> None:
    lower("postal-return-all", "trips_per_dossier")
    higher("postal-return-all", "postal_return_share")


def test_true_full_online_raises_genuine_self_service() -> None:
    higher("true-full-online", "self_service_online_rate")
    lower("true-full-online", "trips_per_dossier")


def test_digital_teams_raise_self_service_and_shorten_counter_queues() -> None:
    higher("digital-teams", "self_service_online_rate")
    lower("digital-teams", "utilisation.counter.district")


def test_ninh_binh_2025_has_no_district_level_and_communes_take_84_percent() -> None:
    summary = experiment("ninh-binh-2025").summary()
    assert not any(name.endswith(".district") and "by_level" in name for name in summary)
    share = summary["dossier_share_by_level.commune"]
    assert share.ci_low >= 0.82 and share.ci_high <= 0.86, share
    assert 0.9 <= summary["on_time_rate"].mean <= 1.0
