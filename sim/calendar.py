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

__all__ = ["MINUTES_PER_DAY", "BeyondCalendar", "WorkingCalendar"]


class BeyondCalendar(ValueError):  # noqa: N818 (a condition of the run, not a bug: the model's overload)
    """A time or a deadline past the calendar's last day: the run did not drain inside its calendar."""


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
        self.session_lengths: list[float] = []  # each session's ``end - start``, computed once
        worked = 0.0
        for start, end in zip(self.session_starts, self.session_ends, strict=True):
            self.worked_before.append(worked)
            self.session_lengths.append(end - start)
            worked += end - start
        self.total_working = worked
        self.minutes_per_working_day = sum(e - s for s, e in sessions)

    # -- time conversions -------------------------------------------------------------------------
    def to_working(self, t: float) -> float:
        """Working minutes elapsed between the epoch and t."""
        i = bisect_right(self.session_starts, t) - 1
        if i < 0:
            return 0.0
        elapsed = t - self.session_starts[i]
        length = self.session_lengths[i]
        return self.worked_before[i] + (elapsed if elapsed < length else length)

    def from_working(self, w: float) -> float:
        """The earliest time at which w working minutes have elapsed (a session's end, not the next start)."""
        i = bisect_left(self.worked_before, w) - 1
        if i < 0:
            return self.session_starts[0]
        if i >= len(self.session_starts):
            raise BeyondCalendar("working time beyond the calendar; extend its horizon")
        return self.session_starts[i] + (w - self.worked_before[i])

    def add_working(self, t: float, minutes: float) -> float:
        """``from_working(to_working(t) + minutes)`` in one call (the model's hot path): the same
        arithmetic in the same order, so the same floats to the last bit."""
        starts = self.session_starts
        i = bisect_right(starts, t) - 1
        if i < 0:
            w = 0.0 + minutes
        else:
            elapsed = t - starts[i]
            length = self.session_lengths[i]
            w = self.worked_before[i] + (elapsed if elapsed < length else length) + minutes
        worked_before = self.worked_before
        j = bisect_left(worked_before, w) - 1
        if j < 0:
            return starts[0]
        return starts[j] + (w - worked_before[j])

    def next_open(self, t: float) -> float:
        """t itself when a session is open at t, else the start of the next session."""
        i = bisect_right(self.session_starts, t) - 1
        if i >= 0 and t < self.session_ends[i]:
            return t
        if i + 1 >= len(self.session_starts):
            raise BeyondCalendar("time beyond the calendar; extend its horizon")
        return self.session_starts[i + 1]

    def close_of(self, day: int) -> float:
        if day >= len(self.day_close):
            raise BeyondCalendar("deadline beyond the calendar; extend its horizon")
        return self.day_close[day]

    @property
    def end(self) -> float:
        """The close of the calendar's last session: later times are beyond it."""
        return self.session_ends[-1]

    def day_index_at(self, t: float) -> int:
        """Index of the last working day that opened at or before t (-1 before the first)."""
        return bisect_right(self.day_open, t) - 1
