"""One Excel workbook beside a results folder's CSV files: a sheet per table, headers in the reader's
language, numbers stored as numbers (a planner filters and charts them in Excel without converting).

The CSV files stay the machine-readable record; the workbook is built from their text so both always
hold the same figures.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from dvclab.sim.report_text import code_label, kpi_label

WORKBOOK_FILE = "results.xlsx"

# Sheet names (Excel allows 31 characters) by the CSV file's stem.
SHEETS: dict[str, dict[str, str]] = {
    "kpis": {"vi": "Chỉ số", "en": "KPIs"},
    "replications": {"vi": "Các lần lặp", "en": "Replications"},
    "arrivals_by_hour": {"vi": "Hồ sơ đến theo giờ", "en": "Arrivals by hour"},
    "backlog_by_day": {"vi": "Tồn đọng theo ngày", "en": "Backlog by day"},
    "overdue_top_procedures": {"vi": "Thủ tục trễ hạn nhiều nhất", "en": "Most overdue procedures"},
    "differences": {"vi": "Chênh lệch", "en": "Differences"},
    "kpis_by_scenario": {"vi": "Chỉ số theo kịch bản", "en": "KPIs by scenario"},
    "changes": {"vi": "Thay đổi", "en": "Changes"},
    "sweep": {"vi": "Quét tham số", "en": "Sweep"},
    "points": {"vi": "Các giá trị đã thử", "en": "Values tried"},
}
# Column headers by the CSV's column name; a KPI name (replications.csv) is named by ``kpi_label``.
HEADERS: dict[str, dict[str, str]] = {
    "kpi": {"vi": "Mã chỉ số", "en": "KPI code"},
    "kpi_name": {"vi": "Chỉ số", "en": "KPI"},
    "mean": {"vi": "Trung bình", "en": "Mean"},
    "ci_low": {"vi": "Cận dưới (KTC 95%)", "en": "95% CI low"},
    "ci_high": {"vi": "Cận trên (KTC 95%)", "en": "95% CI high"},
    "unit": {"vi": "Đơn vị", "en": "Unit"},
    "replication": {"vi": "Lần lặp", "en": "Replication"},
    "datetime": {"vi": "Thời điểm", "en": "Date and hour"},
    "date": {"vi": "Ngày", "en": "Date"},
    "hour": {"vi": "Giờ", "en": "Hour"},
    "weekday": {"vi": "Thứ (0 = thứ Hai)", "en": "Weekday (0 = Monday)"},
    "portal_submissions": {"vi": "Nộp qua Cổng DVC", "en": "Portal submissions"},
    "code": {"vi": "Mã thủ tục", "en": "Procedure code"},
    "name": {"vi": "Tên thủ tục hành chính", "en": "Procedure"},
    "group": {"vi": "Lĩnh vực", "en": "Group"},
    "level": {"vi": "Cấp", "en": "Level"},
    "dossiers_mean": {"vi": "Số hồ sơ (trung bình)", "en": "Dossiers (mean)"},
    "overdue_mean": {"vi": "Hồ sơ trễ hạn (trung bình)", "en": "Overdue dossiers (mean)"},
    "overdue_rate": {"vi": "Tỷ lệ trễ hạn", "en": "Overdue rate"},
    "whatif": {"vi": "Phương án", "en": "What-if"},
    "baseline": {"vi": "Gốc", "en": "Baseline"},
    "baseline_mean": {"vi": "Gốc (trung bình)", "en": "Baseline mean"},
    "whatif_mean": {"vi": "Phương án (trung bình)", "en": "What-if mean"},
    "difference": {"vi": "Chênh lệch (phương án − gốc)", "en": "Difference (what-if − baseline)"},
    "verdict": {"vi": "Kết luận", "en": "Verdict"},
    "scenario": {"vi": "Kịch bản", "en": "Scenario"},
    "path": {"vi": "Tham số", "en": "Parameter"},
    "met": {"vi": "Đạt mục tiêu", "en": "Meets the target"},
    "confidence": {"vi": "Độ tin cậy", "en": "Confidence"},
    "note": {"vi": "Ghi chú", "en": "Note"},
}
_NUMBER = re.compile(r"^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")


def header_words(column: str, lang: str) -> str:
    if column in HEADERS:
        return HEADERS[column].get(lang) or HEADERS[column]["en"]
    channel = code_label(lang, "channel", column)
    if channel != column:
        return channel
    return kpi_label(lang, column)


def cell_value(raw: str) -> Any:
    """A CSV field as Excel should hold it: numbers as numbers, booleans as booleans, the rest as text."""
    if _NUMBER.match(raw):
        number = float(raw)
        return int(number) if number.is_integer() and "." not in raw and "e" not in raw.lower() else number
    if raw in ("True", "False"):
        return raw == "True"
    return raw


def workbook_bytes(csv_files: dict[str, str], lang: str) -> bytes:
    """The workbook of the given CSV files (name → text), one sheet each in the order given; a ``kpi``
    column is followed by the KPI's name in words."""
    book = Workbook()
    book.remove(book.active)
    for file_name, content in csv_files.items():
        stem = Path(file_name).stem
        title = (SHEETS.get(stem, {}).get(lang) or stem)[:31]
        sheet = book.create_sheet(title)
        rows = list(csv.reader(io.StringIO(content)))
        if not rows:
            continue
        header = rows[0]
        named = header.index("kpi") if "kpi" in header else None
        words = [header_words(column, lang) for column in header]
        if named is not None:
            words.insert(named + 1, header_words("kpi_name", lang))
        sheet.append(words)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        for row in rows[1:]:
            values = [cell_value(field) for field in row]
            if named is not None and named < len(row):
                values.insert(named + 1, kpi_label(lang, row[named]))
            sheet.append(values)
        sheet.freeze_panes = "A2"
        for column, title_words in zip(sheet.columns, words, strict=False):
            sheet.column_dimensions[column[0].column_letter].width = min(max(len(title_words), 10) + 2, 48)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def folder_csv_files(folder: Path, names: list[str]) -> dict[str, str]:
    """The named CSV files of a results folder that exist, as name → text."""
    return {name: (folder / name).read_text(encoding="utf-8") for name in names if (folder / name).is_file()}


def report_lang(page: str | None, fallback: str) -> str:
    """The language a report was written in (its ``<html lang>``), so the workbook speaks the same."""
    found = re.search(r'<html lang="(\w+)"', page or "")
    return found.group(1) if found else fallback
