"""The metrics a gate rule may name, how the derived ones are computed, and which way is better.

The catalogues are this gate's own contract with the writers of results (``loadtests/README.md``): the
rules file is checked against them before any run is read, and the live abort rules derive the same
metrics from a snapshot as the readers do from a finished run's files.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Iterable, Mapping
from typing import Any

# --- the metric catalogues: what a rule may name in each section -------------------------------------
LATENCY_FIELDS = ("p50_ms", "p90_ms", "p95_ms", "p99_ms", "p999_ms", "max_ms")
ENDPOINT_METRICS = frozenset({"requests", "failures", "rps", *LATENCY_FIELDS, "fail_ratio"})
TOTAL_METRICS = frozenset(
    {
        "requests",
        "failures",
        "fail_ratio",
        "rps",
        *LATENCY_FIELDS,
        "offered_rps",
        "achieved_rps",
        "achieved_ratio",
        "scheduled",
        "dropped",
        "dropped_ratio",
        "duration_s",
        "generator_cpu_max_pct",
    }
)
SECURITY_METRICS = frozenset({"violations", "not_run", "checks", "passes"})
SIM_KPIS = frozenset(
    {
        "dossiers",
        "overdue_rate",
        "on_time_rate",
        "early_rate",
        "counter_wait_mean_min",
        "counter_wait_p90_min",
        "trips_per_dossier",
        "reported_online_rate",
        "self_service_online_rate",
        "online_payment_rate",
        "digitised_rate",
        "postal_return_share",
        "sync_discrepancy",
    }
)
# Families of dotted KPIs, e.g. ``overdue_rate_by_level.commune`` or ``utilisation.district.land``.
SIM_KPI_FAMILIES = (
    "overdue_rate_by_level.",
    "overdue_rate_by_group.",
    "utilisation.",
    "utilisation_max.",
    "index_766.",
)
SIM_STATS = ("mean", "ci_low", "ci_high")
# Metrics the benchmark writers are known to produce, by file stem (portal.json is open-ended).
BENCH_METRICS: dict[str, frozenset[str]] = {
    "sim": frozenset(
        {
            "province_year_seconds",
            "dossiers_per_s",
            "peak_rss_mib",
            "mmc_customers_per_s",
            "ciw_customers_per_s",
            "ratio_vs_ciw",
        }
    ),
    "harness": frozenset({"plain_rps", "harness_rps", "ratio"}),
}

Metrics = dict[str, float | None]
# The percentile each latency field reports; max_ms is an observation, not an estimate.
PERCENTILES = {"p50_ms": 0.50, "p90_ms": 0.90, "p95_ms": 0.95, "p99_ms": 0.99, "p999_ms": 0.999}


def min_samples(metric: str) -> int:
    """The fewest requests from which a percentile is more than the slowest one: a p95 needs 20 (below
    that, the 95th percentile of n samples is the maximum, set by one request), a p99 100, a p99.9 1,000.
    Other metrics need one sample."""
    quantile = PERCENTILES.get(metric)
    return 1 if quantile is None else math.ceil(round(1 / (1 - quantile), 6))


# --- derived metrics: the same for a finished run's files and a live snapshot ------------------------
def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _ratio(part: float | None, whole: float | None) -> float | None:
    """A ratio with no denominator is no data, not zero: an endpoint never called has no failure rate."""
    if part is None or not whole:
        return None
    return part / whole


def endpoint_metrics(stats: Mapping[str, Any]) -> Metrics:
    """The metrics of one endpoint (or of the total) as rules see them, derived ratios included."""
    # NaN (a writer's "no value") is no data; infinities are real observations and fail their rules.
    metrics: Metrics = {
        name: (float(value) if is_number(value) and not math.isnan(value) else None)
        for name, value in stats.items()
    }
    metrics["fail_ratio"] = _ratio(metrics.get("failures"), metrics.get("requests"))
    return metrics


def total_metrics(stats: Mapping[str, Any]) -> Metrics:
    metrics = endpoint_metrics(stats)
    if metrics.get("rps") is None:
        metrics["rps"] = metrics.get("achieved_rps")
    if metrics.get("dropped_ratio") is None:
        metrics["dropped_ratio"] = _ratio(metrics.get("dropped"), metrics.get("scheduled"))
    metrics["achieved_ratio"] = _ratio(metrics.get("achieved_rps"), metrics.get("offered_rps"))
    for name in TOTAL_METRICS:
        metrics.setdefault(name, None)
    return metrics


# security.json's verdicts (the writers' contract: loadtests/README.md).
PASS, FAIL, NOT_RUN = "pass", "fail", "not run"
VERDICTS = (PASS, FAIL, NOT_RUN)


def security_metrics(verdicts: Iterable[str]) -> Metrics:
    """``violations`` counts failed checks only; a check that did not run is ``not_run``, neither a
    violation nor a pass (so ``passes >= N`` still catches a run whose checks never ran)."""
    counted = list(verdicts)
    return {
        "violations": float(counted.count(FAIL)),
        "not_run": float(counted.count(NOT_RUN)),
        "checks": float(len(counted)),
        "passes": float(counted.count(PASS)),
    }


def _sim_kpi_name(metric: str) -> str:
    kpi, _, stat = metric.rpartition(".")
    return kpi if stat in SIM_STATS else metric


def is_sim_family_metric(metric: str) -> bool:
    """A member of a dotted family (``overdue_rate_by_level.commune``), whose members vary by scenario."""
    name = _sim_kpi_name(metric)
    return any(name.startswith(family) and name != family for family in SIM_KPI_FAMILIES)


def known_sim_metric(metric: str) -> bool:
    """Whether a sim metric is in the catalogue, for rules whose scenario has no run to look in."""
    return _sim_kpi_name(metric) in SIM_KPIS or is_sim_family_metric(metric)


# --- units: how a report shows an observed value ----------------------------------------------------
# First match wins; a fraction is shown as a percentage beside the number the rule compares.
UNITS: tuple[tuple[str, str], ...] = (
    ("*_ms", "ms"),
    ("*_ms_*", "ms"),
    ("*_pct", "%"),
    ("*_ratio", "fraction"),
    ("ratio", "ratio"),
    ("ratio_vs_*", "ratio"),
    ("*_rate", "fraction"),
    ("*_rate.*", "fraction"),
    ("*_rate_by_*", "fraction"),
    ("*_share", "fraction"),
    ("utilisation.*", "fraction"),
    ("sync_discrepancy*", "fraction"),
    ("dossiers_per_s", "dossiers/s"),
    ("*_per_s", "/s"),
    ("rps", "req/s"),
    ("*_rps*", "req/s"),
    ("*_seconds", "s"),
    ("*_s", "s"),
    ("*_min*", "min"),
    ("*_mib", "MiB"),
    ("dossiers*", "dossiers"),
    ("requests", "requests"),
    ("failures", "requests"),
    ("scheduled", "journeys"),
    ("dropped", "journeys"),
    ("trips_per_dossier*", "trips"),
    ("index_766.*", "points"),
)


def unit(metric: str) -> str:
    """The unit of a metric as reports show it ("" when it is a plain count or unknown)."""
    return next((name for pattern, name in UNITS if fnmatch.fnmatchcase(metric, pattern)), "")


# --- direction: what a baseline comparison counts as worse ------------------------------------------
HIGHER_WORSE, HIGHER_BETTER, NEUTRAL = 1, -1, 0
DIRECTION_WORDS = {
    HIGHER_WORSE: "higher is worse",
    HIGHER_BETTER: "higher is better",
    NEUTRAL: "not compared",
}
# First match wins. Counts that scale with the offered load (requests, dossiers) and inputs (offered_rps,
# the Ciw reference speed) are neutral: a change there is not a regression of the system.
DIRECTIONS: tuple[tuple[str, int], ...] = (
    ("requests", NEUTRAL),
    ("failures", NEUTRAL),
    ("scheduled", NEUTRAL),
    ("dropped", NEUTRAL),
    ("offered_rps", NEUTRAL),
    ("duration_s", NEUTRAL),
    ("checks", NEUTRAL),
    ("passes", NEUTRAL),
    ("dossiers", NEUTRAL),
    ("utilisation.*", NEUTRAL),
    ("postal_return_share", NEUTRAL),
    ("ciw_customers_per_s", NEUTRAL),
    ("plain_rps", NEUTRAL),
    ("*_ms", HIGHER_WORSE),
    ("fail_ratio", HIGHER_WORSE),
    ("dropped_ratio", HIGHER_WORSE),
    ("violations", HIGHER_WORSE),
    ("not_run", HIGHER_WORSE),
    ("generator_cpu_max_pct", HIGHER_WORSE),
    ("overdue_rate*", HIGHER_WORSE),
    ("counter_wait_*", HIGHER_WORSE),
    ("trips_per_dossier", HIGHER_WORSE),
    ("sync_discrepancy", HIGHER_WORSE),
    ("province_year_seconds", HIGHER_WORSE),
    ("peak_rss_mib", HIGHER_WORSE),
    ("*_seconds", HIGHER_WORSE),
    ("rps", HIGHER_BETTER),
    ("*_rps", HIGHER_BETTER),
    ("achieved_ratio", HIGHER_BETTER),
    ("*_per_s", HIGHER_BETTER),
    ("ratio_vs_ciw", HIGHER_BETTER),
    ("ratio", HIGHER_BETTER),
    ("on_time_rate", HIGHER_BETTER),
    ("early_rate", HIGHER_BETTER),
    ("*_online_rate", HIGHER_BETTER),
    ("online_payment_rate", HIGHER_BETTER),
    ("digitised_rate", HIGHER_BETTER),
    ("index_766.*", HIGHER_BETTER),
)


def direction(metric: str) -> int:
    return next((sign for pattern, sign in DIRECTIONS if fnmatch.fnmatchcase(metric, pattern)), NEUTRAL)
