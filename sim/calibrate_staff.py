"""Staffing from records: a pool's officers from the resources active per working day, a counter's from
the officers who received citizens there, and the units file that carries each unit's own staffing.

A pool's officers are the 90th percentile, over its working days, of the distinct resources that worked
in it that day (a quiet day leaves an officer idle; the percentile looks past it). A counter's are
counted the same way where the register names who received the citizen (``counter.commune.3#1``); where
it names only the counter, the 95th percentile of each day's most receptions in progress at once is all
there is, a lower bound where a counter never fills, which the summary says.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from dvclab.catalog import LEVELS
from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.records import Records

POOL_RESOURCE = re.compile(r"^(province|district|commune)\.([A-Za-z0-9_]+)\.(\d+)#")
COUNTER_RESOURCE = re.compile(r"^(counter\.(province|district|commune)\.\d+)(?:#|$)")


def pool_of_resources(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each resource's pool (``district.land``) and unit from a register name (``district.land.3#2``);
    "" and -1 for a plain name. One regular expression a resource, not an event."""
    matches = [POOL_RESOURCE.match(name) for name in names]
    pools = np.array([f"{m.group(1)}.{m.group(2)}" if m else "" for m in matches] + [""], dtype=object)
    units = np.array([int(m.group(3)) if m else -1 for m in matches] + [-1], dtype=np.int64)
    return pools, units


def event_pools(records: Records, events: np.ndarray, workload: Any) -> tuple[np.ndarray, np.ndarray]:
    """Each event's pool (an index into ``workload.pools``, -1 for none) and unit: the resource's own, where
    its register name gives one (``district.land.3#2``), else those of the case's procedure."""
    resource, case = records.resource[events], records.case[events]
    named_pool, named_unit = pool_of_resources(records.resource_names)
    index = {name: k for k, name in enumerate(workload.pools)}
    named = np.array([index.get(name, -1) for name in named_pool], dtype=np.int64)
    pool = np.where(named[resource] >= 0, named[resource], workload.case_pool[case])
    unit = np.where(named_unit[resource] >= 0, named_unit[resource], workload.case_unit[case])
    return pool, unit


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


def _counter_of_resources(names: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Each resource's counter (``counter.commune.3``) and level from a register name: an officer at a
    counter (``counter.commune.3#1``) or the counter itself; "" for a plain name (a person)."""
    matches = [COUNTER_RESOURCE.match(name) for name in names]
    counters = np.array([m.group(1) if m else "" for m in matches] + [""], dtype=object)
    levels = np.array([m.group(2) if m else "" for m in matches] + [""], dtype=object)
    return counters, levels


def _level_of_names(names: np.ndarray, named_counter: np.ndarray, named_level: np.ndarray) -> list[str]:
    """The level of each distinct counter name (from the resources that carry it)."""
    level_of = dict(zip(named_counter.tolist(), named_level.tolist(), strict=True))
    return [level_of.get(name, "") for name in names.tolist()]


def _group_quantile(groups: np.ndarray, values: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """The ``q`` quantile of ``values`` in each group (NumPy's default, linear interpolation): the
    groups present and their quantiles, from one sort."""
    order = np.lexsort((values, groups))
    groups, values = groups[order], values[order]
    starts = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    counts = np.diff(np.r_[starts, len(groups)])
    position = starts + q * (counts - 1)
    below = np.floor(position).astype(np.int64)
    above = np.minimum(below + 1, starts + counts - 1)
    fraction = position - below
    return groups[starts], values[below] + (values[above] - values[below]) * fraction


def counter_officers(
    records: Records,
    role: np.ndarray,
    duration: np.ndarray,
    levels: list[str],
    units: np.ndarray,
    ev_chosen: np.ndarray,
    notes: list[str],
) -> dict[str, int]:
    """Counter officers per level: at each counter, the larger of the 90th percentile over its working
    days of the distinct officers who received a citizen that day (a register naming the officer) and the
    95th percentile of each day's most receptions in progress at once (one naming only the counter);
    the median over the level's counters. A counter's officers from a plain name are counted at the
    dossier's unit."""
    defaults = {"province": 14, "district": 6, "commune": 1}
    visits = np.flatnonzero(ev_chosen & (role == "receive") & (duration > 0) & (records.resource >= 0))
    if not visits.size:
        return defaults
    resource, case = records.resource[visits], records.case[visits]
    named_counter, named_level = _counter_of_resources(records.resource_names)
    # counters as integer codes: those a register name gives, then one per (level, unit) of the dossiers
    # received by a person named plainly (no string built per event)
    counter_names, named_code = np.unique(named_counter.astype(str), return_inverse=True)
    named_code = np.where(named_counter != "", named_code, -1)
    level_index = {level: k for k, level in enumerate(LEVELS)}
    case_level = np.array([level_index.get(lv, 0) for lv in levels], dtype=np.int64)
    plain = named_code[resource] < 0
    unit_key = case_level[case[plain]] * (int(units.max(initial=0)) + 1) + units[case[plain]]
    unit_keys, unit_code = np.unique(unit_key, return_inverse=True)
    counter_code = named_code[resource].astype(np.int64)
    counter_code[plain] = len(counter_names) + unit_code
    level_of_counter = np.concatenate([
        np.array([m or "" for m in _level_of_names(counter_names, named_counter, named_level)], dtype=object),
        np.array([LEVELS[int(k) // (int(units.max(initial=0)) + 1)] for k in unit_keys], dtype=object),
    ])  # fmt: skip
    counters = len(level_of_counter)
    first_day = int((records.start[visits] // (24 * 60)).min())
    day = (records.start[visits] // (24 * 60)).astype(np.int64) - first_day
    days, width = int(day.max()) + 1, int(resource.max()) + 1
    # (a) distinct officers a day at each counter
    key = (counter_code * days + day) * width + resource
    counter_day, distinct = np.unique(np.unique(key) // width, return_counts=True)
    officers = np.zeros(counters)
    found, quantiles = _group_quantile(counter_day // days, distinct.astype(float), 0.9)
    officers[found] = quantiles
    # (b) receptions in progress at once at one resource (the counter itself), each day's peak
    times = np.concatenate([records.start[visits], records.complete[visits]])
    step = np.concatenate([np.ones(len(visits)), -np.ones(len(visits))])
    who = np.concatenate([resource, resource])
    order = np.lexsort((step, times, who))  # an end before a start at the same minute
    busy = np.cumsum(step[order])  # each resource's steps sum to 0, so the running sum is per resource
    # a reception ending after midnight counts on its day (clipped into the key's range)
    time_day = np.clip((times[order] // (24 * 60)).astype(np.int64) - first_day, 0, days + 1)
    peak_key = who[order].astype(np.int64) * (days + 2) + time_day
    unique, inverse = np.unique(peak_key, return_inverse=True)
    peak = np.zeros(len(unique))
    np.maximum.at(peak, inverse, busy)
    resource_of_peak = unique // (days + 2)
    counter_of_resource = np.full(width, -1, dtype=np.int64)
    counter_of_resource[resource] = counter_code
    at_once = np.zeros(counters)
    found, quantiles = _group_quantile(resource_of_peak, peak, 0.95)
    np.maximum.at(at_once, counter_of_resource[found], quantiles)
    out = dict(defaults)
    for lv in LEVELS:
        mine = level_of_counter == lv
        if mine.any():
            per_counter = np.maximum(officers[mine], at_once[mine])
            out[lv] = max(1, int(round(float(np.median(per_counter)))))
    if (officers > at_once).any():
        notes.append("counter officers: the distinct officers who received citizens on a working day")
    else:
        notes.append(
            "counter officers: the records name counters, not officers; the receptions in progress at once "
            "are a lower bound where a counter never fills"
        )
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
