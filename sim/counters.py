"""One-stop counters (bộ phận một cửa): N reception officers, a FIFO queue, opening hours.

Citizens arrive only while the counter is open. Whoever is still waiting at closing comes back the next
working day and keeps their place (a second trip). Once started, a reception is finished even past
closing: officers do not send a citizen away mid-dossier.

The queue is FIFO, so a citizen's call is known the moment they join it: when the first of the officers
is free (Kiefer and Wolfowitz's recursion), at the next opening if that is after closing. An unmonitored
counter keeps only each officer's next free time and schedules one event per citizen, the end of their
reception; a monitored one (validation) hands its desks over with events and integrates the queue.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Generator

import simpy

from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.servers import MonitoredServers, Servers


class Counter:
    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        officers: int,
        calendar: WorkingCalendar | None = None,
        monitored: bool = False,
    ) -> None:
        self.env = env
        self.name = name
        self.officers = officers
        self.calendar = calendar
        self.desks = (MonitoredServers if monitored else Servers)(env, officers)
        # unmonitored: each officer's next free time (a heap), and the ends of the receptions in progress
        self.free_at: list[float] | None = None if monitored else [float("-inf")] * officers
        self._ends: list[float] = []
        self.waits: list[float] | None = [] if monitored else None  # calendar minutes, validation only
        self.busy_minutes = 0.0  # reception minutes started inside the counted window
        self.window = (float("-inf"), float("inf"))

    @property
    def queue_length(self) -> int:
        if self.free_at is not None:
            return max(self._present() - self.officers, 0)
        return self.desks.waiting

    @property
    def load(self) -> float:
        """Citizens at the counter per officer: what a citizen choosing a centre looks at."""
        if self.free_at is not None:
            return self._present() / self.officers
        return (self.desks.waiting + self.desks.in_service) / self.officers

    def _present(self) -> int:
        """Citizens waiting or being received now (unmonitored counters)."""
        now = self.env.now
        ends = self._ends
        while ends and ends[0] <= now:
            heapq.heappop(ends)
        return len(ends)

    def reception(self, service_min: float) -> tuple[float, float, bool]:
        """An unmonitored counter's visit, decided the moment the citizen joins the queue (the hot path:
        no event of its own): (when the reception ends, the wait in open minutes, came back)."""
        arrived = self.env.now
        free_at = self.free_at
        free = free_at[0]
        start = free if free > arrived else arrived
        calendar = self.calendar
        if calendar is None:
            called, came_back = start, False
        else:
            # a second trip: received on a later working day than the arrival (see ``_call``)
            called = calendar.next_open(start)
            later_day = calendar.day_index_at(called) > calendar.day_index_at(arrived)
            came_back = called > arrived and later_day
        end = called + service_min
        heapq.heapreplace(free_at, end)
        ends = self._ends
        while ends and ends[0] <= arrived:  # receptions over: kept only while in progress
            heapq.heappop(ends)
        heapq.heappush(ends, end)
        if self.window[0] <= called < self.window[1]:
            self.busy_minutes += service_min
        return end, self._open_wait(arrived, called), came_back

    def receive(self, service_min: float, received: Callable[[int, float, bool], None], citizen: int) -> None:
        """The same visit as ``visit``, driven by callbacks instead of a process:
        ``received(citizen, wait, came_back)`` is called when the reception is over."""
        if self.free_at is not None:
            end, wait, came_back = self.reception(service_min)
            self.env.timeout(end - self.env.now).callbacks.append(
                lambda _done: received(citizen, wait, came_back)
            )
            return
        arrived = self.env.now
        turn = self.desks.acquire()
        if turn is None:
            self._call(service_min, received, citizen, arrived)
        else:
            turn.callbacks.append(lambda _turn: self._call(service_min, received, citizen, arrived))

    def _call(
        self, service_min: float, received: Callable[[int, float, bool], None], citizen: int, arrived: float
    ) -> None:
        """An officer is free and calls the citizen; after closing, that happens at the next opening."""
        env = self.env
        start = env.now
        if self.waits is not None:
            self.waits.append(start - arrived)
        calendar = self.calendar
        if calendar is None:
            self._serve(service_min, received, citizen, arrived, False)
            return
        # A second trip is a reception on a later working day than the arrival, whether the officer called
        # the citizen overnight (served at the reopening) or only after the reopening.
        called = calendar.next_open(start)
        came_back = calendar.day_index_at(called) > calendar.day_index_at(arrived)
        if called > start:
            env.timeout(called - start).callbacks.append(
                lambda _night: self._serve(service_min, received, citizen, arrived, came_back)
            )
        else:
            self._serve(service_min, received, citizen, arrived, came_back)

    def _serve(
        self,
        service_min: float,
        received: Callable[[int, float, bool], None],
        citizen: int,
        arrived: float,
        came_back: bool,
    ) -> None:
        start = self.env.now
        if self.window[0] <= start < self.window[1]:
            self.busy_minutes += service_min
        wait = self._open_wait(arrived, start)
        self.env.timeout(service_min).callbacks.append(
            lambda _done: self._done(received, citizen, wait, came_back)
        )

    def _done(
        self, received: Callable[[int, float, bool], None], citizen: int, wait: float, came_back: bool
    ) -> None:
        self.desks.release()
        received(citizen, wait, came_back)

    def _open_wait(self, arrived: float, start: float) -> float:
        if start == arrived:
            return 0.0
        if self.calendar is None:
            return start - arrived
        return self.calendar.to_working(start) - self.calendar.to_working(arrived)

    def visit(self, service_min: float) -> Generator[simpy.Event, object, tuple[float, bool]]:
        """A citizen's visit as a process step; returns (waiting time in open minutes, came back)."""
        over = simpy.Event(self.env)
        self.receive(service_min, lambda _citizen, wait, came_back: over.succeed((wait, came_back)), 0)
        wait, came_back = yield over
        return wait, came_back
