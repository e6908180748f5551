"""Synchronisation with the national portal (Decision 31/2021): why the two counts drift apart.

Every status change on the provincial system is pushed to the national portal after a lag; a push fails
with some probability and is retried at a fixed interval, a limited number of times; a change whose
retries all fail never arrives. At each reporting snapshot the national view counts only the changes
that have arrived: the discrepancy is the share of provincial changes the national portal is missing.
"""

from __future__ import annotations

import numpy as np

from dvclab.sim.scenario import Sync


def arrival_times(changes: np.ndarray, settings: Sync, rng: np.random.Generator) -> np.ndarray:
    """When each status change reaches the national portal (inf: never)."""
    n = len(changes)
    lag = rng.exponential(settings.lag_min_mean, n) if settings.lag_min_mean > 0 else np.zeros(n)
    # failed attempts before the first success: geometric on {0, 1, ...}
    if settings.failure_prob >= 1.0:
        failures = np.full(n, np.iinfo(np.int64).max)
    elif settings.failure_prob <= 0.0:
        failures = np.zeros(n, dtype=np.int64)
    else:
        failures = rng.geometric(1.0 - settings.failure_prob, n) - 1
    arrived = changes + lag + np.minimum(failures, settings.max_retries) * settings.retry_interval_min
    return np.where(failures > settings.max_retries, np.inf, arrived)


def discrepancy(changes: np.ndarray, synced: np.ndarray, snapshots: np.ndarray) -> np.ndarray:
    """Share of the provincial count missing from the national count, at each snapshot."""
    provincial = np.searchsorted(np.sort(changes), snapshots, side="right")
    national = np.searchsorted(np.sort(synced), snapshots, side="right")
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (provincial - national) / provincial
    return np.where(provincial > 0, share, 0.0)
