"""Sweeps and plans: parsing PATH=VALUES and targets, the CLI's tables, plots and folders, and bad input
named with exit 2 and nothing written."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from dvclab.sim.plan import Target, confidence_met, find_smallest, parse_target, t_cdf
from dvclab.sim.scenario import load_scenario
from dvclab.sim.studies import StudyOptions, sweep_study
from dvclab.sim.sweep import (
    Param,
    SweepError,
    SweepPoint,
    known_kpi,
    parse_param,
    parse_values,
    run_sweep,
    sweep_points,
)
from tests.workbench.conftest import TINY, catalog, dvclab, tiny
from tests.workbench.test_report import load_in_chromium

LAND = "back_office.staffing.district.land"


def in_chromium(page: str, folder: Path) -> None:
    """Every image of the report loads and nothing is logged (fails without Chromium)."""
    probe, console = load_in_chromium(page, folder)
    assert probe["images"] and all(probe["images"]) and probe["errors"] == [] and console == []


def test_values_ranges_steps_and_lists() -> None:
    assert parse_values("2..8", "x") == (2, 3, 4, 5, 6, 7, 8)
    assert parse_values("2..8:3", "x") == (2, 5, 8)
    assert parse_values("0.5..0.7:0.1", "x") == (0.5, 0.6, 0.7)
    assert parse_values("4,6,9", "x") == (4, 6, 9)
    assert parse_values("true,false", "x") == (True, False)
    assert parse_param(f"{LAND}=2..4").values == (2, 3, 4)


@pytest.mark.parametrize("bad", ["8..2", "2..x", "2...4", "", "1,,2", "1..5:0", "1..100000"])
def test_bad_values_are_named(bad: str) -> None:
    with pytest.raises(SweepError, match="--param"):
        parse_param(f"{LAND}={bad}")


def test_targets() -> None:
    target = parse_target("overdue_rate<=0.02")
    assert target == Target("overdue_rate", "<=", 0.02) and target.upper
    assert parse_target("self_service_online_rate >= 0.6").op == ">="
    for bad in ("overdue_rate=0.02", "overdue_rate<=", "<=0.02", "overdue rate<=0.1"):
        with pytest.raises(SweepError, match="--target"):
            parse_target(bad)


def test_t_distribution_and_confidence() -> None:
    assert t_cdf(0.0, 5) == pytest.approx(0.5)
    assert t_cdf(2.571, 5) == pytest.approx(0.975, abs=1e-3)  # the 95% two-sided quantile at 5 dof
    assert t_cdf(-1.960, 10_000) == pytest.approx(0.025, abs=1e-3)
    values = np.array([0.010, 0.012, 0.011, 0.013])
    assert confidence_met(values, parse_target("overdue_rate<=0.02")) > 0.999
    assert confidence_met(values, parse_target("overdue_rate<=0.0115")) == pytest.approx(0.5, abs=0.01)


def test_bisection_finds_the_smallest_value_meeting_the_target() -> None:
    calls = []

    def evaluate(value: int):  # noqa: ANN202 - a fake experiment: the rate falls as officers grow
        calls.append(value)

        class Fake:
            partial = False

            def values(self, kpi: str) -> np.ndarray:
                return 0.1 / value + np.array([-0.001, 0.0, 0.001])

        return Fake()

    plan = find_smallest("p", parse_target("overdue_rate<=0.02"), tuple(range(1, 41)), evaluate)
    assert plan.answer.value == 6  # 0.1/6 + 0.001 ≤ 0.02 < 0.1/5
    assert plan.below.value == 5
    assert len(calls) <= 8 and plan.answer.confidence > 0.9


def test_an_interrupted_plan_says_its_answer_may_not_be_the_smallest() -> None:
    from dvclab.sim.report import plan_summary

    def evaluate(value: int):  # noqa: ANN202 - the second point is cut short by Ctrl-C
        class Fake:
            partial = value != 40

            def values(self, kpi: str) -> np.ndarray:
                return 0.1 / value + np.array([-0.001, 0.0, 0.001])

        return Fake()

    plan = find_smallest("p", parse_target("overdue_rate<=0.02"), tuple(range(1, 41)), evaluate)
    assert plan.partial and plan.answer.value == 20  # met on the replications that finished
    assert [p.note for p in plan.sorted_points()] == ["partial", ""]
    assert "interrupted" in plan_summary(plan, "en") and "Ctrl-C" in plan_summary(plan, "vi")


@pytest.mark.slow
def test_known_kpis_match_a_real_run() -> None:
    scenario = tiny().scenario
    for kpi in tiny().kpi_names():
        assert known_kpi(kpi, scenario, catalog()), kpi
    assert not known_kpi("overdue_rate_by_group.lnd", scenario, catalog())
    assert not known_kpi("overdue", scenario, catalog())


def test_sweep_points_carry_their_value_as_data() -> None:
    base, procedures = load_scenario(TINY)
    points = sweep_points(base, procedures, Param(LAND, (2, 5)))
    assert [p.value for p in points] == [2, 5]
    assert [p.scenario.back_office.staffing["district"]["land"] for p in points] == [2, 5]
    assert {p.scenario.run.seed for p in points} == {base.run.seed}  # common random numbers
    with pytest.raises(SweepError, match=f"{LAND}=1.5"):
        sweep_points(base, procedures, Param(LAND, (2, 1.5)))


def test_a_sweep_takes_values_from_its_points_not_from_names() -> None:
    base = tiny().scenario
    # names that would mislead a parser of "name[path=value]"
    points = [SweepPoint(v, base.model_copy(update={"name": f"x[{LAND}=99]"})) for v in (3, 4, 7)]
    ran = []

    def run_point(point: SweepPoint):  # noqa: ANN202
        ran.append(point.value)
        if point.value == 4:
            from dvclab.sim.model import OverloadError

            raise OverloadError("the land office cannot keep up")
        return tiny()

    sweep = run_sweep(LAND, base, points, run_point)
    assert ran == [3, 4, 7] and sweep.param == Param(LAND, (3, 7)) and sweep.base is base
    assert sweep.failed == {4: "the land office cannot keep up"} and not sweep.partial


def test_sweep_study_from_python_after_the_file_is_gone(tmp_path: Path) -> None:
    """No argparse, no YAML read again for the points, and the name is used as it is (never split)."""
    path = tmp_path / "bracketed.yaml"
    path.write_text(f"extends: {TINY}\nname: tiny[v2]\nrun: {{replications: 1}}\n", encoding="utf-8")
    base, procedures = load_scenario(path)
    path.unlink()
    options = StudyOptions(out=tmp_path / "results", jobs=1, lang="en", command=["test"])
    outcome = sweep_study(base, procedures, Param(LAND, (3,)), options, ["overdue_rate"])
    assert outcome.folder is not None and outcome.folder.parent == tmp_path / "results" / "sweep" / "tiny[v2]"
    manifest = json.loads((outcome.folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["values"] == [3] and manifest["command"] == ["test"]
    [point] = manifest["scenarios"]
    assert point["scenario"]["back_office"]["staffing"]["district"]["land"] == 3
    assert "Parameter sweep: tiny[v2] · " in (outcome.folder / "report.html").read_text(encoding="utf-8")


@pytest.mark.slow
def test_sweep_cli_writes_table_plot_and_report(out: Path) -> None:
    result = dvclab("sim", "sweep", str(TINY), "--param", f"{LAND}=2,3", "--replications", "2", "--jobs", "2",
                    "--kpi", "overdue_rate_by_group.land", "--kpi", "utilisation.district.land",
                    "--lang", "vi", "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    [folder] = (out / "sweep" / "tiny").iterdir()
    with (folder / "sweep.csv").open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["kpi"] == "utilisation.district.land"]
    assert [int(r[LAND]) for r in rows] == [2, 3]
    assert float(rows[1]["mean"]) < float(rows[0]["mean"])
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="plot-sweep"' in page and "Quét tham số" in page and "Bảng kết quả theo giá trị" in page
    in_chromium(page, folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["kind"] == "sim-sweep" and manifest["values"] == [2, 3] and not manifest["partial"]
    assert "sweep of back_office.staffing.district.land" in result.stdout


@pytest.mark.slow
def test_plan_cli_finds_the_smallest_value_and_how_sure(out: Path) -> None:
    result = dvclab("sim", "plan", str(TINY), "--target", "utilisation.district.land<=0.8",
                    "--vary", f"{LAND}=1..4", "--replications", "2", "--jobs", "2", "--lang", "en",
                    "--out", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr
    [folder] = (out / "plan" / "tiny").iterdir()
    plan = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    assert plan["answer"] in (2, 3, 4) and plan["confidence"] >= 0.975
    below = [p for p in plan["points"] if p["value"] == plan["answer"] - 1]
    assert not below or not below[0]["met"]
    assert f"= {plan['answer']}" in result.stdout and "one-sided confidence" in result.stdout
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert 'id="plot-sweep"' in page and "Values tried (bisection)" in page
    in_chromium(page, folder)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["sweep", "--param", "back_office.staffing.district.lnd=2..4"], "back_office.staffing.district.lnd"),
        (["sweep", "--param", "run.horizon=2..4"], "run.horizon"),
        (["sweep", "--param", "run.seed.x=1,2"], "run.seed.x"),
        (["sweep", "--param", f"{LAND}=8..2"], "runs backwards"),
        (["sweep", "--param", f"{LAND}=2..x"], "bad range"),
        (["sweep", "--param", f"{LAND}=1.5,2"], LAND),
        (["sweep", "--param", "channels.capable_share=0.5,1.5"], "channels.capable_share"),
        (["sweep", "--param", LAND], "PATH=VALUES"),
        (
            ["sweep", "--param", f"{LAND}=2,3", "--kpi", "overdue_rate_by_group.lnd"],
            "overdue_rate_by_group.lnd",
        ),
        (["plan", "--target", "overdue_rate=0.02", "--vary", LAND], "--target"),
        (["plan", "--target", "overdue<=0.02", "--vary", LAND], "'overdue'"),
        (["plan", "--target", "overdue_rate<=0.02", "--vary", "channels.capable_share"], "--vary"),
        (["plan", "--target", "overdue_rate<=0.02", "--vary", "back_office.nope=1..3"], "back_office.nope"),
    ],
)
def test_bad_input_is_named_with_exit_2_and_nothing_written(args: list[str], named: str, out: Path) -> None:
    result = dvclab("sim", args[0], str(TINY), *args[1:], "--out", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert named in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists() or not any(out.rglob("*"))


@pytest.mark.slow
def test_compare_with_a_bad_what_if_is_exit_2(tmp_path: Path, out: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(f"extends: {TINY}\nname: bad\nchannels: {{capable_share: 2}}\n", encoding="utf-8")
    result = dvclab("sim", "compare", str(TINY), str(bad), "--out", str(out))
    assert result.returncode == 2 and "channels.capable_share" in result.stderr
    assert "Traceback" not in result.stderr and not out.exists()
