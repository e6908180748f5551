"""Series the report needs beyond the KPIs, read from a finished ``ProvinceModel``.

The model's running tally (``sim.tally``) keeps the counter waits' histogram, the channel counts and the
receptions' and officers' busy minutes by hour; from those this module builds, per replication, the
counter-wait histogram, the channel counts and the officers' busy and open minutes by weekday × hour
(their utilisation heatmaps). Nothing here changes the model:
a replication observed here gives exactly the KPIs of ``single_run``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dvclab.catalog import Procedure
from dvclab.sim.kpis import ReplicationOutput, replication_kpis
from dvclab.sim.model import ProvinceModel
from dvclab.sim.procedures import build_procedures
from dvclab.sim.scenario import Scenario
from dvclab.sim.tally import fold_week, spread, spread_hours

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
    tally = model.tally
    start, end = model.window
    epoch = model.calendar.epoch
    sessions_start = np.asarray(model.calendar.session_starts)
    sessions_end = np.asarray(model.calendar.session_ends)
    keep = (sessions_start >= start) & (sessions_start < end)
    officers = sum(counter.officers for counter in model.counters)
    opened = spread(sessions_start[keep], sessions_end[keep], epoch) * officers
    # Back-office officers work only while open: each piece of work was spread over the hours it spans
    # (``Tally.flush``); keep each hour's open part (the hours between sessions pause the effort clock).
    pools = list(model.pools.values())
    hours = int(model.calendar.days * 24)
    open_by_hour = spread_hours(sessions_start, sessions_end, hours)
    worked = tally.worked_by_hour * (open_by_hour / 60.0)
    in_window = np.zeros(hours, dtype=bool)
    in_window[int(start // 60) : int(end // 60)] = True
    pool_officers = sum(p.officers for p in pools)
    return {
        "counter_wait_counts": tally.wait_histogram(WAIT_EDGES).astype(float),
        "channel_counts": tally.channel_counts.copy(),
        "counter_busy": tally.reception_busy.copy(),
        "counter_open": opened,
        "officer_busy": fold_week(np.where(in_window, worked, 0.0), epoch),
        "officer_open": fold_week(np.where(in_window, open_by_hour, 0.0), epoch) * pool_officers,
    }


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


