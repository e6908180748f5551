"""Reading a province's records (CSV, XLSX or XES) through a column map into arrays the calibration uses.

Times become minutes of local wall-clock time from the records' first day (``Records.epoch``), the way
the simulation counts them. What reading had to repair is counted in ``Records.report``: duplicate events
dropped, open cases, and start times estimated from the case's previous event or from the resource's
previous completion (whichever is later; the count says which). Input that cannot be read raises
``RecordsError`` naming the file, the row and the column and what was expected; nothing is half-read.
"""

from __future__ import annotations

import ctypes
import datetime as dt
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dvclab.catalog import Channel, Level
from dvclab.hints import did_you_mean
from dvclab.sim.record_map import RecordMap, RecordsError
from dvclab.sim.record_sources import Clock, Row, csv_rows, flag, vocabulary, xes_rows, xlsx_rows
from dvclab.sim.records_fast import NotFast, read_fast

CASE_TEXT = (
    "procedure_code",
    "procedure_name",
    "procedure_group",
    "level",
    "unit",
    "channel",
    "return_method",
)
CASE_TIMES = ("received_at", "due_at", "finished_at", "returned_at")
CASE_FLAGS = ("paid_online", "supplement_requested")
_BASE = dt.datetime(1970, 1, 1)


@dataclass
class ReadingReport:
    rows: int = 0
    events: int = 0
    cases: int = 0
    duplicates: int = 0
    open_cases: int | None = None  # None: the records do not say when a dossier is finished
    start_from_case: int = 0  # start estimated as the case's previous event's completion
    start_from_resource: int = 0  # ... as the resource's previous completion
    start_unknown: int = 0  # no estimate: taken as an instant at the completion
    timestamps: str = ""

    def lines(self) -> list[str]:
        open_cases = (
            "unknown (no finish time or decide activity)" if self.open_cases is None else self.open_cases
        )
        return [
            f"{self.rows:,} rows: {self.events:,} events of {self.cases:,} dossiers",
            f"duplicate events dropped: {self.duplicates:,}",
            f"open dossiers (not finished in the records): {open_cases}",
            f"start times estimated: {self.start_from_case:,} from the dossier's previous event, "
            f"{self.start_from_resource:,} from the resource's previous completion, "
            f"{self.start_unknown:,} without an estimate (taken as instants)",
            f"timestamps: {self.timestamps}",
        ]


@dataclass
class Records:
    path: Path
    epoch: dt.date  # minutes count from this local midnight
    case_ids: list[str]
    activity_names: list[str]
    activity_roles: list[str]  # the role of each activity name ("" when the map gives none)
    resource_names: list[str]
    # events, sorted by case then completion
    case: np.ndarray
    activity: np.ndarray
    resource: np.ndarray  # -1: none
    start: np.ndarray
    complete: np.ndarray
    text: dict[str, list[str]]  # per case: CASE_TEXT attributes named by the map ("" when empty)
    times: dict[str, np.ndarray]  # per case: CASE_TIMES (NaN when empty)
    flags: dict[str, np.ndarray]  # per case: CASE_FLAGS as 1.0 / 0.0 / NaN
    report: ReadingReport = field(default_factory=ReadingReport)

    def __len__(self) -> int:
        return len(self.case_ids)

    @property
    def roles_known(self) -> bool:
        return any(self.activity_roles)

    def role(self) -> np.ndarray:
        """Each event's role (``examine``, ``decide`` …; "" when unknown)."""
        return np.asarray(self.activity_roles, dtype=object)[self.activity]

    def arrival(self) -> np.ndarray:
        """When each dossier arrived: ``received_at``, else its first event's start."""
        first = np.full(len(self), np.inf)
        np.minimum.at(first, self.case, np.where(np.isnan(self.start), self.complete, self.start))
        received = self.times.get("received_at")
        return first if received is None else np.where(np.isnan(received), first, received)

    def finish(self) -> np.ndarray:
        """When each dossier's result was issued (NaN: open): ``finished_at``, else its decide event, else
        (roles unknown) its last event."""
        finished = self.times.get("finished_at")
        if finished is not None and not np.isnan(finished).all():
            return finished
        last = np.full(len(self), np.nan)
        if self.roles_known:
            decided = self.role() == "decide"
            if decided.any():
                np.fmax.at(last, self.case[decided], self.complete[decided])
                return last
        np.fmax.at(last, self.case, self.complete)
        return last

    def date_of(self, minutes: np.ndarray | float) -> Any:
        return np.datetime64(self.epoch) + (np.asarray(minutes) // (24 * 60)).astype("timedelta64[D]")


# -- reading ----------------------------------------------------------------------------------------
# glibc's mallopt parameters (malloc.h) and defaults
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4
_DEFAULT_TRIM, _DEFAULT_MMAP_MAX = 128 * 1024, 65536


@contextmanager
def _heap_kept() -> Iterator[None]:
    """While reading, freed memory stays in the process (glibc only; elsewhere nothing changes). Reading
    a register allocates and frees arrays of tens of MB block after block; glibc maps each one afresh
    and gives it back when freed, so every block page-faults its memory in again: a million-dossier
    register spent ~4 s of its ~30 s of CPU in the kernel doing so. The defaults come back afterwards."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        yield
        return
    mallopt(_M_MMAP_MAX, 0)  # large blocks from the heap, which keeps what is freed for the next block
    mallopt(_M_TRIM_THRESHOLD, 1 << 30)
    try:
        yield
    finally:
        mallopt(_M_MMAP_MAX, _DEFAULT_MMAP_MAX)
        mallopt(_M_TRIM_THRESHOLD, _DEFAULT_TRIM)


def read_records(path: str | Path, record_map: RecordMap) -> Records:
    with _heap_kept():
        return _read_records(path, record_map)


def _read_records(path: str | Path, record_map: RecordMap) -> Records:
    path = Path(path)
    if not path.is_file():
        raise RecordsError(f"{path}: records file not found")
    kind = record_map.format_of(path)
    if kind == "xlsx":
        header, rows = xlsx_rows(path, record_map.sheet)
    elif kind == "xes":
        header, rows = xes_rows(path)
    else:
        if record_map.sheet:
            raise RecordsError(f"{path}: sheet: {record_map.sheet!r} is for XLSX records, not {kind.upper()}")
        header, rows = csv_rows(path, record_map.delimiter)
    named = record_map.columns.named()
    missing = [(f, c) for f, c in named.items() if c not in header]
    if missing:
        if hasattr(rows, "close"):
            rows.close()  # type: ignore[union-attr]
        lines = [
            f"column {column!r} (the map's columns.{name}) is not in the header{did_you_mean(column, header)}"
            for name, column in missing
        ]
        raise RecordsError(f"{path}: " + "; ".join(lines) + f"; the header has: {', '.join(header)}")
    if not (named.keys() & {"start", "complete"}):
        raise RecordsError(f"{record_map.source or 'map'}: columns: name a timestamp, complete (or start)")
    index = {name: header.index(column) for name, column in named.items()}
    if kind == "csv":
        rows.close()  # type: ignore[attr-defined]
        try:
            return _from_columns(path, record_map, read_fast(path, record_map, index))
        except NotFast:
            header, rows = csv_rows(path, record_map.delimiter)  # row by row: converts, or names the row
    return _read(path, record_map, rows, index)


def _from_columns(path: Path, record_map: RecordMap, found: dict[str, Any]) -> Records:
    report = ReadingReport(rows=found["rows"])
    report.timestamps = (
        f"with UTC offsets, converted to {record_map.zone}"
        if found["aware"]
        else f"without offsets, read as {record_map.zone}"
    )
    names = (found["cases"], found["activities"], found["resources"])
    attributes = (found["text"], found["times"], found["flags"])
    events = (found["case"], found["activity"], found["resource"], found["start"], found["complete"])
    return _assemble(path, record_map, record_map.activities.role_of(), *names, report, *attributes, *events)


def _read(path: Path, record_map: RecordMap, rows: Iterator[Row], index: dict[str, int]) -> Records:
    clock = Clock(path, record_map)
    roles = record_map.activities.role_of()
    truths = {v.lower() for v in record_map.true_values}
    channels = [c.value for c in Channel]
    levels = [lv.value for lv in Level]
    cases: dict[str, int] = {}
    activities: dict[str, int] = {}
    resources: dict[str, int] = {}
    ev_case: list[int] = []
    ev_activity: list[int] = []
    ev_resource: list[int] = []
    ev_start: list[float] = []
    ev_complete: list[float] = []
    text: dict[str, list[str]] = {k: [] for k in CASE_TEXT if k in index}
    times: dict[str, list[float]] = {k: [] for k in CASE_TIMES if k in index}
    flags: dict[str, list[float]] = {k: [] for k in CASE_FLAGS if k in index}
    i_case, i_activity = index["case"], index["activity"]
    i_start, i_complete, i_resource = index.get("start"), index.get("complete"), index.get("resource")
    columns = record_map.columns
    report = ReadingReport()

    def cell(values: list[Any], i: int | None) -> Any:
        return values[i] if i is not None and i < len(values) else ""

    for where, values in rows:
        report.rows += 1
        case_id = str(cell(values, i_case)).strip()
        if not case_id:
            raise RecordsError(f"{path}: {where}, column {columns.case!r}: empty; expected the dossier's id")
        activity = str(cell(values, i_activity)).strip()
        start = clock.minutes(cell(values, i_start), where, str(columns.start))
        complete = clock.minutes(cell(values, i_complete), where, str(columns.complete))
        if not activity and math.isnan(start) and math.isnan(complete):
            raise RecordsError(
                f"{path}: {where}: dossier {case_id!r} has no event here (activity and timestamps empty); "
                "expected one event per row"
            )
        if not activity:
            raise RecordsError(f"{path}: {where}, column {columns.activity!r}: empty; expected an activity")
        if math.isnan(complete):
            if math.isnan(start):
                stamp = columns.complete or columns.start
                raise RecordsError(f"{path}: {where}, column {stamp!r}: empty; expected a timestamp")
            complete = start  # a start-only log: instants at their start
        k = cases.get(case_id)
        if k is None:
            k = cases[case_id] = len(cases)
            for name, store in text.items():
                value = str(cell(values, index[name])).strip()
                if name == "channel":
                    value = vocabulary(value, record_map.channels, channels, "channel", f"{path}: {where}")
                elif name == "level":
                    value = vocabulary(value, record_map.levels, levels, "level", f"{path}: {where}")
                store.append(value)
            for name, store_t in times.items():
                store_t.append(clock.minutes(cell(values, index[name]), where, str(getattr(columns, name))))
            for name, store_f in flags.items():
                store_f.append(flag(cell(values, index[name]), truths))
        ev_case.append(k)
        ev_activity.append(activities.setdefault(activity, len(activities)))
        name = str(cell(values, i_resource)).strip()
        ev_resource.append(resources.setdefault(name, len(resources)) if name else -1)
        ev_start.append(start)
        ev_complete.append(complete)
    if not cases:
        raise RecordsError(f"{path}: no records below the header; expected at least one event")
    report.timestamps = clock.describe()
    return _assemble(path, record_map, roles, cases, activities, resources, report, text, times, flags,
                     np.array(ev_case), np.array(ev_activity), np.array(ev_resource),
                     np.array(ev_start), np.array(ev_complete))  # fmt: skip


def _assemble(
    path: Path,
    record_map: RecordMap,
    roles: dict[str, str],
    cases: dict[str, int],
    activities: dict[str, int],
    resources: dict[str, int],
    report: ReadingReport,
    text: dict[str, list[str]],
    times: dict[str, list[float]],
    flags: dict[str, list[float]],
    case: np.ndarray,
    activity: np.ndarray,
    resource: np.ndarray,
    start: np.ndarray,
    complete: np.ndarray,
) -> Records:
    # exact duplicates (the same event exported twice) are dropped, the first kept; events are ordered by
    # dossier, completion and start (file order among ties)
    timing = (np.nan_to_num(start, nan=-np.inf), complete, case)
    order = np.lexsort(timing)
    keep = _first_copies(order, timing, (resource, activity))
    if keep is not None:
        report.duplicates = len(case) - len(keep)
        case, activity, resource, start, complete = (
            a[keep] for a in (case, activity, resource, start, complete)
        )
        order = np.lexsort((np.nan_to_num(start, nan=-np.inf), complete, case))
    case, activity, resource, start, complete = (
        a[order] for a in (case, activity, resource, start, complete)
    )

    all_times = [complete, start, *(np.asarray(v, dtype=float) for v in times.values())]
    first_minute = min(float(np.nanmin(a)) for a in all_times if a.size and not np.isnan(a).all())
    epoch_day = math.floor(first_minute / (24 * 60))
    shift = epoch_day * 24 * 60.0
    epoch = (_BASE + dt.timedelta(days=epoch_day)).date()
    start, complete = start - shift, complete - shift
    role_names = [roles.get(name, "") for name in activities]
    _estimate_starts(case, activity, resource, start, complete, role_names, report)
    records = Records(
        path=path,
        epoch=epoch,
        case_ids=list(cases),
        activity_names=list(activities),
        activity_roles=role_names,
        resource_names=list(resources),
        case=case,
        activity=activity,
        resource=resource,
        start=start,
        complete=complete,
        text=text,
        times={k: np.asarray(v, dtype=float) - shift for k, v in times.items()},
        flags={k: np.asarray(v, dtype=float) for k, v in flags.items()},
        report=report,
    )
    report.events, report.cases = len(case), len(cases)
    finished = "finished_at" in times or "decide" in role_names
    report.open_cases = int(np.isnan(records.finish()).sum()) if finished else None
    return records


def _first_copies(order: np.ndarray, timing: tuple[np.ndarray, ...], rest: tuple[np.ndarray, ...]) -> Any:
    """The events to keep (file order) when some event repeats exactly, else None. A copy has its
    original's dossier and times, so it lies in a run of ties in ``order``; without such runs (the usual
    register) no second sort is needed. Found by a stable sort and a look at neighbours (``np.unique``
    over rows would copy every row)."""
    tied = np.ones(len(order) - 1, dtype=bool)
    for key in timing:
        ordered = key[order]
        tied &= ordered[1:] == ordered[:-1]
    if not tied.any():
        return None
    # only events in a run of ties can repeat one another: those few are sorted by every key, in file
    # order (lexsort is stable), so a copy follows its original
    in_run = np.zeros(len(order), dtype=bool)
    in_run[:-1] |= tied
    in_run[1:] |= tied
    subset = np.sort(order[in_run])
    keys = tuple(key[subset] for key in (*rest, *timing))
    local = np.lexsort(keys)
    grouped = subset[local]
    repeat = np.ones(len(grouped), dtype=bool)
    for key in keys:
        ordered = key[local]
        repeat[1:] &= ordered[1:] == ordered[:-1]
    repeat[0] = False
    if not repeat.any():
        return None
    dropped = np.zeros(len(order), dtype=bool)
    dropped[grouped[repeat]] = True  # the later copies: the stable sort keeps file order among equals
    return np.flatnonzero(~dropped)


def _estimate_starts(
    case: np.ndarray,
    activity: np.ndarray,
    resource: np.ndarray,
    start: np.ndarray,
    complete: np.ndarray,
    roles: list[str],
    report: ReadingReport,
) -> None:
    """Fill missing starts of work (events with a resource) in place: the later of the case's previous
    completion and the resource's previous completion (the work could not begin before either)."""
    missing = np.isnan(start)
    if not missing.any():
        return
    instant = np.asarray([role in ("request_supplement", "receive_supplement", "decide", "return_result")
                          for role in roles] or [False])[activity]  # fmt: skip
    work = missing & (resource >= 0) & ~instant
    previous_case = np.full(len(case), np.nan)
    same = np.r_[False, case[1:] == case[:-1]]
    previous_case[1:] = np.where(same[1:], complete[:-1], np.nan)
    previous_resource = np.full(len(case), np.nan)
    by_resource = np.lexsort((complete, resource))
    r, c = resource[by_resource], complete[by_resource]
    shifted = np.full(len(case), np.nan)
    shifted[1:] = np.where((r[1:] == r[:-1]) & (r[1:] >= 0), c[:-1], np.nan)
    previous_resource[by_resource] = shifted
    # a previous completion after this one's completion is no bound (simultaneous exports)
    previous_case = np.where(previous_case <= complete, previous_case, np.nan)
    previous_resource = np.where(previous_resource <= complete, previous_resource, np.nan)
    from_resource = work & (
        np.nan_to_num(previous_resource, nan=-np.inf) > np.nan_to_num(previous_case, nan=-np.inf)
    )
    from_case = work & ~from_resource & ~np.isnan(previous_case)
    unknown = missing & ~from_resource & ~from_case
    start[from_resource] = previous_resource[from_resource]
    start[from_case] = previous_case[from_case]
    start[unknown] = complete[unknown]
    report.start_from_case = int(from_case.sum())
    report.start_from_resource = int(from_resource.sum())
    report.start_unknown = int((unknown & work).sum())
