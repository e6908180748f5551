"""The back-test: calibrated before the split, the model forecasts the weeks after it at least as well as
the naive forecast (the training period resampled), on a synthetic log whose truth is known."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import pytest
import yaml

from dvclab.cli import main
from dvclab.sim.backtest import backtest
from dvclab.sim.log_distances import MEASURES, SOURCE
from dvclab.sim.record_map import RecordsError, load_map
from dvclab.sim.records import read_records
from tests.sim.test_calibrate import GENERIC, _log


@pytest.mark.slow  # a 75-day run for the log, a calibration and 3 forecast replications (~15 s)
def test_the_model_is_at_least_as_good_as_naive(tmp_path: Path) -> None:
    # Trained on 1 March - 14 April 2024; forecast 15 April - 12 May, which holds Hùng Kings' day (18/4)
    # and 30/4-1/5: the model knows the calendar, the naive forecast resamples ordinary weeks.
    records = read_records(_log(tmp_path, 75), load_map())
    outcome = backtest(records, dt.date(2024, 4, 15), replications=3, jobs=1)
    rows = {row["measure"]: row for row in outcome.table}
    volume = rows["weekly volume, mean absolute error (dossiers)"]
    assert volume["model_error"] < volume["naive_error"]
    # On a stationary log the training durations are the truth's, so the naive cycle times are as good as
    # any; the model must come within 1.5 working hours of them (replications of the truth differ by ~1 h).
    cycle = rows["cycle time, Wasserstein distance (working hours)"]
    assert cycle["model_error"] <= cycle["naive_error"] + 1.5
    # one realisation's overdue rate against the model's mean: the truth's own replications span ±1.5 points
    assert rows["overdue rate"]["model_error"] <= 0.03
    assert {"overdue rate, land", "overdue rate, certification"} <= set(rows)
    # utilisation where the register names the officers: observed busy time over the officers active a
    # working day, beside the forecast's; the forecast's volume is off by up to ~8% in these four weeks
    # of one realisation (Poisson noise of ~360 dossiers a week, and of the 45 days it was fitted on),
    # and a pool's utilisation moves with it: within 0.12 of the observed share
    pools = {"commune.justice", "district.land", "province.justice"}
    assert set(outcome.observed.utilisation) == pools
    assert 0.6 < outcome.observed.utilisation["district.land"] < 1.0  # the busy pool of the small province
    for pool in pools:
        row = rows[f"utilisation, {pool}"]
        assert row["model_error"] <= 0.12
        assert row["naive"] == "none (no officers)" and math.isnan(row["naive_error"])
    # the log-distance-measures figures, each replication's log against the test period's, beside them
    # (seen: cycle time 15.9 h model / 32.7 h naive, absolute events 12.4 / 36.7, circadian 0.35 / 0.63,
    # 3-grams 0.05 / 0.006: the naive's traces are real ones resampled, so its control flow is closer)
    _finite_log_distances(rows)
    # calendar hours: the naive's durations do not stretch over 18/4 and 30/4-1/5, the model's do
    cycle = rows[MEASURES["cycle_time_distribution_distance"]]
    assert cycle["model_error"] < cycle["naive_error"]
    # when events happen (the weekly volumes, hour by hour): the model's calendar against ordinary weeks
    events = rows[MEASURES["absolute_event_distribution_distance"]]
    assert events["model_error"] < events["naive_error"]
    assert rows[MEASURES["n_gram_distribution_distance"]]["model_error"] < 0.15  # the same register steps


def _finite_log_distances(rows: dict[str, dict[str, object]]) -> None:
    for label in MEASURES.values():
        row = rows[label]
        assert row["observed"] == SOURCE
        for side in ("model_error", "naive_error"):
            value = row[side]
            assert isinstance(value, float) and math.isfinite(value) and value >= 0, (label, side, value)
    for side in ("model_error", "naive_error"):
        assert rows[MEASURES["n_gram_distribution_distance"]][side] <= 1.0


def _generic(path: Path, weeks: int = 6) -> Path:
    rows = ["case,activity,time,who"]
    start = dt.datetime(2024, 3, 4, 7, 45)
    k = 0
    for day in range(weeks * 7):
        date = start + dt.timedelta(days=day)
        if date.weekday() >= 5:
            continue
        for slot in range(10):
            received = date + dt.timedelta(minutes=25 * slot)
            checked = received + dt.timedelta(minutes=30 + k % 7 * 5)
            rows += [
                f"D{k},register,{received:%Y-%m-%d %H:%M},desk",
                f"D{k},check,{checked:%Y-%m-%d %H:%M},clerk{k % 2}",
                f"D{k},sign,{checked + dt.timedelta(minutes=40):%Y-%m-%d %H:%M},head",
            ]
            k += 1
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_a_generic_log_back_tests(tmp_path: Path) -> None:
    records = read_records(_generic(tmp_path / "generic.csv"), GENERIC)
    outcome = backtest(records, dt.date(2024, 3, 25), replications=2, jobs=1)
    measures = [row["measure"] for row in outcome.table]
    assert measures[:3] == [
        "weekly volume, mean absolute error (dossiers)",
        "cycle time, Wasserstein distance (working hours)",
        "overdue rate",
    ]
    assert len(outcome.observed.weekly) == 2 and outcome.observed.weekly.sum() > 0
    assert all(len(p.cycle_hours) > 0 for p in outcome.model)
    # no roles: every event with a resource is work, the pool the procedure's (desk, two clerks, head)
    assert set(outcome.observed.utilisation) == {"province.office"}
    assert "utilisation, province.office" in measures
    rows = {row["measure"]: row for row in outcome.table}
    _finite_log_distances(rows)
    # the records call their steps register, check, sign; the simulated register receive, examine, ...:
    # no 3-gram in common, the package's distance is 1 (of the names, not of the flow); the naive's traces
    # are the records' own
    assert rows[MEASURES["n_gram_distribution_distance"]]["model_error"] == pytest.approx(1.0)
    assert rows[MEASURES["n_gram_distribution_distance"]]["naive_error"] < 0.05


def test_a_split_after_the_records_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    records = read_records(_generic(tmp_path / "generic.csv", weeks=2), GENERIC)
    with pytest.raises(RecordsError, match="at least a week of records after the split"):
        backtest(records, dt.date(2024, 6, 1))
    code = main(
        ["sim", "backtest", str(tmp_path / "generic.csv"), "--split", "2024-06-01", "--out", str(tmp_path)]
    )
    assert code == 2 and not (tmp_path / "backtest").exists()
    assert "not in the header" in capsys.readouterr().err  # the default map is the register's


def test_the_cli_back_tests_with_a_recency_weighting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _generic(tmp_path / "generic.csv")
    map_file = tmp_path / "map.yaml"
    map_file.write_text(yaml.safe_dump(GENERIC.model_dump(exclude={"source"}, mode="json")), encoding="utf-8")
    options = ["--map", str(map_file), "--split", "2024-03-25", "--recency-half-life", "7",
               "--replications", "2", "--jobs", "1", "--out", str(tmp_path / "out")]  # fmt: skip
    assert main(["sim", "backtest", str(log), *options]) == 0
    printed = capsys.readouterr().out
    assert "utilisation, province.office" in printed and "none (no officers)" in printed
    (folder,) = (tmp_path / "out" / "backtest").iterdir()
    (run,) = folder.iterdir()
    table = (run / "backtest.csv").read_text(encoding="utf-8")
    for label in MEASURES.values():  # the package's figures, printed and saved beside the others
        assert label in printed and label in table
    scenario = yaml.safe_load((run / "calibrated.yaml").read_text(encoding="utf-8"))
    assert scenario["demand"]["month_factors"] == [1.0] * 12  # weighted, under a year: no season fitted
