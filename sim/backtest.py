"""``sim backtest``: calibrate on the records before a date, forecast the period after it, and compare the
forecast with what happened, beside a naive forecast, so a planner sees whether the model earns its trust.

Compared, for the dossiers received from the split to the end of the records: weekly volumes (mean
absolute error), the cycle-time distribution (received to result issued, in working hours; Wasserstein
distance by scipy: the package below knows no working calendar), the overdue rate overall and by
procedure group with 95% intervals, and, where the records name who did the work, each officer pool's
utilisation: the working minutes of the pieces of work started in the test period over its officers'
working minutes. Observed, the officers of a unit are the 90th percentile of the distinct resources that
worked in it on a working day of the period (the calibration's rule); simulated, the forecast's pool
busy time over its officers (both count a piece of work when it starts). The naive forecast resamples
the training period: its weeks' volumes and its dossiers' whole durations (and so its overdue rate); it
has no officers, so no utilisation. Dossiers not finished by the end of the records are left out of
both sides alike (a simulated one issued after that date is not counted either).

Beside them, the event-log distances of the ``log-distance-measures`` package (``sim.log_distances`` says
which and why): each forecast's log of its finished dossiers against the test period's. The model's log
is its simulated register (``sim.event_log``); the naive's is the drawn training dossiers' recorded
events, each moved by whole weeks into a test week drawn at random (weekday and hours kept).
"""

from __future__ import annotations

import datetime as dt
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance

from dvclab.catalog import Procedure
from dvclab.files import fill_folder
from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.calibrate import WORK_ROLES, Calibration, calibrate
from dvclab.sim.calibrate_staff import event_pools
from dvclab.sim.calibrate_work import working
from dvclab.sim.event_log import EventRecorder, register_table
from dvclab.sim.experiment import confidence_interval, run_replications
from dvclab.sim.log_distances import MEASURES, SOURCE, distances, records_frame, register_frame
from dvclab.sim.model import ProvinceModel
from dvclab.sim.outputs import csv_text
from dvclab.sim.procedures import build_procedures
from dvclab.sim.record_map import RecordsError
from dvclab.sim.records import Records
from dvclab.sim.results import new_run_id
from dvclab.sim.scenario import Scenario, load_scenario

WARMUP_DAYS = 30


@dataclass
class Period:
    """One forecast of the test period (or what happened): per-week counts, cycle times, overdue flags."""

    weekly: np.ndarray
    cycle_hours: np.ndarray
    overdue: np.ndarray  # bool per finished dossier
    group: np.ndarray  # its procedure group
    utilisation: dict[str, float] = field(default_factory=dict)  # pool (level.agency) -> busy share
    cases: np.ndarray | None = None  # the record cases behind the finished dossiers (observed, naive)
    log: Any = None  # the finished dossiers' events, a pandas frame of ``sim.log_distances``


@dataclass
class Backtest:
    split: dt.date
    end: dt.date
    calibration: Calibration
    observed: Period
    model: list[Period]
    naive: list[Period]
    table: list[dict[str, Any]] = field(default_factory=list)  # measure, observed, model, naive

    def rows(self) -> list[list[Any]]:
        return [[r["measure"], r["observed"], r["model"], r["naive"], r["better"]] for r in self.table]


def _wilson(hits: int, n: int) -> tuple[float, float]:
    if n == 0:
        return math.nan, math.nan
    p, z = hits / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def _observed(records: Records, calendar: WorkingCalendar, chosen: np.ndarray, days: tuple[int, int],
              deadline: dict[str, int], groups: dict[str, str], end: float) -> Period:  # fmt: skip
    arrival = records.arrival()
    received = records.times.get("received_at", arrival)
    received = np.where(np.isnan(received), arrival, received)
    finish = records.finish()
    weeks = (days[1] - days[0]) // 7
    day = (arrival[chosen] // MINUTES_PER_DAY).astype(int) - days[0]
    weekly = np.bincount(day[(day >= 0) & (day < weeks * 7)] // 7, minlength=weeks)[:weeks].astype(float)
    done = chosen & np.isfinite(finish) & (finish <= end)
    hours = (working(calendar, finish[done]) - working(calendar, received[done])) / 60.0
    keys = _keys(records)
    due = records.times.get("due_at")
    if due is None or np.isnan(due[done]).all():
        due_now = np.array(
            [
                calendar.due_time(r, deadline.get(k, 10))
                for r, k in zip(received[done], keys[done], strict=True)
            ]
        )
    else:
        due_now = due[done]
    group = np.array([groups.get(k, "all") for k in keys[done]], dtype=object)
    return Period(weekly, hours, finish[done] > due_now, group, cases=np.flatnonzero(done))


def observed_utilisation(
    records: Records, calendar: WorkingCalendar, calibration: Calibration, days: tuple[int, int]
) -> dict[str, float]:
    """Each pool's busy share in the days [days[0], days[1]): the working minutes of the work started
    then (examination and rework; with no roles, every event with a resource) over the officers' working
    minutes, a unit's officers the 90th percentile of its distinct resources active a working day.
    Empty when the records name no resources."""
    work_of = calibration.workload
    if work_of is None:
        return {}
    role = records.role()
    work = np.isin(role, WORK_ROLES) if records.roles_known else np.ones(len(role), bool)
    lo, hi = days[0] * MINUTES_PER_DAY, days[1] * MINUTES_PER_DAY
    events = np.flatnonzero(work & (records.resource >= 0) & (records.start >= lo) & (records.start < hi))
    if not events.size:
        return {}
    resource = records.resource[events]
    pool, unit = event_pools(records, events, work_of)
    keep = pool >= 0
    events, pool, unit, resource = events[keep], pool[keep], unit[keep], resource[keep]
    if not events.size:
        return {}
    minutes = np.maximum(
        working(calendar, records.complete[events]) - working(calendar, records.start[events]), 0
    )
    busy = np.bincount(pool, weights=minutes, minlength=len(work_of.pools))
    day = (records.start[events] // MINUTES_PER_DAY).astype(np.int64) - days[0]
    sizes = (int(unit.max()) + 1, days[1] - days[0], int(resource.max()) + 1)
    key = ((pool * sizes[0] + unit) * sizes[1] + day) * sizes[2] + resource
    unit_days, active = np.unique(np.unique(key) // sizes[2], return_counts=True)
    pool_unit = unit_days // sizes[1]
    officers = np.zeros(len(work_of.pools))
    for code in np.unique(pool_unit):
        officers[code // sizes[0]] += max(1.0, round(float(np.quantile(active[pool_unit == code], 0.9))))
    worked = calendar.to_working(hi) - calendar.to_working(lo)
    return {
        name: float(busy[k] / (officers[k] * worked))
        for k, name in enumerate(work_of.pools)
        if officers[k] > 0 and worked > 0
    }


def _keys(records: Records) -> np.ndarray:
    n = len(records)
    empty = [""] * n
    text = records.text
    return np.array(
        [
            c or nm or g or "all"
            for c, nm, g in zip(
                text.get("procedure_code") or empty,
                text.get("procedure_name") or empty,
                text.get("procedure_group") or empty,
                strict=True,
            )
        ],
        dtype=object,
    )


@dataclass(frozen=True)
class ForecastRun:
    """One replication of the calibrated scenario over the test period (picklable: runs in processes)."""

    weeks: int
    end_minutes: float  # the records' end, in the model's minutes

    def __call__(self, scenario: Scenario, catalog: list[Procedure], replication: int) -> Period:
        model = ProvinceModel(scenario, build_procedures(scenario, catalog), replication)
        # the streaming model forgets issued dossiers: their outcomes and steps are collected as they go
        outcomes = EventRecorder()
        model.observer = outcomes
        model.run()
        d, cal = model.dossiers, model.calendar
        start = model.window[0]
        counted = np.asarray(d.counted)
        day = ((d.arrival[counted] - start) // MINUTES_PER_DAY).astype(int)
        weekly = np.bincount(day[day < self.weeks * 7] // 7, minlength=self.weeks)[: self.weeks].astype(float)
        ids = sorted(outcomes.issued)  # the counted dossiers, in draw order
        received, due, issued = np.array([outcomes.issued[i][:3] for i in ids], dtype=float).reshape(-1, 3).T
        procedure_of = {
            int(i): int(p)
            for batch in outcomes.draws
            for i, p in zip(batch["id"], batch["procedure"], strict=True)
        }
        procedure = np.array([procedure_of[i] for i in ids], dtype=np.int64)
        done = issued <= self.end_minutes
        hours = (working(cal, issued[done]) - working(cal, received[done])) / 60.0
        group = np.asarray(model.table.groups, dtype=object)[procedure[done]]
        worked = cal.to_working(model.window[1]) - cal.to_working(model.window[0])
        busy: dict[str, list[float]] = {}
        for pool in model.pools.values():  # the pools of the units that received work, as observed
            totals = busy.setdefault(pool.name.rsplit(".", 1)[0], [0.0, 0.0])
            totals[0] += pool.busy_minutes
            totals[1] += pool.officers
        utilisation = {name: b / (n * worked) for name, (b, n) in busy.items() if n * worked > 0}
        # the finished dossiers' events, in the register's terms, for the event-log distances
        finished = {f"HS{i:08d}" for i, d in zip(ids, done.tolist(), strict=True) if d}
        log = register_frame(register_table(model, outcomes).rows, finished)
        return Period(weekly, hours, issued[done] > due[done], group, utilisation, log=log)


def backtest(
    records: Records,
    split: dt.date,
    train_from: dt.date | None = None,
    replications: int = 5,
    seed: int = 2024,
    jobs: int | None = None,
    half_life: float | None = None,
) -> Backtest:
    arrival = records.arrival()
    day = np.floor(arrival / MINUTES_PER_DAY)
    split_day = (split - records.epoch).days
    last_day = int(np.nanmax(day))
    weeks = (last_day + 1 - split_day) // 7
    if weeks < 1:
        raise RecordsError(
            f"{records.path}: --split {split}: the records end on "
            f"{records.epoch + dt.timedelta(days=last_day)}; "
            "a back-test needs at least a week of records after the split"
        )
    name = f"{records.path.stem}-backtest"
    calibration = calibrate(records, train_from, split, name=name, half_life=half_life)
    test = day >= split_day
    train = (day < split_day) & (day >= ((train_from - records.epoch).days if train_from else -np.inf))
    end_day = split_day + weeks * 7
    horizon = end_day - split_day
    sessions = [tuple(s) for s in calibration.scenario["counters"]["opening_hours"]]
    calendar = WorkingCalendar(
        records.epoch,
        last_day + 800,
        [(_minute(a), _minute(b)) for a, b in sessions],
        saturday_morning=calibration.scenario["counters"]["saturday_morning"],
    )
    codes = {row["code"]: row for row in calibration.catalog}
    deadline = {k: int(v["deadline_days"]) for k, v in codes.items()}
    groups = {k: str(v["group"]) for k, v in codes.items()}
    end_minutes = float(np.nanmax(records.complete))
    observed = _observed(records, calendar, test & (day < end_day), (split_day, end_day), deadline, groups,
                         end_minutes)  # fmt: skip
    observed.utilisation = observed_utilisation(records, calendar, calibration, (split_day, end_day))
    history = _observed(records, calendar, train, (int(np.nanmin(day[train])), split_day), deadline, groups,
                        split_day * MINUTES_PER_DAY)  # fmt: skip

    with tempfile.TemporaryDirectory() as folder:
        written = calibration.write(Path(folder) / f"{calibration.scenario['name']}.yaml")
        overrides = {"run.start_date": split.isoformat(), "run.horizon_days": horizon, "run.seed": seed,
                     "run.replications": replications, "startup.warmup_days": WARMUP_DAYS}  # fmt: skip
        scenario, catalog = load_scenario(written[0], **overrides)
    model_end = (end_minutes - split_day * MINUTES_PER_DAY) + WARMUP_DAYS * MINUTES_PER_DAY
    outputs: dict[int, Period] = {}
    run_replications(scenario, catalog, range(replications), jobs, outputs.__setitem__,
                     runner=ForecastRun(weeks, model_end))  # fmt: skip
    model = [outputs[r] for r in range(replications)]
    naive = _naive(history, weeks, len(observed.cycle_hours), replications, seed)
    observed.log = records_frame(records, observed.cases)
    rng = np.random.default_rng(seed + 1)
    for p in naive:
        # each drawn training dossier moved by whole weeks into a test week drawn at random: its weekday,
        # hours and events kept, as the naive forecast keeps its durations
        first = day[p.cases]
        into = np.ceil((split_day - first) / 7) * 7 + 7 * rng.integers(0, weeks, len(p.cases))
        # a training dossier drawn twice is two cases: its draw number is added to its id
        p.log = records_frame(records, p.cases, into * MINUTES_PER_DAY, suffix=np.arange(len(p.cases)))
    outcome = Backtest(
        split, records.epoch + dt.timedelta(days=end_day - 1), calibration, observed, model, naive
    )
    outcome.table = compare(observed, model, naive)
    return outcome


def _minute(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _naive(history: Period, weeks: int, finished: int, replications: int, seed: int) -> list[Period]:
    """The training period resampled: its weeks' volumes, its finished dossiers (duration and overdue)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(replications):
        volumes = rng.choice(history.weekly, weeks) if len(history.weekly) else np.zeros(weeks)
        pick = rng.integers(0, len(history.cycle_hours), max(finished, 1)) if len(history.cycle_hours) else []
        cases = history.cases[pick] if history.cases is not None else None
        hours, late, group = history.cycle_hours[pick], history.overdue[pick], history.group[pick]
        out.append(Period(volumes, hours, late, group, cases=cases))
    return out


def _rate_interval(periods: list[Period], group: str | None = None) -> tuple[float, float, float]:
    """The forecast's overdue rate (of ``group``'s dossiers) over replications, with its 95% interval."""
    rates = []
    for p in periods:
        flags = p.overdue if group is None else p.overdue[p.group == group]
        if len(flags):
            rates.append(float(np.mean(flags)))
    if not rates:
        return math.nan, math.nan, math.nan
    estimate = confidence_interval(
        np.array(rates), "overdue_rate"
    )  # a fraction: the interval stays in [0, 1]
    return estimate.mean, estimate.ci_low, estimate.ci_high


def _fmt_rate(mean: float, low: float, high: float) -> str:
    if math.isnan(mean):
        return "—"
    if math.isnan(low):
        return f"{mean:.2%}"
    return f"{mean:.2%} ({low:.2%}–{high:.2%})"


def compare(observed: Period, model: list[Period], naive: list[Period]) -> list[dict[str, Any]]:
    """The table: each measure for what happened, the model and the naive forecast, and which is closer."""
    table = []

    def row(measure: str, seen: str, m: float, nv: float, m_text: str, nv_text: str) -> None:
        better = "model" if m < nv else ("naive" if nv < m else "tie")
        table.append(
            {"measure": measure, "observed": seen, "model": m_text, "naive": nv_text, "better": better,
             "model_error": m, "naive_error": nv}
        )  # fmt: skip

    def weekly_error(periods: list[Period]) -> float:
        return float(np.mean(np.abs(np.mean([p.weekly for p in periods], axis=0) - observed.weekly)))

    m_w, n_w = weekly_error(model), weekly_error(naive)
    row("weekly volume, mean absolute error (dossiers)", f"{observed.weekly.mean():,.1f} a week",
        m_w, n_w, f"{m_w:,.1f}", f"{n_w:,.1f}")  # fmt: skip
    pooled = lambda ps: np.concatenate([p.cycle_hours for p in ps])  # noqa: E731
    m_c = float(wasserstein_distance(observed.cycle_hours, pooled(model)))
    n_c = float(wasserstein_distance(observed.cycle_hours, pooled(naive)))
    row("cycle time, Wasserstein distance (working hours)", f"median {np.median(observed.cycle_hours):.1f} h",
        m_c, n_c, f"{m_c:.2f}", f"{n_c:.2f}")  # fmt: skip
    seen = float(np.mean(observed.overdue)) if len(observed.overdue) else math.nan
    low, high = _wilson(int(observed.overdue.sum()), len(observed.overdue))
    m, n = _rate_interval(model), _rate_interval(naive)
    row(
        "overdue rate",
        _fmt_rate(seen, low, high),
        abs(m[0] - seen),
        abs(n[0] - seen),
        _fmt_rate(*m),
        _fmt_rate(*n),
    )
    for group in sorted(set(observed.group.tolist())):
        mine = observed.group == group
        seen = float(np.mean(observed.overdue[mine]))
        low, high = _wilson(int(observed.overdue[mine].sum()), int(mine.sum()))
        m = _rate_interval(model, group)
        n = _rate_interval(naive, group)
        row(f"overdue rate, {group}", _fmt_rate(seen, low, high), abs(m[0] - seen), abs(n[0] - seen),
            _fmt_rate(*m), _fmt_rate(*n))  # fmt: skip
    if observed.log is not None and all(p.log is not None for p in [*model, *naive]):
        # each replication's log against what happened, the mean over replications
        m_d = [distances(observed.log, p.log) for p in model]
        n_d = [distances(observed.log, p.log) for p in naive]
        for key, label in MEASURES.items():
            m = float(np.mean([d[key] for d in m_d]))
            nv = float(np.mean([d[key] for d in n_d]))
            row(label, SOURCE, m, nv, f"{m:.3f}", f"{nv:.3f}")
    for pool, seen in sorted(observed.utilisation.items()):
        values = np.array([p.utilisation.get(pool, 0.0) for p in model])
        estimate = confidence_interval(values, "utilisation")
        error = abs(estimate.mean - seen)
        table.append(
            {"measure": f"utilisation, {pool}", "observed": f"{seen:.1%}",
             "model": _fmt_rate(estimate.mean, estimate.ci_low, estimate.ci_high),
             "naive": "none (no officers)", "better": "n/a", "model_error": error, "naive_error": math.nan}
        )  # fmt: skip
    return table


def print_backtest(outcome: Backtest) -> None:
    print(f"back-test: trained before {outcome.split}, forecast {outcome.split} .. {outcome.end}")
    widths = [50, 26, 26, 26, 6]
    header = ["measure", "observed", "model", "naive", "closer"]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for values in outcome.rows():
        print("  ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)))


def write_backtest(outcome: Backtest, out_root: Path) -> Path:
    """The table, the weekly volumes and the calibrated scenario, as one results folder (atomically)."""
    name = outcome.calibration.scenario["name"]
    weekly = [
        [k, outcome.observed.weekly[k], np.mean([p.weekly[k] for p in outcome.model]),
         np.mean([p.weekly[k] for p in outcome.naive])]
        for k in range(len(outcome.observed.weekly))
    ]  # fmt: skip

    def fill(folder: Path) -> None:
        (folder / "backtest.csv").write_text(
            csv_text(["measure", "observed", "model", "naive", "closer"], outcome.rows()), encoding="utf-8"
        )
        (folder / "weekly_volumes.csv").write_text(
            csv_text(["week", "observed", "model_mean", "naive_mean"], weekly), encoding="utf-8"
        )
        outcome.calibration.write(folder / "calibrated.yaml")

    return fill_folder(out_root / "backtest" / name / new_run_id(), fill)
