"""Choosing a distribution for observed durations: lognormal, gamma, exponential or the empirical one.

The parametric families are fitted by maximum likelihood (scipy, location fixed at 0) and compared by
AIC; the best is kept unless a Kolmogorov-Smirnov test rejects it (p < 0.01 on at least 50 values), in
which case no family describes the data and the choice is ``empirical``. The model draws effort as a
lognormal with a mean and a coefficient of variation, so what the scenario receives is the sample's mean
and CV whichever family won: the family is reported so the user knows how far that is from the data.
A large sample is fitted on an evenly spaced subsample of ``MAX_FIT`` sorted values (the likelihood of a
million values says nothing more about the shape, and costs seconds).
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


@dataclass(frozen=True)
class Fit:
    family: str  # lognormal | gamma | exponential | empirical | none (no positive values)
    n: int
    mean: float
    cv: float
    aic: dict[str, float] = field(default_factory=dict)
    ks_p: float = math.nan  # the best parametric family's KS p-value

    def describe(self) -> str:
        if self.family == "none":
            return "no positive durations"
        return f"{self.family} (mean {self.mean:.1f}, CV {self.cv:.2f}, n={self.n:,})"


def fit_durations(values: np.ndarray) -> Fit:
    """The family that fits positive ``values`` best by AIC, with their mean and CV."""
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values) & (values > 0)]
    n = len(values)
    if n == 0:
        return Fit("none", 0, 0.0, 0.0)
    mean = float(values.mean())
    cv = float(values.std(ddof=1) / mean) if n > 1 and mean > 0 else 0.0
    if n < 5 or np.ptp(values) == 0:
        return Fit("empirical", n, mean, cv)
    sample = np.sort(values)
    if n > MAX_FIT:
        sample = sample[np.linspace(0, n - 1, MAX_FIT).round().astype(int)]
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
        return Fit("empirical", n, mean, cv)
    best = min(aic, key=lambda name: aic[name])
    p = float(stats.kstest(sample, FAMILIES[best].cdf, args=params[best]).pvalue)
    family = "empirical" if (len(sample) >= 50 and p < KS_REJECT) else best
    return Fit(family, n, mean, cv, {k: round(v, 1) for k, v in aic.items()}, p)
