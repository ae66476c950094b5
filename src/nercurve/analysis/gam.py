"""GAM smooths of F1 against one predictor, with 95% confidence bands (Majdik et al., Figure 1).

The smooth is a penalized cubic regression spline fitted with statsmodels' ``GLMGam``
(Gaussian family, identity link): ``BSplines`` with ``df`` basis functions over the predictor
rescaled to [0, 1], and a second-derivative penalty. statsmodels is used rather than pygam
because pygam pins scipy < 1.17 (nercurve needs 1.17), and GLMGam is part of a dependency the
analysis already has.

Smoothing is chosen by generalized cross-validation: the penalty weight minimising GCV over
a fixed log-spaced grid. This is deterministic and takes milliseconds, whereas
``GLMGam.select_penweight`` runs a stochastic global optimizer (basinhopping). The band is
``fit ± z·se`` with the standard errors from the penalized (Bayesian) covariance of the
coefficients, which — as in R's mgcv — includes the smoothing bias; it is conditional on the
chosen penalty weight.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nercurve.errors import AnalysisError

PENALTY_GRID = tuple(float(v) for v in np.logspace(-6, 6, 25))


@dataclass(frozen=True)
class GamSmooth:
    """A smooth evaluated on a grid over the observed range of the predictor."""

    grid: np.ndarray = field(repr=False)
    fit: np.ndarray = field(repr=False)
    lower: np.ndarray = field(repr=False)
    upper: np.ndarray = field(repr=False)
    alpha: float
    edf: float
    gcv: float
    level: float

    def at(self, value: float) -> float:
        """The smooth at ``value`` (linear interpolation on the grid)."""
        return float(np.interp(value, self.grid, self.fit))


def fit_gam(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    df: int = 10,
    grid_size: int = 101,
    level: float = 0.95,
    penalties: Sequence[float] = PENALTY_GRID,
) -> GamSmooth:
    """Fit a penalized spline smooth of ``y`` on ``x`` and evaluate it with a confidence band.

    ``df`` is an upper bound on the number of basis functions (it is reduced when the
    predictor has few distinct values). Raises AnalysisError on too few runs or distinct
    values, or a constant outcome.
    """
    from scipy import stats
    from statsmodels.gam.api import BSplines, GLMGam

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise AnalysisError("the predictor and the outcome must be 1-d and of equal length")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise AnalysisError("the predictor or the outcome holds NaN or infinite values")
    distinct = np.unique(x).size
    if x.size < 10 or distinct < 4:
        raise AnalysisError(
            f"a smooth needs at least 10 runs at 4 or more distinct values (got {x.size} runs at "
            f"{distinct} values)", hint="run more subsets of different sizes",
        )
    if np.ptp(y) == 0:
        raise AnalysisError("the outcome is the same in every run; there is nothing to smooth")
    lo, span = float(x.min()), float(np.ptp(x))
    xs = ((x - lo) / span)[:, None]
    my, sy = float(y.mean()), float(y.std())
    ys = (y - my) / sy
    basis = BSplines(xs, df=[max(4, min(df, distinct))], degree=[3])
    exog = np.ones((x.size, 1))
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter at extreme penalty weights
        for alpha in penalties:
            result = GLMGam(ys, exog=exog, smoother=basis, alpha=[alpha]).fit()
            if np.isfinite(result.gcv) and (best is None or result.gcv < best[0]):
                best = (float(result.gcv), alpha, result)
    if best is None:
        raise AnalysisError("the smooth could not be fitted for any penalty weight")
    gcv, alpha, result = best
    grid = np.linspace(0.0, 1.0, grid_size)
    design = np.column_stack([np.ones(grid_size), basis.transform(grid[:, None])])
    mean = design @ result.params
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, result.cov_params(), design))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return GamSmooth(
        grid=lo + span * grid, fit=my + sy * mean, lower=my + sy * (mean - z * se),
        upper=my + sy * (mean + z * se), alpha=float(alpha), edf=float(np.sum(result.edf)),
        gcv=gcv * sy * sy, level=level,
    )
