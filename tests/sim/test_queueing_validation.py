"""Validation against queueing theory: the counter's waits, probability of waiting and queue length against
Erlang C (M/M/c); and, on the province, that the queue monitors agree with the recorded waits."""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import pytest
import simpy

from dvclab.sim.counters import Counter
from dvclab.sim.experiment import confidence_interval
from dvclab.sim.model import ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.queueing import erlang_c, mmc_mean_wait
from dvclab.sim.scenario import load_scenario
from dvclab.sim.streams import RandomStreams
from dvclab.sim.validation import mmc_single_run

pytestmark = pytest.mark.validation
OFFICERS = 3
SERVICE_RATE = 1.0  # per minute
REPLICATIONS = 20
# Utilisation and customers per replication; near saturation the queue needs long runs (~25 s: slow).
LOADS = [(0.5, 4_000), (0.8, 8_000), pytest.param(0.95, 30_000, marks=pytest.mark.slow)]


def test_erlang_c_formula_on_known_values() -> None:
    # M/M/1: P(wait) = rho, Wq = rho / (mu - lambda)
    assert erlang_c(0.5, 1.0, 1) == pytest.approx(0.5)
    assert mmc_mean_wait(0.5, 1.0, 1) == pytest.approx(1.0)
    assert erlang_c(9, 1, 10) == pytest.approx(0.6687, abs=1e-4)
    with pytest.raises(ValueError, match="unstable"):
        erlang_c(3, 1, 3)


@pytest.mark.parametrize(("rho", "customers"), LOADS)
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


def _mean_number_waiting(
    arrival_rate: float, customers: int, replication: int, officers: int = OFFICERS
) -> float:
    """Time-average number of citizens waiting at one ``Counter`` (M/M/c, always open), as integrated by
    its own queue monitor (``MonitoredServers``), from the arrival that ends the warm-up to the last
    arrival: a steady-state window that leaves out the empty start and the final drain. It never looks
    at the waits, so it checks the queue itself, not an identity between two records of it."""
    streams = RandomStreams(17, replication)
    gaps = streams["arrivals"].exponential(1.0 / arrival_rate, customers)
    services = streams["reception"].exponential(1.0 / SERVICE_RATE, customers).tolist()
    env = simpy.Environment()
    counter = Counter(env, "counter", officers, calendar=None, monitored=True)
    desks = counter.desks
    warmup = customers // 10
    window: list[tuple[float, float]] = []  # (time, queue-length area so far) at the window's ends

    def mark() -> None:
        window.append((env.now, desks.mean_queue_length() * env.now))  # brings the area up to now

    def arrivals() -> Generator[simpy.Event, None, None]:
        for i, gap in enumerate(gaps.tolist()):
            yield env.timeout(gap)
            if i == warmup:
                mark()
            counter.receive(services[i], lambda *_: None, i)
        mark()

    env.process(arrivals())
    env.run()
    (start, area_start), (end, area_end) = window
    return (area_end - area_start) / (end - start)


def _erlang_c_queue_length(arrival_rate: float, servers: int) -> float:
    """Lq of M/M/c: P(wait) x rho / (1 - rho), from Erlang C."""
    rho = arrival_rate / (servers * SERVICE_RATE)
    return erlang_c(arrival_rate, SERVICE_RATE, servers) * rho / (1 - rho)


@pytest.mark.parametrize(("rho", "customers"), LOADS)
def test_counter_queue_length_matches_erlang_c(rho: float, customers: int) -> None:
    arrival_rate = rho * OFFICERS * SERVICE_RATE
    means = np.array([_mean_number_waiting(arrival_rate, customers, r) for r in range(REPLICATIONS)])
    # Replications are independent: their mean is within 3 standard errors of the truth (a 99.5% t-interval
    # at 19 degrees of freedom), a tolerance that shrinks with more customers or replications.
    mean, tolerance = means.mean(), 3 * means.std(ddof=1) / np.sqrt(len(means))
    expected = _erlang_c_queue_length(arrival_rate, OFFICERS)
    assert abs(mean - expected) <= tolerance, (mean, tolerance, expected)
    # The comparison has power: one officer more would give a queue length far outside the tolerance
    # (one fewer makes every case but rho = 0.5 unstable; that case is checked too).
    assert abs(mean - _erlang_c_queue_length(arrival_rate, OFFICERS + 1)) > 5 * tolerance
    if arrival_rate < (OFFICERS - 1) * SERVICE_RATE:
        assert abs(mean - _erlang_c_queue_length(arrival_rate, OFFICERS - 1)) > 5 * tolerance


@pytest.mark.slow
def test_province_queue_monitors_agree_with_recorded_waits(scenarios_dir) -> None:  # noqa: ANN001
    """Bookkeeping, not validation: L = lambda W holds by construction over a run that starts and ends
    empty, so this only checks that two separate records of each counter's and pool's queue (the queue
    length integral and the list of waits) agree. The model is validated against Erlang C above."""
    overrides = {"run.horizon_days": 30, "startup.warmup_days": 30}  # a model alone: no pilot run
    scenario, catalog = load_scenario(scenarios_dir / "nam-dinh-2024.yaml", **overrides)
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
