"""Back-office officer pools: the officers of one agency in one unit who examine and decide dossiers.

Officers work only in opening sessions; a piece of work of E minutes that starts at t ends at
``calendar.add_working(t, E)``, so the effort clock stops overnight and on holidays without a shift
process. The queue discipline is a scenario option: FIFO, or earliest deadline first (EDF).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Generator

import simpy

from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.servers import MonitoredServers, Servers


class OfficerPool:
    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        officers: int,
        calendar: WorkingCalendar,
        discipline: str = "fifo",
        monitored: bool = False,
    ) -> None:
        self.env = env
        self.name = name
        self.officers = officers
        self.calendar = calendar
        self.earliest_deadline_first = discipline == "edf"
        servers = MonitoredServers if monitored else Servers
        self.officers_free = servers(env, officers, priority=self.earliest_deadline_first)
        self.busy_minutes = 0.0  # working minutes of effort started inside the counted window
        self.window = (float("-inf"), float("inf"))
        # start and end of every piece of work started inside the window (the utilisation heatmap)
        self.work_starts = array("d")
        self.work_ends = array("d")
        self.waits: list[float] | None = [] if monitored else None  # calendar minutes, validation only

    @property
    def queue_length(self) -> int:
        return self.officers_free.waiting

    def handle(
        self, effort_min: float, due: float, decided: Callable[[int, float], None], dossier: int
    ) -> None:
        """The same work as ``work``, driven by callbacks instead of a process: the hot path for dossiers
        that only need one officer (no counter, no supplement). ``decided(dossier, end)`` is called as soon
        as the officer starts, with the time the work will end."""
        turn = self.officers_free.acquire(due)
        if turn is None:
            self._start(effort_min, decided, dossier, self.env.now)
        else:
            queued = self.env.now
            turn.callbacks.append(lambda _turn: self._start(effort_min, decided, dossier, queued))

    def _start(
        self, effort_min: float, decided: Callable[[int, float], None], dossier: int, queued: float
    ) -> None:
        env = self.env
        start = env.now
        end = self.calendar.add_working(start, effort_min)
        if self.window[0] <= start < self.window[1]:
            self.busy_minutes += effort_min
            self.work_starts.append(start)
            self.work_ends.append(end)
        if self.waits is not None:
            self.waits.append(start - queued)
        decided(dossier, end)
        env.timeout(end - start).callbacks.append(self._release)

    def _release(self, _event: simpy.Event) -> None:
        self.officers_free.release()

    def work(self, effort_min: float, due: float) -> Generator[simpy.Event, object, None]:
        """The same work as a process step: returns when the officer has finished."""
        started = simpy.Event(self.env)
        self.handle(effort_min, due, lambda _dossier, end: started.succeed(end), 0)
        end = yield started
        yield self.env.timeout(end - self.env.now)
