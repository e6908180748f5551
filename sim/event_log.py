"""An event log out of a run: the simulated dossiers' events in the one-stop register format.

The model calls an observer (``ProvinceModel.observer``; None by default, then each hook costs one
attribute test) with each day's drawn dossiers, when an officer's step ends (examination or rework), when
a supplement is requested and answered, and when a counted dossier's result is issued (when and where it
was received, its due and issue times, its unit). The model forgets a dossier once issued, so the recorder
keeps what the register needs; how a result went back and whether it was paid online are settled from the
dossier's own draws by the rule of ``sim.tally``. The register's columns are documented in
``scenarios/records/README.md`` and read back by ``sim.records`` through
``scenarios/records/one-stop-register.yaml``.

Only replication 0 is logged (``EventLogRunner``): the log stands for one possible year, and a whole
province's year is already millions of rows.
"""

from __future__ import annotations

import csv
import datetime as dt
import heapq
import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from dvclab.catalog import Channel, Procedure
from dvclab.deadlines import VIETNAM
from dvclab.files import atomic_write
from dvclab.sim.channels import POSTAL
from dvclab.sim.demand import Dossiers
from dvclab.sim.kpis import replication_kpis
from dvclab.sim.model import ProvinceModel
from dvclab.sim.observe import ObservedOutput, observe
from dvclab.sim.procedures import ProcedureTable, build_procedures
from dvclab.sim.scenario import Scenario

CSV_FILE = "event_log.csv"
XES_FILE = "event_log.xes"
# The register's columns, in order (scenarios/records/README.md says what each holds).
REGISTER_COLUMNS = (
    "receipt_code", "activity", "start_time", "complete_time", "resource",
    "procedure_code", "procedure_name", "procedure_group", "level", "unit", "channel",
    "received_at", "due_at", "finished_at", "returned_at", "return_method", "paid_online",
    "supplement_requested",
)  # fmt: skip
CASE_COLUMNS = REGISTER_COLUMNS[5:]
CHANNEL_NAMES = [channel.value for channel in Channel]


class EventRecorder:
    """What the model tells about each dossier while it runs (plain lists: appending is all it costs)."""

    def __init__(self) -> None:
        # (dossier, pool as "level.agency.unit", effort minutes, end, activity)
        self.steps: list[tuple[int, str, float, float, str]] = []
        # (dossier, requested, answered)
        self.supplements: list[tuple[int, float, float]] = []
        # counted dossiers' draws, a day's batch at a time: ids, procedure, channel, post days, and the
        # uniforms that settle the result's return and the payment
        self.draws: list[dict[str, np.ndarray]] = []
        # dossier -> (received, due, issued, start of the reception, counter or None, unit)
        self.issued: dict[int, tuple[float, float, float, float, str | None, int]] = {}

    def arrivals(self, first: int, day: Dossiers, table: ProcedureTable) -> None:
        """A day's drawn dossiers (ids ``first`` on, in the batch's order); only the counted ones are kept."""
        counted = np.asarray(day.counted, dtype=bool)
        if counted.any():
            self.draws.append({
                "id": first + np.flatnonzero(counted),
                "procedure": day.procedure[counted], "channel": day.channel[counted].astype(np.int64),
                "post_days": day.post_days[counted], "u_electronic": day.u_electronic[counted],
                "u_postal": day.u_postal[counted], "u_payment": day.u_payment[counted],
            })  # fmt: skip

    def issue(
        self, dossier: int, received: float, due: float, issued: float, arrived: float,
        counter: str | None, unit: int,
    ) -> None:  # fmt: skip
        self.issued[dossier] = (received, due, issued, arrived, counter, unit)

    def step(self, dossier: int, pool: str, effort: float, end: float, activity: str = "examine") -> None:
        self.steps.append((dossier, pool, effort, end, activity))

    def supplement(self, dossier: int, requested: float, answered: float) -> None:
        self.supplements.append((dossier, requested, answered))


@dataclass
class EventTable:
    """The register as rows of strings (already formatted: it crosses process boundaries as it is)."""

    rows: list[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.rows)

    def csv_text(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(REGISTER_COLUMNS)
        writer.writerows(self.rows)
        return buffer.getvalue()

    def xes_bytes(self) -> bytes:
        return xes_bytes(self.rows)


def _stamp(epoch: dt.datetime, minutes: float) -> str:
    if minutes != minutes:  # NaN: not happened
        return ""
    moment = epoch + dt.timedelta(minutes=round(float(minutes) * 60) / 60)
    return moment.isoformat(timespec="seconds")


def _flag(value: object) -> str:
    return "true" if value else "false"


def _officers(model: ProvinceModel, steps: list[tuple[int, str, float, float, float, str]]) -> list[str]:
    """Each step's officer (``district.land.3#2``): in each pool, the officer free the longest takes the
    next piece of work, as officers taking files in turn would; the model's pools do not name them."""
    names = [""] * len(steps)
    by_pool: dict[str, list[int]] = {}
    for k, (_, pool, *_rest) in enumerate(steps):
        by_pool.setdefault(pool, []).append(k)
    for pool, members in by_pool.items():
        level, agency, unit = pool.split(".")
        free = [(-np.inf, n) for n in range(max(model.officers_of(f"{level}.{agency}", int(unit)), 1))]
        heapq.heapify(free)
        spare = len(free)
        for k in sorted(members, key=lambda k: (steps[k][3], steps[k][4])):
            start, end = steps[k][3], steps[k][4]
            until, officer = free[0]
            if until <= start + 1e-9:
                heapq.heapreplace(free, (end, officer))
            else:  # never expected: more work at once than officers; keep it visible, not silent
                officer, spare = spare, spare + 1
                heapq.heappush(free, (end, officer))
            names[k] = f"{pool}#{officer}"
    return names


def _counter_officers(model: ProvinceModel, recorder: EventRecorder) -> dict[int, str]:
    """Each counter reception's officer (``counter.commune.3#1``), the officer free the longest taking
    the next citizen, as ``_officers`` does for pools: the register names who received a dossier, so a
    calibration counts a counter's officers as the distinct ones at work on a day."""
    desks = {counter.name: counter.officers for counter in model.counters}
    by_counter: dict[str, list[tuple[float, float, int]]] = {}
    for dossier, (received, _, _, arrived, counter, _) in recorder.issued.items():
        if counter is not None:
            by_counter.setdefault(counter, []).append((arrived, received, dossier))
    names: dict[int, str] = {}
    for counter, visits in by_counter.items():
        free = [(-np.inf, n) for n in range(max(desks.get(counter, 1), 1))]
        spare = len(free)
        for start, end, dossier in sorted(visits):
            until, officer = free[0]
            if until <= start + 1e-9:
                heapq.heapreplace(free, (end, officer))
            else:  # never expected: more receptions at once than desks; visible, not silent
                officer, spare = spare, spare + 1
                heapq.heappush(free, (end, officer))
            names[dossier] = f"{counter}#{officer}"
    return names


def register_table(model: ProvinceModel, recorder: EventRecorder) -> EventTable:
    """The counted dossiers' events (received inside the horizon), case by case in id order."""
    t, s, cal = model.table, model.scenario, model.calendar
    epoch = dt.datetime.combine(cal.epoch, dt.time(), tzinfo=VIETNAM)
    draws = {
        name: np.concatenate([batch[name] for batch in recorder.draws])
        for name in ("id", "procedure", "channel", "post_days", "u_electronic", "u_postal", "u_payment")
    } if recorder.draws else {}  # fmt: skip
    # result return and payment as sim.tally settles them, from the dossier's own draws
    if draws:
        channel = draws["channel"]
        electronic_share = np.array([s.results_return.electronic_share[c] for c in Channel])
        electronic = draws["u_electronic"] < electronic_share[channel]
        by_post = ~electronic & (draws["u_postal"] < s.results_return.postal_share_of_paper)
        online_share = np.array([s.payment.online_share[c] for c in Channel])
        fee_bearing = t.fee_vnd[draws["procedure"]] > 0
        paid_online = fee_bearing & (draws["u_payment"] < online_share[channel])
    counted = set(recorder.issued)
    per_day = cal.minutes_per_working_day

    steps = []
    for dossier, pool, effort, end, activity in recorder.steps:
        if dossier in counted:
            # the effective start: the working minute ``effort`` before the end (a dossier taken up at
            # night is started at the next opening)
            start = cal.next_open(cal.from_working(cal.to_working(end) - effort))
            steps.append((dossier, pool, effort, start, end, activity))
    officers = _officers(model, steps)
    events: dict[int, list[tuple[float, float, str, str]]] = {}
    for (dossier, _, _, start, end, activity), officer in zip(steps, officers, strict=True):
        events.setdefault(dossier, []).append((start, end, activity, officer))
    supplemented: set[int] = set()
    for dossier, requested, answered in recorder.supplements:
        if dossier in counted:
            supplemented.add(dossier)
            events.setdefault(dossier, []).append((requested, requested, "request_supplement", ""))
            events.setdefault(dossier, []).append((answered, answered, "receive_supplement", "citizen"))

    receivers = _counter_officers(model, recorder)
    rows: list[tuple[str, ...]] = []
    order = np.argsort(draws["id"], kind="stable") if draws else np.array([], dtype=np.int64)
    for k in order.tolist():
        i = int(draws["id"][k])
        if i not in recorder.issued:  # drawn but not issued: cannot happen once the run has drained
            raise RuntimeError(f"dossier {i} was counted but never issued")
        received, due, issued, arrived, counter, unit_index = recorder.issued[i]
        p = int(draws["procedure"][k])
        code = int(channel[k])
        receiver = receivers[i] if counter is not None else ("post" if code == POSTAL else "portal")
        if electronic[k]:
            method, returned = "electronic", issued
        elif by_post[k]:
            method, returned = "post", cal.add_working(issued, float(draws["post_days"][k]) * per_day)
        else:
            method, returned = "counter", cal.next_open(issued)
        level = t.levels[p]
        unit = f"{level}.{unit_index}"
        case = (
            t.codes[p], t.names[p], t.groups[p], level, unit, CHANNEL_NAMES[code],
            _stamp(epoch, received), _stamp(epoch, due), _stamp(epoch, issued),
            _stamp(epoch, returned), method, _flag(paid_online[k]) if fee_bearing[k] else "",
            _flag(i in supplemented),
        )  # fmt: skip
        receipt = f"HS{i:08d}"
        journey = [(arrived, received, "receive", receiver), *sorted(events.get(i, []))]
        last = max(end for _, end, _, _ in journey)
        journey.append((last, issued, "decide", ""))
        journey.append((returned, returned, "return_result", method))
        for start, end, activity, resource in journey:
            rows.append((receipt, activity, _stamp(epoch, start), _stamp(epoch, end), resource, *case))
    return EventTable(rows)


# -- XES (IEEE 1849) with the standard library -----------------------------------------------------------
_XES_NS = "http://www.xes-standard.org/"
_EXTENSIONS = (
    ("Concept", "concept", "http://www.xes-standard.org/concept.xesext"),
    ("Time", "time", "http://www.xes-standard.org/time.xesext"),
    ("Organizational", "org", "http://www.xes-standard.org/org.xesext"),
    ("Lifecycle", "lifecycle", "http://www.xes-standard.org/lifecycle.xesext"),
)


def xes_bytes(rows: list[tuple[str, ...]]) -> bytes:
    """One trace per dossier (its register attributes on the trace), a start and a complete event per
    activity (only a complete one where the activity takes no time)."""
    log = ET.Element("log", {"xes.version": "1.0", "xes.features": "nested-attributes", "xmlns": _XES_NS})
    for name, prefix, uri in _EXTENSIONS:
        ET.SubElement(log, "extension", {"name": name, "prefix": prefix, "uri": uri})
    trace = None
    current = None
    for row in rows:
        values = dict(zip(REGISTER_COLUMNS, row, strict=True))
        if values["receipt_code"] != current:
            current = values["receipt_code"]
            trace = ET.SubElement(log, "trace")
            ET.SubElement(trace, "string", {"key": "concept:name", "value": current})
            for column in CASE_COLUMNS:
                if values[column]:
                    kind = "date" if column.endswith("_at") else "string"
                    ET.SubElement(trace, kind, {"key": column, "value": values[column]})
        assert trace is not None
        phases = [("complete", values["complete_time"])]
        if values["start_time"] and values["start_time"] != values["complete_time"]:
            phases.insert(0, ("start", values["start_time"]))
        for transition, stamp in phases:
            event = ET.SubElement(trace, "event")
            ET.SubElement(event, "string", {"key": "concept:name", "value": values["activity"]})
            ET.SubElement(event, "string", {"key": "lifecycle:transition", "value": transition})
            ET.SubElement(event, "date", {"key": "time:timestamp", "value": stamp})
            if values["resource"]:
                ET.SubElement(event, "string", {"key": "org:resource", "value": values["resource"]})
    for element in log.iter():  # one element a line: readable and diffable, cheaper than ET.indent
        element.tail = "\n"
    return ET.tostring(log, encoding="utf-8", xml_declaration=True)


# -- the run's runner and files ---------------------------------------------------------------------------
@dataclass(frozen=True)
class EventLogRunner:
    """``sim.observe.observed_run`` that also records replication 0's events (picklable: runs in worker
    processes). The table rides on the output as ``event_log`` until ``take_event_log`` removes it."""

    def __call__(self, scenario: Scenario, catalog: list[Procedure], replication: int = 0) -> ObservedOutput:
        model = ProvinceModel(scenario, build_procedures(scenario, catalog), replication)
        recorder = EventRecorder() if replication == 0 else None
        model.observer = recorder
        model.run()
        output = ObservedOutput(**vars(replication_kpis(model)), **observe(model))
        if recorder is not None:
            output.event_log = register_table(model, recorder)  # type: ignore[attr-defined]
        return output


def take_event_log(outputs: list[Any]) -> EventTable | None:
    """The event table of the replication that carried one, removed from its output (the saved outputs
    of a reusable run hold arrays and numbers only)."""
    found = None
    for output in outputs:
        table = vars(output).pop("event_log", None)
        found = found or table
    return found


def write_event_log(folder: Path, table: EventTable) -> list[str]:
    """``event_log.csv`` and ``event_log.xes`` into ``folder``, each file whole or not at all."""
    atomic_write(folder / CSV_FILE, table.csv_text())
    atomic_write(folder / XES_FILE, table.xes_bytes())
    return [CSV_FILE, XES_FILE]
