"""What `dvclab sim` prints: tables that never cut a name, and a plan that says how close it came."""

from __future__ import annotations

from dvclab.sim import console
from dvclab.sim.experiment import Estimate
from dvclab.sim.plan import Plan, Point, Target


def _point(value: int, high: float, confidence: float) -> Point:
    estimate = Estimate(mean=high - 0.004, ci_low=high - 0.008, ci_high=high, unit="fraction")
    return Point(value=value, experiment=None, estimate=estimate, met=False, confidence=confidence)


def test_plan_without_an_answer_prints_the_nearest_value(capsys):
    target = Target("overdue_rate", "<=", 0.02)
    points = [_point(4, 0.031, 0.02), _point(8, 0.0235, 0.31), _point(6, 0.027, 0.1)]
    plan = Plan("back_office.staffing.district.land", target, (4, 6, 8), points, answer=None, below=None)
    assert plan.nearest() == (points[1], plan.target.shortfall(points[1].estimate))
    console.print_plan(plan)
    out = capsys.readouterr().out
    nearest = next(line for line in out.splitlines() if line.startswith("Nearest:"))
    assert "back_office.staffing.district.land=8" in nearest
    assert "upper bound 0.0235 misses overdue_rate<=0.02 by 0.0035" in nearest
    assert "31.0% sure" in nearest


def test_plan_with_an_answer_prints_no_nearest(capsys):
    target = Target("overdue_rate", "<=", 0.05)
    point = _point(4, 0.031, 0.99)
    point.met = True
    plan = Plan("x", target, (4,), [point], answer=point, below=None)
    console.print_plan(plan)
    assert "Nearest:" not in capsys.readouterr().out


def test_summary_table_keeps_kpi_names_whole(capsys):
    long_name = "overdue_rate_by_level.district"
    summary = {
        "overdue_rate": Estimate(0.0277, 0.0258, 0.0296, "fraction"),
        long_name: Estimate(0.0711, 0.0636, 0.0787, "fraction"),
        "index_766.transparency_sync": Estimate(4.5, 4.5, 4.5, "points"),
    }
    console.print_summary(summary)
    out = capsys.readouterr().out
    assert long_name in out and "index_766.transparency_sync" in out and "…" not in out


def test_plan_target_with_a_misspelt_kpi_gets_a_suggestion():
    import pytest

    from dvclab.sim.plan import parse_target
    from dvclab.sim.sweep import SweepError

    with pytest.raises(SweepError, match=r"no KPI 'overdue_rat' \(did you mean 'overdue_rate'\?\)"):
        parse_target("overdue_rat<=0.02", ["overdue_rate", "on_time_rate"])


def test_the_progress_total_grows_with_replications_auto_adds(capsys):
    display = console.ProgressDisplay()
    display.start(8, "nam-dinh-2024", ": replications auto")
    for replication in range(11):
        display.replication_done("nam-dinh-2024", replication)
    task = display.progress.tasks[0]
    display.stop()
    assert (task.completed, task.total) == (11, 11)  # was shown as 11/8
