"""The calibration report (HTML, English or Vietnamese): what was fitted beside what the records show,
and how the main parameters drift month by month, so the user can choose the training window.

Drift is computed over all the records, not only the training window: dossiers received, the online
share, the supplement rate, the mean officer effort, the cycle time (working hours), the overdue rate and
the officers active on a working day, each month. The plot shows each as a ratio to its mean over the
records, so a reform or a new system shows as a step.
"""

from __future__ import annotations

import html
import io
from typing import Any

import numpy as np

from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.calibrate_work import working
from dvclab.sim.records import Records

WORDS = {
    "en": {
        "title": "Calibration report",
        "reading": "Reading the records",
        "summary": "Summary",
        "drift": "Drift by month",
        "drift_note": "each measure as a ratio to its mean over the records",
        "effort": "Officer effort per pool (working minutes)",
        "procedures": "Procedures fitted",
        "weekdays": "Arrivals by weekday: observed mean a day and the fitted factor",
        "staffing": "Officers",
        "month": "month",
        "dossiers": "dossiers",
        "online": "online share",
        "supplement": "supplement rate",
        "effort_mean": "mean effort (min)",
        "cycle": "mean cycle time (working h)",
        "overdue": "overdue rate",
        "officers": "officers active a working day",
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
        "drift_note": "mỗi chỉ số so với giá trị trung bình của cả dữ liệu",
        "effort": "Thời gian xử lý của cán bộ theo nhóm (phút làm việc)",
        "procedures": "Thủ tục đã hiệu chỉnh",
        "weekdays": "Hồ sơ theo thứ: trung bình quan sát mỗi ngày và hệ số hiệu chỉnh",
        "staffing": "Cán bộ",
        "month": "tháng",
        "dossiers": "hồ sơ",
        "online": "tỷ lệ trực tuyến",
        "supplement": "tỷ lệ bổ sung",
        "effort_mean": "thời gian xử lý TB (phút)",
        "cycle": "thời gian giải quyết TB (giờ làm việc)",
        "overdue": "tỷ lệ trễ hạn",
        "officers": "cán bộ làm việc mỗi ngày",
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
ONLINE = ("self_service", "online_with_visit", "assisted")


def monthly_drift(records: Records, calendar: WorkingCalendar) -> list[dict[str, Any]]:
    arrival = records.arrival()
    month_of = (np.datetime64(records.epoch) + (arrival // MINUTES_PER_DAY).astype("timedelta64[D]")).astype(
        "datetime64[M]"
    )
    role = records.role()
    work = np.isin(role, ("examine",)) if records.roles_known else records.resource >= 0
    duration = working(calendar, records.complete) - working(calendar, records.start)
    effort = np.zeros(len(records))
    np.add.at(effort, records.case[work], duration[work])
    worked = np.zeros(len(records), bool)
    worked[records.case[work]] = True
    supplement = np.zeros(len(records), bool)
    supplement[records.case[role == "request_supplement"]] = True
    finish = records.finish()
    cycle = (working(calendar, finish) - working(calendar, arrival)) / 60.0
    due = records.times.get("due_at")
    channel = np.asarray(records.text.get("channel") or [""] * len(records), dtype=object)
    # officers active a working day: distinct resources doing work each day, one integer key per pair
    event_day = (records.start // MINUTES_PER_DAY).astype(np.int64)
    doing = work & (records.resource >= 0)
    width = len(records.resource_names) + 1
    pairs = np.unique(event_day[doing] * width + records.resource[doing])
    days, active = np.unique(pairs // width, return_counts=True)
    day_month = (np.datetime64(records.epoch) + days.astype("timedelta64[D]")).astype("datetime64[M]")
    rows = []
    for month in np.unique(month_of):
        mine = month_of == month
        done = mine & np.isfinite(finish)
        rows.append(
            {
                "month": str(month),
                "dossiers": int(mine.sum()),
                "online": float(np.isin(channel[mine], ONLINE).mean()) if channel[mine].any() else np.nan,
                "supplement": float(supplement[mine].mean()),
                "effort_mean": float(effort[mine & worked].mean()) if (mine & worked).any() else np.nan,
                "cycle": float(np.nanmean(cycle[done])) if done.any() else np.nan,
                "overdue": float(np.mean(finish[done] > due[done]))
                if due is not None and done.any()
                else np.nan,
                "officers": float(active[day_month == month].mean())
                if (day_month == month).any()
                else np.nan,
            }
        )
    return rows


def _svg(rows: list[dict[str, Any]], keys: list[str], words: dict[str, str]) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 3.2))
    months = [row["month"] for row in rows]
    for key in keys:
        values = np.array([row[key] for row in rows], dtype=float)
        if np.isfinite(values).sum() and np.nanmean(values) > 0:
            axes.plot(months, values / np.nanmean(values), marker="o", label=words[key])
    axes.axhline(1.0, color="grey", linewidth=0.5)
    axes.legend(fontsize=7, ncol=2)
    axes.tick_params(axis="x", labelrotation=45, labelsize=7)
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


def report_html(calibration: Any, records: Records, calendar: WorkingCalendar, lang: str = "en") -> str:
    words = WORDS.get(lang, WORDS["en"])
    drift = monthly_drift(records, calendar)
    keys = ["dossiers", "online", "supplement", "effort_mean", "cycle", "overdue", "officers"]
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
        + _svg(drift, keys, words)
        + _table(
            [words["month"], *(words[k] for k in keys)], [[r["month"], *(r[k] for k in keys)] for r in drift]
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
