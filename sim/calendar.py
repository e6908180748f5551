"""The working-day calendar: opening sessions, public holidays and Tết, and working-time arithmetic.

Simulation time is in minutes from the epoch (midnight of the first simulated day, warm-up included).
Officers work only in opening sessions, so work of E minutes that starts at t ends at
``from_working(to_working(t) + E)``: the clock of effort stops overnight, at lunch and on holidays.
Deadlines count whole working days (Decree 61/2018): a dossier received on working day k with a deadline
of d days is due at the close of working day k + d.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_left, bisect_right
from collections.abc import Iterable

import holidays

MINUTES_PER_DAY = 24 * 60


class WorkingCalendar:
    def __init__(
        self,
        epoch: dt.date,
        days: int,
        sessions: list[tuple[int, int]],
        saturday_morning: bool = False,
        extra_closures: Iterable[dt.date] = (),
        always_open: bool = False,
    ) -> None:
        self.epoch = epoch
        self.days = days
        self.sessions = sessions
        closures = set(extra_closures)
        years = range(epoch.year, (epoch + dt.timedelta(days=days)).year + 1)
        public_holidays = holidays.Vietnam(years=list(years))
        self.session_starts: list[float] = []
        self.session_ends: list[float] = []
        self.worked_before: list[float] = []  # working minutes before each session starts
        self.day_open: list[float] = []
        self.day_close: list[float] = []
        self.day_dates: list[dt.date] = []
        worked = 0.0
        for offset in range(days):
            date = epoch + dt.timedelta(days=offset)
            day_sessions = self._sessions_on(date, public_holidays, closures, saturday_morning, always_open)
            if not day_sessions:
                continue
            base = offset * MINUTES_PER_DAY
            for start, end in day_sessions:
                self.session_starts.append(base + start)
                self.session_ends.append(base + end)
                self.worked_before.append(worked)
                worked += end - start
            self.day_open.append(base + day_sessions[0][0])
            self.day_close.append(base + day_sessions[-1][1])
            self.day_dates.append(date)
        if not self.day_close:
            raise ValueError("the calendar has no working day")
        self.total_working = worked
        self.minutes_per_working_day = sum(e - s for s, e in sessions)

    def _sessions_on(
        self,
        date: dt.date,
        public_holidays: holidays.HolidayBase,
        closures: set[dt.date],
        saturday_morning: bool,
        always_open: bool,
    ) -> list[tuple[int, int]]:
        if always_open:
            return [(0, MINUTES_PER_DAY)]
        if date in closures:
            return []
        # holidays.Vietnam knows both the public holidays and the make-up Saturdays (e.g. 4 May 2024).
        if public_holidays.is_working_day(date):
            return self.sessions
        if saturday_morning and date.weekday() == 5 and date not in public_holidays:
            return [s for s in self.sessions if s[1] <= 12 * 60]
        return []

    # -- time conversions -------------------------------------------------------------------------
    def minute_of(self, date: dt.date) -> float:
        return (date - self.epoch).days * MINUTES_PER_DAY

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

    def is_open(self, t: float) -> bool:
        i = bisect_right(self.session_starts, t) - 1
        return i >= 0 and t < self.session_ends[i]

    # -- working days -----------------------------------------------------------------------------
    def receipt_day(self, t: float) -> int:
        """Index of the working day a dossier received at t counts from (after closing: the next one)."""
        return bisect_right(self.day_close, t)

    def due_time(self, t: float, deadline_days: int) -> float:
        k = self.receipt_day(t) + deadline_days
        if k >= len(self.day_close):
            raise ValueError("deadline beyond the calendar; extend its horizon")
        return self.day_close[k]

    def day_index_at(self, t: float) -> int:
        """Index of the last working day that opened at or before t (-1 before the first)."""
        return bisect_right(self.day_open, t) - 1
