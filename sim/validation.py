"""The model reduced to one counter: Poisson arrivals, exponential reception, c officers, always open.

This runs dvclab's own counter code path (``Counter`` and ``Servers``), so comparing it with Erlang C
validates the code the province model uses, and timing it against Ciw benchmarks it.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass

import numpy as np
import simpy

from dvclab.sim.counters import Counter
from dvclab.sim.streams import RandomStreams


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
    arrival_rate: float,
    service_rate: float,
    officers: int,
    customers: int,
    seed: int,
    replication: int = 0,
    monitored: bool = True,
) -> QueueRun:
    """``customers`` Poisson arrivals through one ``Counter`` (its callback-driven path, the one the
    province model uses for most citizens). ``monitored`` integrates the queue length (Little's law)."""
    streams = RandomStreams(seed, replication)
    gaps = streams["arrivals"].exponential(1.0 / arrival_rate, customers).tolist()
    services = streams["reception"].exponential(1.0 / service_rate, customers).tolist()
    env = simpy.Environment()
    counter = Counter(env, "counter", officers, calendar=None, monitored=monitored)
    waits = [0.0] * customers

    def received(i: int, wait: float, _came_back: bool) -> None:
        waits[i] = wait

    def arrivals() -> Generator[simpy.Event, None, None]:
        for i, gap in enumerate(gaps):
            yield env.timeout(gap)
            counter.receive(services[i], received, i)

    env.process(arrivals())
    env.run()
    mean_queue = counter.desks.mean_queue_length() if monitored else float("nan")
    return QueueRun(np.asarray(waits), mean_queue, env.now)
