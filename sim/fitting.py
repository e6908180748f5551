"""Choosing a distribution for observed durations: lognormal, gamma, exponential or the empirical one.

The parametric families are fitted by maximum likelihood (scipy, location fixed at 0) and compared by
AIC; the best is kept unless a Kolmogorov-Smirnov test rejects it (p < 0.01 on at least 50 values), in
which case no family describes the data and the choice is ``empirical`` (then ``quantiles`` carries its
shape). The model draws effort as the procedure's mean times a factor of mean 1 from the family chosen
for the back office (``sim.effort``): the calibration fits the pooled factors (each dossier's effort over
its procedure's mean) and writes that family; the per-pool fits are reported beside it.
A large sample is fitted on an evenly spaced subsample of ``MAX_FIT`` sorted values (the likelihood of a
million values says nothing more about the shape, and costs seconds). With recency weights the sample is
the weighted quantiles at evenly spaced probabilities instead: a pseudo-sample whose empirical
distribution is the weighted one, so the likelihood listens to recent values as the weights say.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

FAMILIES = {"lognormal": stats.lognorm, "gamma": stats.gamma, "exponential": stats.expon}
MAX_FIT = 5_000
KS_REJECT = 0.01
QUANTILES = 101  # an empirical family's factor quantiles at probabilities 0, 0.01, ..., 1


def weighted_quantiles(values: np.ndarray, weights: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Quantiles of the distribution putting ``weights`` on ``values`` (the inverse of its step CDF)."""
    order = np.argsort(values, kind="stable")
    values, weights = values[order], weights[order]
    cumulative = np.cumsum(weights)
    cumulative /= cumulative[-1]
    index = np.searchsorted(cumulative, probabilities * (1 - 1e-12), side="left")
    return values[np.minimum(index, len(values) - 1)]


@dataclass(frozen=True)
class Fit:
    family: str  # lognormal | gamma | exponential | empirical | none (no positive values)
    n: int
    mean: float
    cv: float
    aic: dict[str, float] = field(default_factory=dict)
    ks_p: float = math.nan  # the best parametric family's KS p-value
    quantiles: tuple[float, ...] = ()  # the values at probabilities 0, 1/(QUANTILES-1), ..., 1

    def describe(self) -> str:
        if self.family == "none":
            return "no positive durations"
        return f"{self.family} (mean {self.mean:.1f}, CV {self.cv:.2f}, n={self.n:,})"


def fit_durations(values: np.ndarray, weights: np.ndarray | None = None) -> Fit:
    """The family that fits positive ``values`` best by AIC, with their mean and CV (weighted by
    ``weights`` when given: recency weights, see ``sim.calibrate``)."""
    values = np.asarray(values, dtype=float)
    keep = np.isfinite(values) & (values > 0)
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        keep &= np.isfinite(weights) & (weights > 0)
        weights = weights[keep]
        if not len(weights) or np.all(weights == weights[0]):
            weights = None  # equal weights: the unweighted fit (cheaper, and what it always gave)
    values = values[keep]
    n = len(values)
    if n == 0:
        return Fit("none", 0, 0.0, 0.0)
    if weights is None:
        mean = float(values.mean())
        cv = float(values.std(ddof=1) / mean) if n > 1 and mean > 0 else 0.0
    else:
        mean = float(np.average(values, weights=weights))
        variance = float(np.average((values - mean) ** 2, weights=weights)) * n / max(n - 1, 1)
        cv = math.sqrt(variance) / mean if n > 1 and mean > 0 else 0.0
    probabilities = np.linspace(0.0, 1.0, QUANTILES)
    if weights is None:
        sample = np.sort(values)
        quantiles = np.quantile(sample, probabilities)
        if n > MAX_FIT:
            sample = sample[np.linspace(0, n - 1, MAX_FIT).round().astype(int)]
    else:
        size = min(n, MAX_FIT)
        sample = weighted_quantiles(values, weights, (np.arange(size) + 0.5) / size)
        quantiles = weighted_quantiles(values, weights, probabilities)
    shape = tuple(float(q) for q in quantiles)
    if n < 5 or np.ptp(values) == 0:
        return Fit("empirical", n, mean, cv, quantiles=shape)
    aic: dict[str, float] = {}
    params: dict[str, tuple[float, ...]] = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, family in FAMILIES.items():
            try:
                fitted = family.fit(sample, floc=0)
            except (ValueError, RuntimeError, FloatingPointError):
                continue
            loglik = float(np.sum(family.logpdf(sample, *fitted)))
            if math.isfinite(loglik):
                free = len(fitted) - 1  # the location is fixed
                aic[name] = 2 * free - 2 * loglik
                params[name] = fitted
    if not aic:
        return Fit("empirical", n, mean, cv, quantiles=shape)
    best = min(aic, key=lambda name: aic[name])
    p = float(stats.kstest(sample, FAMILIES[best].cdf, args=params[best]).pvalue)
    family = "empirical" if (len(sample) >= 50 and p < KS_REJECT) else best
    return Fit(family, n, mean, cv, {k: round(v, 1) for k, v in aic.items()}, p, shape)
