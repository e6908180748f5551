"""One interval rule for every place a figure is written or shown (#14): bounds clipped to the KPI's
natural range, the mean never clipped, so a mean always lies inside its own interval and no count, time
or rate has a negative bound in kpis.json, the CSV, the workbook or the report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from openpyxl import load_workbook

from dvclab.sim.experiment import confidence_interval, natural_range
from dvclab.sim.kpis import INDEX_766_MAX
from dvclab.sim.outputs import write_run


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("counter_wait_mean_min", (0.0, math.inf)),
        ("dossiers", (0.0, math.inf)),
        ("trips_per_dossier", (0.0, math.inf)),
        ("postal_fees_vnd", (0.0, math.inf)),
        ("overdue_rate", (0.0, 1.0)),
        ("overdue_rate_by_level.commune", (0.0, 1.0)),
        ("utilisation.district.land", (0.0, math.inf)),  # work after hours: above 1 is real
        ("utilisation_max.district.land", (0.0, math.inf)),
        ("index_766.timeliness", (0.0, INDEX_766_MAX["timeliness"])),
    ],
)
def test_each_kpi_has_its_natural_range(name: str, expected: tuple[float, float]) -> None:
    assert natural_range(name) == expected


def test_a_waiting_time_interval_never_goes_below_zero() -> None:
    e = confidence_interval(np.array([0.0, 0.0, 3.0]), "counter_wait_mean_min")
    assert e.ci_low == 0.0 and e.mean == 1.0 and e.ci_high > 3.0


def test_a_utilisation_above_one_keeps_its_mean_inside_its_interval() -> None:
    # the case: mean 1.0004 beside an interval clipped to 0.9978-1.0000
    e = confidence_interval(np.array([0.9990, 1.0010, 1.0012]), "utilisation.district.land")
    assert e.ci_low <= e.mean <= e.ci_high and e.ci_high > 1.0


def test_a_rate_stays_within_zero_and_one_with_its_mean_inside() -> None:
    e = confidence_interval(np.array([0.0, 0.001, 0.0]), "overdue_rate")
    assert e.ci_low == 0.0 <= e.mean <= e.ci_high
    full = confidence_interval(np.array([1.0, 0.999, 1.0]), "digitised_rate")
    assert full.ci_high == 1.0 and full.ci_low <= full.mean <= 1.0


def test_a_difference_is_not_clipped() -> None:
    e = confidence_interval(np.array([-0.02, 0.01, -0.01]))
    assert e.ci_low < -0.02 and e.ci_high > 0.01


@pytest.mark.slow
def test_every_written_interval_follows_the_rule(tmp_path: Path) -> None:
    from tests.workbench.conftest import catalog, tiny

    experiment = tiny()
    folder = write_run(experiment, catalog(), tmp_path, ["test"], None, lang="en")
    kpis = json.loads((folder / "kpis.json").read_text(encoding="utf-8"))
    clipped = 0
    for name, e in kpis.items():
        lowest, highest = natural_range(
            name.split(".", 1)[0] if name.startswith("overdue_rate_by_procedure") else name
        )
        assert lowest <= e["ci_low"] <= e["mean"] <= e["ci_high"] <= highest, name
        raw = (
            confidence_interval(experiment.values(name), within=(-math.inf, math.inf))
            if name in experiment.kpi_names()
            else None
        )
        clipped += raw is not None and raw.ci_low < 0
    assert clipped, "the tiny run has no interval reaching below zero: the test exercises nothing"
    with (folder / "kpis.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert all(
        float(r["ci_low"]) >= 0 and float(r["ci_low"]) <= float(r["mean"]) <= float(r["ci_high"])
        for r in rows
    )
    sheet = load_workbook(folder / "results.xlsx")["KPIs"]
    header = [cell.value for cell in sheet[1]]
    low, mean, high = (header.index(h) for h in ("95% CI low", "Mean", "95% CI high"))
    for row in sheet.iter_rows(min_row=2, values_only=True):
        assert 0 <= row[low] <= row[mean] <= row[high], row
    with (folder / "backlog_by_day.csv").open(encoding="utf-8") as handle:
        assert all(float(r["ci_low"]) >= 0 for r in csv.DictReader(handle))
