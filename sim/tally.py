"""Running aggregates of one replication: what the KPIs and the report need, kept as dossiers finish.

A run never holds every dossier's journey: the model reports each arrival batch (one day, vectorised),
each counter reception, each receipt and each issued result here, and forgets the dossier. What is kept
is counts and sums, per-procedure and per-unit counters, per-day receipt and issue counts (the backlog
series), a fixed histogram of counter waits (to the second, for the mean, the 90th percentile and the
report's histogram), and the hourly series of the forecast and the heatmaps. Its memory follows the
calendar and the province's units, not the dossiers simulated.

Buffers that are cheaper to fold vectorised (status changes for the national sync, reception and officer
work intervals for the heatmaps) are folded once a day by ``flush``.
"""

from __future__ import annotations

import datetime as dt
import math
from array import array
from dataclasses import dataclass

import numpy as np

from dvclab.catalog import Channel
from dvclab.sim.calendar import MINUTES_PER_DAY, WorkingCalendar
from dvclab.sim.channels import CHANNELS_ONLINE_FILED, CODE, POSTAL, REPORTED_ONLINE, SELF_SERVICE
from dvclab.sim.scenario import Scenario
from dvclab.sim.sync import arrival_times

WAIT_BINS_PER_MINUTE = 60  # counter waits are histogrammed to the second ...
WAIT_HISTOGRAM_MINUTES = 24 * 60  # ... up to a whole day of open minutes; longer waits are kept exactly
HOURLY_COLUMNS = ("portal_submissions", *(channel.value for channel in Channel))


@dataclass
class Arrivals:
    """What the model derived for one batch of dossiers (one entry per dossier), to be tallied."""

    counted: np.ndarray
    procedure: np.ndarray
    channel: np.ndarray
    arrival: np.ndarray
    key: np.ndarray  # pool_index * UNIT_KEY + unit of the dossier's (first) officer pool
    visits: np.ndarray
    scanned_paper: np.ndarray
    interlinked: np.ndarray
    u_payment: np.ndarray
    u_electronic: np.ndarray
    u_postal: np.ndarray
    u_result_scan: np.ndarray


class Tally:
    def __init__(
        self,
        scenario: Scenario,
        fees: np.ndarray,
        procedures: int,
        calendar: WorkingCalendar,
        window: tuple[float, float],
        horizon_days: int,
        warmup_days: int,
        sync_rng: np.random.Generator,
    ) -> None:
        self.scenario = scenario
        self.fee_bearing = fees > 0
        self.calendar = calendar
        self.start, self.end = window
        self.horizon_days = horizon_days
        self.warmup_days = warmup_days
        self.days = warmup_days + horizon_days  # the backlog series: warm-up and horizon from the epoch
        self.day_open = calendar.day_open
        s = scenario
        self.online_share = np.array([s.payment.online_share[c] for c in Channel])
        self.electronic_share = np.array([s.results_return.electronic_share[c] for c in Channel])
        # counted dossiers: totals decided at arrival ...
        self.dossiers = 0
        self.reported_online = 0
        self.fee_bearing_dossiers = 0
        self.paid_online = 0
        self.self_service = 0
        self.digitised = 0
        self.by_post = 0
        self.interlinked = 0
        self.trips = 0  # visits, payment and pickup trips at arrival; second trips as they happen
        self.dossiers_by_procedure = np.zeros(procedures)
        self.channel_counts = np.zeros(len(Channel))
        self.by_hour = np.zeros((horizon_days * 24, len(HOURLY_COLUMNS)))
        self.unit_dossiers: dict[int, int] = {}
        # ... and as they go
        self.supplemented = 0
        self.early = 0
        self.overdue_by_procedure = [0] * procedures
        self.unit_overdue: dict[int, int] = {}
        self.waited = 0
        self.wait_sum = 0.0
        self.wait_zero = 0
        self.wait_counts = [0] * (WAIT_HISTOGRAM_MINUTES * WAIT_BINS_PER_MINUTE)
        self.wait_long: list[float] = []
        # receipts and issues per day from the epoch (warm-up and horizon), by unit: a row per unit key
        # (``_rows``) of ``_received`` and ``_issued``, folded daily from ``changes`` and ``change_keys``
        self._rows: dict[int, int] = {}
        self._received = np.zeros((0, self.days), dtype=np.int64)
        self._issued = np.zeros((0, self.days), dtype=np.int64)
        self._received_keys: set[int] = set()  # units with a receipt (an issue) inside the days
        self._issued_keys: set[int] = set()
        # national sync: status changes folded into counts per snapshot interval
        self.sync = s.sync
        self.sync_rng = sync_rng
        step = s.sync.snapshot_days * MINUTES_PER_DAY
        self.snapshots = np.arange(self.start + step, self.end + 1, step)
        self.changes = array("d")  # every status change's time, in the order they happen, and its unit
        self.change_keys = array("q")  # key: ``key`` for a receipt, ``-1 - key`` for an issue
        self.provincial = np.zeros(len(self.snapshots) + 1)
        self.national = np.zeros(len(self.snapshots) + 1)
        # intervals for the heatmaps (``sim.observe``), folded daily
        self.receptions = (array("d"), array("d"))
        self.work = (array("d"), array("d"))  # shared by every officer pool (``OfficerPool.work_log``)
        hours = int(calendar.days * 24)
        self.reception_busy = np.zeros((7, 24))
        self.worked_by_hour = np.zeros(hours)

    # -- arrivals (vectorised, one batch a day) -----------------------------------------------------
    def arrivals(self, a: Arrivals) -> np.ndarray:
        """Tallies a batch's counted dossiers; returns which of them would collect their result at the
        counter on paper after a visit (no pickup trip if it is issued during the visit: ``issued``)."""
        s = self.scenario
        c = a.counted
        channel = a.channel.astype(np.int64)
        electronic = a.u_electronic < self.electronic_share[channel]
        by_post = ~electronic & (a.u_postal < s.results_return.postal_share_of_paper)
        paper_pickup = ~electronic & ~by_post
        if not c.any():
            return c
        channel = channel[c]
        procedure = a.procedure[c]
        visits = a.visits[c]
        electronic, by_post, pickup = electronic[c], by_post[c], paper_pickup[c]
        fee_bearing = self.fee_bearing[procedure]
        paid_online = fee_bearing & (a.u_payment[c] < self.online_share[channel])
        payment_trip = fee_bearing & ~paid_online & ~visits & (channel != POSTAL)
        digitised_in = np.isin(channel, CHANNELS_ONLINE_FILED) | a.scanned_paper[c]
        self.dossiers += int(c.sum())
        self.reported_online += int(np.isin(channel, REPORTED_ONLINE).sum())
        self.fee_bearing_dossiers += int(fee_bearing.sum())
        self.paid_online += int(paid_online.sum())
        self.trips += int(visits.sum() + payment_trip.sum() + pickup.sum())
        self.self_service += int(((channel == SELF_SERVICE) & ~payment_trip & ~pickup).sum())
        scan = s.results_return.result_scan_share
        self.digitised += int((digitised_in & (electronic | (a.u_result_scan[c] < scan))).sum())
        self.by_post += int(by_post.sum())
        self.interlinked += int(a.interlinked[c].sum())
        self.dossiers_by_procedure += np.bincount(procedure, minlength=len(self.dossiers_by_procedure))
        self.channel_counts += np.bincount(channel, minlength=len(self.channel_counts))
        keys, counts = np.unique(a.key[c], return_counts=True)
        for key, count in zip(keys.tolist(), counts.tolist(), strict=True):
            self.unit_dossiers[key] = self.unit_dossiers.get(key, 0) + count
        hour = ((a.arrival[c] - self.start) // 60).astype(np.int64)
        np.add.at(self.by_hour[:, 0], hour[np.isin(channel, REPORTED_ONLINE)], 1)
        for column, channel_name in enumerate(Channel, start=1):
            np.add.at(self.by_hour[:, column], hour[channel == CODE[channel_name]], 1)
        return c & a.visits & paper_pickup

    # -- one dossier at a time ----------------------------------------------------------------------
    def reception(self, counted: bool, wait: float, came_back: bool, start: float, end: float) -> None:
        """A counter reception of ``start``..``end`` after ``wait`` open minutes in the queue."""
        if not counted:
            return
        self.waited += 1
        self.wait_sum += wait
        if wait == 0.0:
            self.wait_zero += 1
        elif wait < WAIT_HISTOGRAM_MINUTES:
            self.wait_counts[int(wait * WAIT_BINS_PER_MINUTE)] += 1
        else:
            self.wait_long.append(wait)
        if came_back:
            self.trips += 1
        if self.start <= start < self.end:
            self.receptions[0].append(start)
            self.receptions[1].append(end)

    def received(self, key: int, t: float) -> None:
        """A receipt at ``t`` by unit ``key`` (folded into the per-day counts by ``flush``)."""
        self.changes.append(t)
        self.change_keys.append(key)

    def issued(
        self, key: int, t: float, counted: bool, overdue: bool, procedure: int, early: bool, handed_over: bool
    ) -> None:
        self.changes.append(t)
        self.change_keys.append(-1 - key)
        if not counted:
            return
        if overdue:
            self.overdue_by_procedure[procedure] += 1
            self.unit_overdue[key] = self.unit_overdue.get(key, 0) + 1
        elif early:
            self.early += 1
        if handed_over:
            self.trips -= 1  # no pickup trip: the result was issued at the counter

    # -- folded once a day --------------------------------------------------------------------------
    def flush(self) -> None:
        if self.changes:
            changes = np.array(self.changes, dtype=float)
            self._fold_days(changes, np.array(self.change_keys, dtype=np.int64))
            changes = changes[changes <= self.snapshots[-1]] if len(self.snapshots) else changes[:0]
            synced = arrival_times(changes, self.sync, self.sync_rng)
            self.provincial += np.bincount(
                np.searchsorted(self.snapshots, changes), minlength=len(self.provincial)
            )[: len(self.provincial)]
            self.national += np.bincount(
                np.searchsorted(self.snapshots, synced), minlength=len(self.national)
            )[: len(self.national)]
            del self.changes[:]
            del self.change_keys[:]
        starts, ends = self.receptions
        if starts:
            begun, ended = np.array(starts, dtype=float), np.array(ends, dtype=float)
            self.reception_busy += spread(begun, ended, self.calendar.epoch)
            del starts[:], ends[:]
        starts, ends = self.work
        if starts:
            begun, ended = np.array(starts, dtype=float), np.array(ends, dtype=float)
            self.worked_by_hour += spread_hours(begun, ended, len(self.worked_by_hour))
            del starts[:], ends[:]

    def _fold_days(self, t: np.ndarray, keys: np.ndarray) -> None:
        """Receipts and issues into their unit's row and day: the first day from the epoch at whose end
        ``t`` has passed (received <= day end); those after the warm-up and horizon are not kept."""
        day = np.maximum(np.ceil(t / MINUTES_PER_DAY) - 1, 0).astype(np.int64)
        inside = day < self.days
        if not inside.all():
            t, keys, day = t[inside], keys[inside], day[inside]
        issued = keys < 0
        keys = np.where(issued, -1 - keys, keys)
        unique, inverse = np.unique(keys, return_inverse=True)
        rows = np.array([self._row(key) for key in unique.tolist()], dtype=np.int64)[inverse]
        received = ~issued
        cell = rows * self.days + day  # flat index into the (unit, day) arrays: NumPy's fast 1-D add.at
        np.add.at(self._received.reshape(-1), cell[received], 1)
        np.add.at(self._issued.reshape(-1), cell[issued], 1)
        # which units had a receipt, an issue: from the day's few unique keys, not every change
        self._received_keys.update(unique[np.bincount(inverse[received], minlength=len(unique)) > 0].tolist())
        self._issued_keys.update(unique[np.bincount(inverse[issued], minlength=len(unique)) > 0].tolist())

    def _row(self, key: int) -> int:
        row = self._rows.get(key)
        if row is None:
            row = self._rows[key] = len(self._rows)
            if row >= len(self._received):  # room for more units, doubling
                more = max(len(self._received), 16)
                self._received = np.vstack([self._received, np.zeros((more, self.days), np.int64)])
                self._issued = np.vstack([self._issued, np.zeros((more, self.days), np.int64)])
        return row

    # -- read at the end ----------------------------------------------------------------------------
    @property
    def received_by_day(self) -> dict[int, np.ndarray]:
        """Receipts per day from the epoch (warm-up and horizon) of each unit key that has any."""
        return {key: self._received[self._rows[key]] for key in sorted(self._received_keys)}

    @property
    def issued_by_day(self) -> dict[int, np.ndarray]:
        """Issues per day from the epoch of each unit key that has any."""
        return {key: self._issued[self._rows[key]] for key in sorted(self._issued_keys)}

    def sync_discrepancy(self) -> float:
        provincial = np.cumsum(self.provincial)[: len(self.snapshots)]
        national = np.cumsum(self.national)[: len(self.snapshots)]
        if not len(provincial):
            return 0.0
        with np.errstate(invalid="ignore", divide="ignore"):
            share = np.where(provincial > 0, (provincial - national) / provincial, 0.0)
        return float(share.mean())

    def wait_p90(self) -> float:
        """The 90th percentile of counted counter waits (linear between ranks, as ``np.percentile``),
        each wait read as the middle of its one-second bin, except exact zeros and the long ones."""
        if not self.waited:
            return 0.0
        rank = 0.9 * (self.waited - 1)
        low, high = math.floor(rank), math.ceil(rank)
        return self._ranked(low) + (rank - low) * (self._ranked(high) - self._ranked(low))

    def _ranked(self, k: int) -> float:
        if k < self.wait_zero:
            return 0.0
        k -= self.wait_zero
        counts = np.asarray(self.wait_counts)
        cumulative = np.cumsum(counts)
        if k < cumulative[-1]:
            b = int(np.searchsorted(cumulative, k, side="right"))
            before = cumulative[b - 1] if b else 0
            return (b + (k - before + 0.5) / counts[b]) / WAIT_BINS_PER_MINUTE
        return sorted(self.wait_long)[k - int(cumulative[-1])]

    def wait_histogram(self, edges: np.ndarray) -> np.ndarray:
        """Counted counter waits over ``edges`` (whole seconds; the last edge open)."""
        fine = np.asarray(self.wait_counts, dtype=float)
        centres = (np.arange(len(fine)) + 0.5) / WAIT_BINS_PER_MINUTE
        values = np.concatenate([[0.0], centres, self.wait_long])
        weights = np.concatenate([[self.wait_zero], fine, np.ones(len(self.wait_long))])
        return np.histogram(values, bins=edges, weights=weights)[0]

    def backlog(self, keys: list[int] | None = None) -> np.ndarray:
        """Dossiers received and not yet issued at each day's end from the epoch, warm-up and horizon
        (of ``keys``' units); the horizon's days are the last ``horizon_days``."""
        keys = sorted(self._received_keys | self._issued_keys) if keys is None else keys
        received = np.zeros(self.days)
        issued = np.zeros(self.days)
        for key in keys:
            if key in self._received_keys:
                received += self._received[self._rows[key]]
            if key in self._issued_keys:
                issued += self._issued[self._rows[key]]
        return np.cumsum(received) - np.cumsum(issued)


def spread_hours(starts: np.ndarray, ends: np.ndarray, hours: int) -> np.ndarray:
    """Minutes of the intervals [start, end) falling in each hour from the epoch's midnight."""
    minutes = np.zeros(hours + 1)
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    hour_start = np.floor(starts / 60.0) * 60.0
    while starts.size:
        cut = np.minimum(ends, hour_start + 60.0)
        index = np.minimum((hour_start // 60).astype(np.int64), hours)
        np.add.at(minutes, index, np.maximum(cut - starts, 0.0))
        more = ends > cut
        starts, ends, hour_start = cut[more], ends[more], hour_start[more] + 60.0
    return minutes[:hours]


def fold_week(by_hour: np.ndarray, epoch: dt.date) -> np.ndarray:
    """Fold an hourly series (from the epoch's midnight) into weekday × hour cells."""
    hour = np.arange(len(by_hour))
    weekday = (epoch.weekday() + hour // 24) % 7
    cells = np.zeros((7, 24))
    np.add.at(cells, (weekday, hour % 24), by_hour)
    return cells


def spread(starts: np.ndarray, ends: np.ndarray, epoch: dt.date) -> np.ndarray:
    """Minutes of the intervals [start, end) falling in each weekday × hour cell (times: minutes from
    ``epoch``'s midnight); an interval crossing an hour is split at the hour."""
    cells = np.zeros((7, 24))
    first_weekday = epoch.weekday()
    starts = np.asarray(starts, dtype=float)
    ends = np.asarray(ends, dtype=float)
    hour_start = np.floor(starts / 60.0) * 60.0
    while starts.size:
        cut = np.minimum(ends, hour_start + 60.0)
        minutes = cut - starts
        hour_index = (hour_start // 60).astype(np.int64)
        weekday = (first_weekday + hour_index // 24) % 7
        np.add.at(cells, (weekday, hour_index % 24), np.maximum(minutes, 0.0))
        more = ends > cut
        starts, ends, hour_start = cut[more], ends[more], hour_start[more] + 60.0
    return cells


assert MINUTES_PER_DAY == 24 * 60  # spread() counts hours of 60 minutes from the epoch's midnight
