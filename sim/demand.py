"""Demand: who files which dossier, when, where and through which channel.

A non-homogeneous Poisson process, drawn per procedure group: the group's expected count over the run's
window follows the daily intensity (month × weekday, holidays, surges), then each dossier gets a day from
that intensity and a time of day from its channel's hour profile: online filings around the clock,
counter arrivals in opening hours only (a citizen who would have come on a closed day comes on the next
working day). Every per-dossier draw comes from the group's own sub-stream, so scenarios that change one
group or one decision leave the other citizens' draws untouched (common random numbers).
"""

from __future__ import annotations

import datetime as dt
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


def generate_dossiers(
    scenario: Scenario,
    table: ProcedureTable,
    calendar: WorkingCalendar,
    streams: RandomStreams,
    warmup_days: int,
    horizon_days: int,
    communes: np.ndarray,
) -> Dossiers:
    """The dossiers of the run's window; ``communes`` are the communes' demand shares (the units file)."""
    first = calendar.epoch
    window = warmup_days + horizon_days
    base = daily_intensity(scenario, calendar, first, window)
    reference = daily_intensity(scenario, calendar, scenario.run.start_date, 365).sum()
    online_hours = _hour_cdf(scenario.demand.online_hour_profile)
    sessions = calendar.sessions
    piece_start, piece_len, piece_cdf = _counter_pieces(sessions, scenario.demand.counter_hour_profile)
    morning = [s for s in sessions if s[1] <= 12 * 60]
    # First working day at or after each calendar day: where deferred counter demand lands.
    day_open_days = np.asarray(calendar.day_open) // MINUTES_PER_DAY
    next_working = np.searchsorted(day_open_days, np.arange(window + 400))
    full_day = np.asarray(
        [calendar.day_close[k] - calendar.day_open[k] for k in range(len(calendar.day_open))]
    )
    longest = full_day.max()

    parts: list[dict[str, np.ndarray]] = []
    groups = sorted(set(table.groups))
    group_of = np.asarray(table.groups)
    for group in groups:
        members = np.flatnonzero(group_of == group)
        volume = table.annual_volume[members]
        if volume.sum() <= 0:
            continue
        intensity = base * _surge_multiplier(scenario, group, first, window)
        expected = volume.sum() * intensity.sum() / reference
        arrivals_rng = streams.substream("arrivals", group)
        n = int(arrivals_rng.poisson(expected))
        if n == 0:
            continue
        procedure = members[
            np.searchsorted(
                np.cumsum(volume) / volume.sum(), streams.substream("procedures", group).random(n)
            )
        ]
        procedure = np.minimum(procedure, members[-1])
        day = np.searchsorted(np.cumsum(intensity) / intensity.sum(), arrivals_rng.random(n))
        u_time = arrivals_rng.random(n)
        u_piece = arrivals_rng.random(n)
        channel = choose_channels(
            scenario.channels,
            table.full_online[procedure],
            table.requires_originals[procedure],
            streams.substream("channels", group),
        )
        at_counter = np.isin(channel, AT_COUNTER)
        # online and postal filings: any hour of the day by the online profile
        hour = np.searchsorted(online_hours, u_piece)
        arrival = day * MINUTES_PER_DAY + hour * 60.0 + u_time * 60.0
        # counter arrivals: the day's open pieces; a closed day defers to the next working day
        k = next_working[day[at_counter]]
        k = np.minimum(k, len(calendar.day_open) - 1)
        piece = np.minimum(np.searchsorted(piece_cdf, u_piece[at_counter]), len(piece_start) - 1)
        offset = piece_start[piece] + u_time[at_counter] * piece_len[piece]
        # Saturday-morning sessions: the day's arrivals spread over its shorter opening
        short = full_day[k] < longest
        if short.any() and morning:
            offset[short] = morning[0][0] + u_time[at_counter][short] * (morning[-1][1] - morning[0][0])
        arrival[at_counter] = np.asarray(calendar.day_open)[k] - sessions[0][0] + offset

        geo = streams.substream("geography", group)
        draws = {
            "reception": streams.substream("reception", group),
            "effort": streams.substream("effort", group),
            "approval": streams.substream("approval", group),
            "supplements": streams.substream("supplements", group),
            "payment": streams.substream("payment", group),
            "return": streams.substream("results_return", group),
            "post": streams.substream("post", group),
            "digitisation": streams.substream("digitisation", group),
            "interlinked": streams.substream("interlinked", group),
        }
        response_mean = scenario.supplements.response_days_mean
        lo_post, hi_post = scenario.results_return.postal_days
        parts.append(
            {
                "arrival": arrival,
                "procedure": procedure,
                "commune": np.minimum(np.searchsorted(np.cumsum(communes), geo.random(n)), len(communes) - 1),
                "channel": channel,
                "z_reception": draws["reception"].standard_normal(n),
                "z_effort": draws["effort"].standard_normal((n, 3)),
                "z_approval": draws["approval"].standard_normal((n, 3)),
                "u_supplement": draws["supplements"].random((n, 3)),
                # Gamma(2): most citizens answer within days, a few take much longer.
                "supplement_days": draws["supplements"].gamma(2.0, response_mean / 2.0, (n, 3)),
                "u_payment": draws["payment"].random(n),
                "u_electronic": draws["return"].random(n),
                "u_postal": draws["return"].random(n),
                "post_days": draws["post"].uniform(lo_post, hi_post, n),
                "u_scan": draws["digitisation"].random(n),
                "u_result_scan": draws["digitisation"].random(n),
                "u_interlinked": draws["interlinked"].random(n),
            }
        )

    if not parts:
        raise ScenarioError(
            f"{scenario.source or scenario.name}: demand: the scenario generates no dossiers in its window; "
            "check demand.dossiers_per_year and demand.level_shares"
        )
    columns = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    order = np.argsort(columns["arrival"], kind="stable")
    columns = {key: value[order] for key, value in columns.items()}
    start = warmup_days * MINUTES_PER_DAY
    end = window * MINUTES_PER_DAY
    counted = (columns["arrival"] >= start) & (columns["arrival"] < end)
    return Dossiers(counted=counted, **columns)
