"""The indicators of one replication, read from the running tally of the dossiers' journeys.

Payment, result return and digitisation do not queue, so they are settled from each dossier's own draws
as its day's batch arrives (``sim.tally``). Rates are fractions in [0, 1]. The Decision 766 groups are
*estimates* of the parts of the index the model covers (timeliness, online service, digitisation, the
sync part of transparency).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dvclab.sim.model import UNIT_KEY, ProvinceModel
from dvclab.sim.tally import HOURLY_COLUMNS as HOURLY_COLUMNS  # the columns of arrivals_by_hour

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


def _share(part: float, whole: float) -> float:
    return float(part / whole) if whole else 0.0


def replication_kpis(model: ProvinceModel) -> ReplicationOutput:
    """The KPIs of a finished replication, from its running tally (``sim.tally``)."""
    s, t, tally = model.scenario, model.table, model.tally
    n = tally.dossiers
    dossiers_by_procedure = tally.dossiers_by_procedure
    overdue_by_procedure = np.asarray(tally.overdue_by_procedure, dtype=float)
    overdue = float(overdue_by_procedure.sum())
    kpis: dict[str, float] = {
        "dossiers": float(n),
        "overdue_rate": _share(overdue, n),
        "on_time_rate": 1.0 - _share(overdue, n),
        "early_rate": _share(tally.early, n),
        "apology_slips": overdue,
        "counter_wait_mean_min": _share(tally.wait_sum, tally.waited),
        "counter_wait_p90_min": tally.wait_p90(),
        "trips_per_dossier": _share(tally.trips, n),
        "reported_online_rate": _share(tally.reported_online, n),
        "self_service_online_rate": _share(tally.self_service, n),
        "online_payment_rate": _share(tally.paid_online, tally.fee_bearing_dossiers),
        "digitised_rate": _share(tally.digitised, n),
        "postal_return_share": _share(tally.by_post, n),
        "postal_fees_vnd": float(tally.by_post * s.results_return.postal_fee_vnd),
        "supplement_rate": _share(tally.supplemented, n),
        "interlinked_share": _share(tally.interlinked, n),
    }

    levels = np.asarray(t.levels)
    for level in sorted(set(t.levels)):
        of_level = levels == level
        counted = dossiers_by_procedure[of_level].sum()
        kpis[f"overdue_rate_by_level.{level}"] = _share(overdue_by_procedure[of_level].sum(), counted)
        kpis[f"dossier_share_by_level.{level}"] = _share(counted, n)
    groups = np.asarray(t.groups)
    for group in sorted(set(t.groups)):
        of_group = groups == group
        kpis[f"overdue_rate_by_group.{group}"] = _share(
            overdue_by_procedure[of_group].sum(), dossiers_by_procedure[of_group].sum()
        )

    units = unit_figures(model)
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
    kpis["sync_discrepancy"] = tally.sync_discrepancy()

    kpis["index_766.timeliness"] = INDEX_766_MAX["timeliness"] * kpis["on_time_rate"]
    kpis["index_766.online_service"] = INDEX_766_MAX["online_service"] * (
        0.5 * kpis["reported_online_rate"] + 0.5 * kpis["online_payment_rate"]
    )
    kpis["index_766.digitisation"] = INDEX_766_MAX["digitisation"] * kpis["digitised_rate"]
    kpis["index_766.transparency_sync"] = INDEX_766_MAX["transparency_sync"] * (
        1.0 - kpis["sync_discrepancy"]
    )

    # backlog at each day's end: received and not yet issued, in all (the horizon's days), and by officer
    # pool and by unit over the warm-up and the horizon (a dossier belongs to the unit of its first
    # officer pool, as in ``unit_figures``)
    keys = sorted(set(tally.received_by_day) | set(tally.issued_by_day))
    by_unit = {_unit_name(model, key): tally.backlog([key]) for key in keys}
    by_pool: dict[str, np.ndarray] = {}
    for key in keys:
        pool = model.pool_names[key // UNIT_KEY]
        series = by_unit[_unit_name(model, key)]
        by_pool[pool] = by_pool[pool] + series if pool in by_pool else series.copy()
    return ReplicationOutput(
        kpis,
        tally.backlog(keys)[model.warmup_days :],
        tally.by_hour.copy(),
        overdue_by_procedure,
        dossiers_by_procedure.astype(float),
        units,
        backlog_by_pool_day=by_pool,
        backlog_by_unit_day=by_unit,
    )


def _unit_name(model: ProvinceModel, key: int) -> str:
    return f"{model.pool_names[key // UNIT_KEY]}.{key % UNIT_KEY}"


def _worked(model: ProvinceModel) -> float:
    """Working minutes of one officer inside the counted window."""
    return model.calendar.to_working(model.window[1]) - model.calendar.to_working(model.window[0])


def _add_busy(busy: dict[str, list[float]], name: str, minutes: float, officers: int) -> None:
    totals = busy.setdefault(name, [0.0, 0.0])
    totals[0] += minutes
    totals[1] += officers


def unit_figures(model: ProvinceModel) -> UnitFigures:
    worked = _worked(model)
    utilisation = {
        resource.name: resource.busy_minutes / (resource.officers * worked) if worked else 0.0
        for resource in (*model.pools.values(), *model.counters)
    }
    # a dossier belongs to the unit of its first officer pool (an inter-linked group's later steps too)
    tally = model.tally
    keys = sorted(tally.unit_dossiers)
    return UnitFigures(
        utilisation,
        {_unit_name(model, key): float(tally.unit_dossiers[key]) for key in keys},
        {_unit_name(model, key): float(tally.unit_overdue.get(key, 0)) for key in keys},
    )
