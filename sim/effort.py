"""Officer effort factors: the procedure's mean effort is multiplied by a factor of mean 1 drawn from the
family the scenario names (``back_office.effort_family``).

The model draws one standard-normal number per dossier and step in advance (common random numbers: two
scenarios that differ elsewhere see the same draws). Each family maps that ``z`` by inversion, u = Φ(z)
and factor = F⁻¹(u), so a dossier keeps its rank whatever the family: the slowest files stay the slowest.

- lognormal (the default): exp(σz − σ²/2), σ² = ln(1 + CV²), the same arithmetic as before the family
  could be chosen, so existing results are bit-identical;
- gamma: shape 1/CV², scale CV²;
- exponential: −ln(1 − u), whose CV is 1 whatever ``effort_cv`` says;
- empirical: linear interpolation between quantiles of the factor at evenly spaced probabilities 0 … 1
  (what ``sim calibrate`` writes when no family passes its goodness-of-fit test), rescaled so the
  interpolated distribution's mean is exactly 1.

The tails use Φ(−z) rather than 1 − Φ(z), so a large ``z`` is not rounded to the end of the range.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

FAMILIES = ("lognormal", "gamma", "exponential", "empirical")


def lognormal(z: np.ndarray, cv: float) -> np.ndarray:
    if cv == 0:
        return np.ones_like(z)
    sigma = math.sqrt(math.log1p(cv * cv))
    return np.exp(sigma * z - sigma * sigma / 2)


def gamma(z: np.ndarray, cv: float) -> np.ndarray:
    if cv == 0:
        return np.ones_like(z)
    from scipy.special import gammainccinv, ndtr

    shape = 1.0 / (cv * cv)
    return gammainccinv(shape, ndtr(-np.asarray(z, dtype=float))) / shape


def exponential(z: np.ndarray) -> np.ndarray:
    from scipy.special import log_ndtr

    return -log_ndtr(-np.asarray(z, dtype=float))


def normalised_quantiles(quantiles: Sequence[float]) -> np.ndarray:
    """The quantiles scaled so the distribution they interpolate has mean 1 (trapezoids: the mean of a
    piecewise-linear quantile function is the mean of its segments' midpoints)."""
    q = np.asarray(quantiles, dtype=float)
    mean = float(np.mean((q[1:] + q[:-1]) / 2))
    return q / mean


def empirical(z: np.ndarray, quantiles: Sequence[float]) -> np.ndarray:
    from scipy.special import ndtr

    q = normalised_quantiles(quantiles)
    return np.interp(ndtr(np.asarray(z, dtype=float)), np.linspace(0.0, 1.0, len(q)), q)


def effort_factor(z: np.ndarray, back_office: Any) -> np.ndarray:
    """Factors of mean 1 for the draws ``z``, from ``back_office`` (a scenario's ``BackOffice``)."""
    family = back_office.effort_family
    if family == "lognormal":
        return lognormal(z, back_office.effort_cv)
    if family == "gamma":
        return gamma(z, back_office.effort_cv)
    if family == "exponential":
        return exponential(z)
    if family == "empirical":
        return empirical(z, back_office.effort_quantiles)
    raise ValueError(f"back_office.effort_family: {family!r}; expected one of {', '.join(FAMILIES)}")
