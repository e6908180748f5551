"""``dvclab sim run --format table|plain|json|csv`` (#14), as ``dvclab check --format``: terminal tables
never cut a name, plain lines for logs, and JSON or CSV alone on stdout for scripts."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path

import pytest

from dvclab.sim import console
from dvclab.sim.experiment import Estimate

LONG = "overdue_rate_by_level.district"
SUMMARY = {
    "dossiers": Estimate(26490.0, 26010.0, 26970.0, "dossiers"),
    "overdue_rate": Estimate(0.0277, 0.0258, 0.0296, "fraction"),
    "counter_wait_mean_min": Estimate(1.25, 0.0, 3.1, "minutes"),
    LONG: Estimate(0.0711, 0.0636, 0.0787, "fraction"),
    "utilisation.district.land": Estimate(0.93, 0.91, 0.95, "fraction"),  # not a headline KPI
}


def test_json_holds_every_kpi_and_where_the_run_is(capsys: pytest.CaptureFixture[str]) -> None:
    console.print_summary(SUMMARY, "json", {"results": "/r", "report": "/r/report.html"})
    document = json.loads(capsys.readouterr().out)
    assert document["results"] == "/r" and document["report"] == "/r/report.html"
    assert set(document["kpis"]) == set(SUMMARY)
    assert document["kpis"]["overdue_rate"] == {
        "mean": 0.0277,
        "ci_low": 0.0258,
        "ci_high": 0.0296,
        "unit": "fraction",
    }


def test_csv_holds_every_kpi_with_numbers_as_written(capsys: pytest.CaptureFixture[str]) -> None:
    one = {**SUMMARY, "apology_slips": Estimate(3.0, math.nan, math.nan, "dossiers")}
    console.print_summary(one, "csv")
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["kpi"] for r in rows] == list(one)
    assert rows[-1]["ci_low"] == "" and float(rows[1]["mean"]) == 0.0277  # no interval: empty, not 0


def test_plain_is_one_whole_headline_kpi_a_line(capsys: pytest.CaptureFixture[str]) -> None:
    console.print_summary(SUMMARY, "plain")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "dossiers 26,490 (95% CI 26,010 – 26,970) dossiers"
    assert f"{LONG} 0.0711 (95% CI 0.0636 – 0.0787) fraction" in lines
    assert not any(line.startswith("utilisation.") for line in lines)


def test_table_never_cuts_a_name(capsys: pytest.CaptureFixture[str]) -> None:
    console.print_summary(SUMMARY, "table")
    out = capsys.readouterr().out
    assert LONG in out and "counter_wait_mean_min" in out and "…" not in out


@pytest.mark.slow
def test_sim_run_json_is_alone_on_stdout(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dvclab.cli import main
    from tests.workbench.conftest import TINY

    code = main(
        ["sim", "run", str(TINY), "--replications", "2", "--jobs", "2", "--no-report", "--out", str(tmp_path),
         "--format", "json"]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 0
    document = json.loads(captured.out)  # nothing else on stdout
    assert Path(document["results"]).is_dir() and document["replications"] == 2 and "report" not in document
    assert document["kpis"]["overdue_rate"]["unit"] == "fraction"
    assert f"results: {document['results']}" in captured.err


def test_plan_words_and_console_name_the_same_nearest_value(capsys: pytest.CaptureFixture[str]) -> None:
    from dvclab.sim.plan import Plan, Point, Target
    from dvclab.sim.report import plan_summary

    def point(value: int, high: float, confidence: float) -> Point:
        e = Estimate(mean=high - 0.004, ci_low=high - 0.02, ci_high=high, unit="fraction")
        return Point(value=value, experiment=None, estimate=e, met=False, confidence=confidence)

    # the nearest bound (8) is not the most confident point (6): the report named 6, the console 8
    points = [point(4, 0.031, 0.02), point(6, 0.027, 0.4), point(8, 0.0235, 0.31)]
    plan = Plan(
        "back_office.staffing.district.land",
        Target("overdue_rate", "<=", 0.02),
        (4, 6, 8),
        points,
        None,
        None,
    )
    words = plan_summary(plan, "en")
    assert (
        "back_office.staffing.district.land = 8" in words
        and "misses the target by 0.35 percentage points" in words
    )
    assert "= 6" not in words
    assert "cách mục tiêu 0,35 điểm phần trăm" in plan_summary(plan, "vi")
    console.print_plan(plan)
    out = capsys.readouterr().out
    assert "Closest:" not in out and "Nearest: back_office.staffing.district.land=8" in out
