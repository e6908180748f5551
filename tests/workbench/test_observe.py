"""The report's extra series: observing a replication changes none of its KPIs, and minutes are put in
the right weekday × hour cells."""

from __future__ import annotations

import datetime as dt

import numpy as np

from dvclab.sim.experiment import single_run
from dvclab.sim.observe import WAIT_EDGES, spread, utilisation_heatmap
from dvclab.sim.scenario import CHANNELS, load_scenario
from tests.workbench.conftest import TINY, tiny


def test_spread_splits_intervals_at_the_hour() -> None:
    monday = dt.date(2024, 3, 4)
    cells = spread(np.array([30.0, 24 * 60 + 600.0]), np.array([90.0, 24 * 60 + 610.0]), monday)
    assert cells[0, 0] == 30 and cells[0, 1] == 30 and cells[1, 10] == 10
    assert cells.sum() == 70


def test_observed_replication_has_the_plain_kpis_and_consistent_series() -> None:
    scenario, catalog = load_scenario(TINY)
    observed = tiny().outputs[0]
    assert observed.kpis == single_run(scenario, catalog, 0).kpis
    assert observed.channel_counts.sum() == observed.kpis["dossiers"]
    assert len(observed.channel_counts) == len(CHANNELS)
    assert len(observed.counter_wait_counts) == len(WAIT_EDGES) - 1
    heat = utilisation_heatmap(tiny().outputs)
    open_cells = ~np.isnan(heat)
    # the 5 days from Friday 1 March 2024: Friday, Monday and Tuesday mornings open; weekends shut
    assert open_cells[[0, 1, 4], 8:11].all() and not open_cells[[5, 6]].any()
    assert np.nanmax(heat) <= 1.0 + 1e-9 and np.nanmin(heat) >= 0.0


def test_back_office_heatmap_counts_only_open_hours() -> None:
    from dvclab.sim.observe import fold_week, spread_hours

    # work from Monday 16:30 to Tuesday 08:00 of a calendar open 07:30-17:00: 30 + 30 open minutes
    monday = dt.date(2024, 1, 1)
    starts, ends = np.array([16.5 * 60]), np.array([24 * 60 + 8 * 60])
    sessions = spread_hours(
        np.array([7.5 * 60, 24 * 60 + 7.5 * 60]), np.array([17 * 60, 24 * 60 + 17 * 60]), 48
    )
    worked = spread_hours(starts, ends, 48) * sessions / 60.0
    cells = fold_week(worked, monday)
    assert cells.sum() == 60.0
    assert cells[0, 16] == 30.0 and cells[1, 7] == 30.0 and cells[0, 20] == 0.0


def test_back_office_heatmap_from_a_run() -> None:
    heat = utilisation_heatmap(tiny().outputs, "back_office")
    assert heat is not None
    open_cells = ~np.isnan(heat)
    assert open_cells.any() and np.all(heat[open_cells] >= 0) and np.all(heat[open_cells] <= 1.0)
    assert np.nanmax(heat) > 0
