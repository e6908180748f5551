"""MSER-5 on synthetic backlogs whose transient is known (``sim.warmup``)."""

from __future__ import annotations

import numpy as np
import pytest

from dvclab.sim.warmup import (
    MIN_WARMUP_DAYS,
    PILOT_DAYS,
    choose_warmup,
    mser,
    pool_truncations,
    pool_warmups,
    run_up,
)


def filling(days: int, steady: float, tau: float, noise: float, seed: int = 0) -> np.ndarray:
    """A queue filling from empty: steady × (1 - e^(-t/τ)) plus day-to-day noise."""
    t = np.arange(days)
    rng = np.random.default_rng(seed)
    return steady * (1 - np.exp(-t / tau)) + rng.normal(0, noise, days)


@pytest.mark.parametrize("seed", range(5))
def test_mser_drops_a_known_transient_and_little_more(seed: int) -> None:
    # within 1% of steady after 4.6 τ = 46 days; noise is 2% of steady
    found = mser(filling(400, 1000.0, 10.0, 20.0, seed))
    assert found.settled
    assert 25 <= found.days <= 100, found  # MSER may over-truncate on noise (safe), never under
    assert found.mean_after == pytest.approx(1000.0, rel=0.01)


def test_mser_drops_nothing_from_a_stationary_series() -> None:
    found = mser(np.random.default_rng(3).normal(500.0, 25.0, 300))
    assert found.settled and found.days <= 25


def test_a_longer_transient_gives_a_longer_truncation() -> None:
    short = mser(filling(600, 1000.0, 8.0, 10.0)).days
    long = mser(filling(600, 1000.0, 40.0, 10.0)).days
    assert long > 2 * short


def test_a_backlog_that_keeps_growing_never_settles() -> None:
    # an unstable pool: the backlog grows all along, so no truncation leaves a steady mean
    found = mser(np.arange(300, dtype=float) * 3.0 + np.random.default_rng(1).normal(0, 5, 300))
    assert not found.settled
    assert found.days == (300 // 5 // 2) * 5


def test_mser_batches_of_five_days() -> None:
    assert mser(filling(200, 100.0, 5.0, 1.0)).days % 5 == 0
    with pytest.raises(ValueError, match="at least 20 values"):
        mser(np.ones(19))


def test_the_slowest_pool_sets_the_warmup_in_whole_weeks() -> None:
    backlog = {
        "district.land": np.array([filling(300, 2000.0, 15.0, 20.0, seed) for seed in range(3)]),
        "commune.civil_status": np.array([filling(300, 40.0, 2.0, 2.0, seed) for seed in range(3)]),
        "commune.tiny": np.array([filling(300, 1.0, 30.0, 0.1, seed) for seed in range(3)]),
    }
    found = pool_truncations(backlog)
    assert set(found) == {"district.land", "commune.civil_status"}  # the tiny pool carries no transient
    assert found["district.land"].days > found["commune.civil_status"].days
    days = choose_warmup({pool: t.days for pool, t in found.items()})
    assert days % 7 == 0 and found["district.land"].days <= days < found["district.land"].days + 7


def test_no_transient_still_warms_up_a_week_and_never_past_the_pilot() -> None:
    assert choose_warmup({}) == MIN_WARMUP_DAYS
    assert choose_warmup({"x": 0}) == MIN_WARMUP_DAYS
    assert choose_warmup({"x": 500}) == PILOT_DAYS


def seasonal(days: int, start: int, build_days: int, seed: int = 0) -> np.ndarray:
    """A pool that fills from empty in ~3 weeks, then sits at 1000 until ``build_days`` before ``start``,
    when a busy season builds its backlog up by 60%."""
    series = filling(days, 1000.0, 5.0, 15.0, seed)
    t = np.arange(days)
    season = np.clip((t - (start - build_days)) / build_days, 0, None)
    return series + 600.0 * season


def test_the_run_up_of_a_busy_season_is_read_back_from_the_start() -> None:
    series = seasonal(200, 180, 45)
    found = mser(series[:180])
    assert found.days <= 40  # MSER alone: the fill from empty, not the season
    days = run_up(series, 180, found.days)
    # the backlog crosses its settled mean part-way up the build; the warm-up starts before that
    assert 20 <= days <= 45, days


def test_a_steady_pool_needs_no_run_up() -> None:
    series = filling(200, 1000.0, 5.0, 15.0, 4)
    assert run_up(series, 180, mser(series[:180]).days) <= 14


def test_the_warmup_covers_the_fill_and_the_season_of_the_slowest_pool() -> None:
    start = 182
    backlog = {
        "district.land": seasonal(start + 14, start, 60, 1),
        "commune.justice": filling(start + 14, 900.0, 3.0, 20.0, 2),
    }
    found = pool_warmups(backlog, start)
    land = found["district.land"]
    assert land.days == land.transient.days + land.run_up
    assert land.days > found["commune.justice"].days
    days = choose_warmup({pool: w.days for pool, w in found.items()})
    assert land.days <= days and days >= 30


def test_the_run_check_reads_its_own_warmup_the_pilots_way() -> None:
    from types import SimpleNamespace

    from dvclab.sim.warmup import run_check

    def run(warmup: int) -> list[SimpleNamespace]:
        days = warmup + 300
        return [
            SimpleNamespace(backlog_by_pool_day={"district.land": seasonal(days, warmup, 40, seed)})
            for seed in range(3)
        ]

    found = run_check(run(120), 120)
    assert found["slowest_pool"] == "district.land"
    # the season's build-up (40 days) and the fill, read back from the horizon's start
    assert 30 <= found["needs_days"]["district.land"] <= 80, found
    assert run_check(run(10), 10) is None  # too short to read
    assert run_check([SimpleNamespace(backlog_by_pool_day={})], 60) is None


def test_a_chosen_warmup_is_kept_and_reused_unless_fresh(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    """The pilot costs half a province-year and is deterministic: the second study reads its choice back,
    and ``fresh`` runs it again (the same days: the same pilot)."""
    from pathlib import Path

    from dvclab.sim import warmup
    from dvclab.sim.scenario import load_scenario

    tiny = Path(__file__).resolve().parents[1] / "workbench" / "tiny.yaml"
    scenario, catalog = load_scenario(tiny, **{"startup.warmup_days": "auto", "run.horizon_days": 7})
    monkeypatch.setenv("DVCLAB_CACHE", str(tmp_path))
    pilots: list[int] = []
    real = warmup.pool_warmups
    monkeypatch.setattr(warmup, "pool_warmups", lambda *a: pilots.append(1) or real(*a))
    first, chosen = warmup.resolve_warmup(scenario, catalog)
    again, kept = warmup.resolve_warmup(scenario, catalog)
    assert len(pilots) == 1 and "pilot_reused" in kept and "pilot_reused" not in chosen
    assert again.startup.warmup_days == first.startup.warmup_days == chosen["days"] == kept["days"]
    fresh, _ = warmup.resolve_warmup(scenario, catalog, fresh=True)
    assert len(pilots) == 2 and fresh.startup.warmup_days == chosen["days"]
    seeded = scenario.model_copy(update={"run": scenario.run.model_copy(update={"seed": 99})})
    warmup.resolve_warmup(seeded, catalog)
    assert len(pilots) == 3  # another seed is another pilot
