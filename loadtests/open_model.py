"""The open workload model: journey starts scheduled at their intended times, whatever the portal does.

Locust's own shapes set a user count, and its waits only space each user's own tasks: a stalled portal
then quietly lowers the offered load and hides the stall (coordinated omission). Here a scheduler draws
Poisson arrival times per journey from the shape, independent of responses, and hands each one to an
idle journey runner (a Locust user of that class). Latency is measured from the intended start; a
journey no runner could start within ``max_lag`` of its intended time is **dropped** (k6's
``dropped_iterations``) and the generator's own lag is reported.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from dvclab.load.shapes import Segment


def arrival_times(
    segments: list[Segment], journey: str, rng: random.Random, share: float = 1.0
) -> Iterator[float]:
    """Poisson arrivals (seconds from the start) of one journey at ``share`` of its rate.

    Exact for piecewise-constant rates: exponential gaps within a segment; at a boundary the residual
    gap is discarded, which the memoryless property makes correct.
    """
    for segment in segments:
        rate = segment.rate_of(journey) * share
        if rate <= 0:
            continue
        t = segment.start
        while True:
            t += rng.expovariate(rate)
            if t >= segment.end:
                break
            yield t


@dataclass(slots=True)
class Counters:
    """What the scheduler saw, per journey: the k6-like open-model figures."""

    scheduled: dict[str, int] = field(default_factory=dict)
    started: dict[str, int] = field(default_factory=dict)
    dropped: dict[str, int] = field(default_factory=dict)
    lag_max_s: float = 0.0  # how late the scheduler itself woke (a busy generator)
    start_delay_max_s: float = 0.0  # how late a runner picked a journey up
    unstarted_at_stop: int = 0  # of the dropped: still queued when the run stopped

    def add(self, other: dict) -> None:
        for key in ("scheduled", "started", "dropped"):
            mine = getattr(self, key)
            for name, count in other.get(key, {}).items():
                mine[name] = mine.get(name, 0) + int(count)
        self.lag_max_s = max(self.lag_max_s, float(other.get("lag_max_s", 0.0)))
        self.start_delay_max_s = max(self.start_delay_max_s, float(other.get("start_delay_max_s", 0.0)))
        self.unstarted_at_stop += int(other.get("unstarted_at_stop", 0))

    def as_dict(self) -> dict:
        return {
            "scheduled": dict(self.scheduled),
            "started": dict(self.started),
            "dropped": dict(self.dropped),
            "lag_max_s": self.lag_max_s,
            "start_delay_max_s": self.start_delay_max_s,
            "unstarted_at_stop": self.unstarted_at_stop,
        }

    def bump(self, key: str, journey: str, n: int = 1) -> None:
        counts = getattr(self, key)
        counts[journey] = counts.get(journey, 0) + n


def admit(intended: float, now: float, max_lag: float) -> bool:
    """A runner starts a journey only if it is not later than ``max_lag`` behind its intended time."""
    return now - intended <= max_lag


class Scheduler:
    """Feeds intended start times (``time.time()`` epoch) into one gevent queue per journey.

    Runs as a greenlet in each Locust process; ``share`` is this process's part of the rate.
    """

    def __init__(
        self, segments: list[Segment], max_lag: float, seed: int, counters: Counters | None = None
    ) -> None:
        self.segments = segments
        self.max_lag = max_lag
        self.seed = seed
        self.counters = counters or Counters()
        self.queues: dict = {}
        self.t0: float | None = None  # the intended time of offset 0 (shared by every journey)
        self._greenlets: dict = {}

    def start_journey(self, journey: str, share: float, t0: float | None = None) -> None:
        """Start feeding ``journey`` at ``share`` of its rate (this process's part); idempotent."""
        import gevent
        from gevent.queue import Queue

        if journey in self._greenlets:
            return
        if self.t0 is None:
            self.t0 = time.time() if t0 is None else t0
        self.queues.setdefault(journey, Queue())
        rng = random.Random(self.seed * 1009 + sum(map(ord, journey)))
        self._greenlets[journey] = gevent.spawn(self._feed, journey, share, rng)

    def _feed(self, journey: str, share: float, rng: random.Random) -> None:
        import gevent

        assert self.t0 is not None
        queue = self.queues[journey]
        for offset in arrival_times(self.segments, journey, rng, share):
            intended = self.t0 + offset
            delay = intended - time.time()
            if delay > 0:
                gevent.sleep(delay)
            else:
                self.counters.lag_max_s = max(self.counters.lag_max_s, -delay)
            self.counters.bump("scheduled", journey)
            queue.put(intended)
        queue.put(None)  # end of schedule for one runner; the rest see an empty, finished queue

    def next_start(self, journey: str, timeout: float = 1.0) -> float | None:
        """Block until this journey's next admitted start; None when the schedule is over.

        Late ones (no idle runner in time) are counted as dropped and skipped.
        """
        from gevent.queue import Empty, Queue

        queue = self.queues.setdefault(journey, Queue())
        while True:
            try:
                intended = queue.get(timeout=timeout)
            except Empty:
                feeder = self._greenlets.get(journey)
                if feeder is not None and feeder.dead:
                    return None
                continue
            if intended is None:
                queue.put(None)  # let the other runners of this journey see the end too
                return None
            now = time.time()
            if admit(intended, now, self.max_lag):
                self.counters.bump("started", journey)
                self.counters.start_delay_max_s = max(self.counters.start_delay_max_s, now - intended)
                return intended
            self.counters.bump("dropped", journey)

    def drop_leftovers(self) -> None:
        """Journeys still queued when the run stops were never started: dropped."""
        for journey, queue in self.queues.items():
            while not queue.empty():
                if queue.get_nowait() is not None:
                    self.counters.bump("dropped", journey)
                    self.counters.unstarted_at_stop += 1

    def stop(self) -> None:
        for greenlet in self._greenlets.values():
            greenlet.kill(block=False)
