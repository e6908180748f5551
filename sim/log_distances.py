"""The back-test's event-log distances, from the ``log-distance-measures`` package (Chapela-Campa et al.):
the measures the process-simulation research community reports when it compares a simulated log with a
real one, computed here for each forecast's log (the model's replications, the naive resamples) against
the log of what happened in the test period.

Used, where they fit a register of dossiers:

- ``cycle_time_distribution_distance``: each case's first start to last end, in 1-hour bins, Wasserstein
  distance (hours). Calendar time, not working hours: the package knows no working calendar; the working-
  hour figure stays beside it (scipy's ``wasserstein_distance``).
- ``absolute_event_distribution_distance``: every start and end timestamp in 1-hour bins, Wasserstein
  distance (hours): are the events where they happened in the period?
- ``circadian_event_distribution_distance``: the same timestamps by weekday and hour of the day, the
  Wasserstein distance of the hours averaged over weekdays (a weekday present in one log only counts 23).
- ``n_gram_distribution_distance`` with n=3: the normalised difference of the frequencies of three
  activities in a row in the cases (control flow; 0 the same, 1 nothing in common). Where the records
  name their activities otherwise than the simulated register does (a generic log), the model's figure
  is near 1 by construction, and says so only of the names.

Not used: the relative event distribution and remaining-time measures (close to the absolute one and to
the cycle time here), case arrivals (the weekly volumes already compare them), work in progress and the
workforce measures (utilisation covers the officers), and the control-flow log distance (an optimal
assignment of cases: cubic in the number of dossiers).

The package's import takes about a second (pandas, pulp), so it is imported when a back-test computes.
Its measures walk the cases one by one in pandas (about 0.1 ms a case and measure; the 3-grams most):
each log is cut to a random ``MAX_CASES`` of its cases (seeded), enough for distributions of hours and
of 3-grams, so that a province's month costs seconds, not an hour. On the shipped tests no log is cut.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

    from dvclab.sim.records import Records

# the column names of the frames built here (the package reads them through its EventLogIDs)
CASE, ACTIVITY, START, END, RESOURCE = "case", "activity", "start", "end", "resource"
MAX_CASES = 3000
# each measure's table label: the package function's name, with its unit
MEASURES = {
    "cycle_time_distribution_distance": "cycle_time_distribution_distance, hours",
    "absolute_event_distribution_distance": "absolute_event_distribution_distance, hours",
    "circadian_event_distribution_distance": "circadian_event_distribution_distance, hours",
    "n_gram_distribution_distance": "n_gram_distribution_distance n=3, 0..1",
}
# what the table's "observed" column says of these rows: the reference, and where the figure comes from
SOURCE = "(log-distance-measures)"


def event_frame(
    case: list[str] | np.ndarray,
    activity: list[str] | np.ndarray,
    start: Any,
    end: Any,
    resource: list[str] | np.ndarray,
) -> pd.DataFrame:
    """The frame the package reads: one row per event, timestamps as naive local datetimes."""
    import pandas as pd

    return pd.DataFrame(
        {CASE: case, ACTIVITY: activity, START: pd.to_datetime(start), END: pd.to_datetime(end),
         RESOURCE: resource}
    )  # fmt: skip


def records_frame(
    records: Records,
    cases: np.ndarray,
    shift_minutes: np.ndarray | None = None,
    suffix: np.ndarray | None = None,
) -> pd.DataFrame:
    """The events of the record cases ``cases`` (indices), each case's events moved by its
    ``shift_minutes`` (the naive forecast puts a training case in a test week) and its id given its
    ``suffix`` (the same case drawn twice is two cases)."""
    import pandas as pd

    order = np.argsort(records.case, kind="stable")
    first = np.searchsorted(records.case[order], cases, side="left")
    last = np.searchsorted(records.case[order], cases, side="right")
    picked = [order[a:b] for a, b in zip(first, last, strict=True)]
    sizes = np.array([len(p) for p in picked], dtype=np.int64)
    rows = np.concatenate(picked) if picked else np.array([], dtype=np.int64)
    shift = np.repeat(shift_minutes if shift_minutes is not None else np.zeros(len(cases)), sizes)
    start = records.start[rows]
    complete = records.complete[rows]
    start = np.where(np.isnan(start), complete, start) + shift  # no start known: an instant
    origin = pd.Timestamp(records.epoch)
    names = np.asarray(records.case_ids, dtype=object)[records.case[rows]]
    if suffix is not None:
        names = names + "#" + np.repeat(np.asarray(suffix).astype(str), sizes).astype(object)
    resource = records.resource[rows]
    resource_names = np.asarray([*records.resource_names, ""], dtype=object)
    return event_frame(
        names,
        np.asarray(records.activity_names, dtype=object)[records.activity[rows]],
        origin + pd.to_timedelta(start, unit="min"),
        origin + pd.to_timedelta(complete + shift, unit="min"),
        resource_names[np.where(resource >= 0, resource, len(records.resource_names))],
    )


def register_frame(rows: list[tuple[str, ...]], keep: set[str]) -> pd.DataFrame:
    """A simulated register's events (``sim.event_log`` rows) of the receipts in ``keep``, as local time."""
    import pandas as pd

    mine = [r for r in rows if r[0] in keep]
    frame = event_frame([r[0] for r in mine], [r[1] for r in mine], [r[2] for r in mine],
                        [r[3] for r in mine], [r[4] for r in mine])  # fmt: skip
    for column in (START, END):  # the register writes +07:00 offsets; the records are local
        if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
            frame[column] = frame[column].dt.tz_localize(None)
    return frame


def distances(observed: pd.DataFrame, forecast: pd.DataFrame) -> dict[str, float]:
    """Each measure of ``forecast``'s log against ``observed``'s (NaN where either log is empty)."""
    if observed.empty or forecast.empty:
        return dict.fromkeys(MEASURES, float("nan"))
    from log_distance_measures.absolute_event_distribution import absolute_event_distribution_distance
    from log_distance_measures.circadian_event_distribution import circadian_event_distribution_distance
    from log_distance_measures.config import EventLogIDs
    from log_distance_measures.cycle_time_distribution import cycle_time_distribution_distance
    from log_distance_measures.n_gram_distribution import n_gram_distribution_distance

    observed, forecast = _cut(observed), _cut(forecast)
    ids = EventLogIDs(case=CASE, activity=ACTIVITY, start_time=START, end_time=END, resource=RESOURCE)
    return {
        "cycle_time_distribution_distance": float(
            cycle_time_distribution_distance(observed, ids, forecast, ids, bin_size=dt.timedelta(hours=1))
        ),
        "absolute_event_distribution_distance": float(
            absolute_event_distribution_distance(observed, ids, forecast, ids)
        ),
        "circadian_event_distribution_distance": float(
            circadian_event_distribution_distance(observed, ids, forecast, ids)
        ),
        "n_gram_distribution_distance": float(
            n_gram_distribution_distance(observed, ids, forecast, ids, n=3)
        ),
    }


def _cut(log: pd.DataFrame, seed: int = 2024) -> pd.DataFrame:
    """``log`` with at most ``MAX_CASES`` of its cases, drawn at random (the same draw for the same log)."""
    cases = log[CASE].unique()
    if len(cases) <= MAX_CASES:
        return log
    kept = np.random.default_rng(seed).choice(cases, MAX_CASES, replace=False)
    return log[log[CASE].isin(kept)]
