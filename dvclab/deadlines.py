"""Due dates and overdue (trễ hạn): the one rule the simulation and the portal share.

Deadlines count whole working days of the Vietnamese calendar (Decree 61/2018): Monday to Friday, the
make-up Saturdays the government declares, optionally Saturday mornings, less public holidays, Tết and a
province's own closures. A dossier received on working day k with a deadline of d days is due at the
office close of working day k + d; a dossier received at or after a day's close counts from the next
working day, and a same-day procedure (d = 0) received in opening hours after the same-day cutoff is
due the next working day. A dossier is overdue when its result is issued after that due moment.

Standard library and ``holidays`` only: the portal imports it. The simulation's calendar extends
``WorkingDays`` with working-time arithmetic and keeps its times as minutes from an epoch; the portal
asks ``due_at`` with calendar times.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import holidays

MINUTES_PER_DAY = 24 * 60
# One-stop centres' opening sessions, minutes after midnight: 07:30-11:30 and 13:30-17:00.
OFFICE_HOURS: tuple[tuple[int, int], ...] = ((7 * 60 + 30, 11 * 60 + 30), (13 * 60 + 30, 17 * 60))
SAME_DAY_CUTOFF = 15 * 60  # a same-day dossier received later is due the next working day
# Vietnam keeps UTC+7 all year (no daylight saving since 1975), so a fixed offset needs no tz database.
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")

Sessions = Sequence[tuple[int, int]]


class WorkingDays:
    """The working days of ``days`` calendar days from ``epoch``, with their opening sessions.

    Times are minutes from the epoch's midnight (local time). ``always_open`` makes every minute a
    working minute (the analytic validation runs).
    """

    def __init__(
        self,
        epoch: dt.date,
        days: int,
        sessions: Sessions = OFFICE_HOURS,
        *,
        saturday_morning: bool = False,
        closures: Iterable[dt.date] = (),
        always_open: bool = False,
        same_day_cutoff: int = SAME_DAY_CUTOFF,
    ) -> None:
        self.epoch = epoch
        self.days = days
        self.sessions = list(sessions)
        self.saturday_morning = saturday_morning
        self.closures = set(closures)
        self.always_open = always_open
        self.same_day_cutoff = float(same_day_cutoff)
        self._after_cutoff = float(MINUTES_PER_DAY - same_day_cutoff)
        years = range(epoch.year, (epoch + dt.timedelta(days=days)).year + 1)
        self._holidays = holidays.Vietnam(years=list(years))
        self.session_starts: list[float] = []
        self.session_ends: list[float] = []
        self.day_open: list[float] = []
        self.day_close: list[float] = []
        self.day_dates: list[dt.date] = []
        for offset in range(days):
            date = epoch + dt.timedelta(days=offset)
            day_sessions = self.sessions_on(date)
            if not day_sessions:
                continue
            base = offset * MINUTES_PER_DAY
            for start, end in day_sessions:
                self.session_starts.append(base + start)
                self.session_ends.append(base + end)
            self.day_open.append(base + day_sessions[0][0])
            self.day_close.append(base + day_sessions[-1][1])
            self.day_dates.append(date)
        if not self.day_close:
            raise ValueError("the calendar has no working day")

    def sessions_on(self, date: dt.date) -> list[tuple[int, int]]:
        """The opening sessions of ``date``: none on a day off."""
        if self.always_open:
            return [(0, MINUTES_PER_DAY)]
        if date in self.closures:
            return []
        # holidays.Vietnam knows both the public holidays and the make-up Saturdays (e.g. 4 May 2024).
        if self._holidays.is_working_day(date):
            return self.sessions
        if self.saturday_morning and date.weekday() == 5 and date not in self._holidays:
            return [s for s in self.sessions if s[1] <= 12 * 60]
        return []

    def minute_of(self, date: dt.date) -> float:
        return (date - self.epoch).days * MINUTES_PER_DAY

    def is_open(self, t: float) -> bool:
        i = bisect_right(self.session_starts, t) - 1
        return i >= 0 and t < self.session_ends[i]

    # -- the deadline rule --------------------------------------------------------------------------
    def receipt_day(self, t: float) -> int:
        """Index of the working day a dossier received at t counts from (at or after close: the next one)."""
        return bisect_right(self.day_close, t)

    def due_day(self, received: float, deadline_days: int) -> int:
        """Index of the working day at whose close a dossier received at ``received`` is due."""
        due = bisect_right(self.day_close, received) + deadline_days
        if (
            deadline_days == 0
            and self.is_open(received)
            and (received - self.same_day_cutoff) % MINUTES_PER_DAY < self._after_cutoff
        ):
            due += 1  # same-day procedures received late in the day are returned the next day
        return due

    def close_of(self, day: int) -> float:
        """The office close of working day ``day``: the due moment of a dossier due that day."""
        if day >= len(self.day_close):
            raise ValueError("deadline beyond the calendar; extend its horizon")
        return self.day_close[day]

    def due_time(self, received: float, deadline_days: int) -> float:
        return self.close_of(self.due_day(received, deadline_days))


def is_overdue(issued: Any, due: Any) -> Any:
    """Overdue: the result issued after the due moment (one at the due day's close is on time).

    Works on numbers, datetimes and NumPy arrays alike (elementwise), and reads as the rule in SQL.
    """
    return issued > due


@lru_cache(maxsize=16)
def _calendar(year: int, years: int) -> WorkingDays:
    epoch = dt.date(year, 1, 1)
    return WorkingDays(epoch, (dt.date(year + years, 1, 1) - epoch).days)


def due_at(received: dt.datetime, deadline_days: int) -> dt.datetime:
    """The due moment of a dossier received at ``received``, on the one-stop centres' standard hours.

    An aware ``received`` is read in Vietnamese time and the answer is aware (in Vietnamese time); a
    naive one is taken as Vietnamese local time and the answer is naive local time.
    """
    if deadline_days < 0:
        raise ValueError(f"a deadline is a number of working days >= 0, got {deadline_days}")
    local = received.astimezone(VIETNAM).replace(tzinfo=None) if received.tzinfo else received
    # about 245 working days a year: two years and more cover any statutory deadline from any receipt
    calendar = _calendar(local.year, 2 + deadline_days // 200)
    midnight = dt.datetime.combine(calendar.epoch, dt.time())
    t = (local - midnight) / dt.timedelta(minutes=1)
    due = midnight + dt.timedelta(minutes=calendar.due_time(t, deadline_days))
    return due.replace(tzinfo=VIETNAM) if received.tzinfo else due
