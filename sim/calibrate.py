"""``sim calibrate``: a scenario fitted to a province's records, that ``sim validate`` and ``sim run`` accept.

From the dossiers received in the training window it fits: demand (dossiers a year, level shares, month
and weekday factors, the online and counter hour profiles), channel choice (solved so the channel shares
come back), each procedure's deadline (from due dates), supplement probability, effort, approval time and
reception time, the officers of each pool (resources active per working day), opening hours and Saturday
mornings (from when work happens), payment and result return by channel. The procedures become a
catalog file and the units a units file, written beside the scenario (``NAME-catalog.csv``,
``NAME-units.csv``). Parameters the records cannot give keep the scenario defaults, and the summary
says which came from where.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dvclab.catalog import COLUMNS
from dvclab.files import atomic_write
from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.calibrate_work import Workload, observe_workload
from dvclab.sim.effort import normalised_quantiles
from dvclab.sim.fitting import Fit
from dvclab.sim.record_map import RecordsError
from dvclab.sim.records import Records
from dvclab.sim.scenario import load_scenario

DEFAULT_SESSIONS = [("07:30", "11:30"), ("13:30", "17:00")]
WORK_ROLES = ("examine", "rework")


@dataclass
class Calibration:
    scenario: dict[str, Any]  # the scenario file's content (catalog and units named relative to it)
    catalog: list[dict[str, Any]]
    units: list[dict[str, Any]]
    fits: dict[str, Fit] = field(default_factory=dict)  # pool -> effort fit
    notes: list[str] = field(default_factory=list)  # what came from where
    dossiers: int = 0
    window: tuple[dt.date, dt.date] | None = None
    calendar: WorkingCalendar | None = None  # the calibrated working calendar, over the records' span
    half_life: float | None = None  # the recency weighting's half-life (days), None: none
    effort: Fit | None = None  # the back office's effort factor (effort over its procedure's mean)
    workload: Workload | None = None  # what the records said, per dossier (the report's drift reads it)

    def report(self, records: Records, lang: str = "en") -> str:
        """The calibration report (HTML): fitted beside observed, and the drift by month."""
        from dvclab.sim.calibrate_report import report_html

        assert self.calendar is not None
        return report_html(self, records, self.calendar, lang)

    def write(self, out: Path) -> list[Path]:
        """The scenario, catalog and units files, each whole; checked by the scenario loader first."""
        out = Path(out)
        stem = out.stem
        files = {
            out: "",
            out.with_name(f"{stem}-catalog.csv"): _csv(list(COLUMNS), self.catalog),
            out.with_name(f"{stem}-units.csv"): _csv(
                ["unit", "level", "number", "district", "demand_share", "staffing"], self.units
            ),
        }
        scenario = {**self.scenario, "catalog": f"{stem}-catalog.csv", "units": f"{stem}-units.csv"}
        scenario = json.loads(json.dumps(scenario))  # plain YAML: enum keys and NumPy numbers as text
        header = "# Calibrated by `dvclab sim calibrate` from records; see the summary it printed.\n"
        files[out] = header + yaml.safe_dump(scenario, allow_unicode=True, sort_keys=False)
        with tempfile.TemporaryDirectory() as staging:  # validate as sim validate would, then write
            for path, text in files.items():
                (Path(staging) / path.name).write_text(text, encoding="utf-8")
            load_scenario(Path(staging) / out.name)
        for path, text in files.items():
            atomic_write(path, text)
        return list(files)

    def summary(self) -> list[str]:
        lines = []
        if self.window:
            lines.append(
                f"trained on {self.dossiers:,} dossiers received {self.window[0]} .. {self.window[1]}"
            )
        demand = self.scenario["demand"]
        shares = ", ".join(
            f"{level.value if hasattr(level, 'value') else level} {share:.3f}"
            for level, share in demand["level_shares"].items()
        )
        lines.append(f"dossiers a year: {demand['dossiers_per_year']:,.0f}; level shares: {shares}")
        if self.effort is not None:
            family = self.scenario["back_office"]["effort_family"]
            lines.append(
                f"effort factor (effort / procedure mean, all pools): {self.effort.describe()}; "
                f"AIC {self.effort.aic}; the scenario draws {family}"
            )
        for pool, fit in sorted(self.fits.items()):
            lines.append(f"effort {pool}: {fit.describe()}; AIC {fit.aic}")
        return lines + self.notes


def _csv(header: list[str], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _hhmm(minutes: float) -> str:
    minutes = int(min(max(minutes, 0), MINUTES_PER_DAY))
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def opening_hours(
    records: Records, work: np.ndarray, working_dates: set[dt.date]
) -> tuple[list[tuple[str, str]], bool, str]:
    """Opening sessions from when work starts and ends (15-minute bins), Saturday mornings if work
    happens on Saturdays; falls back to the standard hours with few events."""
    starts = records.start[work] % MINUTES_PER_DAY
    ends = records.complete[work] % MINUTES_PER_DAY
    if len(starts) < 50:
        return DEFAULT_SESSIONS, False, "opening hours: too little work recorded, standard hours kept"
    bins = np.zeros(96)
    np.add.at(bins, (starts // 15).astype(int) % 96, 1)
    np.add.at(bins, (np.maximum(ends - 1e-6, 0) // 15).astype(int) % 96, 1)
    used = bins > bins.sum() * 0.0005
    first, last = int(np.argmax(used)), 95 - int(np.argmax(used[::-1]))
    gap_start, gap_len, run_start = -1, 0, -1
    for b in range(first, last + 1):
        if not used[b]:
            run_start = b if run_start < 0 else run_start
            if b - run_start + 1 > gap_len:
                gap_start, gap_len = run_start, b - run_start + 1
        else:
            run_start = -1
    open_at, close_at = first * 15, (last + 1) * 15
    if gap_len >= 2:  # a break of at least half an hour: lunch
        sessions = [
            (_hhmm(open_at), _hhmm(gap_start * 15)),
            (_hhmm((gap_start + gap_len) * 15), _hhmm(close_at)),
        ]
    else:
        sessions = [(_hhmm(open_at), _hhmm(close_at))]
    # Saturday mornings: work on most ordinary Saturdays (not the make-up working Saturdays of the calendar)
    days = np.unique((records.start[work] // MINUTES_PER_DAY).astype(int))
    dates = [records.epoch + dt.timedelta(days=int(k)) for k in days]
    worked = {d for d in dates if d.weekday() == 5 and d not in working_dates}
    first, last = min(dates), max(dates)
    saturdays = sum(
        1 for k in range((last - first).days + 1) if (first + dt.timedelta(days=k)).weekday() == 5
    )
    saturday = len(worked) > 0.5 * max(saturdays, 1)
    note = f"opening hours {sessions} from {len(starts):,} pieces of work; Saturday mornings: {saturday}"
    return sessions, saturday, note


def recency_weights(day: np.ndarray, chosen: np.ndarray, end_day: int, half_life: float | None) -> np.ndarray:
    """Each dossier's weight in the fit: 0 outside the training window, else 1, or with a half-life
    0.5 ** (age / half_life), its age the days from its receipt to the end of the window (a dossier
    received on the window's last day is a day old)."""
    if half_life is None:
        return chosen.astype(float)
    age = np.where(chosen, end_day - np.nan_to_num(day, nan=end_day), 0.0)
    return np.where(chosen, np.exp2(-age / half_life), 0.0)


def calibrate(
    records: Records,
    train_from: dt.date | None = None,
    train_until: dt.date | None = None,
    name: str = "",
    half_life: float | None = None,
) -> Calibration:
    """Fit a scenario to the dossiers received in [train_from, train_until), recent ones weighted more
    when a ``half_life`` (days) is given: arrivals, channel shares, supplement probabilities and effort
    listen to each dossier as its weight says; the rest (deadlines, staffing, hours) to the window."""
    if half_life is not None and not (math.isfinite(half_life) and half_life > 0):
        raise RecordsError(f"--recency-half-life: {half_life}; expected a positive number of days")
    arrival = records.arrival()
    day = np.floor(arrival / MINUTES_PER_DAY)
    epoch = records.epoch
    lo = (train_from - epoch).days if train_from else -math.inf
    hi = (train_until - epoch).days if train_until else math.inf
    chosen = (day >= lo) & (day < hi)
    if not chosen.any():
        raise RecordsError(
            f"{records.path}: no dossier received in the training window {train_from or '…'} .. "
            f"{train_until or '…'}; the records run from {epoch + dt.timedelta(days=int(np.nanmin(day)))} to "
            f"{epoch + dt.timedelta(days=int(np.nanmax(day)))}"
        )
    first_day = int(max(lo, np.nanmin(day[chosen])))
    last_day = int(min(hi - 1, np.nanmax(day[chosen])))
    role = records.role()
    work = np.isin(role, WORK_ROLES) if records.roles_known else records.resource >= 0
    span = int(np.nanmax(records.complete) // MINUTES_PER_DAY) + 400
    weekdays = WorkingCalendar(epoch, max(span, last_day + 400), [(450, 1020)]).day_dates
    sessions, saturday, hours_note = opening_hours(records, work & chosen[records.case], set(weekdays))
    calendar = WorkingCalendar(
        epoch, max(span, last_day + 400), [_minutes_pair(s) for s in sessions], saturday_morning=saturday
    )
    weight = recency_weights(day, chosen, last_day + 1, half_life)
    workload = observe_workload(records, calendar, chosen, work, weight)
    scenario, catalog, units, notes = _assemble(
        records, calendar, workload, chosen, first_day, last_day, weight, half_life
    )
    scenario["name"] = name or records.path.stem
    scenario["counters"] = {
        **scenario.get("counters", {}),
        "opening_hours": [list(s) for s in sessions],
        "saturday_morning": saturday,
    }
    window = (epoch + dt.timedelta(days=first_day), epoch + dt.timedelta(days=last_day))
    notes = [hours_note, *notes]
    if half_life is not None:
        effective = float(weight.sum() ** 2 / max(float((weight * weight).sum()), 1e-300))
        notes.insert(
            0,
            f"recency weighting: half-life {half_life:g} days before {window[1] + dt.timedelta(days=1)}; "
            f"the {int(chosen.sum()):,} dossiers weigh as {effective:,.0f} equally weighted ones",
        )
    outcome = Calibration(scenario, catalog, units, workload.fits, notes, int(chosen.sum()), window, calendar)
    outcome.half_life = half_life
    outcome.effort = workload.effort_fit
    outcome.workload = workload
    return outcome


def _effort_shape(w: Workload) -> dict[str, Any]:
    """The effort factor's family as the scenario takes it (``sim.effort``): the family that fits the
    dossiers' effort over their procedure's mean; its CV, or its quantiles when no family fits."""
    fit = w.effort_fit
    family = fit.family if fit.family in ("lognormal", "gamma", "exponential", "empirical") else "lognormal"
    if family == "empirical" and len(fit.quantiles) < 2:
        family = "lognormal"
    shape: dict[str, Any] = {"effort_family": family, "effort_cv": round(w.effort_cv, 3)}
    if family == "empirical":
        shape["effort_quantiles"] = [round(float(q), 4) for q in normalised_quantiles(fit.quantiles)]
    return shape


def _minutes_pair(session: tuple[str, str]) -> tuple[int, int]:
    a, b = (int(x.split(":")[0]) * 60 + int(x.split(":")[1]) for x in session)
    return a, b


def _assemble(
    records: Records,
    calendar: WorkingCalendar,
    w: Workload,
    chosen: np.ndarray,
    first_day: int,
    last_day: int,
    weight: np.ndarray,
    half_life: float | None,
) -> tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    from dvclab.sim.calibrate_demand import demand_section

    notes: list[str] = []
    seasonal = half_life is None or last_day - first_day + 1 >= 365
    if not seasonal:
        notes.append(
            "month factors: a recency weighting over less than a year of records cannot tell a trend from "
            "the season; kept at 1, the recent level holds all year"
        )
    demand, start = demand_section(records, calendar, w, chosen, first_day, last_day, weight, seasonal)
    catalog = []
    for procedure in w.procedures:
        catalog.append(
            {
                "code": procedure.code,
                "name": procedure.name,
                "group": procedure.group,
                "level": procedure.level,
                "agency": procedure.agency,
                "online_level": "full" if procedure.full_online else "partial",
                "deadline_days": procedure.deadline_days,
                "fee_vnd": 1 if procedure.fee_bearing else 0,
                "requires_originals": 0,
                "interlinked_group": "",
                "interlinked_step": 0,
                "demand_weight": round(procedure.level_share, 8),
                "supplement_prob": round(procedure.supplement_prob, 4),
                "reception_min": round(procedure.reception_min, 2),
                "effort_min": round(procedure.effort_min, 2),
                "approval_days": round(procedure.approval_days, 3),
                "sourced": 0,
            }
        )
    notes += w.notes
    scenario: dict[str, Any] = {
        "description": f"calibrated from {records.path.name}",
        "run": {"start_date": start.isoformat(), "horizon_days": 365, "replications": 10, "seed": 2024},
        "demand": demand,
        "geography": {"districts": w.districts, "communes": w.communes},
        "channels": w.channels,
        "counters": {"officers": w.counter_officers, "scan_min": 0.0},
        "back_office": {"staffing": w.staffing, **_effort_shape(w), "approval_cv": round(w.approval_cv, 3)},
        "supplements": {
            "response_days_mean": round(w.response_days, 3),
            "rework_share": round(w.rework_share, 3),
        },
        "startup": {"mode": "warmup", "warmup_days": 30},
    }
    if w.payment:
        scenario["payment"] = {"online_share": w.payment}
    if w.electronic:
        scenario["results_return"] = {
            "electronic_share": w.electronic,
            "postal_share_of_paper": w.postal_share,
        }
    return scenario, catalog, w.unit_rows, notes
