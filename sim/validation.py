"""The model reduced to one counter: Poisson arrivals, exponential reception, c officers, always open.

This runs dvclab's own counter code path (``Counter`` and ``Servers``), so comparing it with Erlang C
validates the code the province model uses, and timing it against Ciw benchmarks it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from sim.counters import Counter
from sim.streams import RandomStreams


@dataclass
class QueueRun:
    waits: np.ndarray  # per customer, in arrival order
    mean_queue_length: float  # time average over the run
    duration: float

    @property
    def mean_wait(self) -> float:
        return float(self.waits.mean())

    @property
    def probability_of_waiting(self) -> float:
        return float((self.waits > 0).mean())


def mmc_single_run(
    arrival_rate: float, service_rate: float, officers: int, customers: int, seed: int, replication: int = 0
) -> QueueRun:
    streams = RandomStreams(seed, replication)
    gaps = streams["arrivals"].exponential(1.0 / arrival_rate, customers).tolist()
    services = streams["reception"].exponential(1.0 / service_rate, customers).tolist()
    env = simpy.Environment()
    counter = Counter(env, "counter", officers, calendar=None, monitored=True)
    waits = [0.0] * customers

    def citizen(i: int) -> Generator[simpy.Event, object, None]:
        wait, _ = yield from counter.visit(services[i])
        waits[i] = wait

    def arrivals() -> Generator[simpy.Event, None, None]:
        for i, gap in enumerate(gaps):
            yield env.timeout(gap)
            env.process(citizen(i))

    env.process(arrivals())
    env.run()
    return QueueRun(np.asarray(waits), counter.desks.mean_queue_length(), env.now)
