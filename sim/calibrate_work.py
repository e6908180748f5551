"""What the records say about the work: procedures and their pools, effort, approval, supplements,
deadlines, staffing, counters, channels, payment and result return (``sim.calibrate`` assembles them).

Durations are working minutes on the calibrated calendar (``to_working(end) - to_working(start)``), the
clock the model's effort runs on. A pool's officers are the resources active on a working day (the 90th
percentile over its working days: a quiet day leaves an officer idle, an officer never works two pools'
days at once); a counter's officers the receptions in progress at once (95th percentile of each day's
maximum). Names follow the register (``district.land.3#2``: pool and unit in the resource); a log whose
resources are plain names takes the pool from its procedure and the unit from the case.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from dvclab.catalog import LEVELS
from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.calibrate_staff import counter_officers, pool_of_resources, staffing_of
from dvclab.sim.fitting import Fit, fit_durations
from dvclab.sim.records import Records
from dvclab.sim.scenario import CHANNELS, Payment, ResultReturn

_UNIT = re.compile(r"^(province|district|commune)\.(\d+)$")
_SAFE = re.compile(r"[^A-Za-z0-9_]+")


@dataclass
class ProcedureFit:
    code: str
    name: str
    group: str
    level: str
    agency: str
    full_online: bool
    deadline_days: int
    fee_bearing: bool
    level_share: float  # share of its level's dossiers (the catalog's demand_weight)
    supplement_prob: float
    reception_min: float
    effort_min: float
    approval_days: float


@dataclass
class Workload:
    procedures: list[ProcedureFit]
    case_level: list[str]
    case_channel: list[str]
    fits: dict[str, Fit]
    effort_fit: Fit  # the pooled effort factor (effort / procedure mean): the family the scenario draws
    case_pool: np.ndarray  # each dossier's pool index into ``pools`` (-1: none)
    pools: list[str]
    case_unit: np.ndarray  # each dossier's unit number in its level
    case_effort: np.ndarray  # each dossier's first-pass effort (working minutes; 0: none recorded)
    case_supplement: np.ndarray  # bool: a supplement was requested
    staffing: dict[str, dict[str, int]]
    unit_rows: list[dict[str, Any]]
    districts: int
    communes: int
    channels: dict[str, Any]
    counter_officers: dict[str, int]
    effort_cv: float
    approval_cv: float
    response_days: float
    rework_share: float
    payment: dict[str, float] = field(default_factory=dict)
    electronic: dict[str, float] = field(default_factory=dict)
    postal_share: float = 0.1
    notes: list[str] = field(default_factory=list)


def working(calendar: WorkingCalendar, t: np.ndarray) -> np.ndarray:
    """``calendar.to_working`` for an array of times."""
    starts = np.asarray(calendar.session_starts)
    lengths = np.asarray(calendar.session_ends) - starts
    before = np.asarray(calendar.worked_before)
    t = np.asarray(t, dtype=float)
    i = np.searchsorted(starts, t, side="right") - 1
    j = np.maximum(i, 0)
    value = before[j] + np.minimum(t - starts[j], lengths[j])
    return np.where(i < 0, 0.0, value)


def _per_case(records: Records, mask: np.ndarray, values: np.ndarray, how: str = "sum") -> np.ndarray:
    out = np.zeros(len(records)) if how == "sum" else np.full(len(records), np.nan)
    if how == "sum":
        np.add.at(out, records.case[mask], values[mask])
    elif how == "min":
        np.fmin.at(out, records.case[mask], values[mask])
    else:
        np.fmax.at(out, records.case[mask], values[mask])
    return out


def _mean(values: np.ndarray, default: float = 0.0, weights: np.ndarray | None = None) -> float:
    """The (weighted) mean of the finite values, ``default`` when there are none (or no weight)."""
    finite = np.isfinite(values)
    if weights is None:
        values = values[finite]
        return float(values.mean()) if values.size else default
    w = weights[finite]
    return float(np.dot(values[finite], w) / w.sum()) if w.sum() > 0 else default


def _ratios(values: np.ndarray, groups: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each positive value over its group's (weighted) mean, with its weight: the factors the model's
    effort family draws (``sim.effort``)."""
    keep = np.isfinite(values) & (values > 0) & (weights > 0)
    values, groups, weights = values[keep], groups[keep], weights[keep]
    if not len(values):
        return values, weights
    sums = np.bincount(groups, weights=values * weights)
    totals = np.bincount(groups, weights=weights)
    return values / (sums[groups] / totals[groups]), weights


def _pooled_cv(values: np.ndarray, groups: np.ndarray, weights: np.ndarray | None = None) -> float:
    """CV of each value relative to its group's mean: the spread the model's effort factor draws."""
    weights = np.ones(len(values)) if weights is None else weights
    ratio, w = _ratios(values, groups, weights)
    if len(ratio) < 3:
        return 0.5
    mean = float(np.average(ratio, weights=w))
    variance = float(np.average((ratio - mean) ** 2, weights=w)) * len(ratio) / (len(ratio) - 1)
    return float(np.sqrt(variance))


def _case_levels_units(records: Records) -> tuple[list[str], np.ndarray]:
    """Each dossier's level (the level column, else the unit's prefix, else province) and unit number
    (``district.3`` -> 3; other unit names numbered per level in order of appearance). Worked out once
    for each distinct (level, unit) pair: a register has millions of rows and a few hundred units."""
    empty = [""] * len(records)
    found: dict[tuple[str, str], tuple[str, int]] = {}
    numbered: dict[str, int] = {}
    pairs = list(zip(records.text.get("level") or empty, records.text.get("unit") or empty, strict=True))
    for level, unit in set(pairs):
        match = _UNIT.match(unit)
        level = level or (match.group(1) if match else "province")
        if match and match.group(1) == level:
            found[(level, unit)] = (level, int(match.group(2)))
    for level, unit in sorted(set(pairs) - set(found), key=pairs.index):  # first appearance order
        resolved = level or "province"
        if unit and resolved != "province":
            numbered[resolved] = numbered.get(resolved, -1) + 1
            found[(level, unit)] = (resolved, numbered[resolved])
        else:
            found[(level, unit)] = (resolved, 0)
    resolved_pairs = [found[pair] for pair in pairs]
    return [lv for lv, _ in resolved_pairs], np.array([u for _, u in resolved_pairs], dtype=np.int64)


def observe_workload(
    records: Records,
    calendar: WorkingCalendar,
    chosen: np.ndarray,
    work: np.ndarray,
    weight: np.ndarray | None = None,
) -> Workload:
    """What the dossiers in ``chosen`` say, each counted by its ``weight`` (recency; 1 when None) where
    a share or a mean is fitted."""
    n = len(records)
    weight = chosen.astype(float) if weight is None else weight
    text = records.text
    notes: list[str] = []
    empty = [""] * n
    keys = [
        c or nm or g or "all"
        for c, nm, g in zip(
            text.get("procedure_code") or empty,
            text.get("procedure_name") or empty,
            text.get("procedure_group") or empty,
            strict=True,
        )
    ]
    levels, units = _case_levels_units(records)
    level_of = np.asarray(levels, dtype=object)
    channel = list(text.get("channel") or empty)
    has_channels = any(channel)
    if not has_channels:
        channel = ["self_service"] * n
        notes.append("channels: none in the records; every dossier is taken as filed online (self-service)")
    names = sorted(set(np.asarray(keys, dtype=object)[chosen].tolist()))
    proc_index = {name: k for k, name in enumerate(names)}
    proc = np.array([proc_index.get(key, -1) for key in keys])
    role = records.role()
    w_start = working(calendar, records.start)
    w_end = working(calendar, records.complete)
    duration = np.maximum(w_end - w_start, 0.0)
    ev_chosen = chosen[records.case]
    roles_known = records.roles_known
    every_pass = (role == "examine") if roles_known else work
    first_pass = every_pass & ev_chosen  # a new array: ``work`` is the caller's
    rework = (role == "rework") & ev_chosen
    # per dossier over all the records (the report's drift), then the training window's
    effort_all = _per_case(records, every_pass, duration)
    worked_all = _per_case(records, every_pass, np.ones(len(duration))) > 0
    effort = np.where(chosen, effort_all, 0.0)
    worked = worked_all & chosen
    rework_effort = _per_case(records, rework, duration)
    last_work = _per_case(records, (first_pass | rework), records.complete, "max")
    arrival = records.arrival()
    received = records.times.get("received_at", arrival)
    received = np.where(np.isnan(received), arrival, received)
    finish = records.finish()
    per_day = calendar.minutes_per_working_day
    after = np.where(np.isnan(last_work), received, last_work)
    approval = (working(calendar, finish) - working(calendar, after)) / per_day

    # agencies: from the pool in the officer's name, else the procedure group, else one office
    agency_of_case = np.full(n, "", dtype=object)
    named_pool, _ = pool_of_resources(records.resource_names)
    examined = np.flatnonzero(first_pass & (records.resource >= 0))
    agency_of_resource = np.array([pool.partition(".")[2] for pool in named_pool], dtype=object)
    agencies = agency_of_resource[records.resource[examined]]
    named = agencies != ""
    cases_named, first = np.unique(records.case[examined][named], return_index=True)
    agency_of_case[cases_named] = agencies[named][first]  # the first officer's pool names the agency
    groups = text.get("procedure_group") or empty

    supplement_all = _per_case(records, role == "request_supplement", np.ones(len(role))) > 0
    if "supplement_requested" in records.flags:
        supplement_all |= records.flags["supplement_requested"] == 1
    supplement = supplement_all & chosen
    requested = _per_case(records, role == "request_supplement", records.complete, "min")
    answered = _per_case(records, role == "receive_supplement", records.complete, "min")
    response = (working(calendar, answered) - working(calendar, requested)) / per_day
    reception = _per_case(records, (role == "receive") & ev_chosen & (duration > 0), duration)
    due = records.times.get("due_at")
    closes = np.asarray(calendar.day_close)
    if due is not None:
        deadline = np.searchsorted(closes, due - 1e-6) - np.searchsorted(closes, received, side="right")
    else:
        notes.append("deadlines: no due dates; each procedure's is its 90th percentile of working days taken")
        deadline = None
    paid = records.flags.get("paid_online")

    procedures = []
    level_counts = {level: float(weight[chosen & (level_of == level)].sum()) for level in LEVELS}
    channel_of = np.asarray(channel, dtype=object)
    picked = np.flatnonzero(chosen & (proc >= 0))
    order = picked[np.argsort(proc[picked], kind="stable")]
    groups_of = np.split(order, np.flatnonzero(np.diff(proc[order])) + 1) if order.size else []
    for members in groups_of:
        name = names[int(proc[members[0]])]
        mine_levels, mine_counts = np.unique(level_of[members], return_counts=True)
        level = str(mine_levels[int(np.argmax(mine_counts))])
        agencies = [a for a in agency_of_case[members] if a]
        agency = (
            max(set(agencies), key=agencies.count)
            if agencies
            else _SAFE.sub("_", groups[members[0]]) or "office"
        )
        chan = channel_of[members]
        full = bool(np.sum(chan == "self_service") >= np.sum(chan == "online_with_visit"))
        work_share = worked[members].mean()
        if deadline is not None and np.isfinite(due[members]).any():
            values = deadline[members][np.isfinite(due[members])]
            days = int(np.bincount(np.maximum(values, 0).astype(int)).argmax())
        else:
            taken = (working(calendar, finish[members]) - working(calendar, received[members])) / per_day
            days = int(math.ceil(np.nanquantile(taken, 0.9))) if np.isfinite(taken).any() else 10
        procedures.append(
            ProcedureFit(
                code=_SAFE.sub("-", name)[:40] if not text.get("procedure_code") else name,
                name=(text.get("procedure_name") or keys)[members[0]] or name,
                group=_SAFE.sub("_", groups[members[0]]) if groups[members[0]] else "records",
                level=level,
                agency=agency,
                full_online=full,
                deadline_days=max(days, 0),
                fee_bearing=bool(paid is not None and np.isfinite(paid[members]).mean() > 0.5),
                level_share=float(weight[members].sum()) / max(level_counts[level], 1e-300),
                supplement_prob=_mean(supplement[members].astype(float), 0.0, weight[members]),
                reception_min=_mean(reception[members][reception[members] > 0], 10.0),
                effort_min=_mean(effort[members][worked[members]], 0.0, weight[members][worked[members]])
                if work_share >= 0.5
                else 0.0,
                approval_days=max(_mean(approval[members], 0.0, weight[members]), 0.0),
            )
        )
    pool_of_proc = [f"{p.level}.{p.agency}" for p in procedures]
    pools = sorted(set(pool_of_proc))
    pool_index = np.array([pools.index(p) for p in pool_of_proc] + [-1], dtype=np.int64)
    case_pool = pool_index[proc]  # proc -1 takes the appended -1
    fits = {}
    for k, pool in enumerate(pools):
        members = chosen & worked & (case_pool == k)
        fits[pool] = fit_durations(effort[members], weight[members])
    has_work = chosen & worked & (proc >= 0)
    ratio, ratio_weight = _ratios(effort[has_work], proc[has_work], weight[has_work])
    effort_fit = fit_durations(ratio, ratio_weight)
    finished = chosen & np.isfinite(approval) & (approval > 0) & (proc >= 0)
    staffing, unit_rows, districts, communes = staffing_of(
        records, calendar, chosen, first_pass | rework, proc, pool_of_proc, levels, units, notes
    )
    answered_ok = chosen & np.isfinite(response) & (response >= 0)
    with_rework = chosen & (rework_effort > 0) & worked
    return Workload(
        procedures=procedures,
        case_level=levels,
        case_channel=channel,
        fits=fits,
        effort_fit=effort_fit,
        case_pool=case_pool,
        pools=pools,
        case_unit=units,
        case_effort=np.where(worked_all, effort_all, np.nan),
        case_supplement=supplement_all,
        staffing=staffing,
        unit_rows=unit_rows,
        districts=districts,
        communes=communes,
        channels=_channels(
            np.asarray(channel, dtype=object)[chosen], proc[chosen], procedures, has_channels, weight[chosen]
        ),
        counter_officers=counter_officers(records, role, duration, levels, units, ev_chosen, notes),
        effort_cv=_pooled_cv(effort[has_work], proc[has_work], weight[has_work]),
        approval_cv=_pooled_cv(approval[finished], proc[finished]),
        response_days=_mean(response[answered_ok], 4.0),
        rework_share=float(rework_effort[with_rework].mean() / effort[with_rework].mean())
        if with_rework.any()
        else 0.5,
        **_returns(records, np.asarray(channel, dtype=object), chosen),
        notes=notes,
    )


def _channels(
    channel: np.ndarray, proc: np.ndarray, procedures: list[ProcedureFit], known: bool, weight: np.ndarray
) -> dict[str, Any]:
    """Choice parameters that give back the observed shares: everyone capable, and the propensities are
    the online shares of full and partial procedures (the segment split is not identifiable)."""
    if not known:
        return {
            "capable_share": 1.0,
            "digital_team_coverage": 0.0,
            "self_service_propensity": 1.0,
            "partial_online_filing": 1.0,
            "postal_submission_share": 0.0,
            "assisted_extra_min": 0.0,
        }
    full = np.array([procedures[k].full_online for k in proc]) if len(proc) else np.zeros(0, bool)
    online = np.isin(channel, ("self_service", "online_with_visit"))
    offline = ~online
    count = lambda name: float(weight[channel == name].sum())  # noqa: E731
    offline_weight = float(weight[offline].sum())
    desk = count("assisted") + count("counter")
    return {
        "capable_share": 1.0,
        "digital_team_coverage": 0.0,
        "self_service_propensity": round(_mean(online[full].astype(float), 0.9, weight[full]), 4),
        "partial_online_filing": round(_mean(online[~full].astype(float), 0.5, weight[~full]), 4),
        "postal_submission_share": round(count("postal") / offline_weight if offline_weight > 0 else 0.0, 4),
        "assisted_filing_share": round(count("assisted") / desk if desk > 0 else 0.0, 4),
        "assisted_extra_min": 0.0,
    }


def _returns(records: Records, channel: np.ndarray, chosen: np.ndarray) -> dict[str, Any]:
    out: dict[str, Any] = {}
    paid = records.flags.get("paid_online")
    if paid is not None and np.isfinite(paid[chosen]).any():
        share = dict(Payment().online_share)
        for name in CHANNELS:
            mine = chosen & (channel == name) & np.isfinite(paid)
            if mine.sum() >= 5:
                share[name] = round(float(paid[mine].mean()), 4)
        out["payment"] = share
    methods = records.text.get("return_method")
    if methods and any(methods):
        method = np.asarray(methods, dtype=object)
        share = dict(ResultReturn().electronic_share)
        for name in CHANNELS:
            mine = chosen & (channel == name) & (method != "")
            if mine.sum() >= 5:
                share[name] = round(float(np.mean(method[mine] == "electronic")), 4)
        out["electronic"] = share
        paper = chosen & np.isin(method, ("post", "counter"))
        if paper.any():
            out["postal_share"] = round(float(np.mean(method[paper] == "post")), 4)
    return out
