"""Demand: who files which dossier, when, where and through which channel.

A non-homogeneous Poisson process, drawn per procedure group and per calendar day: the group's expected
count for the day follows the daily intensity (month × weekday, holidays, surges), then each dossier gets a
time of day from its channel's hour profile: online filings around the clock, counter arrivals in opening
hours only (a citizen who would have come on a closed day comes on the next working day). Every
per-dossier draw comes from the group's own sub-stream, consumed day after day, so scenarios that change
one group or one decision leave the other citizens' draws untouched (common random numbers), and a run
holds one day of dossiers, not the year's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.channels import AT_COUNTER, choose_channels
from dvclab.sim.procedures import ProcedureTable
from dvclab.sim.scenario import Scenario, ScenarioError
from dvclab.sim.streams import RandomStreams

HOLIDAY_FACTOR = 0.2  # demand on a public holiday relative to an ordinary day of that weekday (EST)


@dataclass
class Dossiers:
    """One row per dossier, sorted by arrival time; the u_* and z_* columns are its own random draws."""

    arrival: np.ndarray  # minutes from the epoch
    procedure: np.ndarray
    commune: np.ndarray
    channel: np.ndarray
    counted: np.ndarray  # received inside the horizon (after warm-up): counted in the KPIs
    z_reception: np.ndarray
    z_effort: np.ndarray  # (n, 3): first pass, rework after a supplement, unused
    z_approval: np.ndarray  # (n, 3): one per inter-linked step
    u_supplement: np.ndarray  # (n, 3)
    supplement_days: np.ndarray  # (n, 3) citizen's response delay, working days
    u_payment: np.ndarray
    u_electronic: np.ndarray
    u_postal: np.ndarray
    post_days: np.ndarray
    u_scan: np.ndarray
    u_result_scan: np.ndarray
    u_interlinked: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival)


def daily_intensity(scenario: Scenario, calendar: WorkingCalendar, first: dt.date, days: int) -> np.ndarray:
    """Relative demand for each day (month × weekday; holidays damped), before surges."""
    demand = scenario.demand
    working = set(calendar.day_dates)
    out = np.empty(days)
    for offset in range(days):
        date = first + dt.timedelta(days=offset)
        factor = demand.month_factors[date.month - 1] * demand.weekday_factors[date.weekday()]
        if date.weekday() < 5 and date not in working:
            factor *= HOLIDAY_FACTOR
        out[offset] = factor
    return out


def _surge_multiplier(scenario: Scenario, group: str, first: dt.date, days: int) -> np.ndarray:
    multiplier = np.ones(days)
    for surge in scenario.demand.surges:
        if surge.groups and group not in surge.groups:
            continue
        lo = max((surge.start - first).days, 0)
        hi = min((surge.end - first).days + 1, days)
        if lo < hi:
            multiplier[lo:hi] *= surge.factor
    return multiplier


def _hour_cdf(profile: list[float]) -> np.ndarray:
    weights = np.asarray(profile, dtype=float)
    if weights.sum() <= 0:
        weights = np.ones(24)
    return np.cumsum(weights) / weights.sum()


def _counter_pieces(sessions: list[tuple[int, int]], profile: list[float]) -> tuple[np.ndarray, ...]:
    """The open parts of each hour of a working day, weighted by the counter hour profile."""
    starts, lengths, weights = [], [], []
    for hour in range(24):
        for s, e in sessions:
            lo, hi = max(s, hour * 60), min(e, hour * 60 + 60)
            if lo < hi:
                starts.append(lo)
                lengths.append(hi - lo)
                weights.append(max(profile[hour], 1e-9) * (hi - lo))
    w = np.asarray(weights)
    return np.asarray(starts, float), np.asarray(lengths, float), np.cumsum(w) / w.sum()


class Demand:
    """The dossiers of the run's window, drawn one calendar day at a time (``days``), so that a run holds
    only the day it is releasing, never the year: a group's expected count for the day is Poisson-drawn,
    then each of its dossiers gets its procedure, time of day, channel, commune and own draws from the
    group's sub-streams, consumed day after day (common random numbers, as one draw per decision).

    ``communes`` are the communes' demand shares (the units file)."""

    def __init__(
        self,
        scenario: Scenario,
        table: ProcedureTable,
        calendar: WorkingCalendar,
        streams: RandomStreams,
        warmup_days: int,
        horizon_days: int,
        communes: np.ndarray,
    ) -> None:
        self.scenario, self.table, self.calendar, self.streams = scenario, table, calendar, streams
        self.communes_cdf = np.cumsum(communes)
        self.window = warmup_days + horizon_days
        self.start = warmup_days * MINUTES_PER_DAY
        self.end = self.window * MINUTES_PER_DAY
        first = calendar.epoch
        base = daily_intensity(scenario, calendar, first, self.window)
        reference = daily_intensity(scenario, calendar, scenario.run.start_date, 365).sum()
        self.online_hours = _hour_cdf(scenario.demand.online_hour_profile)
        sessions = calendar.sessions
        self.sessions = sessions
        self.pieces = _counter_pieces(sessions, scenario.demand.counter_hour_profile)
        self.morning = [s for s in sessions if s[1] <= 12 * 60]
        self.day_open = np.asarray(calendar.day_open)
        # First working day at or after each calendar day: where deferred counter demand lands.
        self.next_working = np.searchsorted(self.day_open // MINUTES_PER_DAY, np.arange(self.window + 400))
        self.full_day = np.asarray(
            [calendar.day_close[k] - calendar.day_open[k] for k in range(len(calendar.day_open))]
        )
        self.longest = self.full_day.max()
        self.groups: list[_Group] = []
        group_of = np.asarray(table.groups)
        for group in sorted(set(table.groups)):
            members = np.flatnonzero(group_of == group)
            volume = table.annual_volume[members]
            if volume.sum() <= 0:
                continue
            intensity = base * _surge_multiplier(scenario, group, first, self.window)
            self.groups.append(
                _Group(group, members, np.cumsum(volume) / volume.sum(),
                       volume.sum() * intensity / reference, streams)
            )
        if not self.groups or sum(g.expected.sum() for g in self.groups) <= 0:
            raise ScenarioError(
                f"{scenario.source or scenario.name}: demand: the scenario generates no dossiers in its "
                "window; check demand.dossiers_per_year and demand.level_shares"
            )

    def days(self) -> Iterator[Dossiers]:
        """Each calendar day's arrivals, sorted by time, in day order (counter demand of a closed day
        arrives on the next working day, so that day's batch carries it)."""
        deferred: dict[int, list[dict[str, np.ndarray]]] = {}
        for day in range(self.window):
            today = deferred.pop(day, [])
            for group in self.groups:
                drawn = self._draw(group, day)
                if drawn is None:
                    continue
                arrival_day = (drawn["arrival"] // MINUTES_PER_DAY).astype(np.int64)
                later = arrival_day > day
                if later.any():
                    for target in np.unique(arrival_day[later]).tolist():
                        rows = arrival_day == target
                        deferred.setdefault(target, []).append({k: v[rows] for k, v in drawn.items()})
                    drawn = {k: v[~later] for k, v in drawn.items()}
                today.append(drawn)
            # the batch holds all the day needs: its parts go before the day is simulated (a reference
            # left in this frame would keep a second copy of the day alive while the consumer runs it)
            batch = [self._batch(today)]
            today = drawn = None
            yield batch.pop()
        for day in sorted(deferred):
            yield self._batch(deferred.pop(day))

    def _batch(self, parts: list[dict[str, np.ndarray]]) -> Dossiers:
        parts = [p for p in parts if len(p["arrival"])]
        if not parts:
            return self._empty()
        order = np.argsort(np.concatenate([p["arrival"] for p in parts]), kind="stable")
        # one column at a time, each part's column freed as it is copied: the day's dossiers are held
        # twice at most, never three times
        columns = {key: np.concatenate([p.pop(key) for p in parts])[order] for key in list(parts[0])}
        counted = (columns["arrival"] >= self.start) & (columns["arrival"] < self.end)
        return Dossiers(counted=counted, **columns)

    def _empty(self) -> Dossiers:
        empty = np.empty(0)
        three = np.empty((0, 3))
        return Dossiers(
            empty, np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int8), np.empty(0, bool),
            empty, three, three, three, three, empty, empty, empty, empty, empty, empty, empty,
        )

    def _draw(self, group: _Group, day: int) -> dict[str, np.ndarray] | None:
        s, t = self.scenario, self.table
        arrivals_rng = group.rng["arrivals"]
        n = int(arrivals_rng.poisson(group.expected[day]))
        if n == 0:
            return None
        procedure = group.members[np.searchsorted(group.volume_cdf, group.rng["procedures"].random(n))]
        procedure = np.minimum(procedure, group.members[-1])
        u_time = arrivals_rng.random(n)
        u_piece = arrivals_rng.random(n)
        channel = choose_channels(
            s.channels, t.full_online[procedure], t.requires_originals[procedure], group.rng["channels"]
        )
        at_counter = np.isin(channel, AT_COUNTER)
        # online and postal filings: any hour of the day by the online profile
        hour = np.searchsorted(self.online_hours, u_piece)
        arrival = day * MINUTES_PER_DAY + hour * 60.0 + u_time * 60.0
        if at_counter.any():
            # counter arrivals: the day's open pieces; a closed day defers to the next working day
            piece_start, piece_len, piece_cdf = self.pieces
            k = np.minimum(self.next_working[day], len(self.day_open) - 1)
            piece = np.minimum(np.searchsorted(piece_cdf, u_piece[at_counter]), len(piece_start) - 1)
            offset = piece_start[piece] + u_time[at_counter] * piece_len[piece]
            # Saturday-morning sessions: the day's arrivals spread over its shorter opening
            if self.full_day[k] < self.longest and self.morning:
                offset = self.morning[0][0] + u_time[at_counter] * (self.morning[-1][1] - self.morning[0][0])
            arrival[at_counter] = self.day_open[k] - self.sessions[0][0] + offset
        rng = group.rng
        response_mean = s.supplements.response_days_mean
        lo_post, hi_post = s.results_return.postal_days
        return {
            "arrival": arrival,
            "procedure": procedure,
            "commune": np.minimum(
                np.searchsorted(self.communes_cdf, rng["geography"].random(n)), len(self.communes_cdf) - 1
            ),
            "channel": channel,
            "z_reception": rng["reception"].standard_normal(n),
            "z_effort": rng["effort"].standard_normal((n, 3)),
            "z_approval": rng["approval"].standard_normal((n, 3)),
            "u_supplement": rng["supplements"].random((n, 3)),
            # Gamma(2): most citizens answer within days, a few take much longer.
            "supplement_days": rng["supplements"].gamma(2.0, response_mean / 2.0, (n, 3)),
            "u_payment": rng["payment"].random(n),
            "u_electronic": rng["results_return"].random(n),
            "u_postal": rng["results_return"].random(n),
            "post_days": rng["post"].uniform(lo_post, hi_post, n),
            "u_scan": rng["digitisation"].random(n),
            "u_result_scan": rng["digitisation"].random(n),
            "u_interlinked": rng["interlinked"].random(n),
        }


@dataclass
class _Group:
    """One procedure group's demand: its procedures, their volume shares, its expected dossiers per day,
    and its own sub-stream of every activity."""

    name: str
    members: np.ndarray
    volume_cdf: np.ndarray
    expected: np.ndarray
    streams: RandomStreams

    def __post_init__(self) -> None:
        self.rng = {activity: self.streams.substream(activity, self.name) for activity in GROUP_ACTIVITIES}


# The activities each group draws from, every one its own sub-stream (``RandomStreams.substream``).
GROUP_ACTIVITIES = (
    "arrivals", "procedures", "geography", "channels", "reception", "effort", "approval", "supplements",
    "payment", "results_return", "post", "digitisation", "interlinked",
)


def generate_dossiers(
    scenario: Scenario,
    table: ProcedureTable,
    calendar: WorkingCalendar,
    streams: RandomStreams,
    warmup_days: int,
    horizon_days: int,
    communes: np.ndarray,
) -> Dossiers:
    """Every dossier of the run's window at once, in arrival order (for inspection and tests: a run
    draws them day by day through ``Demand.days`` and never holds them all)."""
    demand = Demand(scenario, table, calendar, streams, warmup_days, horizon_days, communes)
    days = list(demand.days())
    columns = {
        key: np.concatenate([getattr(day, key) for day in days]) for key in Dossiers.__dataclass_fields__
    }
    return Dossiers(**columns)
