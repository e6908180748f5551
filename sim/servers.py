"""A multi-server queue, leaner than ``simpy.Resource`` for the province's hot path.

A free server is taken without scheduling any event (most commune desks are idle most of the day);
a busy one parks the caller on an event that the releasing server triggers, handing the server over
directly. FIFO by default; with ``priority=True`` the lowest key goes first (earliest deadline first),
ties in arrival order.
"""

from __future__ import annotations

import heapq
from collections import deque
from itertools import count

import simpy


class Servers:
    __slots__ = ("env", "capacity", "free", "_fifo", "_heap", "_order", "priority")

    def __init__(self, env: simpy.Environment, capacity: int, priority: bool = False) -> None:
        if capacity < 1:
            raise ValueError("a queue needs at least one server")
        self.env = env
        self.capacity = capacity
        self.free = capacity
        self.priority = priority
        self._fifo: deque[simpy.Event] = deque()
        self._heap: list[tuple[float, int, simpy.Event]] = []
        self._order = count()

    @property
    def waiting(self) -> int:
        return len(self._heap) if self.priority else len(self._fifo)

    @property
    def in_service(self) -> int:
        return self.capacity - self.free

    def acquire(self, key: float = 0.0) -> simpy.Event | None:
        """None when a server was free and is now taken; otherwise an event to yield on."""
        if self.free and not (self._heap if self.priority else self._fifo):
            self.free -= 1
            return None
        turn = simpy.Event(self.env)
        if self.priority:
            heapq.heappush(self._heap, (key, next(self._order), turn))
        else:
            self._fifo.append(turn)
        return turn

    def release(self) -> None:
        if self.priority:
            if self._heap:
                heapq.heappop(self._heap)[2].succeed()
                return
        elif self._fifo:
            self._fifo.popleft().succeed()
            return
        self.free += 1


class MonitoredServers(Servers):
    """Servers that also integrate the queue length over time, for validation (Little's law)."""

    __slots__ = ("area", "_last", "arrivals")

    def __init__(self, env: simpy.Environment, capacity: int, priority: bool = False) -> None:
        super().__init__(env, capacity, priority)
        self.area = 0.0
        self._last = env.now
        self.arrivals = 0

    def _advance(self) -> None:
        now = self.env.now
        self.area += self.waiting * (now - self._last)
        self._last = now

    def acquire(self, key: float = 0.0) -> simpy.Event | None:
        self._advance()
        self.arrivals += 1
        return super().acquire(key)

    def release(self) -> None:
        self._advance()
        super().release()

    def mean_queue_length(self) -> float:
        self._advance()
        return self.area / self.env.now if self.env.now > 0 else 0.0
