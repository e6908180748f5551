"""Series the report needs beyond the KPIs, read from a finished ``ProvinceModel``.

The model keeps each dossier's counter wait, reception time and channel; from those this module builds,
per replication, the counter-wait histogram, the channel counts and the one-stop counter officers'
busy and open minutes by weekday × hour (their utilisation heatmap). Nothing here changes the model:
a replication observed here gives exactly the KPIs of ``single_run``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from dvclab.catalog import Procedure
from dvclab.sim.calendar import MINUTES_PER_DAY
from dvclab.sim.kpis import ReplicationOutput, replication_kpis
from dvclab.sim.model import ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.scenario import CHANNELS, Scenario

# Counter waits in open minutes: 2-minute bins up to 4 hours, then one bin for everything longer.
WAIT_EDGES = np.append(np.arange(0.0, 242.0, 2.0), np.inf)


@dataclass(kw_only=True)  # keyword-only: the model's output may grow fields with defaults
class ObservedOutput(ReplicationOutput):
    counter_wait_counts: np.ndarray  # histogram over WAIT_EDGES, counted dossiers that visited a counter
    channel_counts: np.ndarray  # counted dossiers per channel, in CHANNELS order
    counter_busy: np.ndarray  # (7, 24) reception minutes by weekday (Mon=0) × hour, counted window
    counter_open: np.ndarray  # (7, 24) officer-minutes the counters were open, same window
    officer_busy: np.ndarray | None = None  # (7, 24) back-office officers' working minutes, counted window
    officer_open: np.ndarray | None = None  # (7, 24) back-office officer-minutes open, same window


def observed_run(scenario: Scenario, catalog: list[Procedure], replication: int = 0) -> ObservedOutput:
    """``single_run`` plus the report's series (picklable, module level: runs in processes and on Dask)."""
    model = ProvinceModel(scenario, build_procedures(scenario, catalog), replication)
    model.run()
    output = replication_kpis(model)
    return ObservedOutput(**vars(output), **observe(model))


def observe(model: ProvinceModel) -> dict[str, np.ndarray]:
    d = model.dossiers
    counted = np.asarray(d.counted)
    visited = counted & np.asarray(model.visits)
    waits = np.asarray(model.counter_wait)[visited]
    wait_counts = np.histogram(waits[~np.isnan(waits)], bins=WAIT_EDGES)[0].astype(float)
    channel_counts = np.bincount(np.asarray(d.channel)[counted].astype(np.int64), minlength=len(CHANNELS))

    # a reception ends when the dossier is received; it began ``reception`` minutes earlier
    ends = np.asarray(model.received)[visited]
    starts = ends - np.asarray(model.reception)[visited]
    start, end = model.window
    inside = (starts >= start) & (starts < end)
    epoch = model.calendar.epoch
    busy = spread(starts[inside], ends[inside], epoch)

    sessions_start = np.asarray(model.calendar.session_starts)
    sessions_end = np.asarray(model.calendar.session_ends)
    keep = (sessions_start >= start) & (sessions_start < end)
    officers = sum(counter.officers for counter in model.counters)
    opened = spread(sessions_start[keep], sessions_end[keep], epoch) * officers
    # Back-office officers work only while open: spread each piece of work over the hours it spans and
    # keep each hour's open part (the hours between sessions are pauses of the effort clock, not work).
    pools = list(model.pools.values())
    hours = int(model.calendar.days * 24)
    open_by_hour = spread_hours(sessions_start, sessions_end, hours)
    work_starts = np.concatenate([np.frombuffer(p.work_starts) for p in pools]) if pools else np.empty(0)
    work_ends = np.concatenate([np.frombuffer(p.work_ends) for p in pools]) if pools else np.empty(0)
    worked = spread_hours(work_starts, work_ends, hours) * (open_by_hour / 60.0)
    in_window = np.zeros(hours, dtype=bool)
    in_window[int(start // 60) : int(end // 60)] = True
    pool_officers = sum(p.officers for p in pools)
    return {
        "counter_wait_counts": wait_counts,
        "channel_counts": channel_counts.astype(float),
        "counter_busy": busy,
        "counter_open": opened,
        "officer_busy": fold_week(np.where(in_window, worked, 0.0), epoch),
        "officer_open": fold_week(np.where(in_window, open_by_hour, 0.0), epoch) * pool_officers,
    }


def spread_hours(starts: np.ndarray, ends: np.ndarray, hours: int) -> np.ndarray:
    """Minutes of the intervals [start, end) falling in each hour from the epoch's midnight."""
    minutes = np.zeros(hours + 1)
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    hour_start = np.floor(starts / 60.0) * 60.0
    while starts.size:
        cut = np.minimum(ends, hour_start + 60.0)
        index = np.minimum((hour_start // 60).astype(np.int64), hours)
        np.add.at(minutes, index, np.maximum(cut - starts, 0.0))
        more = ends > cut
        starts, ends, hour_start = cut[more], ends[more], hour_start[more] + 60.0
    return minutes[:hours]


def fold_week(by_hour: np.ndarray, epoch: dt.date) -> np.ndarray:
    """Fold an hourly series (from the epoch's midnight) into weekday × hour cells."""
    hour = np.arange(len(by_hour))
    weekday = (epoch.weekday() + hour // 24) % 7
    cells = np.zeros((7, 24))
    np.add.at(cells, (weekday, hour % 24), by_hour)
    return cells


def spread(starts: np.ndarray, ends: np.ndarray, epoch: dt.date) -> np.ndarray:
    """Minutes of the intervals [start, end) falling in each weekday × hour cell (times: minutes from
    ``epoch``'s midnight); an interval crossing an hour is split at the hour."""
    cells = np.zeros((7, 24))
    first_weekday = epoch.weekday()
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    hour_start = np.floor(starts / 60.0) * 60.0
    while starts.size:
        cut = np.minimum(ends, hour_start + 60.0)
        minutes = cut - starts
        hour_index = (hour_start // 60).astype(np.int64)
        weekday = (first_weekday + hour_index // 24) % 7
        np.add.at(cells, (weekday, hour_index % 24), np.maximum(minutes, 0.0))
        more = ends > cut
        starts, ends, hour_start = cut[more], ends[more], hour_start[more] + 60.0
    return cells


def utilisation_heatmap(outputs: list[ReplicationOutput], officers: str = "counter") -> np.ndarray | None:
    """Utilisation of the one-stop ``counter`` officers or of the ``back_office`` officers by weekday ×
    hour, pooled over replications (NaN where closed)."""
    observed = [o for o in outputs if isinstance(o, ObservedOutput)]
    if officers == "back_office":
        observed = [o for o in observed if o.officer_busy is not None]
    if not observed:
        return None
    if officers == "back_office":
        busy = np.sum([o.officer_busy for o in observed], axis=0)
        opened = np.sum([o.officer_open for o in observed], axis=0)
    else:
        busy = np.sum([o.counter_busy for o in observed], axis=0)
        opened = np.sum([o.counter_open for o in observed], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(opened > 0, busy / opened, np.nan)


assert MINUTES_PER_DAY == 24 * 60  # spread() counts hours of 60 minutes from the epoch's midnight
