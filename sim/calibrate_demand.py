"""The demand a calibration fits: dossiers a year, level shares, month and weekday factors, hour profiles.

The simulation draws a group's dossiers over a window in proportion to each day's intensity (month ×
weekday, public holidays damped by ``sim.demand.HOLIDAY_FACTOR``), scaled so that a year from the run's
start holds ``dossiers_per_year``. Fitting inverts that: weekday factors from ordinary days, month factors
from each month's count against what the weekday factors expect (months the records do not cover stay
1), and ``dossiers_per_year`` = dossiers observed × a year's intensity ÷ the training window's.
With recency weights each day's count and intensity are weighted by that day's weight alike (a rate
estimated mostly from the recent weeks), and so are the level shares and the hour profiles. A recency
weighting says the level moves; in a window shorter than a year that movement cannot be told from the
season, so the month factors stay 1 there (``seasonal=False``) and the recent level holds all year.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

from dvclab.catalog import LEVELS
from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.demand import HOLIDAY_FACTOR
from dvclab.sim.records import Records

if TYPE_CHECKING:
    from dvclab.sim.calibrate_work import Workload

AT_COUNTER = ("online_with_visit", "assisted", "counter")


def _intensity(
    dates: list[dt.date], working: set[dt.date], month: np.ndarray, weekday: np.ndarray
) -> np.ndarray:
    out = np.array([month[d.month - 1] * weekday[d.weekday()] for d in dates])
    holiday = np.array([d.weekday() < 5 and d not in working for d in dates])
    return np.where(holiday, out * HOLIDAY_FACTOR, out)


def _profile(hours: np.ndarray, weights: np.ndarray) -> list[float] | None:
    if hours.size < 24 or weights.sum() <= 0:
        return None
    counts = np.bincount(hours.astype(int) % 24, weights=weights, minlength=24).astype(float)
    return [round(float(v), 4) for v in counts / counts.mean()]


def demand_section(
    records: Records,
    calendar: WorkingCalendar,
    work: Workload,
    chosen: np.ndarray,
    first_day: int,
    last_day: int,
    weight: np.ndarray | None = None,
    seasonal: bool = True,
) -> tuple[dict[str, Any], dt.date]:
    """The scenario's ``demand`` and the day after the training window (where a run would start); each
    dossier counts as its ``weight`` (recency; 1 when None), each day as its dossiers' weight."""
    arrival = records.arrival()[chosen]
    weight = np.ones(len(arrival)) if weight is None else weight[chosen]
    day = (arrival // MINUTES_PER_DAY).astype(int)
    epoch = records.epoch
    dates = [epoch + dt.timedelta(days=k) for k in range(first_day, last_day + 1)]
    working = set(calendar.day_dates)
    counts = np.bincount(day - first_day, minlength=len(dates))[: len(dates)].astype(float)
    # a day's weight: its dossiers' (they share a receipt day); a day without any, by interpolation
    daily = np.bincount(day - first_day, weights=weight, minlength=len(dates))[: len(dates)]
    seen_days = counts > 0
    day_weight = (
        np.interp(np.arange(len(dates)), np.flatnonzero(seen_days), daily[seen_days] / counts[seen_days])
        if seen_days.any()
        else np.ones(len(dates))
    )
    channel = np.asarray(work.case_channel, dtype=object)[chosen]
    at_counter = np.isin(channel, AT_COUNTER)
    # Weekday factors from filings not deferred: a counter's closed-day demand comes on its next working
    # day (the model defers it too), so it would inflate Mondays. Counter-only records: all of them.
    steady = ~at_counter if (~at_counter).sum() >= max(200, 0.2 * len(day)) else np.ones(len(day), bool)
    by_day = np.bincount(day[steady] - first_day, minlength=len(dates))[: len(dates)].astype(float)
    weekdays = np.array([d.weekday() for d in dates])
    ordinary = np.array([d.weekday() >= 5 or d in working for d in dates])
    weekday = np.ones(7)
    for k in range(7):
        days = ordinary & (weekdays == k)
        if days.any():
            weekday[k] = np.dot(by_day[days], day_weight[days]) / day_weight[days].sum()
    if weekday.mean() > 0:
        weekday = weekday / weekday.mean()
    month = np.ones(12)
    base = _intensity(dates, working, np.ones(12), weekday)
    months = np.array([d.month for d in dates])
    seen = []
    for m in range(1, 13 if seasonal else 1):
        inside = months == m
        if inside.sum() >= 7 and base[inside].sum() > 0:  # a week at least, or the factor is noise
            weights = day_weight[inside]
            month[m - 1] = np.dot(counts[inside], weights) / np.dot(base[inside], weights)
            seen.append(m - 1)
    if seen:
        month[seen] /= month[seen].mean()
    start = epoch + dt.timedelta(days=last_day + 1)
    year = [start + dt.timedelta(days=k) for k in range(365)]
    window_intensity = np.dot(_intensity(dates, working, month, weekday), day_weight)
    per_year = np.dot(counts, day_weight) * _intensity(year, working, month, weekday).sum()
    per_year /= max(window_intensity, 1e-9)

    levels = np.asarray(work.case_level, dtype=object)[chosen]
    shares = {level: float(weight[levels == level].sum() / weight.sum()) for level in LEVELS}
    shares[LEVELS[-1]] = 1.0 - sum(shares[level] for level in LEVELS[:-1])
    minute = arrival % MINUTES_PER_DAY
    demand: dict[str, Any] = {
        "dossiers_per_year": round(float(per_year), 1),
        "level_shares": {k: round(v, 6) for k, v in shares.items()},
        "month_factors": [round(float(v), 4) for v in month],
        "weekday_factors": [round(float(v), 4) for v in weekday],
    }
    shares_sum = sum(demand["level_shares"].values())
    demand["level_shares"][LEVELS[-1]] = round(demand["level_shares"][LEVELS[-1]] + 1.0 - shares_sum, 6)
    online = _profile(minute[~at_counter] // 60, weight[~at_counter])
    counter = _profile(minute[at_counter] // 60, weight[at_counter])
    if online:
        demand["online_hour_profile"] = online
    if counter:
        demand["counter_hour_profile"] = counter
    return demand, start
