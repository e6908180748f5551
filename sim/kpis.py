"""The indicators of one replication, computed from the dossiers' recorded journeys.

Payment, result return and digitisation do not queue, so they are settled here per dossier from the
dossier's own draws. Rates are fractions in [0, 1]. The Decision 766 groups are *estimates* of the parts
of the index the model covers (timeliness, online service, digitisation, the sync part of transparency).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dvclab.catalog import Channel
from dvclab.deadlines import is_overdue
from dvclab.sim.calendar import MINUTES_PER_DAY
from dvclab.sim.channels import CHANNELS_ONLINE_FILED, CODE, POSTAL, REPORTED_ONLINE, SELF_SERVICE
from dvclab.sim.model import UNIT_KEY, ProvinceModel
from dvclab.sim.sync import arrival_times, discrepancy

# Maximum points of each Decision 766 group the model estimates (transparency: 1 of its 4 sub-indicators).
INDEX_766_MAX = {"timeliness": 20.0, "online_service": 22.0, "digitisation": 22.0, "transparency_sync": 4.5}
# The KPIs every kpis.json carries (the contract the gate and the reports read), besides the dotted families
# overdue_rate_by_level.*, overdue_rate_by_group.*, utilisation.*, utilisation_max.* and index_766.*.
KPI_CONTRACT = (
    "dossiers", "overdue_rate", "on_time_rate", "early_rate", "counter_wait_mean_min", "counter_wait_p90_min",
    "trips_per_dossier", "reported_online_rate", "self_service_online_rate", "online_payment_rate",
    "digitised_rate", "postal_return_share", "sync_discrepancy",
)
# Every KPI a replication reports besides the families above (dotted names: by level, group, pool).
PLAIN_KPIS = (
    *KPI_CONTRACT[:4], "apology_slips", *KPI_CONTRACT[4:12], "postal_fees_vnd", "supplement_rate",
    "interlinked_share", "sync_discrepancy",
    *(f"index_766.{group}" for group in INDEX_766_MAX),
)
HOURLY_COLUMNS = ("portal_submissions", *(channel.value for channel in Channel))


@dataclass
class UnitFigures:
    """One replication's figures per unit (``district.land.2``, ``counter.commune.17``): what the pool's
    mean hides, e.g. one unstable land office among nine."""

    utilisation: dict[str, float]  # officer pools and counters
    dossiers: dict[str, float]  # counted dossiers by the unit of their (first) officer pool
    overdue: dict[str, float]  # of those, overdue


@dataclass
class ReplicationOutput:
    kpis: dict[str, float]
    backlog_by_day: np.ndarray  # dossiers in progress at each day's end, over the horizon
    arrivals_by_hour: np.ndarray  # (hours of the horizon, len(HOURLY_COLUMNS))
    overdue_by_procedure: np.ndarray
    dossiers_by_procedure: np.ndarray
    units: UnitFigures
    # dossiers in progress at each day's end by the (first) officer pool a dossier goes to, from the empty
    # start: warm-up and horizon (``sim.warmup`` reads the warm-up's transient in them; ``sim.stability``
    # the trend over the horizon). Pool ``district.land`` and unit ``district.land.2``.
    backlog_by_pool_day: dict[str, np.ndarray] = field(default_factory=dict)
    backlog_by_unit_day: dict[str, np.ndarray] = field(default_factory=dict)


def unit_of(name: str) -> str:
    if name in ("dossiers", "apology_slips"):
        return "dossiers"
    if name.startswith("counter_wait"):
        return "minutes"
    if name == "trips_per_dossier":
        return "trips"
    if name.endswith("_vnd"):
        return "VND"
    if name.startswith("index_766"):
        return "points"
    return "fraction"


def _rate(numerator: np.ndarray, mask: np.ndarray | None = None) -> float:
    values = numerator if mask is None else numerator[mask]
    return float(values.mean()) if values.size else 0.0


def replication_kpis(model: ProvinceModel) -> ReplicationOutput:
    s, t, d, cal = model.scenario, model.table, model.dossiers, model.calendar
    counted = d.counted
    p = d.procedure
    channel = d.channel.astype(np.int64)
    received = np.asarray(model.received)
    due = np.asarray(model.due)
    issued = np.asarray(model.issued)
    day_open = np.asarray(cal.day_open)
    day_close = np.asarray(cal.day_close)

    overdue = is_overdue(issued, due)
    # early (the 766 timeliness index): issued before the due working day opens
    due_day = np.searchsorted(day_close, due)
    early = issued < day_open[np.minimum(due_day, len(day_open) - 1)]

    # payment: online by channel; a self-service filer who cannot pay online must come in
    fee_bearing = t.fee_vnd[p] > 0
    online_share = np.array([s.payment.online_share[c] for c in Channel])
    paid_online = fee_bearing & (d.u_payment < online_share[channel])
    visits = np.asarray(model.visits)
    payment_trip = fee_bearing & ~paid_online & ~visits & (channel != POSTAL)

    # result return: electronic, public post, or a second trip to the counter
    electronic_share = np.array([s.results_return.electronic_share[c] for c in Channel])
    electronic = d.u_electronic < electronic_share[channel]
    by_post = ~electronic & (d.u_postal < s.results_return.postal_share_of_paper)
    handed_over = visits & (issued == received)  # decided while the citizen waits at the counter
    pickup_trip = ~electronic & ~by_post & ~handed_over

    trips = (
        visits.astype(np.int64)
        + np.asarray(model.came_back, dtype=np.int64)
        + np.asarray(model.supplement_trips, dtype=np.int64)
        + payment_trip
        + pickup_trip
    )
    reported_online = np.isin(channel, REPORTED_ONLINE)
    self_service = (channel == SELF_SERVICE) & (trips == 0)
    digitised_in = np.isin(channel, CHANNELS_ONLINE_FILED) | model.scanned_paper
    digitised = digitised_in & (electronic | (d.u_result_scan < s.results_return.result_scan_share))

    wait = np.asarray(model.counter_wait)
    waited = counted & visits
    c = counted
    n = int(c.sum())
    kpis: dict[str, float] = {
        "dossiers": float(n),
        "overdue_rate": _rate(overdue, c),
        "on_time_rate": 1.0 - _rate(overdue, c),
        "early_rate": _rate(early & ~overdue, c),
        "apology_slips": float((overdue & c).sum()),
        "counter_wait_mean_min": float(wait[waited].mean()) if waited.any() else 0.0,
        "counter_wait_p90_min": float(np.percentile(wait[waited], 90)) if waited.any() else 0.0,
        "trips_per_dossier": _rate(trips, c),
        "reported_online_rate": _rate(reported_online, c),
        "self_service_online_rate": _rate(self_service, c),
        "online_payment_rate": _rate(paid_online, c & fee_bearing),
        "digitised_rate": _rate(digitised, c),
        "postal_return_share": _rate(by_post, c),
        "postal_fees_vnd": float((by_post & c).sum() * s.results_return.postal_fee_vnd),
        "supplement_rate": _rate(np.asarray(model.supplemented), c),
        "interlinked_share": _rate(model.interlinked, c),
    }

    levels = np.asarray(t.levels)[p]
    for level in sorted(set(t.levels)):
        kpis[f"overdue_rate_by_level.{level}"] = _rate(overdue, c & (levels == level))
        kpis[f"dossier_share_by_level.{level}"] = _rate(levels == level, c)
    groups = np.asarray(t.groups)[p]
    for group in sorted(set(t.groups)):
        kpis[f"overdue_rate_by_group.{group}"] = _rate(overdue, c & (groups == group))

    units = unit_figures(model, c, overdue)
    busy: dict[str, list[float]] = {}
    for pool in model.pools.values():
        _add_busy(busy, pool.name.rsplit(".", 1)[0], pool.busy_minutes, pool.officers)
    for counter in model.counters:
        _add_busy(busy, "counter." + counter.name.split(".")[1], counter.busy_minutes, counter.officers)
    worked = _worked(model)
    for name, (minutes, officers) in sorted(busy.items()):
        kpis[f"utilisation.{name}"] = minutes / (officers * worked) if officers * worked else 0.0
    for name in sorted(busy):
        # the busiest unit of the pool; its name goes beside the KPI in kpis.json (``sim.results``)
        kpis[f"utilisation_max.{name}"] = max(
            (value for unit, value in units.utilisation.items() if unit.rsplit(".", 1)[0] == name),
            default=0.0,
        )

    # national sync: two status changes per dossier (received, result issued)
    changes = np.concatenate([received[~np.isnan(received)], issued[~np.isnan(issued)]])
    synced = arrival_times(changes, s.sync, model.streams["sync"])
    start, end = model.window
    snapshots = np.arange(
        start + s.sync.snapshot_days * MINUTES_PER_DAY, end + 1, s.sync.snapshot_days * MINUTES_PER_DAY
    )
    kpis["sync_discrepancy"] = (
        float(discrepancy(changes, synced, snapshots).mean()) if snapshots.size else 0.0
    )

    kpis["index_766.timeliness"] = INDEX_766_MAX["timeliness"] * kpis["on_time_rate"]
    kpis["index_766.online_service"] = INDEX_766_MAX["online_service"] * (
        0.5 * kpis["reported_online_rate"] + 0.5 * kpis["online_payment_rate"]
    )
    kpis["index_766.digitisation"] = INDEX_766_MAX["digitisation"] * kpis["digitised_rate"]
    kpis["index_766.transparency_sync"] = INDEX_766_MAX["transparency_sync"] * (
        1.0 - kpis["sync_discrepancy"]
    )

    # backlog at each day's end: received and not yet issued
    day_ends = start + MINUTES_PER_DAY * np.arange(1, model.horizon_days + 1)
    in_system = np.searchsorted(
        np.sort(received[~np.isnan(received)]), day_ends, side="right"
    ) - np.searchsorted(np.sort(issued[~np.isnan(issued)]), day_ends, side="right")

    # the hourly arrival forecast the load tests replay
    hours = model.horizon_days * 24
    hour = ((d.arrival[c] - start) // 60).astype(np.int64)
    by_hour = np.zeros((hours, len(HOURLY_COLUMNS)))
    ch = channel[c]
    np.add.at(by_hour[:, 0], hour[np.isin(ch, REPORTED_ONLINE)], 1)
    for column, channel_name in enumerate(Channel, start=1):
        np.add.at(by_hour[:, column], hour[ch == CODE[channel_name]], 1)

    overdue_by_procedure = np.bincount(p[c & overdue], minlength=len(t)).astype(float)
    dossiers_by_procedure = np.bincount(p[c], minlength=len(t)).astype(float)
    by_pool, by_unit = backlog_by_pool(model, received, issued)
    return ReplicationOutput(
        kpis, in_system.astype(float), by_hour, overdue_by_procedure, dossiers_by_procedure, units,
        by_pool, by_unit,
    )


def backlog_by_pool(
    model: ProvinceModel, received: np.ndarray, issued: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """End-of-day dossiers in progress (received, not yet issued) by pool and by unit, over the warm-up
    and the horizon; a dossier counts in the unit of its first officer pool, as in ``unit_figures``."""
    days = model.warmup_days + model.horizon_days
    key = np.asarray(model.pool_id, dtype=np.int64) * UNIT_KEY + np.asarray(model.pool_unit, dtype=np.int64)
    seen = ~np.isnan(received)
    keys, where = np.unique(key[seen], return_inverse=True)
    # the day whose end first finds the dossier received (issued): received <= day end, as backlog_by_day
    came = np.maximum(np.ceil(received[seen] / MINUTES_PER_DAY) - 1, 0)
    left = np.ceil(np.nan_to_num(issued[seen], nan=np.inf) / MINUTES_PER_DAY) - 1
    left = np.where(np.isfinite(left), np.maximum(left, 0), days)
    in_range = came < days
    flow = np.zeros((len(keys), days + 1))
    np.add.at(flow, (where[in_range], came[in_range].astype(np.int64)), 1.0)
    out = in_range & (left < days)
    np.add.at(flow, (where[out], left[out].astype(np.int64)), -1.0)
    per_unit = np.cumsum(flow[:, :days], axis=1)
    names = [f"{model.pool_names[k // UNIT_KEY]}.{k % UNIT_KEY}" for k in keys.tolist()]
    by_unit = dict(zip(names, per_unit, strict=True))
    by_pool: dict[str, np.ndarray] = {}
    for name, series in by_unit.items():
        pool = name.rsplit(".", 1)[0]
        by_pool[pool] = by_pool[pool] + series if pool in by_pool else series.copy()
    return by_pool, by_unit


def _worked(model: ProvinceModel) -> float:
    """Working minutes of one officer inside the counted window."""
    return model.calendar.to_working(model.window[1]) - model.calendar.to_working(model.window[0])


def _add_busy(busy: dict[str, list[float]], name: str, minutes: float, officers: int) -> None:
    totals = busy.setdefault(name, [0.0, 0.0])
    totals[0] += minutes
    totals[1] += officers


def unit_figures(model: ProvinceModel, counted: np.ndarray, overdue: np.ndarray) -> UnitFigures:
    worked = _worked(model)
    utilisation = {
        resource.name: resource.busy_minutes / (resource.officers * worked) if worked else 0.0
        for resource in (*model.pools.values(), *model.counters)
    }
    # a dossier belongs to the unit of its first officer pool (an inter-linked group's later steps too)
    key = np.asarray(model.pool_id, dtype=np.int64) * UNIT_KEY + np.asarray(model.pool_unit, dtype=np.int64)
    keys, where = np.unique(key[counted], return_inverse=True)
    dossiers = np.bincount(where, minlength=len(keys))
    late = np.bincount(where, weights=overdue[counted].astype(float), minlength=len(keys))
    names = [f"{model.pool_names[k // UNIT_KEY]}.{k % UNIT_KEY}" for k in keys.tolist()]
    return UnitFigures(
        utilisation,
        dict(zip(names, dossiers.astype(float).tolist(), strict=True)),
        dict(zip(names, late.tolist(), strict=True)),
    )
