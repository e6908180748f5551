"""Back-office officer pools: the officers of one agency in one unit who examine and decide dossiers.

Officers work only in opening sessions; a piece of work of E minutes that starts at t ends at
``calendar.add_working(t, E)``, so the effort clock stops overnight and on holidays without a shift
process. The queue discipline is a scenario option: FIFO, or earliest deadline first (EDF).

Under FIFO a dossier's start is known the moment it joins the queue: the earliest time one of the
officers is free, since nobody who comes later can overtake it (Kiefer and Wolfowitz's recursion for the
multi-server queue). The pool then keeps only each officer's next free time and schedules no event at
all; EDF, and the validation runs that integrate the queue length, hand officers over with events.
"""

from __future__ import annotations

import heapq
from array import array
from collections import deque
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
        # FIFO without monitoring: each officer's next free time (a heap), and the starts still ahead
        self.free_at: list[float] | None = None
        if not (monitored or self.earliest_deadline_first):
            self.free_at = [float("-inf")] * officers
            self._starts_ahead: deque[float] = deque()
        self.busy_minutes = 0.0  # working minutes of effort started inside the counted window
        self.window = (float("-inf"), float("inf"))
        # start and end of every piece of work started inside the window (the utilisation heatmap)
        self.work_starts = array("d")
        self.work_ends = array("d")
        self.waits: list[float] | None = [] if monitored else None  # calendar minutes, validation only

    @property
    def queue_length(self) -> int:
        if self.free_at is not None:
            now = self.env.now
            ahead = self._starts_ahead
            while ahead and ahead[0] <= now:
                ahead.popleft()
            return len(ahead)
        return self.officers_free.waiting

    def handle(
        self, effort_min: float, due: float, decided: Callable[[int, float], None], dossier: int
    ) -> None:
        """The same work as ``work``, driven by callbacks instead of a process: the hot path for dossiers
        that only need one officer (no counter, no supplement). ``decided(dossier, end)`` is called as soon
        as the officer starts (under FIFO: at once), with the time the work will end."""
        if self.free_at is not None:
            decided(dossier, self.take(effort_min))
            return
        turn = self.officers_free.acquire(due)
        if turn is None:
            self._start(effort_min, decided, dossier, self.env.now)
        else:
            queued = self.env.now
            turn.callbacks.append(lambda _turn: self._start(effort_min, decided, dossier, queued))

    def take(self, effort_min: float) -> float:
        """A FIFO pool without events (``free_at``): the work starts when the first officer is free, which
        is known now; returns when it ends (the hot path: no callback, no event)."""
        now = self.env.now
        free_at = self.free_at
        free = free_at[0]
        start = free if free > now else now
        end = self.calendar.add_working(start, effort_min)
        heapq.heapreplace(free_at, end)
        if start > now:
            ahead = self._starts_ahead
            while ahead and ahead[0] <= now:
                ahead.popleft()
            ahead.append(start)
        if self.window[0] <= start < self.window[1]:
            self.busy_minutes += effort_min
            self.work_starts.append(start)
            self.work_ends.append(end)
        return end

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
