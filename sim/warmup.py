"""The warm-up from the data: MSER-5 on each officer pool's daily backlog, from an empty start.

A province never starts empty, so a run simulates days before its horizon and counts none of their
dossiers. How many is read from the output rather than assumed, from a pilot replication that starts
empty ``PILOT_DAYS`` before the horizon. For each officer pool, from its backlog (dossiers in progress at
each day's end):
- the *transient*: MSER-5 (White 1997; the best of the 44 warm-up methods Hoad, Robinson & Davies 2011
  compared) batches the series in means of 5 days and drops the first d batches where the standard
  error of the remaining mean, ``var / (n - d)``, is least (searched over the first half only);
- the *run-up*: the days before the horizon since the pool's backlog (a 7-day mean) was last at or below
  its settled mean. A province is seasonal: the land offices build a backlog through the December peak,
  and an empty start in December misses what they built (MSER alone reads ~2 weeks of transient and
  would start the run on 17 December: January's overdue then depends on the warm-up, issue #10).
The pool needs transient + run-up days; the run's warm-up is the slowest pool's, in whole weeks.

Why not a steady-state initial backlog: a backlog injected at the start has no ages, so the first weeks'
dossiers meet a queue that is too young and their due dates are wrong; and the steady state is what we
want to find, not to assume.

The run's own replications are read the same way over its warm-up (``check``: each pool's need).
Evidence that the choice holds: January's KPIs with the chosen warm-up and with twice it agree within
their intervals (scenarios/catalog/README.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dvclab.sim.scenario import AUTO

if TYPE_CHECKING:
    from dvclab.catalog import Procedure
    from dvclab.sim.scenario import Scenario

BATCH_DAYS = 5  # MSER-5
PILOT_DAYS = 182  # the pilot's empty start before the horizon: room for a transient and a season's run-up
PILOT_TAIL_DAYS = 14  # and the days it runs into the horizon
PILOT_REPLICATION = 1_000  # its own random stream, apart from the run's replications 0, 1, ...
MIN_WARMUP_DAYS = 7
WEEK = 7  # the weekly cycle the run-up is smoothed over
# pools whose backlog averages fewer dossiers than this carry no transient worth reading (a commune's
# one officer): their MSER points are noise and are left out of the choice
MIN_MEAN_BACKLOG = 5.0


@dataclass(frozen=True)
class Truncation:
    days: int  # the transient to drop, from the series' start (a multiple of BATCH_DAYS)
    settled: bool  # False: the least standard error lies at the half-way limit (no steady state seen)
    statistic: float  # MSER at the chosen truncation
    mean_after: float  # the series' mean after it


def mser(series: np.ndarray, batch: int = BATCH_DAYS) -> Truncation:
    """MSER-``batch`` truncation of one series (e.g. a pool's mean daily backlog)."""
    values = np.asarray(series, dtype=float)
    batches = len(values) // batch
    if batches < 4:
        raise ValueError(f"MSER-{batch} needs at least {4 * batch} values, got {len(values)}")
    # the last partial batch is dropped: MSER-5 reads whole batches
    means = values[: batches * batch].reshape(batches, batch).mean(axis=1)
    # suffix sums give every truncation's mean and variance at once
    tail_sum = np.cumsum(means[::-1])[::-1]
    tail_sq = np.cumsum((means**2)[::-1])[::-1]
    remaining = batches - np.arange(batches)
    mean_after = tail_sum / remaining
    variance = np.maximum(tail_sq / remaining - mean_after**2, 0.0)
    statistic = variance / remaining  # ∝ the squared standard error of the remaining mean
    limit = batches // 2  # truncations past the half-way point are not trusted
    best = int(np.argmin(statistic[: limit + 1]))
    return Truncation(best * batch, best < limit, float(statistic[best]), float(mean_after[best]))


def pool_truncations(backlog: dict[str, np.ndarray]) -> dict[str, Truncation]:
    """Each pool's truncation on its replication-mean series (``backlog``: pool -> replications × days);
    pools too small to carry a transient are left out."""
    found = {}
    for pool, series in sorted(backlog.items()):
        mean = np.asarray(series, dtype=float)
        mean = mean.mean(axis=0) if mean.ndim == 2 else mean
        if mean.mean() >= MIN_MEAN_BACKLOG:
            found[pool] = mser(mean)
    return found


def run_up(series: np.ndarray, start: int, transient: int) -> int:
    """Days before ``start`` since the 7-day mean of ``series`` was last at or below its settled mean
    (the mean from ``transient`` to ``start``); all the settled days when it never was."""
    values = np.asarray(series, dtype=float)[:start]
    settled = values[transient:]
    if settled.size < WEEK:
        return 0
    weekly = np.convolve(settled, np.ones(WEEK) / WEEK, mode="valid")  # weekly[i]: days i .. i+6
    quiet = np.flatnonzero(weekly <= settled.mean())
    if not quiet.size:
        return len(settled)
    return len(settled) - (int(quiet[-1]) + WEEK)


@dataclass(frozen=True)
class PoolWarmup:
    transient: Truncation
    run_up: int

    @property
    def days(self) -> int:
        return self.transient.days + self.run_up


def pool_warmups(backlog: dict[str, np.ndarray], start: int) -> dict[str, PoolWarmup]:
    """Each pool's transient and run-up on a pilot's series (pool -> days from the empty start; the
    horizon starts on day ``start``)."""
    return {
        pool: PoolWarmup(found, run_up(backlog[pool], start, found.days))
        for pool, found in pool_truncations({p: s[: start] for p, s in backlog.items()}).items()
    }


def choose_warmup(needs: dict[str, int], cap: int = PILOT_DAYS) -> int:
    """The warm-up that covers every pool's need (days), in whole weeks, at least a week, at most ``cap``."""
    slowest = max(needs.values(), default=0)
    return min(cap, max(MIN_WARMUP_DAYS, WEEK * math.ceil(slowest / WEEK)))


def stacked(outputs: list[Any]) -> dict[str, np.ndarray]:
    """pool -> replications × days, from replication outputs' ``backlog_by_pool_day``."""
    pools = sorted({pool for o in outputs for pool in o.backlog_by_pool_day})
    shared = [pool for pool in pools if all(pool in o.backlog_by_pool_day for o in outputs)]
    return {pool: np.array([o.backlog_by_pool_day[pool] for o in outputs]) for pool in shared}


def pilot_evidence(found: dict[str, PoolWarmup], days: int) -> dict[str, Any]:
    slowest = max(found, key=lambda p: found[p].days, default=None)
    return {
        "slowest_pool": slowest,
        "needs_days": {pool: w.days for pool, w in found.items()},
        "transient_days": {pool: w.transient.days for pool, w in found.items()},
        "run_up_days": {pool: w.run_up for pool, w in found.items()},
        "settled_backlog": {pool: round(w.transient.mean_after, 1) for pool, w in found.items()},
        "unsettled_pools": [pool for pool, w in found.items() if not w.transient.settled],
        "capped": any(w.days > days for w in found.values()),
    }


def with_warmup(scenario: Scenario, days: int) -> Scenario:
    """The scenario with a fixed warm-up of ``days`` (validated as the file's own would be)."""
    startup = scenario.startup.model_copy(update={"warmup_days": days})
    return scenario.model_copy(update={"startup": startup})


def needs_choice(scenario: Scenario) -> bool:
    return scenario.startup.mode == "warmup" and scenario.startup.warmup_days == AUTO


def pilot_cache() -> Path:
    """Where chosen warm-ups are kept: ``$DVCLAB_CACHE/warmup``, else the user's cache folder."""
    root = os.environ.get("DVCLAB_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return Path(root) / ("warmup" if os.environ.get("DVCLAB_CACHE") else "dvclab/warmup")


def pilot_key(pilot: Scenario, catalog: list[Procedure]) -> str:
    """The pilot's identity: its resolved scenario, data files and model version (as a run's key), and
    the catalog it was given (a sweep may change it in memory)."""
    from dvclab.sim.reuse import run_key

    text = json.dumps(run_key(pilot, 1)["hash"]) + repr(catalog)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def resolve_warmup(
    scenario: Scenario, catalog: list[Procedure], fresh: bool = False
) -> tuple[Scenario, dict[str, Any] | None]:
    """``warmup_days: auto``: the scenario with the warm-up a pilot chose, and the evidence; any other
    scenario as it is (None: nothing chosen). The pilot is one replication on its own random stream from
    an empty start ``PILOT_DAYS`` before the horizon, so the choice is the same for the same scenario and
    seed (a reused run matches) and does not share the run's replications. Being deterministic, a choice
    is kept in ``pilot_cache()`` and reused (it costs half a province-year); ``fresh`` runs it again."""
    if not needs_choice(scenario):
        return scenario, None
    from dvclab.files import atomic_write_json
    from dvclab.sim.experiment import single_run

    pilot = with_warmup(scenario, PILOT_DAYS)
    run = pilot.run.model_copy(update={"horizon_days": PILOT_TAIL_DAYS})
    pilot = pilot.model_copy(update={"run": run})
    key = pilot_key(pilot, catalog)
    kept = pilot_cache() / f"{key}.json"
    if not fresh:
        try:
            chosen = json.loads(kept.read_text(encoding="utf-8"))
            return with_warmup(scenario, int(chosen["days"])), {**chosen, "pilot_reused": str(kept)}
        except (OSError, ValueError, KeyError, TypeError):
            pass  # none kept (or unreadable): run the pilot
    output = single_run(pilot, catalog, PILOT_REPLICATION)
    found = pool_warmups(output.backlog_by_pool_day, PILOT_DAYS)
    days = choose_warmup({pool: w.days for pool, w in found.items()})
    chosen = {
        "method": "MSER-5 transient + run-up (days since the 7-day backlog was last at its settled mean) "
        "of each officer pool's daily backlog (dossiers in progress at each day's end), the slowest pool's "
        f"in whole weeks; from a pilot replication starting empty {PILOT_DAYS} days before the horizon",
        "requested": AUTO,
        "days": days,
        "pilot": pilot_evidence(found, days),
        "pilot_key": key,
    }
    with contextlib.suppress(OSError):  # a read-only cache costs the next study a pilot, nothing else
        atomic_write_json(kept, chosen)
    return with_warmup(scenario, days), chosen


def run_check(outputs: list[Any], warmup_days: int) -> dict[str, Any] | None:
    """The pilot's reading on the run's own warm-up, each pool's series averaged over replications (as
    Welch's method averages them): a second look at the same question from more replications. It cannot
    judge the warm-up alone (inside a short warm-up the season's rise looks like a transient); the pilot,
    which starts empty far earlier, does. None when the outputs carry no per-pool backlog or the warm-up
    is too short to read. (MSER over the whole horizon would read the December peak and Tết instead.)"""
    backlog = stacked(outputs)
    if not backlog or warmup_days < 4 * BATCH_DAYS:
        return None
    found = pool_warmups({pool: series.mean(axis=0) for pool, series in backlog.items()}, warmup_days)
    slowest = max(found, key=lambda p: found[p].days, default=None)
    return {"slowest_pool": slowest, "needs_days": {pool: w.days for pool, w in found.items()}}


def warmup_section(experiment: Any) -> dict[str, Any]:
    """The manifest's ``warmup``: mode, the days used, how they were chosen (``auto``: the pilot's
    evidence), and the same reading on the run's own replications (``check``)."""
    startup = experiment.scenario.startup
    days = int(startup.warmup_days) if startup.mode == "warmup" else 0
    section: dict[str, Any] = {"mode": startup.mode, "days": days}
    section.update(experiment.warmup or {"method": "fixed", "requested": days})
    if startup.mode == "warmup":
        section["check"] = run_check(experiment.outputs, days)
    return section


def report_block(experiment: Any, catalog: list[Procedure], lang: str) -> dict[str, Any]:
    """The report's initialisation and stability part (STRESS-DES 4.1), rendered by its own partial
    template: the warm-up and its evidence, the units named unstable, the busiest ρ and growing backlogs."""
    from dvclab.sim.stability import run_trends, scenario_loads, stability_section

    stability = stability_section(scenario_loads(experiment.scenario, catalog), run_trends(experiment))
    return {
        "kind": "partial",
        "template": "warmup_stability.html.j2",
        "lang": lang,
        "warmup": warmup_section(experiment),
        "stability": stability,
    }
