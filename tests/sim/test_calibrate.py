"""Calibration: the parameters of a known scenario come back from its own event log, within tolerances
that the sample sizes explain; a generic log calibrates too; bad input writes nothing.

Recovery log: the small province (tests/sim/test_event_log.py) over 90 days, about 5,000 dossiers.
Tolerances, from the sampling error of that many dossiers (about 3 standard errors each):
- dossiers a year ±6%: a Poisson count of ~5,000 has a 1.4% standard error, and the month and weekday
  factors are fitted from the same 90 days;
- level shares ±0.02 and channel choice ±0.04: binomial shares of 1,000-5,000 dossiers (se ≤ 0.012);
- supplement probability ±0.04 per procedure: ~1,000-2,500 dossiers each (se ≤ 0.015);
- mean effort per pool ±6%: lognormal effort, CV 0.5, ≥ 1,000 dossiers a pool (se ≤ 1.6%); CV ±0.1;
- officers per pool and per counter, deadlines and opening hours exactly: they are whole numbers and clock
  times that the records show directly (the register names each officer, the due date and every working
  minute); a counter's officers only where each receives a citizen on most days (TRUE_COUNTERS).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from dvclab.cli import main
from dvclab.sim.calendar import WorkingCalendar
from dvclab.sim.calibrate import calibrate
from dvclab.sim.event_log import EventLogRunner, take_event_log
from dvclab.sim.record_map import RecordMap, RecordsError, load_map
from dvclab.sim.records import read_records
from dvclab.sim.scenario import load_scenario
from tests.sim.test_event_log import TRUE_STAFFING, small_province

# Counters that never fill, yet whose every officer receives someone most days (~10 visits a working day
# at the province's counter, ~6 at a district's, ~2 at a commune's): the officers a register names come back
TRUE_COUNTERS = {"province": 6, "district": 4, "commune": 2}
GENERIC = RecordMap.model_validate(
    {"columns": {"case": "case", "activity": "activity", "complete": "time", "resource": "who"}}
)


def _log(folder: Path, days: int, **changes: object) -> Path:
    scenario, catalog = load_scenario(small_province(folder, **changes), **{"run.horizon_days": days})
    table = take_event_log([EventLogRunner()(scenario, catalog, 0)])
    assert table is not None
    path = folder / "log.csv"
    path.write_text(table.csv_text(), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def recovered(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict]:
    folder = tmp_path_factory.mktemp("recovery")
    calibration = calibrate(
        read_records(_log(folder, 90, **{"counters.officers": TRUE_COUNTERS}), load_map())
    )
    written = calibration.write(folder / "out" / "fitted.yaml")
    scenario = yaml.safe_load(written[0].read_text(encoding="utf-8"))
    catalog = {row["code"]: row for row in calibration.catalog}
    load_scenario(written[0])  # what sim validate checks
    return scenario, catalog


@pytest.mark.slow  # a 90-day run for its event log, then the calibration (~8 s together)
def test_demand_and_channels_come_back(recovered: tuple[dict, dict]) -> None:
    scenario, _ = recovered
    demand = scenario["demand"]
    assert demand["dossiers_per_year"] == pytest.approx(20000, rel=0.06)
    for level, share in {"province": 0.2, "district": 0.3, "commune": 0.5}.items():
        assert demand["level_shares"][level] == pytest.approx(share, abs=0.02)
    channels = scenario["channels"]
    # the truth: capable 0.70 × propensity 0.90 of full-online filings online, 0.70 × 0.50 of partial ones
    assert channels["capable_share"] * channels["self_service_propensity"] == pytest.approx(0.63, abs=0.04)
    assert channels["capable_share"] * channels["partial_online_filing"] == pytest.approx(0.35, abs=0.04)
    assert channels["assisted_filing_share"] == pytest.approx(0.95, abs=0.04)
    assert channels["postal_submission_share"] == pytest.approx(0.01, abs=0.01)
    assert all(f == pytest.approx(1.0, abs=0.15) for f in demand["weekday_factors"])  # the truth is flat


@pytest.mark.slow
def test_work_comes_back(recovered: tuple[dict, dict]) -> None:
    scenario, catalog = recovered
    assert scenario["back_office"]["staffing"] == TRUE_STAFFING
    # the distinct officers who received citizens on a working day (the receptions in progress at once,
    # the estimate before the register named them, gave the province's counter 3)
    assert scenario["counters"]["officers"] == TRUE_COUNTERS
    assert scenario["counters"]["opening_hours"] == [["07:30", "11:30"], ["13:30", "17:00"]]
    assert scenario["counters"]["saturday_morning"] is False
    truth = {"X-A": (3, 0.1, 30.0, 0.5), "H-B": (10, 0.3, 90.0, 2.0), "T-C": (5, 0.05, 20.0, 1.0)}
    for code, (deadline, supplement, effort, approval) in truth.items():
        assert catalog[code]["deadline_days"] == deadline
        assert catalog[code]["supplement_prob"] == pytest.approx(supplement, abs=0.04)
        assert catalog[code]["effort_min"] == pytest.approx(effort, rel=0.06)
        assert catalog[code]["approval_days"] == pytest.approx(approval, rel=0.1)
        assert catalog[code]["online_level"] == ("partial" if code == "H-B" else "full")
    assert scenario["back_office"]["effort_cv"] == pytest.approx(0.5, abs=0.1)
    assert scenario["back_office"]["effort_family"] == "lognormal"  # the truth's
    assert scenario["supplements"]["response_days_mean"] == pytest.approx(4.0, rel=0.15)


def test_a_generic_log_calibrates_to_a_runnable_scenario(tmp_path: Path) -> None:
    log = tmp_path / "generic.csv"
    rows = ["case,activity,time,who"]
    start = dt.datetime(2024, 3, 4, 7, 45)
    for k in range(300):  # 300 dossiers over ~5 weeks: registered, checked by one of two clerks, signed
        received = start + dt.timedelta(days=(k // 10) * 7 // 5, minutes=20 * (k % 10))
        if received.weekday() >= 5:
            received += dt.timedelta(days=7 - received.weekday())
        checked = received + dt.timedelta(minutes=30 + k % 7 * 5)
        rows += [
            f"D{k},register,{received:%Y-%m-%d %H:%M},desk",
            f"D{k},check,{checked:%Y-%m-%d %H:%M},clerk{k % 2}",
            f"D{k},sign,{checked + dt.timedelta(minutes=40):%Y-%m-%d %H:%M},head",
        ]
    log.write_text("\n".join(rows) + "\n", encoding="utf-8")
    calibration = calibrate(read_records(log, GENERIC))
    written = calibration.write(tmp_path / "generic.yaml")
    scenario, catalog = load_scenario(written[0])
    assert len(catalog) == 1 and catalog[0].level == "province"
    assert scenario.back_office.staffing["province"]["office"] >= 2  # desk, two clerks, head: active daily
    assert 200 * 365 / 40 < scenario.demand.dossiers_per_year < 300 * 365 / 30
    assert any("channels: none in the records" in note for note in calibration.notes)


def test_the_cli_writes_three_files_or_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = tmp_path / "log.csv"
    log.write_text("case,activity,time,who\nA,x,2024-03-04 08:00,an\nA,y,not a time,an\n", encoding="utf-8")
    out = tmp_path / "out" / "fitted.yaml"
    map_file = tmp_path / "map.yaml"
    map_file.write_text(yaml.safe_dump(GENERIC.model_dump(exclude={"source"}, mode="json")), encoding="utf-8")
    code = main(["sim", "calibrate", str(log), "--map", str(map_file), "--out", str(out)])
    assert code == 2
    assert "row 3, column 'time': 'not a time' is not a timestamp" in capsys.readouterr().err
    assert not out.parent.exists()
    code = main(["sim", "calibrate", str(log), "--map", str(tmp_path / "nope.yaml"), "--out", str(out)])
    assert code == 2 and "column map not found" in capsys.readouterr().err
    code = main(["sim", "calibrate", str(log), "--train-until", "2020-01-01", "--out", str(out)])
    assert code == 2 and not out.parent.exists()


@pytest.mark.slow  # a 20-day run, a calibration and a matplotlib plot (~7 s)
def test_the_cli_writes_the_scenario_and_its_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _log(tmp_path, 20)
    out = tmp_path / "out" / "fitted.yaml"
    assert main(["sim", "calibrate", str(log), "--out", str(out), "--lang", "vi"]) == 0
    names = sorted(p.name for p in out.parent.iterdir())
    assert names == ["fitted-catalog.csv", "fitted-report.html", "fitted-units.csv", "fitted.yaml"]
    page = (out.parent / "fitted-report.html").read_text(encoding="utf-8")
    assert "Báo cáo hiệu chỉnh" in page and "<svg" in page and "2024-03" in page
    assert main(["sim", "validate", str(out)]) == 0
    assert "wrote:" in capsys.readouterr().out


DRIFTING = RecordMap.model_validate(
    {
        "columns": {"case": "case", "activity": "activity", "start": "start", "complete": "time",
                    "resource": "who", "channel": "channel", "supplement_requested": "supplement"},
        "activities": {"receive": ["register"], "examine": ["check"], "decide": ["sign"]},
    }
)  # fmt: skip


def _drifting_log(path: Path) -> Path:
    """12 weeks of a desk whose world changed on 29 April 2024: 10 dossiers a working day, 20% online,
    10% supplemented and 30 minutes of checking before; 20 a day, 80% online, 40% supplemented and 60
    minutes after (a new system and a new procedure form). Deterministic: the k-th dossier of a day."""
    rows = ["case,activity,start,time,who,channel,supplement"]
    first, change = dt.date(2024, 3, 4), dt.date(2024, 4, 29)
    working = set(WorkingCalendar(first, 100, [(450, 1020)]).day_dates)
    k = 0
    for offset in range(12 * 7):
        date = first + dt.timedelta(days=offset)
        if date not in working:  # the Vietnamese calendar's: 18/4, 29/4-1/5 off, Saturday 4 May worked
            continue
        after = date >= change
        per_day, online, supplemented, effort = (20, 0.8, 0.4, 60) if after else (10, 0.2, 0.1, 30)
        for slot in range(per_day):
            received = dt.datetime.combine(date, dt.time(7, 45)) + dt.timedelta(minutes=12 * slot)
            checked = received + dt.timedelta(minutes=effort)
            channel = "self_service" if (slot + 0.5) / per_day < online else "counter"
            flag = "true" if (slot * 7 % per_day + 0.5) / per_day < supplemented else "false"
            common = f"{channel},{flag}"
            rows += [
                f"D{k},register,,{received:%Y-%m-%d %H:%M},,{common}",
                f"D{k},check,{received:%Y-%m-%d %H:%M},{checked:%Y-%m-%d %H:%M},clerk{slot % 5},{common}",
                f"D{k},sign,,{checked + dt.timedelta(minutes=5):%Y-%m-%d %H:%M},head,{common}",
            ]
            k += 1
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_recency_weighting_listens_to_the_recent_weeks(tmp_path: Path) -> None:
    records = read_records(_drifting_log(tmp_path / "drift.csv"), DRIFTING)
    flat = calibrate(records)
    recent = calibrate(records, half_life=7)
    catalog = {"flat": flat.catalog[0], "recent": recent.catalog[0]}
    rate = {
        name: c.scenario["demand"]["dossiers_per_year"] for name, c in (("flat", flat), ("recent", recent))
    }
    online = {
        name: c.scenario["channels"]["self_service_propensity"]
        for name, c in (("flat", flat), ("recent", recent))
    }
    # 5 weeks after the change of 12: the flat fit sits between, a week's half-life near the new world
    # (the 7 weeks before weigh 2^-5 = 3% and less)
    working_days = 250
    assert 12 * working_days < rate["flat"] < 16 * working_days
    assert rate["recent"] == pytest.approx(20 * working_days, rel=0.06)
    assert 0.3 < online["flat"] < 0.6 and online["recent"] == pytest.approx(0.8, abs=0.03)
    assert 0.15 < catalog["flat"]["supplement_prob"] < 0.3
    assert catalog["recent"]["supplement_prob"] == pytest.approx(0.4, abs=0.03)
    assert 35 < catalog["flat"]["effort_min"] < 55 and catalog["recent"]["effort_min"] == pytest.approx(
        60, rel=0.05
    )
    assert recent.fits["province.office"].mean == pytest.approx(60, rel=0.05)
    assert any("half-life 7 days" in note for note in recent.notes)
    # the window is the same: deadlines and staffing do not move with the weights
    assert recent.window == flat.window


def test_the_report_shows_the_drift_month_by_month(tmp_path: Path) -> None:
    from dvclab.sim.calibrate_report import monthly_drift

    records = read_records(_drifting_log(tmp_path / "drift.csv"), DRIFTING)
    calibration = calibrate(records, half_life=30)
    assert calibration.workload is not None and calibration.calendar is not None
    drift = monthly_drift(records, calibration.calendar, calibration.workload)
    rows = {row["month"]: row for row in drift["rows"]}
    assert list(rows) == ["2024-03", "2024-04", "2024-05"]
    assert rows["2024-03"]["per_day"] == pytest.approx(10, abs=0.01)  # every working day, none on weekends
    assert rows["2024-05"]["per_day"] == pytest.approx(20, abs=0.01)
    assert rows["2024-03"]["self_service"] == pytest.approx(0.2) and rows["2024-05"][
        "self_service"
    ] == pytest.approx(0.8)
    assert rows["2024-03"]["supplement"] == pytest.approx(0.1) and rows["2024-05"][
        "supplement"
    ] == pytest.approx(0.4)
    (pool,) = drift["pools"]
    effort = dict(zip(drift["labels"], drift["effort"][0], strict=True))
    assert effort["2024-03"] == pytest.approx(30) and effort["2024-05"] == pytest.approx(60)
    # five clerks check (the head signs, no examination): five officers every month
    assert list(drift["officers"][0]) == [5.0, 5.0, 5.0] and pool == "province.office"


def test_the_cli_takes_a_half_life_and_refuses_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = _drifting_log(tmp_path / "drift.csv")
    for value in ("0", "-3", "soon", "inf"):
        with pytest.raises(SystemExit) as exit_:
            main(
                [
                    "sim",
                    "calibrate",
                    str(log),
                    "--recency-half-life",
                    value,
                    "--out",
                    str(tmp_path / "x.yaml"),
                ]
            )
        assert exit_.value.code == 2
        assert "--recency-half-life" in capsys.readouterr().err
    with pytest.raises(RecordsError, match="expected a positive number of days"):
        calibrate(read_records(log, DRIFTING), half_life=0.0)
    map_file = tmp_path / "map.yaml"
    map_file.write_text(
        yaml.safe_dump(DRIFTING.model_dump(exclude={"source"}, mode="json")), encoding="utf-8"
    )
    out = tmp_path / "out" / "fitted.yaml"
    options = ["--map", str(map_file), "--recency-half-life", "14", "--out", str(out)]
    assert main(["sim", "calibrate", str(log), *options]) == 0
    assert "recency weighting: half-life 14 days" in capsys.readouterr().out
    page = (out.parent / "fitted-report.html").read_text(encoding="utf-8")
    assert "recency weighting: half-life 14 days" in page and "Median first-pass effort per pool" in page


@pytest.mark.slow  # a 90-day run for its event log, then the calibration (~3 s)
def test_the_effort_family_comes_back_and_is_written(tmp_path: Path) -> None:
    # the truth draws gamma effort (CV 0.5): AIC over ~5,000 dossiers' effort factors tells it from the
    # lognormal the recovery log draws (test_work_comes_back gets lognormal back)
    log = _log(tmp_path, 90, **{"back_office.effort_family": "gamma", "back_office.effort_cv": 0.5})
    calibration = calibrate(read_records(log, load_map()))
    written = calibration.write(tmp_path / "out" / "fitted.yaml")
    scenario, _ = load_scenario(written[0])
    assert scenario.back_office.effort_family == "gamma"
    assert scenario.back_office.effort_cv == pytest.approx(0.5, abs=0.05)
    assert (
        calibration.effort is not None
        and calibration.effort.aic["gamma"] < calibration.effort.aic["lognormal"]
    )
    assert any("the scenario draws gamma" in line for line in calibration.summary())


def test_effort_no_family_fits_is_written_as_empirical_quantiles(tmp_path: Path) -> None:
    # the drifting desk checks in exactly 30 or 60 minutes: two spikes, which no family fits
    calibration = calibrate(read_records(_drifting_log(tmp_path / "drift.csv"), DRIFTING))
    scenario, _ = load_scenario(calibration.write(tmp_path / "out" / "fitted.yaml")[0])
    office = scenario.back_office
    assert office.effort_family == "empirical" and office.effort_quantiles is not None
    assert len(office.effort_quantiles) == 101
    # the two spikes, 60 minutes twice 30, in their proportions (7 weeks at 10 a day before the change)
    low, high = office.effort_quantiles[0], office.effort_quantiles[-1]
    assert high / low == pytest.approx(2.0, rel=1e-3)
    share_low = sum(q == low for q in office.effort_quantiles) / 101
    assert calibration.workload is not None
    efforts = calibration.workload.case_effort
    assert share_low == pytest.approx(float(np.mean(efforts == 30)), abs=0.02)  # those before the change


def test_a_register_naming_only_the_counter_falls_back_to_receptions_at_once(tmp_path: Path) -> None:
    log = _log(tmp_path, 20, **{"counters.officers": TRUE_COUNTERS})
    text = log.read_text(encoding="utf-8")
    assert "counter.province.0#1" in text  # the run's register names the officer at the counter
    plain = tmp_path / "plain.csv"
    plain.write_text(re.sub(r"(counter\.\w+\.\d+)#\d+", r"\1", text), encoding="utf-8")
    named = calibrate(read_records(log, load_map()))
    unnamed = calibrate(read_records(plain, load_map()))
    assert any("distinct officers who received citizens" in note for note in named.notes)
    assert any("lower bound where a counter never fills" in note for note in unnamed.notes)
    officers = unnamed.scenario["counters"]["officers"]
    assert all(1 <= officers[level] <= TRUE_COUNTERS[level] for level in TRUE_COUNTERS)
    assert officers["province"] < named.scenario["counters"]["officers"]["province"]
