"""Stability before a run: each unit's offered load against its officers' capacity (ρ).

An officer pool with ρ ≥ 1 cannot keep up: its backlog grows for as long as the load lasts, and its
overdue rate then depends on the horizon and the warm-up rather than on the pool. The offered load is the
expected officer work (dossiers × effort, plus the rework after a supplement request and an inter-linked
group's later steps) that reaches the unit, from the same demand intensity the dossiers are drawn from;
the capacity is officers × working minutes on the calendar. ρ is given for the year from the run's start
date and for that year's busiest month (the January rush, the year-end peak). Counters are not included:
their load is in reception minutes of open hours and shows in their utilisation.
"""

from __future__ import annotations

import datetime as dt
import sys
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dvclab.sim.calendar import MINUTES_PER_DAY
from dvclab.sim.demand import _surge_multiplier, daily_intensity

if TYPE_CHECKING:
    from dvclab.catalog import Procedure
    from dvclab.sim.model import Province
    from dvclab.sim.scenario import Scenario

YEAR_DAYS = 365
BUSIEST_SHOWN = 10


@dataclass(frozen=True)
class UnitLoad:
    unit: str  # the pool in one unit: ``district.land.2``
    officers: int
    dossiers_per_year: float
    rho: float  # offered work ÷ capacity over the year from the start date
    rho_peak: float  # the same in the year's busiest month
    peak_month: str  # that month, YYYY-MM

    @property
    def unstable(self) -> bool:
        return self.rho >= 1.0


def _work_per_procedure(model: Province) -> tuple[np.ndarray, np.ndarray]:
    """Expected officer minutes and dossiers a year per procedure, by the procedure that does the work."""
    t, s = model.table, model.scenario
    rework = 1.0 + t.supplement_prob * s.supplements.rework_share
    minutes = t.annual_volume * t.effort_min * rework
    dossiers = t.annual_volume.copy()
    for group, settings in s.interlinked.items():
        members = [k for k in range(len(t)) if t.interlinked_group[k] == group]
        steps = sorted((int(t.interlinked_step[k]), k) for k in members)
        if len(steps) < 2:
            continue
        chained = t.annual_volume[steps[0][1]] * settings.share
        for _, k in steps[1:]:
            minutes[k] += chained * t.effort_min[k] * rework[k]
            dossiers[k] += chained
    return minutes, dossiers


def scenario_loads(scenario: Scenario, catalog: list[Procedure]) -> list[UnitLoad]:
    from dvclab.sim.model import Province
    from dvclab.sim.procedures import build_procedures

    return offered_loads(Province(scenario, build_procedures(scenario, catalog)))


def offered_loads(model: Province) -> list[UnitLoad]:
    """Every officer pool in every unit, busiest (highest ρ) first."""
    t, s, cal = model.table, model.scenario, model.calendar
    start = s.run.start_date
    first = cal.epoch
    offset = (start - first).days
    days = offset + YEAR_DAYS
    base = daily_intensity(s, cal, first, days)
    reference = daily_intensity(s, cal, start, YEAR_DAYS).sum()
    minutes, dossiers = _work_per_procedure(model)
    # each group's demand by day over the year from the start date, as ``generate_dossiers`` draws it
    groups = sorted(set(t.groups))
    intensity = {g: (base * _surge_multiplier(s, g, first, days))[offset:] / reference for g in groups}
    day_start = cal.minute_of(start) + MINUTES_PER_DAY * np.arange(YEAR_DAYS + 1)
    working = np.diff([cal.to_working(m) for m in day_start])  # one officer's working minutes per day
    labels = [(start + dt.timedelta(days=d)).strftime("%Y-%m") for d in range(YEAR_DAYS)]
    months = sorted(set(labels))
    month = np.searchsorted(months, labels)
    working_by_month = np.bincount(month, weights=working, minlength=len(months))

    share = {
        "province": np.ones(1),
        "district": np.bincount(model.district_of, weights=model.communes, minlength=model.units("district")),
        "commune": model.communes,
    }
    pools = np.asarray(t.pools)
    procedure_groups = np.asarray(t.groups)
    loads: list[UnitLoad] = []
    for pool in model.pool_names:
        members = pools == pool
        if not minutes[members].any():
            continue
        daily_work = np.zeros(YEAR_DAYS)
        for g in groups:
            daily_work += minutes[members & (procedure_groups == g)].sum() * intensity[g]
        work_by_month = np.bincount(month, weights=daily_work, minlength=len(months))
        with np.errstate(divide="ignore", invalid="ignore"):
            pool_rho_by_month = work_by_month / working_by_month
        peak = int(np.nanargmax(pool_rho_by_month))
        year_rho = daily_work.sum() / working.sum()
        per_year = dossiers[members].sum()
        for unit, unit_share in enumerate(share[pool.split(".", 1)[0]].tolist()):
            officers = model.officers_of(pool, unit)
            loads.append(
                UnitLoad(
                    f"{pool}.{unit}",
                    officers,
                    unit_share * per_year,
                    unit_share * year_rho / officers if officers else float("inf"),
                    unit_share * float(pool_rho_by_month[peak]) / officers if officers else float("inf"),
                    months[peak],
                )
            )
    return sorted(loads, key=lambda load: -load.rho)


def stability_section(loads: list[UnitLoad]) -> dict[str, Any]:
    """The manifest's ``stability``: the unstable units, the busiest ones, and every unit's ρ."""
    return {
        "method": "offered load: expected officer work (dossiers × effort, rework after supplements, "
        "inter-linked steps) ÷ officers × working minutes, over the year from the start date",
        "unstable": [load.unit for load in loads if load.unstable],
        "busiest": [
            {
                "unit": load.unit,
                "officers": load.officers,
                "dossiers_per_year": round(load.dossiers_per_year, 1),
                "rho": round(load.rho, 4),
                "rho_peak_month": round(load.rho_peak, 4),
                "peak_month": load.peak_month,
            }
            for load in loads[:BUSIEST_SHOWN]
        ],
        "rho": {load.unit: round(load.rho, 4) for load in loads},
    }


def warn_unstable(loads: list[UnitLoad], scenario_name: str) -> None:
    """Name the units that cannot keep up on stderr (before the run: the forecast will not settle)."""
    unstable = [load for load in loads if load.unstable]
    if not unstable:
        return
    names = ", ".join(f"{load.unit} ρ={load.rho:.2f} ({load.officers} officers)" for load in unstable[:5])
    more = f" and {len(unstable) - 5} more" if len(unstable) > 5 else ""
    print(
        f"warning: {scenario_name}: {len(unstable)} unit(s) get more work than their officers can do "
        f"(offered load ρ ≥ 1): {names}{more}. Their backlog grows all year; staff them or lower their "
        "demand before trusting their overdue forecast.",
        file=sys.stderr,
    )
