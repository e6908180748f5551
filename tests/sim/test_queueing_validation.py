"""Validation against queueing theory: Erlang C for the counter, Little's law for counters and pools."""

from __future__ import annotations

import numpy as np
import pytest

from dvclab.sim.experiment import confidence_interval
from dvclab.sim.model import ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.queueing import erlang_c, mmc_mean_wait
from dvclab.sim.scenario import load_scenario
from dvclab.sim.validation import mmc_single_run

pytestmark = pytest.mark.validation
OFFICERS = 3
SERVICE_RATE = 1.0  # per minute
REPLICATIONS = 20


def test_erlang_c_formula_on_known_values() -> None:
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lambda)
    assert erlang_c(0.5, 1.0, 1) == pytest.approx(0.5)
    assert mmc_mean_wait(0.5, 1.0, 1) == pytest.approx(1.0)
    assert erlang_c(9, 1, 10) == pytest.approx(0.6687, abs=1e-4)
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(3, 1, 3)


@pytest.mark.parametrize(("rho", "customers"), [(0.5, 4_000), (0.8, 8_000), (0.95, 30_000)])
def test_counter_reproduces_erlang_c(rho: float, customers: int) -> None:
    arrival_rate = rho * OFFICERS * SERVICE_RATE
    runs = [
        mmc_single_run(arrival_rate, SERVICE_RATE, OFFICERS, customers, seed=11, replication=r)
        for r in range(REPLICATIONS)
    ]
    # discard the first 10% of each run: the queue starts empty
    skip = customers // 10
    waits = confidence_interval(np.array([r.waits[skip:].mean() for r in runs]))
    waiting = confidence_interval(np.array([(r.waits[skip:] > 0).mean() for r in runs]))
    expected_wait = mmc_mean_wait(arrival_rate, SERVICE_RATE, OFFICERS)
    expected_p = erlang_c(arrival_rate, SERVICE_RATE, OFFICERS)
    assert waits.ci_low <= expected_wait <= waits.ci_high, (waits, expected_wait)
    assert waiting.ci_low <= expected_p <= waiting.ci_high, (waiting, expected_p)


def test_littles_law_on_the_counter_path() -> None:
    run = mmc_single_run(2.4, SERVICE_RATE, OFFICERS, 50_000, seed=3)
    arrival_rate = len(run.waits) / run.duration
    assert run.mean_queue_length == pytest.approx(arrival_rate * run.mean_wait, rel=0.02)


def test_littles_law_on_province_counters_and_pools(scenarios_dir) -> None:  # noqa: ANN001
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **{"run.horizon_days": 30})
    model = ProvinceModel(scenario, build_procedures(scenario, catalog), monitored=True)
    model.run()
    queues = [(c.desks, c.waits, c.name) for c in model.counters]
    queues += [(p.officers_free, p.waits, p.name) for p in model.pools.values()]
    checked = {"counter": 0, "pool": 0}
    for servers, waits, name in queues:
        if servers.arrivals < 2_000 or servers.area == 0:
            continue
        # L (time-average queue length) = lambda (arrivals per minute) x W (mean wait), in calendar time
        lam = servers.arrivals / model.env.now
        assert len(waits) == servers.arrivals
        assert servers.mean_queue_length() == pytest.approx(lam * float(np.mean(waits)), rel=0.02), name
        checked["counter" if name.startswith("counter") else "pool"] += 1
    assert checked["counter"] >= 1 and checked["pool"] >= 1, checked
