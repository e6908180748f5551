"""The calibration report (HTML, English or Vietnamese): what was fitted beside what the records show,
and how the main parameters drift month by month, so the user can choose the training window.

Drift is computed over all the records, not only the training window, each calendar month: dossiers
received per working day, the share of each channel, the supplement probability, the median first-pass
effort of each pool, the officers of each pool (the distinct resources that worked in a unit on a
working day, averaged over the month's unit-days), the cycle time (working hours) and the overdue rate.
The plot draws them on their own scales, one panel each, with the training window shaded and, under a
recency weighting, the weight a dossier of each day received; a reform, a new system or a change of staff
shows as a step, and the window should start after it.
"""

from __future__ import annotations

import html
import io
from typing import Any

import numpy as np

from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.calibrate_staff import event_pools
from dvclab.sim.calibrate_work import Workload, working
from dvclab.sim.records import Records

CHANNELS = ("self_service", "online_with_visit", "assisted", "counter", "postal")
MAX_POOLS_PLOTTED = 8  # the busiest pools; the tables list them all
WORDS = {
    "en": {
        "title": "Calibration report",
        "reading": "Reading the records",
        "summary": "Summary",
        "drift": "Drift by month",
        "drift_note": "over all the records; the training window is shaded. Start the window after a step "
        "(a reform, a new system, a change of staff), or weight recent months more (--recency-half-life)",
        "drift_pools": "Median first-pass effort per pool, by month (working minutes)",
        "drift_officers": "Officers per pool, by month (distinct resources working in a unit on a working "
        "day, the month's mean; the scenario's figure is the 90th percentile over the training days)",
        "effort": "Officer effort per pool (working minutes)",
        "procedures": "Procedures fitted",
        "weekdays": "Arrivals by weekday: observed mean a day and the fitted factor",
        "staffing": "Officers",
        "month": "month",
        "per_day": "dossiers a working day",
        "supplement": "supplement probability",
        "effort_median": "median effort (min)",
        "cycle": "mean cycle time (working h)",
        "overdue": "overdue rate",
        "officers": "officers",
        "weight": "recency weight",
        "channels": "channel shares",
        "trained": "training window",
        "pool": "pool",
        "family": "chosen family",
        "n": "n",
        "mean": "mean",
        "cv": "CV",
        "aic": "AIC by family",
        "weekday": "weekday",
        "observed": "observed a day",
        "factor": "fitted factor",
    },
    "vi": {
        "title": "Báo cáo hiệu chỉnh",
        "reading": "Đọc dữ liệu",
        "summary": "Tóm tắt",
        "drift": "Biến động theo tháng",
        "drift_note": "trên toàn bộ dữ liệu; vùng tô là giai đoạn dùng để hiệu chỉnh. Nên bắt đầu giai đoạn "
        "sau một bước nhảy (cải cách, hệ thống mới, thay đổi nhân sự), hoặc tăng trọng số các tháng gần "
        "đây (--recency-half-life)",
        "drift_pools": "Trung vị thời gian xử lý lần đầu theo nhóm, theo tháng (phút làm việc)",
        "drift_officers": "Cán bộ theo nhóm, theo tháng (số người làm việc tại một đơn vị trong một ngày "
        "làm việc, trung bình tháng; kịch bản dùng phân vị 90 của giai đoạn hiệu chỉnh)",
        "effort": "Thời gian xử lý của cán bộ theo nhóm (phút làm việc)",
        "procedures": "Thủ tục đã hiệu chỉnh",
        "weekdays": "Hồ sơ theo thứ: trung bình quan sát mỗi ngày và hệ số hiệu chỉnh",
        "staffing": "Cán bộ",
        "month": "tháng",
        "per_day": "hồ sơ mỗi ngày làm việc",
        "supplement": "xác suất yêu cầu bổ sung",
        "effort_median": "trung vị thời gian xử lý (phút)",
        "cycle": "thời gian giải quyết TB (giờ làm việc)",
        "overdue": "tỷ lệ trễ hạn",
        "officers": "cán bộ",
        "weight": "trọng số gần đây",
        "channels": "tỷ lệ kênh",
        "trained": "giai đoạn hiệu chỉnh",
        "pool": "nhóm",
        "family": "phân phối",
        "n": "n",
        "mean": "trung bình",
        "cv": "CV",
        "aic": "AIC",
        "weekday": "thứ",
        "observed": "quan sát/ngày",
        "factor": "hệ số",
    },
}


def _month_index(records: Records, minutes: np.ndarray) -> np.ndarray:
    """Calendar months since the records' first month (NaN times: -1)."""
    finite = np.isfinite(minutes)
    days = np.where(finite, minutes // MINUTES_PER_DAY, 0).astype(np.int64)
    months = (np.datetime64(records.epoch) + days.astype("timedelta64[D]")).astype("datetime64[M]")
    first = np.datetime64(records.epoch, "M")
    return np.where(finite, (months - first).astype(np.int64), -1)


def _group_medians(key: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """The median of ``values`` for each integer key in [0, size) (NaN where none): one sort."""
    out = np.full(size, np.nan)
    keep = (key >= 0) & np.isfinite(values)
    key, values = key[keep], values[keep]
    if not key.size:
        return out
    order = np.lexsort((values, key))
    key, values = key[order], values[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    counts = np.diff(np.r_[starts, len(key)])
    low, high = starts + (counts - 1) // 2, starts + counts // 2
    out[key[starts]] = (values[low] + values[high]) / 2
    return out


def _officers_by_month(records: Records, work: Workload, month_of_day: np.ndarray, months: int) -> np.ndarray:
    """Per pool and month: the distinct resources that worked in a unit on a working day, averaged over
    the month's active unit-days (pool and unit from a register name, else from the dossier)."""
    out = np.full((len(work.pools), months), np.nan)
    role = records.role()
    doing = (np.isin(role, ("examine", "rework")) if records.roles_known else np.ones(len(role), bool)) & (
        records.resource >= 0
    )
    events = np.flatnonzero(doing)
    if not events.size:
        return out
    resource = records.resource[events]
    pool, unit = event_pools(records, events, work)
    day = (records.start[events] // MINUTES_PER_DAY).astype(np.int64)
    keep = (pool >= 0) & (day >= 0) & (day < len(month_of_day))
    keep[keep] &= month_of_day[day[keep]] < months  # work after the last month of receipts: no row
    pool, unit, day, resource = pool[keep], unit[keep], day[keep], resource[keep]
    if not pool.size:
        return out
    sizes = [int(unit.max()) + 1, len(month_of_day), int(resource.max()) + 1]
    key = ((pool * sizes[0] + unit) * sizes[1] + day) * sizes[2] + resource
    unit_days, active = np.unique(np.unique(key) // sizes[2], return_counts=True)
    pool_of = unit_days // (sizes[0] * sizes[1])
    month = month_of_day[unit_days % sizes[1]]
    cell = pool_of * months + month
    total = np.bincount(cell, weights=active, minlength=out.size)
    days = np.bincount(cell, minlength=out.size)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(days > 0, total / np.maximum(days, 1), np.nan).reshape(out.shape)
    return out


def monthly_drift(records: Records, calendar: WorkingCalendar, work: Workload) -> dict[str, Any]:
    """Each month's figures (``rows``) and each pool's median effort and officers by month."""
    arrival = records.arrival()
    month = _month_index(records, arrival)
    months = int(month.max()) + 1
    labels = [str(np.datetime64(records.epoch, "M") + k) for k in range(months)]
    dossiers = np.bincount(month[month >= 0], minlength=months).astype(float)
    last_day = int(np.nanmax(np.r_[arrival, records.complete]) // MINUTES_PER_DAY) + 1
    all_days = np.arange(last_day)
    month_of_day = _month_index(records, all_days * float(MINUTES_PER_DAY))
    working_days = np.zeros(last_day, bool)
    open_days = ((np.asarray(calendar.day_dates, dtype="datetime64[D]") - np.datetime64(records.epoch))
                 .astype(np.int64))  # fmt: skip
    working_days[open_days[(open_days >= 0) & (open_days < last_day)]] = True
    received_days = arrival[np.isfinite(arrival)] // MINUTES_PER_DAY
    working_days &= (all_days >= received_days.min()) & (all_days <= received_days.max())  # a part month
    per_month_days = np.bincount(month_of_day[working_days], minlength=months)[:months].astype(float)
    channel = np.asarray(records.text.get("channel") or [""] * len(records), dtype=object)
    finish = records.finish()
    cycle = (working(calendar, finish) - working(calendar, arrival)) / 60.0
    due = records.times.get("due_at")
    done = np.isfinite(finish) & (month >= 0)

    def rate(flags: np.ndarray, mask: np.ndarray) -> np.ndarray:
        hits = np.bincount(month[mask], weights=flags[mask].astype(float), minlength=months)[:months]
        count = np.bincount(month[mask], minlength=months)[:months]
        return np.where(count > 0, hits / np.maximum(count, 1), np.nan)

    valid = month >= 0
    rows = []
    shares = {c: rate(channel == c, valid) for c in CHANNELS} if any(channel) else {}
    supplement = rate(work.case_supplement, valid)
    cycles = rate(np.nan_to_num(cycle), done)
    overdue = rate(finish > due, done & np.isfinite(due)) if due is not None else np.full(months, np.nan)
    for k in range(months):
        rows.append(
            {
                "month": labels[k],
                "dossiers": int(dossiers[k]),
                "per_day": dossiers[k] / per_month_days[k] if per_month_days[k] else np.nan,
                **{c: float(v[k]) for c, v in shares.items()},
                "supplement": float(supplement[k]),
                "cycle": float(cycles[k]),
                "overdue": float(overdue[k]),
            }
        )
    pools = len(work.pools)
    effort = _group_medians(
        np.where((work.case_pool >= 0) & valid, work.case_pool * months + month, -1),
        work.case_effort,
        pools * months,
    ).reshape(pools, months)
    officers = _officers_by_month(records, work, month_of_day, months)
    volume = np.bincount(work.case_pool[work.case_pool >= 0], minlength=pools)
    return {"rows": rows, "labels": labels, "pools": work.pools, "effort": effort, "officers": officers,
            "volume": volume, "channels": list(shares)}  # fmt: skip


def _svg(drift: dict[str, Any], words: dict[str, str], window: tuple[int, int], weight: Any) -> str:
    """Five panels on a shared month axis: arrivals a working day (and the recency weight), channel
    shares, supplement probability, median effort per pool, officers per pool."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, rows = drift["labels"], drift["rows"]
    x = np.arange(len(labels))
    figure, axes = plt.subplots(5, 1, figsize=(8, 11), sharex=True)
    busiest = np.argsort(-drift["volume"], kind="stable")[:MAX_POOLS_PLOTTED]
    panels = [
        (words["per_day"], [(words["per_day"], [r["per_day"] for r in rows])]),
        (words["channels"], [(c, [r[c] for r in rows]) for c in drift["channels"]]),
        (words["supplement"], [(words["supplement"], [r["supplement"] for r in rows])]),
        (words["effort_median"], [(drift["pools"][k], drift["effort"][k]) for k in busiest]),
        (words["officers"], [(drift["pools"][k], drift["officers"][k]) for k in busiest]),
    ]
    for axis, (title, lines) in zip(axes, panels, strict=True):
        for label, values in lines:
            axis.plot(x, np.asarray(values, dtype=float), marker="o", markersize=3, label=label)
        axis.axvspan(window[0] - 0.5, window[1] + 0.5, color="#dde8f5", zorder=0,
                     label=words["trained"] if axis is axes[0] else None)  # fmt: skip
        axis.set_title(title, fontsize=8, loc="left")
        axis.tick_params(labelsize=7)
        if len(lines) > 1 or axis is axes[0] or axis in (axes[3], axes[4]):  # pools are named
            axis.legend(fontsize=6, ncol=4)
    if weight is not None:
        twin = axes[0].twinx()
        twin.plot(x, weight, color="grey", linestyle="--", linewidth=1)
        twin.set_ylim(0, 1.05)
        twin.set_ylabel(words["weight"], fontsize=7)
        twin.tick_params(labelsize=7)
    axes[-1].set_xticks(x, labels, rotation=45, fontsize=7)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    return buffer.getvalue()[buffer.getvalue().index("<svg") :]


def _table(header: list[str], rows: list[list[Any]]) -> str:
    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "—" if not np.isfinite(value) else (f"{value:.1%}" if abs(value) < 1 else f"{value:,.1f}")
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _drift_cell(key: str, value: float, channels: list[str]) -> str:
    if not np.isfinite(value):
        return "—"
    if key in ("supplement", "overdue", *channels):
        return f"{value:.1%}"
    return f"{value:,.0f}" if key == "dossiers" else f"{value:,.1f}"


def report_html(calibration: Any, records: Records, calendar: WorkingCalendar, lang: str = "en") -> str:
    words = WORDS.get(lang, WORDS["en"])
    drift = monthly_drift(records, calendar, calibration.workload)
    channels = drift["channels"]
    keys = ["dossiers", "per_day", *channels, "supplement", "cycle", "overdue"]
    first_month = np.datetime64(records.epoch, "M")
    begin, end = (np.datetime64(d, "D") for d in calibration.window)
    window = (int((begin.astype("datetime64[M]") - first_month).astype(int)),
              int((end.astype("datetime64[M]") - first_month).astype(int)))  # fmt: skip
    weight = None
    if calibration.half_life is not None:  # each month's mean weight over its days in the window
        days = np.arange(begin, end + 1)
        per_day = np.exp2(-((end + 1 - days).astype(int)) / calibration.half_life)
        month = (days.astype("datetime64[M]") - first_month).astype(int)
        total = np.bincount(month, weights=per_day, minlength=len(drift["labels"]))
        count = np.bincount(month, minlength=len(drift["labels"]))
        weight = np.where(count > 0, total / np.maximum(count, 1), 0.0)
    demand = calibration.scenario["demand"]
    arrival_day = (records.arrival() // MINUTES_PER_DAY).astype(np.int64)
    counts = np.bincount(arrival_day - arrival_day.min())
    weekday = (
        np.datetime64(records.epoch).astype(object).weekday() + arrival_day.min() + np.arange(len(counts))
    ) % 7
    names = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
    weekdays = [
        [names[k], float(counts[weekday == k].mean()), demand["weekday_factors"][k]] for k in range(7)
    ]
    fits = [[pool, f.family, f.n, f.mean, f.cv, str(f.aic)] for pool, f in sorted(calibration.fits.items())]
    if calibration.effort is not None:  # the family the scenario draws: effort over its procedure's mean
        f = calibration.effort
        drawn = calibration.scenario["back_office"]["effort_family"]
        fits.insert(0, [f"= {drawn} (effort / procedure mean)", f.family, f.n, f.mean, f.cv, str(f.aic)])
    procedures = [
        [
            r["code"],
            r["name"],
            r["level"],
            r["agency"],
            r["deadline_days"],
            r["supplement_prob"],
            r["effort_min"],
            r["approval_days"],
        ]
        for r in calibration.catalog
    ]
    staffing = [
        [f"{level}.{agency}", n]
        for level, pools in calibration.scenario["back_office"]["staffing"].items()
        for agency, n in pools.items()
    ]
    sections = [
        f"<h1>{words['title']}: {html.escape(calibration.scenario['name'])}</h1>",
        f"<h2>{words['reading']}</h2><ul>"
        + "".join(f"<li>{html.escape(x)}</li>" for x in records.report.lines())
        + "</ul>",
        f"<h2>{words['summary']}</h2><ul>"
        + "".join(f"<li>{html.escape(x)}</li>" for x in calibration.summary())
        + "</ul>",
        f"<h2>{words['drift']}</h2><p>{words['drift_note']}</p>"
        + _svg(drift, words, window, weight)
        + _table(
            [words["month"], *(words.get(k, k) for k in keys)],
            [[r["month"], *(_drift_cell(k, r[k], channels) for k in keys)] for r in drift["rows"]],
        )
        + f"<h3>{words['drift_pools']}</h3>"
        + _table(
            [words["pool"], *drift["labels"]],
            [[pool, *drift["effort"][k]] for k, pool in enumerate(drift["pools"])],
        )
        + f"<h3>{words['drift_officers']}</h3>"
        + _table(
            [words["pool"], *drift["labels"]],
            [[pool, *drift["officers"][k]] for k, pool in enumerate(drift["pools"])],
        ),
        f"<h2>{words['weekdays']}</h2>"
        + _table([words["weekday"], words["observed"], words["factor"]], weekdays),
        f"<h2>{words['effort']}</h2>"
        + _table(
            [words["pool"], words["family"], words["n"], words["mean"], words["cv"], words["aic"]], fits
        ),
        f"<h2>{words['staffing']}</h2>" + _table([words["pool"], words["officers"]], staffing),
        f"<h2>{words['procedures']}</h2>"
        + _table(
            [
                "code",
                "name",
                "level",
                "agency",
                "deadline_days",
                "supplement_prob",
                "effort_min",
                "approval_days",
            ],
            procedures,
        ),
    ]
    style = (
        "body{font-family:sans-serif;max-width:60em;margin:auto}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;font-size:85%}"
    )
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{words["title"]}</title>'
        f"<style>{style}</style></head><body>{''.join(sections)}</body></html>\n"
    )
