"""The event log of a run: the register format, written on request, cheap when off, read back alike."""

from __future__ import annotations

import csv
import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from dvclab.cli import main
from dvclab.sim.event_log import REGISTER_COLUMNS, EventLogRunner, EventRecorder, take_event_log
from dvclab.sim.experiment import single_run
from dvclab.sim.scenario import load_scenario

CATALOG = """\
code,name,group,level,agency,online_level,deadline_days,fee_vnd,requires_originals,interlinked_group,interlinked_step,demand_weight,supplement_prob,reception_min,effort_min,approval_days,sourced
X-A,Chứng thực A,certification,commune,justice,full,3,0,0,,0,1.0,0.1,10,30,0.5,1
H-B,Đất đai B,land,district,land,partial,10,50000,0,,0,1.0,0.3,15,90,2,1
T-C,Tư pháp C,justice,province,justice,full,5,200000,0,,0,1.0,0.05,10,20,1,1
"""
UNITS = """\
unit,level,number,district,demand_share,staffing
province.0,province,0,,1.0,
district.0,district,0,,0.5,
district.1,district,1,,0.5,
commune.0,commune,0,0,0.3,
commune.1,commune,1,0,0.2,
commune.2,commune,2,1,0.3,
commune.3,commune,3,1,0.2,
"""
# The truth the calibration must recover (test_calibrate): staffing, demand, channels, supplements.
TRUE_STAFFING = {"commune": {"justice": 1}, "district": {"land": 3}, "province": {"justice": 2}}
SMALL = {
    "name": "small",
    "catalog": "catalog.csv",
    "units": "units.csv",
    "run": {"start_date": "2024-03-01", "horizon_days": 30, "replications": 1, "seed": 11},
    "demand": {
        "dossiers_per_year": 20000,
        "level_shares": {"province": 0.2, "district": 0.3, "commune": 0.5},
    },
    "geography": {"districts": 2, "communes": 4},
    "back_office": {"staffing": TRUE_STAFFING},
    "startup": {"warmup_days": 7},
}


def small_province(folder: Path, **changes: object) -> Path:
    """A three-procedure, four-commune province in ``folder``; returns its scenario file."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "catalog.csv").write_text(CATALOG, encoding="utf-8")
    (folder / "units.csv").write_text(UNITS, encoding="utf-8")
    data = json.loads(json.dumps(SMALL))
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
    path = folder / "small.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow  # a whole `dvclab sim run` (its imports alone take seconds)
def test_run_writes_the_register_as_csv_and_xes(tmp_path: Path) -> None:
    scenario = small_province(tmp_path / "in")
    options = ["--event-log", "--no-report", "--jobs", "1", "--horizon-days", "10", "--out", str(tmp_path)]
    code = main(["sim", "run", str(scenario), *options])
    assert code == 0
    (folder,) = (tmp_path / "small").iterdir()
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["event_log"] == ["event_log.csv", "event_log.xes"]
    assert not list(folder.glob(".*.tmp")), "an atomic write left its temporary file"
    rows = _rows(folder / "event_log.csv")
    assert tuple(rows[0]) == REGISTER_COLUMNS
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    cases = {row["receipt_code"] for row in rows}
    assert len(cases) == kpis["dossiers"]["mean"], "one case per counted dossier"
    by_case: dict[str, list[dict[str, str]]] = {}
    for row in rows:
        by_case.setdefault(row["receipt_code"], []).append(row)
    for events in by_case.values():
        activities = [e["activity"] for e in events]
        assert activities[0] == "receive" and activities[-2:] == ["decide", "return_result"]
        assert events[0]["complete_time"] == events[0]["received_at"]
        assert events[-2]["complete_time"] == events[-2]["finished_at"]
        assert all(e["start_time"] <= e["complete_time"] for e in events)
    examined = [r for r in rows if r["activity"] == "examine"]
    assert examined and all(r["resource"].count("#") == 1 for r in examined)
    # officers named per pool never exceed the pool's staff (district land: 3 per district)
    land = {r["resource"] for r in examined if r["resource"].startswith("district.land.")}
    assert land and all(int(name.split("#")[1]) < 3 for name in land)
    supplements = [r for r in rows if r["activity"] == "request_supplement"]
    assert supplements and all(r["supplement_requested"] == "true" for r in supplements)
    assert all(r["received_at"].endswith("+07:00") for r in rows[:50])

    root = ET.parse(folder / "event_log.xes").getroot()
    traces = root.findall("{http://www.xes-standard.org/}trace")
    assert len(traces) == len(cases)


@pytest.mark.slow  # a whole `dvclab sim run`
def test_the_event_log_arrives_with_the_run_in_one_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dvclab.sim import studies

    seen: list[tuple[str, list[str]]] = []

    def failing(folder: Path, table: object) -> list[str]:
        seen.append((folder.name, [p.name for p in (tmp_path / "small").iterdir()]))
        raise OSError("disk full")

    monkeypatch.setattr(studies, "write_event_log", failing)
    scenario = small_province(tmp_path / "in")
    options = ["--event-log", "--no-report", "--jobs", "1", "--horizon-days", "5", "--out", str(tmp_path)]
    with pytest.raises(OSError, match="disk full"):
        main(["sim", "run", str(scenario), *options])
    ((staging, visible),) = seen
    assert staging.startswith(".") and staging.endswith(".partial"), "written into the staging folder"
    assert visible == [staging], "no run folder is visible while its event log is written"
    assert list((tmp_path / "small").iterdir()) == [], "a failed event log leaves no run folder behind"


def test_the_observer_does_not_change_the_run(tmp_path: Path) -> None:
    scenario, catalog = load_scenario(small_province(tmp_path), **{"run.horizon_days": 10})
    plain = single_run(scenario, catalog, 0)
    logged = EventLogRunner()(scenario, catalog, 0)
    table = take_event_log([logged])
    assert table is not None and len(table) > 0
    assert logged.kpis == plain.kpis
    assert not hasattr(logged, "event_log"), "the table is taken off the output before it is saved"


def test_the_recorder_keeps_what_it_is_told() -> None:
    recorder = EventRecorder()
    recorder.step(3, "district.land.1", 90.0, 600.0)
    recorder.supplement(3, 600.0, 3000.0)
    assert recorder.steps == [(3, "district.land.1", 90.0, 600.0, "examine")]
    assert recorder.supplements == [(3, 600.0, 3000.0)]


@pytest.mark.parametrize("replication", [1])
def test_only_replication_zero_is_logged(tmp_path: Path, replication: int) -> None:
    scenario, catalog = load_scenario(small_province(tmp_path), **{"run.horizon_days": 5})
    assert take_event_log([EventLogRunner()(scenario, catalog, replication)]) is None
