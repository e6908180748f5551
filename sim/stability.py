"""Stability: before a run, each unit's offered load against its officers' capacity (ρ); after it, each
unit's backlog trend through the horizon.

An officer pool with ρ ≥ 1 cannot keep up: its backlog grows for as long as the load lasts, and its
overdue rate then depends on the horizon and the warm-up rather than on the pool. The offered load is the
expected officer work (dossiers × effort, plus the rework after a supplement request and an inter-linked
group's later steps) that reaches the unit, from the same demand intensity the dossiers are drawn from;
the capacity is officers × working minutes on the calendar. ρ is given for the year from the run's start
date and for that year's busiest month (the January rush, the year-end peak). Counters are not included:
their load is in reception minutes of open hours and shows in their utilisation.

ρ < 1 over the year does not guarantee a steady office (the December peak, a surge, rework the estimate
misses), so the run also watches each unit's backlog: dossiers in progress over the week before the
counted period starts against the horizon's last week, replication by replication. Over a whole year the
two weeks sit at the same point of the seasons, so a stable unit ends the year where it began; a unit
whose backlog grows by a quarter of its mean or more (and by at least 10 dossiers) is named with those of
ρ ≥ 1. A shorter horizon's difference is mostly season, so it is recorded but names no unit.
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
TREND_WEEK = 7  # days averaged at each end (the weekly cycle)
TREND_MIN_HORIZON = 300  # days: a shorter horizon's backlog change is mostly the season's
GROWTH_SHARE = 0.25  # of the unit's mean backlog over the horizon
GROWTH_MIN = 10.0  # dossiers: below this a commune's one-officer backlog is noise


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

    if scenario.startup.warmup_days == "auto":  # the warm-up only moves the calendar's first day
        startup = scenario.startup.model_copy(update={"warmup_days": 0})
        scenario = scenario.model_copy(update={"startup": startup})
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


@dataclass(frozen=True)
class BacklogTrend:
    unit: str
    start: float  # mean dossiers in progress over the week before the counted period (its first week)
    end: float  # over the horizon's last week
    growth: float  # end - start, mean over replications
    growth_low: float  # its 95% interval (NaN with one replication)
    growth_high: float
    mean: float  # mean backlog over the horizon
    judged: bool  # the horizon is long enough to tell growth from season

    @property
    def growing(self) -> bool:
        if not self.judged or self.growth < max(GROWTH_SHARE * self.mean, GROWTH_MIN):
            return False
        return not self.growth_low <= 0  # a NaN bound (one replication) cannot clear the unit

    def as_dict(self) -> dict[str, Any]:
        def rounded(value: float) -> float | None:
            return None if value != value else round(value, 1)

        return {
            "unit": self.unit,
            "start": rounded(self.start),
            "end": rounded(self.end),
            "growth": rounded(self.growth),
            "growth_ci": [rounded(self.growth_low), rounded(self.growth_high)],
            "mean": rounded(self.mean),
            "growing": self.growing,
        }


def backlog_trends(outputs: list[Any], warmup_days: int, horizon_days: int) -> list[BacklogTrend]:
    """Every unit's backlog trend over the horizon from the replications' ``backlog_by_unit_day`` (warm-up
    and horizon), the fastest growing against its bar first; empty when the outputs carry no per-unit
    backlog."""
    from dvclab.sim.experiment import confidence_interval  # the model imports this module

    units = sorted({u for o in outputs for u in getattr(o, "backlog_by_unit_day", {})})
    first = warmup_days - TREND_WEEK if warmup_days >= TREND_WEEK else warmup_days
    judged = horizon_days >= TREND_MIN_HORIZON
    trends = []
    for unit in units:
        series = [o.backlog_by_unit_day.get(unit) for o in outputs]
        if any(s is None or len(s) < warmup_days + horizon_days for s in series):
            continue
        values = np.array([s[: warmup_days + horizon_days] for s in series])
        start = values[:, first : first + TREND_WEEK].mean(axis=1)
        end = values[:, -TREND_WEEK:].mean(axis=1)
        growth = confidence_interval(end - start)
        trends.append(
            BacklogTrend(
                unit, float(start.mean()), float(end.mean()), growth.mean, growth.ci_low, growth.ci_high,
                float(values[:, warmup_days:].mean()), judged,
            )
        )
    # nearest to (or furthest past) the bar first: a one-officer commune's noise does not lead the list
    return sorted(trends, key=lambda t: -t.growth / max(GROWTH_SHARE * t.mean, GROWTH_MIN))


def run_trends(experiment: Any) -> list[BacklogTrend]:
    """The backlog trends of an experiment's replications (its scenario's warm-up and horizon)."""
    startup = experiment.scenario.startup
    warmup = int(startup.warmup_days) if startup.mode == "warmup" else 0
    return backlog_trends(experiment.outputs, warmup, experiment.scenario.run.horizon_days)


def stability_section(loads: list[UnitLoad], trends: list[BacklogTrend] | None = None) -> dict[str, Any]:
    """The manifest's ``stability``: the unstable units (ρ ≥ 1 before the run, or a backlog that grew
    through it), the busiest ones, every unit's ρ, and the fastest growing backlogs."""
    trends = trends or []
    growing = [t.unit for t in trends if t.growing]
    section = {
        "method": "offered load: expected officer work (dossiers × effort, rework after supplements, "
        "inter-linked steps) ÷ officers × working minutes, over the year from the start date",
        "unstable": [load.unit for load in loads if load.unstable],
        "growing": growing,
        "flagged": sorted({load.unit for load in loads if load.unstable} | set(growing)),
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
    if trends:
        section["backlog_trend"] = {
            "method": f"dossiers in progress, the horizon's last {TREND_WEEK} days against the {TREND_WEEK} "
            f"before it starts; growing: by ≥ {GROWTH_SHARE:.0%} of the unit's mean and ≥ {GROWTH_MIN:.0f} "
            f"dossiers, 95% interval above 0; judged over horizons of ≥ {TREND_MIN_HORIZON} days",
            "judged": trends[0].judged,
            "fastest": [t.as_dict() for t in trends[:BUSIEST_SHOWN]],
        }
    return section


def warn_unstable(loads: list[UnitLoad], scenario_name: str) -> None:
    """Name the units that cannot keep up on stderr (before the run: the forecast will not settle)."""
    _warn(
        scenario_name,
        [f"{load.unit} ρ={load.rho:.2f} ({load.officers} officers)" for load in loads if load.unstable],
        "get more work than their officers can do (offered load ρ ≥ 1)",
        "Their backlog grows all year; staff them or lower their demand before trusting their overdue "
        "forecast.",
    )


def warn_growing(trends: list[BacklogTrend], scenario_name: str) -> None:
    """Name the units whose backlog grew through the run on stderr (after it: their forecast drifts)."""
    _warn(
        scenario_name,
        [f"{t.unit} {t.start:.0f} → {t.end:.0f}" for t in trends if t.growing],
        "ended with a growing backlog (dossiers in progress before the start → at the end)",
        "They do not keep up; their overdue forecast depends on the horizon.",
    )


def _warn(scenario_name: str, named: list[str], what: str, advice: str, shown: int = 5) -> None:
    if not named:
        return
    more = f" and {len(named) - shown} more" if len(named) > shown else ""
    print(
        f"warning: {scenario_name}: {len(named)} unit(s) {what}: {', '.join(named[:shown])}{more}. {advice}",
        file=sys.stderr,
    )
