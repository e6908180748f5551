"""One-stop counters (bộ phận một cửa): N reception officers, a FIFO queue, opening hours.

Citizens arrive only while the counter is open. Whoever is still waiting at closing comes back the next
working day and keeps their place (a second trip). Once started, a reception is finished even past
closing: officers do not send a citizen away mid-dossier.
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from sim.calendar import WorkingCalendar
from sim.servers import MonitoredServers, Servers


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
        self.waits: list[float] | None = [] if monitored else None  # calendar minutes, validation only
        self.busy_minutes = 0.0  # reception minutes started inside the counted window
        self.window = (float("-inf"), float("inf"))

    @property
    def queue_length(self) -> int:
        return self.desks.waiting

    @property
    def load(self) -> float:
        """Citizens at the counter per officer: what a citizen choosing a centre looks at."""
        return (self.desks.waiting + self.desks.in_service) / self.officers

    def visit(self, service_min: float) -> Generator[simpy.Event, object, tuple[float, bool]]:
        """A citizen's visit; returns (waiting time in open minutes, whether they had to come back)."""
        env = self.env
        arrived = env.now
        turn = self.desks.acquire()
        if turn is not None:
            yield turn
        start = env.now
        if self.waits is not None:
            self.waits.append(start - arrived)
        came_back = False
        calendar = self.calendar
        if calendar is not None and not calendar.is_open(start):
            reopen = calendar.next_open(start)
            came_back = calendar.day_index_at(reopen) > calendar.day_index_at(arrived)
            yield env.timeout(reopen - start)
            start = reopen
        if self.window[0] <= start < self.window[1]:
            self.busy_minutes += service_min
        yield env.timeout(service_min)
        self.desks.release()
        if calendar is None:
            return start - arrived, False
        if start == arrived:
            return 0.0, False
        return calendar.to_working(start) - calendar.to_working(arrived), came_back
