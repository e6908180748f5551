"""The simulation's working calendar: the shared working days (``dvclab.deadlines``) plus working time.

Simulation time is in minutes from the epoch (midnight of the first simulated day, warm-up included).
Officers work only in opening sessions, so work of E minutes that starts at t ends at
``from_working(to_working(t) + E)``: the clock of effort stops overnight, at lunch and on holidays.
Which days are open, when a dossier is due and when it is overdue come from ``dvclab.deadlines``, the
rule the portal applies too.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

from dvclab.deadlines import MINUTES_PER_DAY, SAME_DAY_CUTOFF, WorkingDays

__all__ = ["MINUTES_PER_DAY", "WorkingCalendar"]


class WorkingCalendar(WorkingDays):
    def __init__(
        self,
        epoch: dt.date,
        days: int,
        sessions: list[tuple[int, int]],
        saturday_morning: bool = False,
        extra_closures: Iterable[dt.date] = (),
        always_open: bool = False,
        same_day_cutoff: int = SAME_DAY_CUTOFF,
    ) -> None:
        super().__init__(
            epoch,
            days,
            sessions,
            saturday_morning=saturday_morning,
            closures=extra_closures,
            always_open=always_open,
            same_day_cutoff=same_day_cutoff,
        )
        self.worked_before: list[float] = []  # working minutes before each session starts
        worked = 0.0
        for start, end in zip(self.session_starts, self.session_ends, strict=True):
            self.worked_before.append(worked)
            worked += end - start
        self.total_working = worked
        self.minutes_per_working_day = sum(e - s for s, e in sessions)

    # -- time conversions -------------------------------------------------------------------------
    def to_working(self, t: float) -> float:
        """Working minutes elapsed between the epoch and t."""
        i = bisect_right(self.session_starts, t) - 1
        if i < 0:
            return 0.0
        return self.worked_before[i] + min(
            t - self.session_starts[i], self.session_ends[i] - self.session_starts[i]
        )

    def from_working(self, w: float) -> float:
        """The earliest time at which w working minutes have elapsed (a session's end, not the next start)."""
        i = bisect_left(self.worked_before, w) - 1
        if i < 0:
            return self.session_starts[0]
        if i >= len(self.session_starts):
            raise ValueError("working time beyond the calendar; extend its horizon")
        return self.session_starts[i] + (w - self.worked_before[i])

    def add_working(self, t: float, minutes: float) -> float:
        return self.from_working(self.to_working(t) + minutes)

    def next_open(self, t: float) -> float:
        """t itself when a session is open at t, else the start of the next session."""
        i = bisect_right(self.session_starts, t) - 1
        if i >= 0 and t < self.session_ends[i]:
            return t
        if i + 1 >= len(self.session_starts):
            raise ValueError("time beyond the calendar; extend its horizon")
        return self.session_starts[i + 1]

    def day_index_at(self, t: float) -> int:
        """Index of the last working day that opened at or before t (-1 before the first)."""
        return bisect_right(self.day_open, t) - 1
