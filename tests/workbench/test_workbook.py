"""The Excel workbook beside the CSV files: one sheet per table, headers in the report's language,
numbers stored as numbers, read back with openpyxl as a planner's Excel would."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from openpyxl import load_workbook

from dvclab.sim.outputs import csv_text, write_run, write_study
from dvclab.sim.workbook import WORKBOOK_FILE, cell_value, workbook_bytes
from tests.workbench.conftest import catalog, tiny

DIFFERENCES = csv_text(
    ["whatif", "kpi", "baseline_mean", "whatif_mean", "difference", "ci_low", "ci_high", "unit", "verdict"],
    [["plus-1", "overdue_rate", 0.0261, 0.02, -0.0061, -0.008, -0.004, "fraction", "better"]],
)
CHANGES = csv_text(
    ["whatif", "path", "baseline", "whatif"], [["plus-1", "back_office.staffing.district.land", 2, 3]]
)


def test_cells_keep_numbers_as_numbers() -> None:
    assert cell_value("0.0261") == 0.0261 and cell_value("26490") == 26490 and cell_value("1e-05") == 1e-05
    assert cell_value("True") is True and cell_value("overdue_rate") == "overdue_rate"
    assert cell_value("2024-03-01") == "2024-03-01"


@pytest.mark.parametrize(
    ("lang", "sheets", "headers"),
    [
        ("vi", ["Chênh lệch", "Thay đổi"], ["Phương án", "Mã chỉ số", "Chỉ số", "Gốc (trung bình)"]),
        ("en", ["Differences", "Changes"], ["What-if", "KPI code", "KPI", "Baseline mean"]),
    ],
)
def test_a_sheet_per_table_with_headers_in_the_language(
    lang: str, sheets: list[str], headers: list[str]
) -> None:
    book = load_workbook(
        io.BytesIO(workbook_bytes({"differences.csv": DIFFERENCES, "changes.csv": CHANGES}, lang))
    )
    assert book.sheetnames == sheets
    differences = book[sheets[0]]
    assert [c.value for c in differences[1]][:4] == headers
    row = [c.value for c in differences[2]]
    assert row[2] == ("Tỷ lệ trễ hạn" if lang == "vi" else "Overdue rate")  # the KPI in words beside its code
    assert isinstance(row[3], float) and row[3] == 0.0261
    assert book[sheets[1]]["C2"].value == 2 and isinstance(book[sheets[1]]["C2"].value, int)


def test_a_study_folder_holds_the_workbook_in_its_reports_language(tmp_path: Path) -> None:
    page = '<!DOCTYPE html>\n<html lang="vi"><head></head><body></body></html>'
    files = {"differences.csv": DIFFERENCES, "changes.csv": CHANGES, "report.html": page}
    folder = write_study(tmp_path, "compare", "base", [], files, ["dvclab"], False)
    book = load_workbook(folder / WORKBOOK_FILE)
    assert book.sheetnames == ["Chênh lệch", "Thay đổi"]
    assert json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["workbook"] == WORKBOOK_FILE


@pytest.mark.slow
def test_a_run_folder_holds_every_table_as_a_sheet(tmp_path: Path) -> None:
    folder = write_run(tiny(), catalog(), tmp_path, ["dvclab", "sim", "run"], None, lang="vi")
    book = load_workbook(folder / WORKBOOK_FILE, read_only=True)
    assert book.sheetnames == [
        "Chỉ số",
        "Thủ tục trễ hạn nhiều nhất",
        "Tồn đọng theo ngày",
        "Các lần lặp",
        "Hồ sơ đến theo giờ",
    ]
    kpis = list(book["Chỉ số"].iter_rows(values_only=True))
    assert kpis[0] == (
        "Mã chỉ số",
        "Chỉ số",
        "Trung bình",
        "Cận dưới (KTC 95%)",
        "Cận trên (KTC 95%)",
        "Đơn vị",
    )
    by_code = {row[0]: row for row in kpis[1:]}
    assert by_code["overdue_rate"][1] == "Tỷ lệ trễ hạn"
    assert isinstance(by_code["overdue_rate"][2], float) and 0 <= by_code["overdue_rate"][2] <= 1
    hourly = list(book["Hồ sơ đến theo giờ"].iter_rows(max_row=2, values_only=True))
    assert hourly[0][:3] == ("Thời điểm", "Giờ", "Thứ (0 = thứ Hai)") and isinstance(hourly[1][1], int)


@pytest.mark.slow
def test_sweep_and_plan_folders_hold_their_workbooks_and_open_with_the_answer(tmp_path: Path) -> None:
    from dvclab.sim.plan import parse_target
    from dvclab.sim.scenario import load_scenario
    from dvclab.sim.studies import StudyOptions, plan_study, sweep_study
    from dvclab.sim.sweep import Param
    from tests.workbench.conftest import TINY

    base, procedures = load_scenario(TINY, **{"run.replications": 2})
    options = StudyOptions(out=tmp_path, jobs=2, lang="vi", command=["test"])
    land = "back_office.staffing.district.land"
    sweep = sweep_study(base, procedures, Param(land, (2, 3)), options, ["overdue_rate"])
    assert sweep.folder is not None
    book = load_workbook(sweep.folder / WORKBOOK_FILE)
    assert book.sheetnames == ["Quét tham số"]
    header, first = (list(r) for r in book["Quét tham số"].iter_rows(max_row=2, values_only=True))
    assert header[:3] == [land, "Mã chỉ số", "Chỉ số"] and first[0] == 2 and isinstance(first[3], float)
    page = (sweep.folder / "report.html").read_text(encoding="utf-8")
    assert page.index('<section id="summary"') < page.index('<section id="objective"')

    plan = plan_study(base, procedures, parse_target("overdue_rate<=0.9"), Param(land, (2, 3)), options)
    assert plan.folder is not None
    assert load_workbook(plan.folder / WORKBOOK_FILE).sheetnames == ["Các giá trị đã thử"]
    summary = (plan.folder / "report.html").read_text(encoding="utf-8").split('<section id="summary"')[1]
    assert "Giá trị nhỏ nhất đạt mục tiêu" in summary.split("</section>")[0]
