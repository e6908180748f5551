"""The sources of records: CSV, XLSX (openpyxl) and XES (xml.etree), each as a header and rows of values;
and the values: timestamps (``Clock``), yes/no flags, channel and level names.

Each source yields ``(where, values)`` after its header, ``where`` naming the row as the user finds it
(``row 17``, ``sheet 'Hồ sơ', row 17``, ``trace 'HS1', event 3``), and refuses what it cannot read with
``RecordsError`` naming the file.
"""

from __future__ import annotations

import csv
import datetime as dt
import math
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dvclab.hints import did_you_mean
from dvclab.sim.record_map import RecordMap, RecordsError

Row = tuple[str, list[Any]]  # (where, values)
_BASE = dt.datetime(1970, 1, 1)  # times are local wall-clock minutes since


def csv_rows(path: Path, delimiter: str) -> tuple[list[str], Iterator[Row]]:
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as error:
        raise RecordsError(f"{path}: cannot open the records ({error.strerror or error})") from None
    reader = csv.reader(handle, delimiter=delimiter)
    try:
        header = next(reader, None)
    except (csv.Error, UnicodeDecodeError) as error:
        handle.close()
        raise RecordsError(f"{path}: not a readable CSV ({error})") from None
    if header is None:
        handle.close()
        raise RecordsError(f"{path}: empty file; expected a header row and at least one record")

    def rows() -> Iterator[Row]:
        with handle:
            try:
                for line, values in enumerate(reader, start=2):
                    if values:
                        yield f"row {line}", values
            except (csv.Error, UnicodeDecodeError) as error:
                raise RecordsError(f"{path}: row {reader.line_num}: not readable CSV ({error})") from None

    return [h.strip() for h in header], rows()


def xlsx_rows(path: Path, sheet: str | None) -> tuple[list[str], Iterator[Row]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (OSError, InvalidFileException, KeyError, ValueError) as error:
        raise RecordsError(f"{path}: not a readable XLSX workbook ({error})") from None
    if sheet is not None and sheet not in book.sheetnames:
        names = ", ".join(repr(n) for n in book.sheetnames)
        book.close()
        raise RecordsError(
            f"{path}: no sheet {sheet!r}{did_you_mean(sheet, book.sheetnames)}; sheets: {names}"
        )
    table = book[sheet] if sheet is not None else book.worksheets[0]
    values = table.iter_rows(values_only=True)
    header = next(values, None)
    if header is None or all(v is None for v in header):
        book.close()
        raise RecordsError(f"{path}: sheet {table.title!r} is empty; expected a header row and records")
    header_names = ["" if v is None else str(v).strip() for v in header]

    def rows() -> Iterator[Row]:
        try:
            for line, row in enumerate(values, start=2):
                if any(v is not None and v != "" for v in row):
                    yield f"sheet {table.title!r}, row {line}", ["" if v is None else v for v in row]
        finally:
            book.close()

    return header_names, rows()


def xes_rows(path: Path) -> tuple[list[str], Iterator[Row]]:
    """XES flattened: one row per activity instance; trace attributes as ``case:KEY``; a ``start`` event
    paired with the next ``complete`` of the same activity and resource gives ``time:start`` (in a log
    with start events, a complete without one is an instant)."""
    try:
        tree = ET.parse(path)
    except (OSError, ET.ParseError) as error:
        raise RecordsError(f"{path}: not readable XES ({error})") from None
    root = tree.getroot()
    strip = lambda tag: tag.rsplit("}", 1)[-1]  # noqa: E731
    flat: list[tuple[str, dict[str, str]]] = []
    keys: dict[str, None] = {}
    for number, trace in enumerate((t for t in root if strip(t.tag) == "trace"), start=1):
        attributes = {f"case:{a.get('key')}": a.get("value", "") for a in trace if strip(a.tag) != "event"}
        events = [e for e in trace if strip(e.tag) == "event"]
        name = attributes.get("case:concept:name", f"#{number}")
        if not events:
            raise RecordsError(
                f"{path}: trace {name!r} (trace {number}) has no events; expected at least one"
            )
        started: dict[tuple[str, str], list[str]] = {}
        for index, event in enumerate(events, start=1):
            values = {a.get("key", ""): a.get("value", "") for a in event}
            transition = values.pop("lifecycle:transition", "complete").lower()
            pair = (values.get("concept:name", ""), values.get("org:resource", ""))
            if transition == "start":
                started.setdefault(pair, []).append(values.get("time:timestamp", ""))
                continue
            if started.get(pair):
                values["time:start"] = started[pair].pop(0)
            row = {**attributes, **values}
            keys.update(dict.fromkeys(row))
            flat.append((f"trace {name!r}, event {index}", row))
    if not flat:
        raise RecordsError(f"{path}: no traces; expected a log with at least one trace of events")
    if "time:start" in keys:  # a log with start events: a complete without one is an instant
        for _, row in flat:
            row.setdefault("time:start", row.get("time:timestamp", ""))
    header = list(keys) + (["time:start"] if "time:start" not in keys else [])

    def rows() -> Iterator[Row]:
        for where, row in flat:
            yield where, [row.get(k, "") for k in header]

    return header, rows()


# -- values -----------------------------------------------------------------------------------------
class Clock:
    """Timestamps to local wall-clock minutes since 1970; refuses a file mixing offsets with naive times."""

    def __init__(self, path: Path, record_map: RecordMap) -> None:
        self.path = path
        self.zone = record_map.zone
        self.format = record_map.timestamp_format
        self.aware_at: str | None = None
        self.naive_at: str | None = None

    def minutes(self, value: Any, where: str, column: str) -> float:
        if value is None or value == "":
            return math.nan
        if isinstance(value, dt.datetime):
            moment = value
        else:
            text = str(value).strip()
            if not text:
                return math.nan
            try:
                if self.format:
                    moment = dt.datetime.strptime(text, self.format)
                else:
                    moment = dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
            except ValueError:
                expected = (
                    f"the map's timestamp_format {self.format!r}"
                    if self.format
                    else ("ISO 8601, e.g. 2024-03-01T08:15:00+07:00 (or set timestamp_format in the map)")
                )
                problem = f"{where}, column {column!r}: {text!r} is not a timestamp"
                raise RecordsError(f"{self.path}: {problem}; expected {expected}") from None
        if moment.tzinfo is not None:
            self.aware_at = self.aware_at or f"{where}, column {column!r}"
            moment = moment.astimezone(self.zone).replace(tzinfo=None)
        else:
            self.naive_at = self.naive_at or f"{where}, column {column!r}"
        if self.aware_at and self.naive_at:
            raise RecordsError(
                f"{self.path}: mixed time zones: {self.aware_at} has a UTC offset but {self.naive_at} has "
                "none; expected every timestamp with an offset, or none (then read in the map's timezone)"
            )
        return (moment - _BASE).total_seconds() / 60.0

    def describe(self) -> str:
        if self.aware_at:
            return f"with UTC offsets, converted to {self.zone}"
        return f"without offsets, read as {self.zone}"


def flag(value: Any, truths: set[str]) -> float:
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        return float(value)
    return 1.0 if str(value).strip().lower() in truths else 0.0


def vocabulary(value: str, mapping: dict[str, Any], allowed: list[str], what: str, where: str) -> str:
    if value in mapping:
        return str(mapping[value].value if hasattr(mapping[value], "value") else mapping[value])
    if value in allowed or value == "":
        return value
    raise RecordsError(
        f"{where}: {value!r} is not a {what}{did_you_mean(value, allowed)}; expected one of "
        f"{', '.join(allowed)}, or map it under {what}s: in the column map"
    )
