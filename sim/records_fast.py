"""The fast path of reading CSV records: whole columns at a time, parsed in C by NumPy.

A province's register holds millions of rows; splitting lines and parsing timestamps in Python costs most
of the time. Here the file is read in blocks of lines (memory stays bounded), NumPy's C reader
(``np.loadtxt``) pulls out the event columns of every row and the dossier's columns of its first row
only, names become integer codes, a dossier attribute keeps one string object per distinct value, and
ISO 8601 timestamps are parsed as NumPy ``datetime64`` columns: naive ones as they are, ones that all
carry the map's zone's own offset (``+07:00`` in a Vietnamese export) by dropping it (they are that
zone's wall-clock time already). Anything else (another offset, a format, a short row, a quoted field
spanning lines, an empty or bad value) gives up with ``NotFast``, and ``sim.records`` reads the file
again row by row with the csv module, which converts every value or names the row, the column and what
was expected."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from dvclab.catalog import Channel, Level
from dvclab.sim.record_map import RecordMap

_UNKNOWN = -(2**62)  # not yet numbered
TIME = "U40"  # wide enough for any ISO 8601 timestamp; a value filling it is refused (it may be cut)
BLOCK = 32 << 20  # bytes: a few hundred MB of parsed strings at a time
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
    lengths = np.char.str_len(text)
    filled = lengths > 0
    if not filled.any():
        return np.full(len(text), np.nan)
    if lengths.max() >= int(TIME[1:]):
        raise NotFast  # perhaps cut by the fixed width: the row-by-row reader reads it whole
    first = str(text[np.argmax(filled)])
    if len(first) == 25 and first[19] in "+-":
        kind = "aware"
        offset = _zone_offset(record_map.zone, first)
        # the characters as a matrix: the offset compared, the wall-clock part cut, without a string op
        grid = np.ascontiguousarray(text).view(np.uint32).reshape(len(text), -1)
        ours = (grid[:, 19:25] == np.frombuffer(offset.encode("utf-32-le"), np.uint32)).all(axis=1)
        if ((lengths != 25) & filled).any() or not ours[filled].all():
            raise NotFast
        base = np.ascontiguousarray(grid[:, :19]).view("U19").ravel()  # the offset is the zone's own
    else:
        kind = "naive"
        if (lengths > 23).any() or np.char.endswith(text, "Z").any():
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


def _blocks(path: Path) -> Iterator[list[str]]:
    """The lines after the header, a block of about ``BLOCK`` bytes at a time (memory stays bounded)."""
    try:
        with path.open("rb") as handle:  # bytes decoded a block at a time: a text stream's reads are slower
            handle.readline()
            while raw := handle.read(BLOCK):
                if not raw.endswith(b"\n"):
                    raw += handle.readline()
                block = raw.decode("utf-8")
                del raw
                if "\r" in block:
                    block = block.replace("\r\n", "\n")
                    if "\r" in block:
                        raise NotFast  # lines ended by a lone CR: the csv module reads them
                lines = block.split("\n")
                if not lines[-1]:
                    lines.pop()  # what follows the block's last newline: nothing (the last line may lack one)
                if '"' in block and any(line.count('"') & 1 for line in lines):
                    raise NotFast  # a quoted field spanning lines: only the csv module can follow it
                del block
                if "" in lines:
                    lines = [line for line in lines if line]  # the csv module skips empty lines too
                if lines:
                    yield lines
    except UnicodeDecodeError:
        raise NotFast from None  # the row-by-row reader names the row


def _table(lines: list[str], delimiter: str, columns: dict[str, int]) -> np.ndarray:
    """The named columns of CSV lines, parsed by NumPy's C reader: timestamps (``*_at``, ``start``,
    ``complete``) as fixed-width text for ``parse_times``, the rest as Python strings."""
    kinds = [(name, TIME if name.endswith("_at") or name in ("start", "complete") else object)
             for name in columns]  # fmt: skip
    try:
        table = np.loadtxt(lines, delimiter=delimiter, usecols=list(columns.values()), dtype=kinds,
                           comments=None, quotechar='"', ndmin=1)  # fmt: skip
    except ValueError:
        raise NotFast from None  # a short or ragged row: the row-by-row reader names it
    if len(table) != len(lines):
        raise NotFast
    return table


def _codes(values: np.ndarray, known: dict[str, int], unnamed: int = 0) -> np.ndarray:
    """Each value's number in ``known`` (new ones numbered on in order of appearance), less the
    ``unnamed`` entries (``"": -1``). A run of one value (a dossier's rows together) is looked up once."""
    if not len(values):
        return np.zeros(0, np.int64)
    heads = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    distinct = values[heads]
    codes = np.fromiter(map(known.get, distinct, repeat(_UNKNOWN)), np.int64, len(distinct))
    new = codes == _UNKNOWN
    if new.any():
        fresh = list(dict.fromkeys(distinct[new].tolist()))
        known.update(zip(fresh, range(len(known) - unnamed, len(known) - unnamed + len(fresh)), strict=True))
        codes[new] = np.fromiter(map(known.__getitem__, distinct[new]), np.int64, int(new.sum()))
    return np.repeat(codes, np.diff(np.r_[heads, len(values)]))


def read_fast(path: Path, record_map: RecordMap, index: dict[str, int]) -> dict[str, Any]:
    """The columns of a CSV as arrays and code lists, for ``sim.records`` to assemble (or ``NotFast``)."""
    cases: dict[str, int] = {}
    activities: dict[str, int] = {}
    resources: dict[str, int] = {"": -1}
    out: dict[str, list[Any]] = {k: [] for k in ("case", "activity", "resource", "start", "complete")}
    firsts: dict[str, list[Any]] = {name: [] for name in index if name not in out}
    pools: dict[str, dict[str, str]] = {name: {} for name in firsts}  # one string object per distinct value
    state: dict[str, str] = {}
    rows = 0
    delimiter = record_map.delimiter
    names = [k for k in ("case", "activity", "start", "complete", "resource") if k in index]
    for lines in _blocks(path):
        table = _table(lines, delimiter, {name: index[name] for name in names})
        rows += len(lines)
        seen = len(cases)
        codes = _codes(table["case"], cases)
        out["case"].append(codes)
        out["activity"].append(_codes(table["activity"], activities))
        if "resource" in index:
            out["resource"].append(_codes(table["resource"], resources, unnamed=1))
        else:
            out["resource"].append(np.full(len(table), -1))
        start = parse_times(table["start"], record_map, state) if "start" in index else None
        complete = parse_times(table["complete"], record_map, state) if "complete" in index else None
        del table
        if complete is None:
            complete = start
        elif start is not None:
            complete = np.where(np.isnan(complete), start, complete)
        if np.isnan(complete).any():  # type: ignore[arg-type]
            raise NotFast
        out["start"].append(start if start is not None else np.full(len(lines), np.nan))
        out["complete"].append(complete)
        if firsts:  # a new dossier's attributes: those of its first row
            new = np.flatnonzero(codes >= seen)
            _, first = np.unique(codes[new], return_index=True)  # codes number dossiers as first seen
            whole = _table([lines[k] for k in new[first]], delimiter, {name: index[name] for name in firsts})
            for name in firsts:
                values = whole[name]
                if name.endswith("_at"):
                    firsts[name].append(parse_times(values, record_map, state))
                else:
                    pool = pools[name]
                    firsts[name].extend(map(pool.setdefault, values, values))
        del lines
    if "" in cases or "" in activities:
        raise NotFast  # the row-by-row reader names the row
    if not rows:
        raise NotFast
    text: dict[str, list[str]] = {}
    times: dict[str, np.ndarray] = {}
    flags: dict[str, np.ndarray] = {}
    truths = {v.lower() for v in record_map.true_values}
    vocab = {"channel": (record_map.channels, {c.value for c in Channel}),
             "level": (record_map.levels, {lv.value for lv in Level})}  # fmt: skip
    for name, values in firsts.items():  # each distinct value converted once, then looked up
        if name.endswith("_at"):
            times[name] = np.concatenate(values)
            continue
        raw = list(pools[name])
        if name in ("paid_online", "supplement_requested"):
            lowered = [v.strip().lower() for v in raw]
            truth = dict(zip(raw, [np.nan if not v else float(v in truths) for v in lowered], strict=True))
            flags[name] = np.fromiter(map(truth.__getitem__, values), float, len(values))
            continue
        stripped = [v.strip() for v in raw]
        if name in vocab:
            mapping, allowed = vocab[name]
            if set(stripped) - allowed - set(mapping) - {""}:
                raise NotFast
            stripped = [
                str(getattr(mapping[v], "value", mapping[v])) if v in mapping else v for v in stripped
            ]
        if stripped == raw:  # the usual export: every value already as it should be
            text[name] = values
            continue
        meaning = dict(zip(raw, stripped, strict=True))
        text[name] = list(map(meaning.__getitem__, values))
    del resources[""]
    return {
        "cases": cases, "activities": activities, "resources": resources, "rows": rows,
        "case": np.concatenate(out["case"]), "activity": np.concatenate(out["activity"]),
        "resource": np.concatenate(out["resource"]), "start": np.concatenate(out["start"]),
        "complete": np.concatenate(out["complete"]), "text": text, "times": times, "flags": flags,
        "aware": state.get("kind") == "aware",
    }  # fmt: skip
