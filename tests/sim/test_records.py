"""Reading records: the register of a run in CSV, XES and XLSX alike; repairs counted; bad input named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from openpyxl import Workbook

from dvclab.sim import records as records_module
from dvclab.sim import records_fast
from dvclab.sim.event_log import EventLogRunner, take_event_log
from dvclab.sim.record_map import RecordMap, RecordsError, load_map
from dvclab.sim.records import read_records
from dvclab.sim.scenario import load_scenario
from tests.sim.test_event_log import small_province

XES_MAP = """\
columns:
  case: "case:concept:name"
  activity: "concept:name"
  start: "time:start"
  complete: "time:timestamp"
  resource: "org:resource"
  channel: "case:channel"
  received_at: "case:received_at"
  finished_at: "case:finished_at"
activities: {decide: [decide], examine: [examine]}
"""
GENERIC = RecordMap.model_validate(
    {"columns": {"case": "case", "activity": "activity", "complete": "time", "resource": "who"}}
)


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("register")
    scenario, catalog = load_scenario(small_province(folder), **{"run.horizon_days": 8})
    table = take_event_log([EventLogRunner()(scenario, catalog, 0)])
    assert table is not None
    (folder / "log.csv").write_text(table.csv_text(), encoding="utf-8")
    (folder / "log.xes").write_bytes(table.xes_bytes())
    return folder


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_the_register_reads_back_whole(register: Path) -> None:
    records = read_records(register / "log.csv", load_map())
    lines = (register / "log.csv").read_text(encoding="utf-8").splitlines()
    assert records.report.rows == len(lines) - 1
    assert records.report.duplicates == 0 and records.report.open_cases == 0
    assert records.report.start_from_case == records.report.start_from_resource == 0  # starts are written
    assert records.epoch.isoformat() == "2024-03-01"  # counted dossiers start with the horizon
    assert set(records.text["channel"]) <= {
        "self_service",
        "online_with_visit",
        "assisted",
        "counter",
        "postal",
    }
    finish = records.finish()
    assert np.all(finish >= records.arrival())
    assert np.allclose(finish, records.times["finished_at"])


def test_the_column_reader_agrees_with_the_row_reader(
    register: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = read_records(register / "log.csv", load_map())

    def refuse(*_args: object) -> None:
        raise records_fast.NotFast

    monkeypatch.setattr(records_module, "read_fast", refuse)
    slow = read_records(register / "log.csv", load_map())
    assert fast.case_ids == slow.case_ids and fast.activity_names == slow.activity_names
    for name in ("case", "activity", "resource", "start", "complete"):
        assert np.array_equal(getattr(fast, name), getattr(slow, name), equal_nan=True), name
    assert fast.text == slow.text
    for name, values in slow.times.items():
        assert np.allclose(fast.times[name], values, equal_nan=True), name
    assert fast.report == slow.report


def test_quoted_fields_take_the_fast_path_unless_they_span_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    named = GENERIC.model_copy(update={"columns": GENERIC.columns.model_copy(update={"unit": "unit"})})
    header = "case,activity,time,who,unit\n"
    quoted = _write(
        tmp_path / "quoted.csv",
        header + 'A,receive,2024-03-04 08:00,"Lê, An","Phường 1, Quận 3"\nB,receive,2024-03-04 08:10,an,x',
    )  # and no newline after the last row
    calls: list[str] = []
    real = records_module._read
    monkeypatch.setattr(records_module, "_read", lambda *a: calls.append("rows") or real(*a))
    fast = read_records(quoted, named)  # the C reader unquotes, as the csv module does
    assert fast.resource_names == ["Lê, An", "an"] and fast.text["unit"] == ["Phường 1, Quận 3", "x"]
    assert calls == [], "quoted fields on one line stay on the fast path"
    spanning = _write(tmp_path / "spanning.csv", header + 'A,x,2024-03-04 08:00,an,"Phường 1\nQuận 3"\n')
    assert read_records(spanning, named).text["unit"] == ["Phường 1\nQuận 3"]
    assert calls == ["rows"], "a field spanning lines is read row by row"


def test_a_duplicate_among_simultaneous_events_is_dropped_and_file_order_kept(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "ties.csv",
        "case,activity,time,who\n"
        "A,receive,2024-03-04 08:00,desk\n"
        "A,note,2024-03-04 08:00,desk\n"  # the same moment, another activity: kept, in file order
        "A,receive,2024-03-04 08:00,desk\n"  # a copy of the first row, not its neighbour
        "A,receive,2024-03-04 08:00,an\n",  # another resource: kept
    )
    records = read_records(path, GENERIC)
    assert records.report.duplicates == 1
    assert [records.activity_names[a] for a in records.activity] == ["receive", "note", "receive"]
    assert [records.resource_names[r] for r in records.resource] == ["desk", "desk", "an"]


def test_xes_gives_the_same_events_as_csv(register: Path) -> None:
    from_csv = read_records(register / "log.csv", load_map())
    xes_map = load_map(_write(register / "xes.yaml", XES_MAP))
    from_xes = read_records(register / "log.xes", xes_map)
    assert from_xes.case_ids == from_csv.case_ids
    assert from_xes.report.events == from_csv.report.events
    assert np.allclose(from_xes.complete, from_csv.complete)
    assert np.allclose(from_xes.start, from_csv.start)


def test_xlsx_with_its_sheet(tmp_path: Path) -> None:
    book = Workbook()
    book.active.title = "Notes"
    sheet = book.create_sheet("Hồ sơ")
    sheet.append(["case", "activity", "time", "who"])
    sheet.append(["A1", "receive", "2024-03-04T08:00:00", "counter"])
    sheet.append(["A1", "examine", "2024-03-04T09:30:00", "an"])
    book.save(tmp_path / "r.xlsx")
    mapped = GENERIC.model_copy(update={"sheet": "Hồ sơ"})
    records = read_records(tmp_path / "r.xlsx", mapped)
    assert records.case_ids == ["A1"] and records.report.events == 2
    with pytest.raises(
        RecordsError, match=r"no sheet 'Ho so'.*did you mean 'Hồ sơ'.*sheets: 'Notes', 'Hồ sơ'"
    ):
        read_records(tmp_path / "r.xlsx", GENERIC.model_copy(update={"sheet": "Ho so"}))


def test_missing_starts_are_estimated_and_said_which(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "log.csv",
        "case,activity,time,who\n"
        "A,receive,2024-03-04 08:00,desk\n"
        "A,examine,2024-03-04 09:00,an\n"  # case's previous: 08:00
        "B,receive,2024-03-04 08:10,desk\n"  # the desk's previous completion: A's reception, 08:00
        "B,examine,2024-03-04 10:00,an\n"  # resource an finished A at 09:00, later than B's 08:10
        "B,examine,2024-03-04 10:00,an\n",  # a duplicate
    )
    records = read_records(path, GENERIC)
    report = records.report
    assert (report.duplicates, report.start_from_case, report.start_from_resource) == (1, 1, 2)
    assert report.open_cases is None  # a generic log does not say when a dossier is finished
    examine = records.activity == records.activity_names.index("examine")
    assert sorted((records.complete - records.start)[examine].tolist()) == [60.0, 60.0]
    assert "1 from the dossier's previous event, 2 from the resource's previous completion" in "\n".join(
        report.lines()
    )


def test_naive_times_are_read_in_the_maps_zone_and_offsets_converted(tmp_path: Path) -> None:
    naive = read_records(
        _write(tmp_path / "a.csv", "case,activity,time,who\nA,x,2024-03-04 08:00,an\n"), GENERIC
    )
    utc = read_records(
        _write(tmp_path / "b.csv", "case,activity,time,who\nA,x,2024-03-04T01:00:00Z,an\n"), GENERIC
    )
    assert naive.complete.tolist() == utc.complete.tolist() == [8 * 60.0]


def test_open_cases_are_counted(tmp_path: Path) -> None:
    mapped = GENERIC.model_copy(
        update={"activities": GENERIC.activities.model_copy(update={"decide": ["sign"]})}
    )
    text = (
        "case,activity,time,who\nA,x,2024-03-04 08:00,an\nA,sign,2024-03-05 08:00,\nB,x,2024-03-04 09:00,an\n"
    )
    records = read_records(_write(tmp_path / "log.csv", text), mapped)
    assert records.report.open_cases == 1
    assert np.isnan(records.finish()[records.case_ids.index("B")])


# -- bad input: the file, the row, the column and what was expected --------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("case,activity,when,who\nA,x,2024-03-04 08:00,an\n",
         r"column 'time' \(the map's columns.complete\) is not in the header; "
         r"the header has: case, activity, when, who"),
        ("case,activity,time,who\nA,x,2024-03-04 08:00,an\nA,y,04/03/2024 9h,an\n",
         r"row 3, column 'time': '04/03/2024 9h' is not a timestamp; expected ISO 8601"),
        ("case,activity,time,who\nA,x,2024-03-04 08:00,an\nB,,,\n", r"row 3: dossier 'B' has no event here"),
        ("case,activity,time,who\nA,x,2024-03-04T08:00:00+07:00,an\nA,y,2024-03-04 09:00,an\n",
         r"mixed time zones: row 2, column 'time' has a UTC offset but row 3, column 'time' has none"),
        ("", r"empty file; expected a header row"),
        ("case,activity,time,who\n", r"no records below the header"),
    ],
    ids=["missing column", "unparseable timestamp", "case with no events", "mixed time zones", "empty file",
         "header only"],
)  # fmt: skip
def test_bad_records_are_named(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path / "log.csv", text)
    with pytest.raises(RecordsError, match=expected) as caught:
        read_records(path, GENERIC)
    assert str(path) in str(caught.value)


def test_a_trace_without_events_is_named(tmp_path: Path) -> None:
    trace = '<trace><string key="concept:name" value="HS1"/></trace>'
    xes = f'<log xmlns="http://www.xes-standard.org/">{trace}</log>'
    path = _write(tmp_path / "log.xes", xes)
    with pytest.raises(RecordsError, match=r"trace 'HS1' \(trace 1\) has no events"):
        read_records(path, load_map(_write(tmp_path / "m.yaml", XES_MAP)))


def test_a_bad_map_names_the_field_and_its_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "m.yaml", "timezone: Asia/Ho_Chi_Minh\ncolumns:\n  case: id\n  activty: step\n")
    with pytest.raises(RecordsError) as caught:
        load_map(path)
    message = str(caught.value)
    assert f"{path}:4: columns.activty: unknown field (did you mean 'activity'?)" in message
    assert f"{path}:2: columns.activity: required" in message
    with pytest.raises(RecordsError, match=r"m.yaml, line 2, column 1: not valid YAML"):
        load_map(_write(tmp_path / "m.yaml", "columns: [case\n"))
