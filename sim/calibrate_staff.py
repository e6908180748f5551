"""Staffing from records: a pool's officers from the resources active per working day, a counter's from
the receptions in progress at once, and the units file that carries each unit's own staffing.

A pool's officers are the 90th percentile, over its working days, of the distinct resources that worked
in it that day (a quiet day leaves an officer idle; the percentile looks past it). A counter's officers
are the 95th percentile of each day's largest number of receptions in progress at once: a lower bound
where a counter never fills, which the summary says.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from dvclab.catalog import LEVELS
from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.records import Records

POOL_RESOURCE = re.compile(r"^(province|district|commune)\.([A-Za-z0-9_]+)\.(\d+)#")


def pool_of_resources(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each resource's pool (``district.land``) and unit from a register name (``district.land.3#2``);
    "" and -1 for a plain name. One regular expression a resource, not an event."""
    matches = [POOL_RESOURCE.match(name) for name in names]
    pools = np.array([f"{m.group(1)}.{m.group(2)}" if m else "" for m in matches] + [""], dtype=object)
    units = np.array([int(m.group(3)) if m else -1 for m in matches] + [-1], dtype=np.int64)
    return pools, units


def _active_per_day(
    records: Records,
    chosen: np.ndarray,
    work: np.ndarray,
    proc: np.ndarray,
    pool_of_proc: list[str],
    units: np.ndarray,
) -> dict[tuple[str, int], int]:
    """Officers of each pool's unit: the 90th percentile over its working days of the distinct resources
    that worked in it that day (vectorised: one integer key per pool, unit, day and resource)."""
    case = records.case
    events = np.flatnonzero(work & (records.resource >= 0) & chosen[case] & (proc[case] >= 0))
    if not events.size:
        return {}
    resource, case = records.resource[events], case[events]
    named_pool, named_unit = pool_of_resources(records.resource_names)
    pool = np.where(
        named_pool[resource] != "", named_pool[resource], np.asarray(pool_of_proc, dtype=object)[proc[case]]
    )
    unit = np.where(named_unit[resource] >= 0, named_unit[resource], units[case])
    pool_names, pool_code = np.unique(pool.astype(str), return_inverse=True)
    day = (records.start[events] // (24 * 60)).astype(np.int64)
    day -= day.min()
    sizes = [len(pool_names), int(unit.max()) + 1, int(day.max()) + 1, int(resource.max()) + 1]
    if np.prod([float(x) for x in sizes]) >= 2.0**62:
        raise ValueError("too many pools, units, days and resources to count officers")
    key = ((pool_code * sizes[1] + unit) * sizes[2] + day) * sizes[3] + resource
    distinct = np.unique(key) // sizes[3]  # one entry per resource active in a pool unit on a day
    pool_unit_day, per_day = np.unique(distinct, return_counts=True)
    pool_unit = pool_unit_day // sizes[2]
    order = np.argsort(pool_unit, kind="stable")
    bounds = np.flatnonzero(np.diff(pool_unit[order])) + 1
    out = {}
    for group in np.split(order, bounds):
        code = int(pool_unit[group[0]])
        officers = max(1, int(round(float(np.quantile(per_day[group], 0.9)))))
        out[(str(pool_names[code // sizes[1]]), code % sizes[1])] = officers
    return out


def staffing_of(
    records: Records,
    calendar: WorkingCalendar,
    chosen: np.ndarray,
    work: np.ndarray,
    proc: np.ndarray,
    pool_of_proc: list[str],
    levels: list[str],
    units: np.ndarray,
    notes: list[str],
) -> tuple[dict[str, dict[str, int]], list[dict[str, Any]], int, int]:
    per_unit = _active_per_day(records, chosen, work, proc, pool_of_proc, units)
    staffing: dict[str, dict[str, int]] = {}
    for pool in sorted({p for p, _ in per_unit}):
        level, agency = pool.split(".")
        values = [v for (p, _), v in per_unit.items() if p == pool]
        staffing.setdefault(level, {})[agency] = int(round(float(np.median(values))))
    for pool in set(pool_of_proc):  # a pool without recorded resources keeps one officer
        level, agency = pool.split(".")
        staffing.setdefault(level, {}).setdefault(agency, 1)
    if not per_unit:
        notes.append("officers: no resources in the records; one officer per pool assumed")
    level_of = np.asarray(levels, dtype=object)
    districts = max(1, int(units[level_of == "district"].max(initial=-1)) + 1)
    communes = max(1, int(units[level_of == "commune"].max(initial=-1)) + 1)
    counts = np.full(communes, 0.5)  # a pseudo-count: every commune keeps some demand
    commune = chosen & (level_of == "commune")
    np.add.at(counts, units[commune], 1.0)
    shares = counts / counts.sum()
    district_of = _districts_of(shares, chosen & (level_of == "district"), units, districts)
    rows: list[dict[str, Any]] = [
        {
            "unit": "province.0",
            "level": "province",
            "number": 0,
            "district": "",
            "demand_share": 1.0,
            "staffing": _own("province", 0, per_unit, staffing),
        }
    ]
    for d in range(districts):
        share = float(shares[district_of == d].sum())
        rows.append(
            {
                "unit": f"district.{d}",
                "level": "district",
                "number": d,
                "district": "",
                "demand_share": share,
                "staffing": _own("district", d, per_unit, staffing),
            }
        )
    for c in range(communes):
        rows.append(
            {
                "unit": f"commune.{c}",
                "level": "commune",
                "number": c,
                "district": int(district_of[c]),
                "demand_share": float(shares[c]),
                "staffing": _own("commune", c, per_unit, staffing),
            }
        )
    if districts > 1 and commune.any():
        notes.append(
            "units: the records do not say which district a commune is in; communes were grouped so that "
            "each district's share of demand matches its share of district dossiers"
        )
    return staffing, rows, districts, communes


def _own(
    level: str, number: int, per_unit: dict[tuple[str, int], int], staffing: dict[str, dict[str, int]]
) -> str:
    """A unit's staffing where it differs from its level's (the units file's ``staffing`` column)."""
    own = {
        pool.split(".")[1]: value
        for (pool, unit), value in sorted(per_unit.items())
        if unit == number and pool.startswith(f"{level}.") and value != staffing[level][pool.split(".")[1]]
    }
    return ";".join(f"{agency}={value}" for agency, value in own.items())


def counter_officers(
    records: Records,
    calendar: WorkingCalendar,
    role: np.ndarray,
    duration: np.ndarray,
    levels: list[str],
    ev_chosen: np.ndarray,
) -> dict[str, int]:
    """Counter officers per level: the receptions in progress at once at a counter, per day."""
    defaults = {"province": 14, "district": 6, "commune": 1}
    visits = ev_chosen & (role == "receive") & (duration > 0) & (records.resource >= 0)
    if not visits.any():
        return defaults
    resource = records.resource[visits]
    times = np.concatenate([records.start[visits], records.complete[visits]])
    step = np.concatenate([np.ones(visits.sum()), -np.ones(visits.sum())])
    who = np.concatenate([resource, resource])
    order = np.lexsort((step, times, who))  # an end before a start at the same minute
    busy = np.cumsum(step[order])  # each counter's steps sum to 0, so the running sum is per counter
    day = (times[order] // (24 * 60)).astype(np.int64)
    key = who[order].astype(np.int64) * 100_000 + day
    unique, inverse = np.unique(key, return_inverse=True)
    peak = np.zeros(len(unique))
    np.maximum.at(peak, inverse, busy)
    counter_of = unique // 100_000
    visit_events = np.flatnonzero(visits)
    first_resources, first = np.unique(records.resource[visit_events], return_index=True)
    level_of_resource = {
        int(r): levels[records.case[visit_events[k]]] for r, k in zip(first_resources, first, strict=True)
    }
    out = dict(defaults)
    for level in LEVELS:
        mine = [r for r, lv in level_of_resource.items() if lv == level]
        if mine:
            per_counter = [np.quantile(peak[counter_of == r], 0.95) for r in mine]
            out[level] = max(1, int(round(float(np.median(per_counter)))))
    return out


def _districts_of(
    shares: np.ndarray, district_cases: np.ndarray, units: np.ndarray, districts: int
) -> np.ndarray:
    """A district for each commune: the model sends a district dossier to its citizen's commune's district,
    so communes are dealt, largest first, to the district furthest below its observed share of district
    dossiers (evenly when there are none)."""
    target = np.bincount(units[district_cases], minlength=districts)[:districts].astype(float)
    target = target / target.sum() if target.sum() > 0 else np.full(districts, 1.0 / districts)
    assigned = np.zeros(districts)
    out = np.zeros(len(shares), dtype=np.int64)
    for c in np.argsort(-shares, kind="stable"):
        d = int(np.argmax(target - assigned))
        out[c] = d
        assigned[d] += shares[c]
    return out
