"""Memory follows the dossiers in progress: a dossier's state lives until its result is issued, then only
its outcome remains, in the running tally. And the FIFO officer pool that schedules no event (Kiefer and
Wolfowitz's recursion) starts and ends every piece of work exactly when the event-driven pool does."""

from __future__ import annotations

import datetime as dt
import gc
from collections.abc import Generator
from pathlib import Path

import numpy as np
import pytest
import simpy

from dvclab.sim.back_office import OfficerPool
from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.model import Dossier, ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.scenario import load_scenario

SESSIONS = [(450, 690), (810, 1020)]  # 07:30-11:30, 13:30-17:00


def _live_dossiers() -> int:
    return sum(isinstance(o, Dossier) for o in gc.get_objects())


@pytest.fixture
def dossiers_before() -> int:
    """Dossiers another test in this process still holds (a CI run found 12, from an earlier test's
    model): this test counts only its own model's."""
    gc.collect()
    return _live_dossiers()


def test_live_dossiers_are_the_ones_in_progress_not_the_ones_simulated(
    scenarios_dir: Path, dossiers_before: int
) -> None:
    overrides = {"run.horizon_days": 30, "startup.warmup_days": 10}
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **overrides)
    model = ProvinceModel(scenario, build_procedures(scenario, catalog))
    seen: list[tuple[int, int, int]] = []

    def probe() -> Generator[simpy.Event, None, None]:
        for _ in range(8):  # the 40 days of arrivals
            yield model.env.timeout(5 * MINUTES_PER_DAY)
            seen.append((_live_dossiers() - dossiers_before, model.in_progress, model.arrived))

    model.env.process(probe())
    model.run()
    # every probe: the live Dossier objects are exactly the dossiers drawn and not yet issued ...
    assert len(seen) >= 7
    assert all(live == in_progress for live, in_progress, _ in seen), seen
    # ... which stay bounded while the dossiers simulated grow (one day's arrivals is ~3,000)
    assert model.arrived > 100_000
    assert model.peak_in_progress < model.arrived / 10, (model.peak_in_progress, model.arrived)
    assert max(live for live, _, _ in seen[3:]) < 3 * max(live for live, _, _ in seen[:3])
    # at the end nothing is left but the tally
    assert model.in_progress == 0 and _live_dossiers() == dossiers_before
    assert model.tally.dossiers > 0 and not model.tally.changes and not model.tally.work[0]


def _pool_ends(fifo_without_events: bool, arrivals: np.ndarray, efforts: np.ndarray) -> list[float]:
    env = simpy.Environment()
    calendar = WorkingCalendar(dt.date(2024, 3, 4), 60, SESSIONS)
    # a monitored pool hands its officers over with events; an unmonitored FIFO pool uses the recursion
    pool = OfficerPool(env, "district.land.0", 3, calendar, "fifo", monitored=not fifo_without_events)
    assert (pool.free_at is not None) == fifo_without_events
    ends = [0.0] * len(arrivals)

    def decided(i: int, end: float) -> None:
        ends[i] = end

    def citizens() -> Generator[simpy.Event, None, None]:
        for i, (t, effort) in enumerate(zip(arrivals.tolist(), efforts.tolist(), strict=True)):
            yield env.timeout(t - env.now)
            pool.handle(effort, 0.0, decided, i)

    env.process(citizens())
    env.run()
    return ends


def test_the_fifo_pool_without_events_matches_the_event_driven_pool() -> None:
    rng = np.random.default_rng(5)
    arrivals = np.sort(rng.uniform(0, 20 * MINUTES_PER_DAY, 600))  # busy: ρ ≈ 0.9 of open time
    efforts = rng.exponential(60.0, 600)
    # the same ends, up to the rounding of the event-driven pool's clock (it reaches an end as now + delay)
    fast, evented = _pool_ends(True, arrivals, efforts), _pool_ends(False, arrivals, efforts)
    np.testing.assert_allclose(fast, evented, rtol=1e-12)


def test_counter_wait_percentile_from_the_histogram_is_within_a_second(scenarios_dir: Path) -> None:
    from dvclab.sim.observe import WAIT_EDGES

    overrides = {"run.horizon_days": 2, "startup.warmup_days": 0}  # the tally alone: no warm-up to choose
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **overrides)
    model = ProvinceModel(scenario, build_procedures(scenario, catalog))
    tally = model.tally
    rng = np.random.default_rng(3)
    waits = np.concatenate([np.zeros(400), rng.exponential(20.0, 1500), [2000.0, 3000.0]])
    for wait in waits.tolist():
        tally.reception(True, wait, False, -1.0, 0.0)
    assert tally.wait_sum / tally.waited == pytest.approx(np.mean(waits), rel=1e-12)
    assert abs(tally.wait_p90() - np.percentile(waits, 90)) <= 1 / 60
    np.testing.assert_array_equal(tally.wait_histogram(WAIT_EDGES), np.histogram(waits, WAIT_EDGES)[0])


def _counter_waits(monitored: bool, calendar: WorkingCalendar | None) -> list[tuple[float, bool, float]]:
    from dvclab.sim.counters import Counter

    rng = np.random.default_rng(8)
    env = simpy.Environment()
    counter = Counter(env, "counter.commune.0", 2, calendar, monitored=monitored)
    assert (counter.free_at is None) == monitored
    seen: list[tuple[float, bool, float]] = []

    def received(_citizen: int, wait: float, came_back: bool) -> None:
        seen.append((wait, came_back, env.now))

    def citizens() -> Generator[simpy.Event, None, None]:
        t = 0.0
        for i in range(800):
            t += rng.exponential(4.0)
            if calendar is not None:
                t = calendar.next_open(t)  # citizens come in opening hours
            yield env.timeout(t - env.now)
            counter.receive(rng.exponential(7.0), received, i)

    env.process(citizens())
    env.run()
    return seen


@pytest.mark.parametrize("open_hours", [False, True])
def test_the_counter_without_hand_over_events_matches_the_event_driven_one(open_hours: bool) -> None:
    calendar = WorkingCalendar(dt.date(2024, 3, 4), 60, SESSIONS) if open_hours else None
    fast, evented = _counter_waits(False, calendar), _counter_waits(True, calendar)
    assert [came_back for _, came_back, _ in fast] == [came_back for _, came_back, _ in evented]
    np.testing.assert_allclose(np.array(fast)[:, [0, 2]], np.array(evented)[:, [0, 2]], rtol=1e-12)
    assert not open_hours or any(came_back for _, came_back, _ in fast)  # overnight waits were tested


def test_receipts_and_issues_fold_into_the_days_they_happened(scenarios_dir: Path) -> None:
    overrides = {"run.horizon_days": 3, "startup.warmup_days": 0}
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **overrides)
    tally = ProvinceModel(scenario, build_procedures(scenario, catalog)).tally
    day = MINUTES_PER_DAY
    # a receipt at a day's very end belongs to that day; times past the days kept are dropped
    for key, t in [(7, 10.0), (7, day), (7, day + 1.0), (300_002, 2.5 * day), (7, 99 * day)]:
        tally.received(key, t)
    tally.issued(7, 1.5 * day, False, False, 0, False, False)
    tally.flush()
    tally.issued(300_002, 2.9 * day, False, False, 0, False, False)
    tally.flush()
    assert set(tally.received_by_day) == {7, 300_002} and set(tally.issued_by_day) == {7, 300_002}
    np.testing.assert_array_equal(tally.received_by_day[7], [2, 1, 0])
    np.testing.assert_array_equal(tally.received_by_day[300_002], [0, 0, 1])
    np.testing.assert_array_equal(tally.issued_by_day[7], [0, 1, 0])
    np.testing.assert_array_equal(tally.backlog(), [2, 2, 2])
    np.testing.assert_array_equal(tally.backlog([300_002]), [0, 0, 0])
