"""The effort family: each maps the precomputed standard-normal draw to a factor of mean 1 by inversion,
the default is bit-identical to the lognormal the model always drew, and the scenario refuses what it
cannot draw."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from dvclab.sim.effort import effort_factor, normalised_quantiles
from dvclab.sim.experiment import single_run
from dvclab.sim.model import lognormal_factor
from dvclab.sim.scenario import BackOffice, ScenarioError, load_scenario
from tests.sim.test_event_log import small_province

# 200,001 equally spaced normal quantiles: the factor's moments by quadrature, no sampling error
Z = stats.norm.ppf((np.arange(200_001) + 0.5) / 200_001)


def _moments(factor: np.ndarray) -> tuple[float, float]:
    return float(factor.mean()), float(factor.std() / factor.mean())


def test_the_default_is_the_models_lognormal_bit_for_bit() -> None:
    z = np.random.default_rng(1).standard_normal(10_000)
    for cv in (0.0, 0.3, 0.5, 1.7):
        assert np.array_equal(effort_factor(z, BackOffice(effort_cv=cv)), lognormal_factor(z, cv))


@pytest.mark.parametrize("cv", [0.3, 0.5, 1.2])
def test_gamma_has_mean_1_and_the_cv(cv: float) -> None:
    mean, got = _moments(effort_factor(Z, BackOffice(effort_family="gamma", effort_cv=cv)))
    assert mean == pytest.approx(1.0, abs=2e-3)
    assert got == pytest.approx(cv, rel=0.02)
    # gamma, not lognormal: the same draws, another shape (the lognormal's tail is heavier)
    assert (
        effort_factor(Z[-1:], BackOffice(effort_family="gamma", effort_cv=cv))[0]
        < lognormal_factor(Z[-1:], cv)[0]
    )


def test_exponential_has_mean_1_and_cv_1_whatever_effort_cv() -> None:
    mean, cv = _moments(effort_factor(Z, BackOffice(effort_family="exponential", effort_cv=0.2)))
    assert mean == pytest.approx(1.0, abs=2e-3) and cv == pytest.approx(1.0, rel=0.02)
    assert np.isfinite(effort_factor(np.array([9.0, -9.0]), BackOffice(effort_family="exponential"))).all()


def test_empirical_interpolates_its_quantiles_rescaled_to_mean_1() -> None:
    quantiles = [0.0, 10.0, 20.0, 40.0, 130.0]  # a long right tail, in minutes: only the shape matters
    office = BackOffice(effort_family="empirical", effort_quantiles=quantiles)
    factor = effort_factor(Z, office)
    assert factor.mean() == pytest.approx(1.0, abs=1e-4)
    expected = normalised_quantiles(quantiles)
    assert factor.min() == pytest.approx(expected[0], abs=1e-3) and factor.max() == pytest.approx(
        expected[-1], abs=1e-3
    )
    assert effort_factor(np.array([0.0]), office)[0] == pytest.approx(expected[2])  # the median


@pytest.mark.parametrize("family", ["lognormal", "gamma", "exponential", "empirical"])
def test_every_family_keeps_the_draws_order(family: str) -> None:
    # common random numbers: a dossier's rank among its peers does not depend on the family
    quantiles = [0.2, 0.5, 1.0, 3.0] if family == "empirical" else None
    office = BackOffice(effort_family=family, effort_quantiles=quantiles)
    z = np.sort(np.random.default_rng(2).standard_normal(1000))
    assert np.all(np.diff(effort_factor(z, office)) >= 0)


@pytest.mark.parametrize(
    ("back_office", "expected"),
    [
        ({"effort_family": "weibull"}, "effort_family"),
        ({"effort_family": "empirical"}, "needs effort_quantiles"),
        ({"effort_family": "empirical", "effort_quantiles": [3, 2, 1]}, "non-decreasing"),
        ({"effort_family": "gamma", "effort_quantiles": [1, 2]}, "for effort_family empirical, not gamma"),
    ],
)
def test_the_scenario_refuses_what_it_cannot_draw(tmp_path: Path, back_office: dict, expected: str) -> None:
    path = small_province(tmp_path, **{f"back_office.{k}": v for k, v in back_office.items()})
    with pytest.raises(ScenarioError, match=expected) as error:
        load_scenario(path)
    if back_office["effort_family"] == "weibull":  # the allowed values are listed
        assert all(name in str(error.value) for name in ("lognormal", "gamma", "exponential", "empirical"))


@pytest.mark.slow  # three 30-day runs of the small province (~3 s)
def test_the_family_reaches_the_model(tmp_path: Path) -> None:
    def run(**changes: object) -> dict[str, float]:
        scenario, catalog = load_scenario(small_province(tmp_path / str(len(changes)), **changes))
        return single_run(scenario, catalog).kpis

    default = run()
    assert run(**{"back_office.effort_family": "lognormal"}) == default  # explicit default: the same run
    gamma = run(**{"back_office.effort_family": "gamma", "back_office.effort_cv": 0.5})
    assert gamma != default
    assert gamma["dossiers"] == default["dossiers"]  # the same arrivals (common numbers)
