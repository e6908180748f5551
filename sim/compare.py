"""Comparing what-ifs with their baseline: paired differences under common random numbers, and verdicts.

Every scenario runs with the same seed and replication count, so replication r of each sees the same
citizens wherever the what-if did not change them; the difference what-if − baseline is taken
replication by replication (``paired_difference``). A verdict needs the 95% interval to exclude zero
*and* the mean difference to reach the KPI's minimal difference (``MINIMAL_DIFFERENCE``): a significant but
tiny change (0.0004 on a rate) is "no material change", never "better". The KPI's good direction says
which side is better.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from dvclab.sim.experiment import Estimate, Experiment, paired_difference
from dvclab.sim.kpis import unit_of
from dvclab.sim.scenario import Scenario, resolved_dict

Verdict = Literal["better", "worse", "higher", "lower", "no material change", "no significant change"]

# The smallest difference a planner would act on, by the KPI's unit: (amount, relative to the baseline
# mean?). Rates: half a percentage point; counts and money: 1% of the baseline. The report prints this table.
MINIMAL_DIFFERENCE: dict[str, tuple[float, bool]] = {
    "fraction": (0.005, False),
    "minutes": (1.0, False),
    "trips": (0.05, False),
    "points": (0.5, False),
    "dossiers": (0.01, True),
    "VND": (0.01, True),
}

# KPIs where less is better; the rest of the judged ones are better when higher.
LOWER_IS_BETTER = (
    "overdue_rate",
    "apology_slips",
    "counter_wait",
    "trips_per_dossier",
    "sync_discrepancy",
    "postal_fees_vnd",
    "supplement_rate",
)
HIGHER_IS_BETTER = (
    "on_time_rate",
    "early_rate",
    "self_service_online_rate",
    "reported_online_rate",
    "online_payment_rate",
    "digitised_rate",
    "index_766",
)
# Neither: volumes, shares and utilisation describe the system rather than judge it.


def good_direction(kpi: str) -> int:
    """-1 when lower is better, +1 when higher is better, 0 when the KPI is descriptive."""
    if kpi.startswith(LOWER_IS_BETTER):
        return -1
    if kpi.startswith(HIGHER_IS_BETTER):
        return 1
    return 0


def minimal_difference(kpi: str, base_mean: float | None = None) -> float:
    """The smallest material difference of ``kpi`` (a relative one needs the baseline mean, else 0)."""
    amount, relative = MINIMAL_DIFFERENCE.get(unit_of(kpi), (0.0, False))
    if relative:
        return amount * abs(base_mean) if base_mean is not None else 0.0
    return amount


def verdict(kpi: str, difference: Estimate, base_mean: float | None = None) -> Verdict:
    if difference.ci_low > 0:
        side = 1
    elif difference.ci_high < 0:
        side = -1
    else:
        return "no significant change"
    if abs(difference.mean) < minimal_difference(kpi, base_mean):
        return "no material change"
    direction = good_direction(kpi)
    if direction == 0:
        return "higher" if side > 0 else "lower"
    return "better" if side == direction else "worse"


@dataclass
class KpiComparison:
    kpi: str
    base: float
    whatif: float
    difference: Estimate
    verdict: Verdict


@dataclass
class Comparison:
    base: Experiment
    whatif: Experiment
    rows: list[KpiComparison]
    changes: list[tuple[str, Any, Any]]  # scenario fields that differ: (path, baseline, what-if)

    @property
    def replications(self) -> int:
        return self.base.replications


def paired(base: Experiment, whatif: Experiment) -> tuple[Experiment, Experiment]:
    """Both experiments restricted to the replications they share (after Ctrl-C they may differ)."""
    shared = sorted(set(base.replication_ids) & set(whatif.replication_ids))
    if not shared:
        raise ValueError(f"{whatif.scenario.name} and {base.scenario.name} share no finished replication")
    if shared == base.replication_ids and shared == whatif.replication_ids:
        return base, whatif
    return base.subset(shared), whatif.subset(shared)


def compare(base: Experiment, whatif: Experiment) -> Comparison:
    if base.scenario.run.seed != whatif.scenario.run.seed:
        raise ValueError("common random numbers need the same seed for every scenario")
    base, whatif = paired(base, whatif)
    base_summary, whatif_summary = base.summary(), whatif.summary()
    rows = []
    for kpi in base.kpi_names():
        if kpi not in whatif_summary:
            continue  # e.g. district-level KPIs of a scenario without a district level
        difference = paired_difference(whatif, base, kpi)
        rows.append(
            KpiComparison(
                kpi,
                base_summary[kpi].mean,
                whatif_summary[kpi].mean,
                difference,
                verdict(kpi, difference, base_summary[kpi].mean),
            )
        )
    return Comparison(base, whatif, rows, scenario_changes(base, whatif))


# Fields that name or document a scenario rather than change it.
_NOT_A_CHANGE = ("name", "description", "source", "lang")


def scenario_changes(base: Experiment, whatif: Experiment) -> list[tuple[str, Any, Any]]:
    """The what-if's changes as (dotted path, baseline value, what-if value): the report's first table."""
    before = flatten(resolved_dict(base.scenario))
    after = flatten(resolved_dict(whatif.scenario))
    changes = []
    for path in sorted(set(before) | set(after)):
        if path.split(".")[0] in _NOT_A_CHANGE:
            continue
        located = _DATA_FILES.get(path)
        if located and same_file(located(base.scenario), located(whatif.scenario)):
            continue  # one file named by two paths (relative in one file, resolved through `extends`)
        old, new = before.get(path, "—"), after.get(path, "—")
        if old != new:
            changes.append((path, old, new))
    return changes


# The data files a scenario names, relative to its own file: a change only if their content differs.
_DATA_FILES = {"catalog": Scenario.catalog_path, "units": Scenario.units_path}


def same_catalog(a: Scenario, b: Scenario) -> bool:
    """Whether two scenarios read the same catalog: the same file, or files with the same content."""
    return same_file(a.catalog_path(), b.catalog_path())


def same_file(first: Path, second: Path) -> bool:
    """The same file, or two files with the same content."""
    first, second = first.resolve(), second.resolve()
    if first == second:
        return True
    return first.is_file() and second.is_file() and _digest(first) == _digest(second)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        flat: dict[str, Any] = {}
        for key, value in data.items():
            flat.update(flatten(value, f"{prefix}{key}."))
        return flat
    return {prefix.rstrip("."): data}
