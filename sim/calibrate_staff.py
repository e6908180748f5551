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
    names = np.asarray(records.resource_names + [""], dtype=object)
    active: dict[tuple[str, int], dict[int, set[int]]] = {}
    for e in np.flatnonzero(work & (records.resource >= 0)):
        case = records.case[e]
        if not chosen[case] or proc[case] < 0:
            continue
        match = POOL_RESOURCE.match(names[records.resource[e]])
        if match:
            key = (f"{match.group(1)}.{match.group(2)}", int(match.group(3)))
        else:
            key = (pool_of_proc[proc[case]], int(units[case]))
        day = int(records.start[e] // (24 * 60))
        active.setdefault(key, {}).setdefault(day, set()).add(int(records.resource[e]))
    per_unit: dict[tuple[str, int], int] = {}
    for key, days in active.items():
        counts = np.array([len(v) for v in days.values()])
        per_unit[key] = max(1, int(round(float(np.quantile(counts, 0.9)))))
    staffing: dict[str, dict[str, int]] = {}
    for pool in sorted({p for p, _ in per_unit}):
        level, agency = pool.split(".")
        values = [v for (p, _), v in per_unit.items() if p == pool]
        staffing.setdefault(level, {})[agency] = int(round(float(np.median(values))))
    for pool in set(pool_of_proc):  # a pool without recorded resources keeps one officer
        level, agency = pool.split(".")
        staffing.setdefault(level, {}).setdefault(agency, 1)
    if not active:
        notes.append("officers: no resources in the records; one officer per pool assumed")
    districts = max(1, int(units[np.array(levels) == "district"].max(initial=-1)) + 1)
    communes = max(1, int(units[np.array(levels) == "commune"].max(initial=-1)) + 1)
    counts = np.full(communes, 0.5)  # a pseudo-count: every commune keeps some demand
    commune = chosen & (np.array(levels) == "commune")
    np.add.at(counts, units[commune], 1.0)
    shares = counts / counts.sum()
    district_of = _districts_of(shares, chosen & (np.array(levels) == "district"), units, districts)
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
    level_of_resource = {}
    for e in np.flatnonzero(visits):
        level_of_resource.setdefault(int(records.resource[e]), levels[records.case[e]])
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
