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

Basis size. A penalized smooth can only be as wiggly as its basis allows, so the basis is
checked as mgcv's ``k.check`` does (Wood 2017, section 5.9): the residuals, ordered by the
predictor, give a differencing estimate of the residual variance, ``mean(diff(r)²)/2``;
divided by ``mean(r²)`` it is the *k-index* (near 1 when no pattern is left; below 1 when
neighbouring residuals agree, i.e. the smooth missed structure), and its p-value is the
share of 400 random reorderings of the residuals whose differencing estimate is smaller.
When the p-value is below 0.05, the k-index below 1 and the effective degrees of freedom
within 2 of the basis dimension ``k'`` (the smooth uses all it is given), the basis is
doubled and the smooth refitted, up to :data:`MAX_DF` basis functions; every check is kept.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nercurve.errors import AnalysisError

PENALTY_GRID = tuple(float(v) for v in np.logspace(-6, 6, 25))
MAX_DF = 40  # the basis is enlarged up to this many functions
K_CHECK_REPS = 400  # random reorderings behind the k-index p-value (mgcv's n.rep)


@dataclass(frozen=True)
class BasisCheck:
    """mgcv's ``k.check`` for one basis size: ``k`` basis functions (mgcv's k'), the smooth's
    effective degrees of freedom, the k-index and its p-value."""

    k: int
    edf: float
    k_index: float
    p_value: float

    @property
    def too_small(self) -> bool:
        """True when the residuals show pattern the smooth used its whole basis to miss."""
        return self.p_value < 0.05 and self.k_index < 1 and self.edf > self.k - 2


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
    #: The basis checks, one per basis size tried (the last is the one fitted).
    checks: tuple[BasisCheck, ...] = ()

    @property
    def basis_adequate(self) -> bool:
        """False when even the largest basis tried still looks too small."""
        return not (self.checks and self.checks[-1].too_small)

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

    ``df`` is the number of basis functions to start from (fewer when the predictor has few
    distinct values); a basis that the k-index check finds too small is doubled, up to
    :data:`MAX_DF` (``checks`` keeps every check). Raises AnalysisError on too few runs or distinct
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
    rng = np.random.default_rng(0)
    size = max(4, min(df, distinct))
    checks: list[BasisCheck] = []
    while True:
        basis = BSplines(xs, df=[size], degree=[3])
        gcv, alpha, result = _select_penalty(GLMGam, basis, ys, penalties)
        checks.append(_k_check(xs[:, 0], ys - result.fittedvalues, basis.dim_basis,
                               float(np.sum(result.edf)) - 1, rng))
        larger = min(2 * size, MAX_DF, distinct)
        if not checks[-1].too_small or larger <= size:
            break
        size = larger
    grid = np.linspace(0.0, 1.0, grid_size)
    design = np.column_stack([np.ones(grid_size), basis.transform(grid[:, None])])
    mean = design @ result.params
    se = np.sqrt(np.einsum("ij,jk,ik->i", design, result.cov_params(), design))
    z = float(stats.norm.ppf(0.5 + level / 2))
    return GamSmooth(
        grid=lo + span * grid, fit=my + sy * mean, lower=my + sy * (mean - z * se),
        upper=my + sy * (mean + z * se), alpha=float(alpha), edf=float(np.sum(result.edf)),
        gcv=gcv * sy * sy, level=level, checks=tuple(checks),
    )


def _select_penalty(gam_class, basis, ys: np.ndarray, penalties: Sequence[float]):
    """(GCV, penalty weight, fitted result) of the penalty weight with the lowest GCV."""
    exog = np.ones((ys.size, 1))
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter at extreme penalty weights
        for alpha in penalties:
            result = gam_class(ys, exog=exog, smoother=basis, alpha=[alpha]).fit()
            if np.isfinite(result.gcv) and (best is None or result.gcv < best[0]):
                best = (float(result.gcv), alpha, result)
    if best is None:
        raise AnalysisError("the smooth could not be fitted for any penalty weight")
    return best


def _k_check(x: np.ndarray, resid: np.ndarray, k: int, edf: float,
             rng: np.random.Generator) -> BasisCheck:
    """mgcv's k.check for a one-predictor smooth: k-index and its permutation p-value."""
    resid = np.asarray(resid, dtype=float)
    ordered = resid[np.argsort(x, kind="stable")]
    observed = float(np.mean(np.diff(ordered) ** 2) / 2)
    shuffled = rng.permuted(np.broadcast_to(resid, (K_CHECK_REPS, resid.size)), axis=1)
    null = np.mean(np.diff(shuffled, axis=1) ** 2, axis=1) / 2
    return BasisCheck(k=int(k), edf=edf, k_index=observed / float(np.mean(resid**2)),
                      p_value=float(np.mean(null < observed)))
