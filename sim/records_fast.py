"""The fast path of reading CSV records: whole columns at a time, timestamps parsed by NumPy.

A province's register holds millions of rows; parsing each timestamp in Python costs most of the time.
Here rows are taken in chunks, the needed columns pulled out together, and ISO 8601 timestamps parsed as
NumPy ``datetime64`` columns: naive ones as they are, ones that all carry the map's zone's own offset
(``+07:00`` in a Vietnamese export) by dropping it (they are that zone's wall-clock time already).
Anything else (another offset, a format, a short row, an empty or bad value) gives up with
``NotFast``, and ``sim.records`` reads the file again row by row, which converts every value or names
the row, the column and what was expected.
"""

from __future__ import annotations

import csv
import datetime as dt
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np

from dvclab.catalog import Channel, Level
from dvclab.sim.record_map import RecordMap

CHUNK = 200_000
_EPOCH = np.datetime64("1970-01-01T00:00:00", "ms")


class NotFast(Exception):
    """The file needs the row-by-row reader (which gives the precise error, if there is one)."""


def _zone_offset(zone: Any, sample: str) -> str:
    """The offset the zone had at ``sample``'s wall-clock time, written like ISO 8601 (``+07:00``)."""
    moment = dt.datetime.fromisoformat(sample[:19]).replace(tzinfo=zone)
    minutes = int(moment.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def parse_times(values: list[str], record_map: RecordMap, state: dict[str, str]) -> np.ndarray:
    """Local wall-clock minutes since 1970 (NaN where empty); ``state`` remembers offset or naive."""
    if record_map.timestamp_format:
        raise NotFast
    text = np.asarray(values, dtype=str)
    filled = text != ""
    if not filled.any():
        return np.full(len(text), np.nan)
    lengths = np.char.str_len(text[filled])
    first = str(text[filled][0])
    if len(first) == 25 and first[19] in "+-":
        kind = "aware"
        offset = _zone_offset(record_map.zone, first)
        if (lengths != 25).any() or not (np.char.endswith(text[filled], offset)).all():
            raise NotFast
        base = text.astype("U19")  # the wall-clock part: the offset is the zone's own
    else:
        kind = "naive"
        if (lengths > 23).any() or np.char.endswith(text[filled], "Z").any():
            raise NotFast
        base = text
    if state.setdefault("kind", kind) != kind:
        raise NotFast  # mixed: the row-by-row reader names the two rows
    try:
        stamps = base.astype("datetime64[ms]")
    except ValueError:
        raise NotFast from None
    minutes = (stamps - _EPOCH).astype("timedelta64[ms]").astype(float) / 60_000.0
    minutes[~filled | np.isnat(stamps)] = np.nan
    if np.isnat(stamps[filled]).any():
        raise NotFast
    return minutes


def read_fast(path: Path, record_map: RecordMap, index: dict[str, int], width: int) -> dict[str, Any]:
    """The columns of a CSV as arrays and code lists, for ``sim.records`` to assemble (or ``NotFast``)."""
    cases: dict[str, int] = {}
    activities: dict[str, int] = {}
    resources: dict[str, int] = {"": -1}
    out: dict[str, list[Any]] = {k: [] for k in ("case", "activity", "resource", "start", "complete")}
    firsts: dict[str, list[Any]] = {name: [] for name in index if name not in out}
    state: dict[str, str] = {}
    rows = 0
    delimiter = record_map.delimiter
    events = [index[k] for k in ("case", "activity", "start", "complete", "resource") if k in index]
    cut = max(events) + 1  # the event columns are split off each line; the rest is parsed only once a case
    with path.open(encoding="utf-8-sig", newline="") as handle:
        next(handle, None)
        while True:
            lines = [line.rstrip("\r\n") for line in islice(handle, CHUNK)]
            if not lines:
                break
            if any(line.count('"') & 1 for line in lines):
                raise NotFast  # a quoted field spanning lines: only the csv module can follow it
            parts = [line.split(delimiter, cut) for line in lines]
            if any(len(fields) < cut for fields in parts):
                raise NotFast
            rows += len(lines)
            columns: dict[int, list[str]] = {i: [fields[i] for fields in parts] for i in events}
            if any('"' in "".join(values) for values in columns.values()):
                raise NotFast  # quoted event fields: the csv module unquotes them
            case_ids = columns[index["case"]]
            activity = columns[index["activity"]]
            if "" in set(case_ids) or "" in set(activity):
                raise NotFast
            seen = len(cases)
            codes = np.fromiter((cases.setdefault(c, len(cases)) for c in case_ids), np.int64, len(case_ids))
            out["case"].append(codes)
            out["activity"].append(
                np.fromiter(
                    (activities.setdefault(a, len(activities)) for a in activity), np.int64, len(activity)
                )
            )
            if "resource" in index:
                names = columns[index["resource"]]
                out["resource"].append(
                    np.fromiter(
                        (resources.setdefault(r, len(resources) - 1) for r in names), np.int64, len(names)
                    )
                )
            else:
                out["resource"].append(np.full(len(lines), -1))
            start = parse_times(columns[index["start"]], record_map, state) if "start" in index else None
            complete = (
                parse_times(columns[index["complete"]], record_map, state) if "complete" in index else None
            )
            if complete is None:
                complete = start
            elif start is not None:
                complete = np.where(np.isnan(complete), start, complete)
            if np.isnan(complete).any():  # type: ignore[arg-type]
                raise NotFast
            out["start"].append(start if start is not None else np.full(len(lines), np.nan))
            out["complete"].append(complete)
            new = np.flatnonzero(codes >= seen)
            _, first = np.unique(codes[new], return_index=True)
            if firsts:  # a new case's attributes: its first row, read whole by the csv module
                whole = list(csv.reader((lines[k] for k in new[first]), delimiter=delimiter))
                if any(len(row) != width for row in whole):
                    raise NotFast
                for name in firsts:
                    firsts[name].extend(row[index[name]] for row in whole)
    if not rows:
        raise NotFast
    text: dict[str, list[str]] = {}
    times: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    truths = {v.lower() for v in record_map.true_values}
    vocab = {"channel": (record_map.channels, {c.value for c in Channel}),
             "level": (record_map.levels, {lv.value for lv in Level})}  # fmt: skip
    for name, values in firsts.items():
        if name.endswith("_at"):
            times[name] = parse_times(values, record_map, state)
        elif name in ("paid_online", "supplement_requested"):
            lowered = [v.strip().lower() for v in values]
            flags[name] = np.array([np.nan if not v else float(v in truths) for v in lowered])
        else:
            stripped = [v.strip() for v in values]
            if name in vocab:
                mapping, allowed = vocab[name]
                if set(stripped) - allowed - set(mapping) - {""}:
                    raise NotFast
                stripped = [
                    str(getattr(mapping[v], "value", mapping[v])) if v in mapping else v for v in stripped
                ]
            text[name] = stripped
    del resources[""]
    return {
        "cases": cases, "activities": activities, "resources": resources, "rows": rows,
        "case": np.concatenate(out["case"]), "activity": np.concatenate(out["activity"]),
        "resource": np.concatenate(out["resource"]), "start": np.concatenate(out["start"]),
        "complete": np.concatenate(out["complete"]), "text": text, "times": times, "flags": flags,
        "aware": state.get("kind") == "aware",
    }  # fmt: skip
