"""Confidence intervals and ``--replications auto``: exact t quantiles, no interval from one replication,
and the sequential rule (Hoad, Robinson & Davies 2010) on fake replications whose spread is known."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np
import pytest
from scipy import stats

from dvclab.sim.experiment import confidence_interval, interval_warning, t95
from dvclab.sim.kpis import ReplicationOutput, UnitFigures
from dvclab.sim.plan import Target, confidence_met, t_cdf
from dvclab.sim.precision import PrecisionError, PrecisionRule, assess, sequential_replications
from dvclab.sim.results import interval_flag
from dvclab.sim.scenario import Scenario, load_scenario
from tests.workbench.conftest import TINY


def test_t_quantile_is_exact_beyond_30_degrees_of_freedom() -> None:
    assert t95(40) == pytest.approx(stats.t.ppf(0.975, 40), rel=1e-12)
    assert t95(40) == pytest.approx(2.0211, abs=1e-4)  # not the normal 1.960 of the old table
    assert t95(4) == pytest.approx(2.7764, abs=1e-4)
    assert math.isnan(t95(0))
    assert t_cdf(2.0211, 40) == pytest.approx(0.975, abs=1e-4)


def test_one_replication_has_no_interval() -> None:
    e = confidence_interval(np.array([0.04]), "overdue_rate")
    assert e.mean == 0.04 and math.isnan(e.ci_low) and math.isnan(e.ci_high)
    assert e.as_dict() == {"mean": 0.04, "ci_low": None, "ci_high": None, "unit": "fraction"}
    assert not Target("overdue_rate", "<=", 0.5).met_by(e)  # no target is met on one replication
    assert math.isnan(confidence_met(np.array([0.04]), Target("overdue_rate", "<=", 0.5)))


@pytest.mark.parametrize(("n", "meaningful"), [(1, False), (2, False), (3, True), (40, True)])
def test_fewer_than_three_replications_are_flagged(n: int, meaningful: bool) -> None:
    flag = interval_flag(n)
    assert flag["meaningful"] is meaningful
    assert (interval_warning(n) is None) is meaningful
    assert ("warning" in flag) is not meaningful


# -- the sequential rule --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _fake:  # noqa: N801 - used like a function: a picklable runner for the worker processes
    """A runner whose overdue_rate has a known spread around ``mean`` (replication r: its own draw)."""

    spread: float
    mean: float = 0.10

    def __call__(self, scenario: object, catalog: object, r: int) -> ReplicationOutput:
        draw = np.random.default_rng(1000 + r).normal()
        kpis = {
            "overdue_rate": self.mean + self.spread * draw,
            "on_time_rate": 1 - self.mean - self.spread * draw,
        }
        empty = np.zeros(1)
        return ReplicationOutput(kpis, empty, np.zeros((1, 1)), empty, empty, UnitFigures({}, {}, {}))


@cache
def _scenario() -> Scenario:
    return load_scenario(TINY)[0]  # the fake runner ignores it; the experiment records it


def _auto(spread: float, **rule: object):  # noqa: ANN202
    done: list[int] = []
    experiment = sequential_replications(
        _scenario(),
        [],
        PrecisionRule(**rule),
        jobs=2,
        on_done=done.append,
        runner=_fake(spread),
    )
    return experiment, done


def test_auto_stops_at_the_minimum_for_a_near_deterministic_kpi() -> None:
    experiment, _ = _auto(1e-6, look_ahead=0)
    assert experiment.replications == 3 and experiment.rule["solution"] == 3
    assert experiment.scenario.run.replications == 3  # the manifest's scenario says what ran
    # Hoad's look-ahead: the minimum is still the solution, confirmed over 5 more replications
    experiment, done = _auto(1e-6)
    assert experiment.rule["solution"] == 3 and experiment.replications == 8
    assert experiment.rule["precision_reached"]["overdue_rate"]["relative_half_width"] < 1e-3
    assert not experiment.rule["capped"] and experiment.rule["precise"]
    assert sorted(done)[:8] == list(range(8))


def test_auto_grows_for_a_noisy_kpi_until_precise() -> None:
    experiment, _ = _auto(0.01)  # 10% relative spread: needs about (1.96 * 0.1 / 0.05)^2 = 16
    assert 8 < experiment.rule["solution"] < 30
    assert experiment.replications == experiment.rule["solution"] + 5
    reached = experiment.rule["precision_reached"]["overdue_rate"]["relative_half_width"]
    assert reached <= 0.05
    values = experiment.values("overdue_rate")
    e = confidence_interval(values)
    assert (e.ci_high - e.mean) / e.mean == pytest.approx(reached)


def test_auto_stops_at_the_cap_and_says_so() -> None:
    experiment, _ = _auto(0.05, cap=10)
    assert experiment.replications == 10 and experiment.rule["capped"] and experiment.rule["solution"] is None
    assert not experiment.rule["precise"]


def test_the_count_does_not_depend_on_the_batch_size() -> None:
    counts = set()
    for jobs in (1, 2, 4):
        experiment = sequential_replications(
            _scenario(),
            [],
            PrecisionRule(),
            jobs=jobs,
            runner=_fake(0.01),
        )
        counts.add((experiment.replications, tuple(experiment.values("overdue_rate"))))
    assert len(counts) == 1


def test_a_kpi_with_mean_zero_is_judged_on_an_absolute_tolerance() -> None:
    rule = PrecisionRule(kpis=("overdue_rate",), look_ahead=0)
    assert assess({"overdue_rate": np.zeros(3)}, rule).solution == 3
    tiny = np.array([0.0, 0.0002, 0.0001])  # relative precision hopeless, absolutely negligible
    assert assess({"overdue_rate": tiny}, rule).solution == 3
    assert not assess({"overdue_rate": np.array([0.0, 0.02, 0.01])}, rule).done


@pytest.mark.parametrize(
    "bad", [{"precision": 0.0}, {"precision": 1.5}, {"cap": 2}, {"look_ahead": -1}, {"kpis": ()}]
)
def test_bad_rules_are_named(bad: dict) -> None:
    with pytest.raises(PrecisionError):
        PrecisionRule(**bad)
