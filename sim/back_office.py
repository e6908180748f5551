"""Back-office officer pools: the officers of one agency in one unit who examine and decide dossiers.

Officers work only in opening sessions; a piece of work of E minutes that starts at t ends at
``calendar.add_working(t, E)``, so the effort clock stops overnight and on holidays without a shift
process. The queue discipline is a scenario option: FIFO, or earliest deadline first (EDF).
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from sim.calendar import WorkingCalendar
from sim.servers import Servers


class OfficerPool:
    def __init__(
        self,
        env: simpy.Environment,
        name: str,
        officers: int,
        calendar: WorkingCalendar,
        discipline: str = "fifo",
    ) -> None:
        self.env = env
        self.name = name
        self.officers = officers
        self.calendar = calendar
        self.earliest_deadline_first = discipline == "edf"
        self.officers_free = Servers(env, officers, priority=self.earliest_deadline_first)
        self.busy_minutes = 0.0  # working minutes of effort started inside the counted window
        self.window = (float("-inf"), float("inf"))
        self.waits: list[float] = []
        self.record_waits = False

    @property
    def queue_length(self) -> int:
        return self.officers_free.waiting

    def work(self, effort_min: float, due: float) -> Generator[simpy.Event, object, None]:
        env = self.env
        queued = env.now
        turn = self.officers_free.acquire(due)
        if turn is not None:
            yield turn
        start = env.now
        if self.window[0] <= start < self.window[1]:
            self.busy_minutes += effort_min
        if self.record_waits:
            self.waits.append(start - queued)
        yield env.timeout(self.calendar.add_working(start, effort_min) - start)
        self.officers_free.release()
