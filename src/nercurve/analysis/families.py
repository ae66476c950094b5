"""Learning-curve families, chosen by how well they extrapolate, with their problems said.

Families of F1 against ``n`` training sentences, each one :class:`CurveFamily` record in
:data:`CURVE_FAMILIES` (its name, words, parameters, formula, ceiling and fitter: adding a
family is adding a record; the tables, figures, the report's methods, the recommendation's
words and the adaptive estimate take it from there):

- ``power``: ``a − b·n^(−c)``, the inverse power law (:mod:`nercurve.analysis.curve`);
- ``exponential``: ``a − b·e^(−c·n)``, exponential saturation (same estimator: weighted least
  squares with weights proportional to ``n``, ``0 < a ≤ 1``, ``b ≥ 0``, ``c`` profiled over a
  log grid and refined);
- ``loglinear``: ``a + b·ln n`` (``b ≥ 0``), weighted the same way: gains shrink but never
  stop, and there is no ceiling;
- ``plateau``: ``L + s·min(n − e, 0)``, a straight rise to a flat plateau from ``e`` on: the
  ``upperhinge`` threshold model of :mod:`nercurve.analysis.threshold`, with its estimator,
  candidate grid and bootstrap, so its ``e`` is the threshold table's ``upperhinge``
  threshold (without adjustment covariates).

Choice. A family that fits the observed runs well can still extrapolate badly, and the
question a team asks is about sizes it has not trained on. So each family is refitted to the
runs at or below the 60th percentile of training size and predicts the runs above it, and
again up to the 75th percentile; the family with the smallest root-mean-square error of
those predictions (both folds pooled; each held-out run weighted by its size, as noise
shrinks with size) is chosen among the families whose fit does not contradict the runs
(:attr:`CurveFit.contradicts_data`: a parameter at a bound, a degenerate CI, a worse fit
than a straight line — a curve whose ceiling sits at 1 contradicts the data however well it
extrapolates), or among all when every fit does. Ties go to the earlier family in
:data:`CURVE_FAMILIES`. When too few runs lie below those sizes the choice falls back to the
in-sample RMSE, and says so. A family whose held-out errors are not clearly worse than the
chosen one's (the paired difference of squared errors within two standard errors of zero, or
better) is a *rival*: when a rival's predictions differ from the chosen one's, the
recommendation says so.

Every fit carries bootstrap CIs (runs, or clusters of runs sharing a subset, resampled with
replacement and the whole fit repeated) for its parameters and for every prediction, and
:meth:`CurveFit.flags` says in words what should make a reader wary of it: a parameter at
a bound, a degenerate CI, a fit worse than a least-squares straight line (by the plain RMSE
over the runs, whatever weights the fit used), an F1 below 0 predicted within the observed
range.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from nercurve.analysis.curve import (
    C_BOUNDS,
    CEILING_BOUND,
    Profile,
    TargetSize,
    check_curve_data,
    cluster_codes,
    fit_power_law,
    resample_weights,
)
from nercurve.errors import AnalysisError

HOLDOUT_QUANTILES = (0.6, 0.75)  # fit up to these quantiles of size, predict the rest
# rate grid of the exponential family, in units of 1 / (median training size)
_K_GRID = np.exp(np.linspace(math.log(0.01), math.log(100.0), 121))
_LOG_RANGE = (math.log(1e-3), math.log(1e12))  # sizes searched for targets and plateaus


#: A family's fitter: ``(n, y, cluster, n_boot, level, seed) -> (theta, boot, at_bound)``, the
#: fitted parameters, their bootstrap draws (one row per refit) and the parameters at a bound
#: of their range, in words.
Fitter = Callable[[np.ndarray, np.ndarray, Sequence[object] | np.ndarray | None, int, float,
                   int], tuple[np.ndarray, np.ndarray, list[str]]]


def _first_parameter(theta: np.ndarray) -> np.ndarray:
    return theta[:, 0]


@dataclass(frozen=True)
class CurveFamily:
    """One learning-curve family: what the fits, tables, figures and words need of it.

    ``evaluate(p, n)`` is the formula: ``p`` the parameter columns (each (B, 1)), ``n`` the
    sizes, broadcast against them. ``ceiling(theta)`` the F1 each parameter row (B, k) levels
    off at (the first parameter unless said otherwise; ``inf`` for a curve without one).
    ``short`` names it in running text; ``method`` says it and how it is fitted in words (the
    report's methods).
    """

    name: str
    short: str
    method: str
    parameters: tuple[str, ...]
    evaluate: Callable[[Sequence[np.ndarray], np.ndarray], np.ndarray]
    fit: Fitter
    ceiling: Callable[[np.ndarray], np.ndarray] = _first_parameter


def _evaluate(family: str, theta: np.ndarray, n: np.ndarray) -> np.ndarray:
    """F1 of each parameter row of ``theta`` (B, k) at sizes ``n``, broadcast against (B, 1):
    (m,) sizes give a (B, m) array, (B, 1) sizes one value per row."""
    n = np.asarray(n, dtype=float)
    p = [theta[:, j:j + 1] for j in range(theta.shape[1])]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return CURVE_FAMILIES[family].evaluate(p, n)


def _first_size(reached: Callable[[np.ndarray], np.ndarray], rows: int) -> np.ndarray:
    """Per row, the smallest size at which ``reached(sizes)`` (a (rows,) bool array, False
    then True as the size grows) turns True: bisection on log size between 10⁻³ and 10¹²;
    ``inf`` when it never does, 0 when it already does at the bottom."""
    lo = np.full(rows, _LOG_RANGE[0])
    hi = np.full(rows, _LOG_RANGE[1])
    for _ in range(70):
        mid = 0.5 * (lo + hi)
        up = reached(np.exp(mid))
        hi, lo = np.where(up, mid, hi), np.where(up, lo, mid)
    out = np.where(reached(np.exp(np.full(rows, _LOG_RANGE[1]))), np.exp(hi), np.inf)
    return np.where(reached(np.exp(np.full(rows, _LOG_RANGE[0]))), 0.0, out)


@dataclass(frozen=True)
class CurveFit:
    """One family fitted to one backend's runs, with bootstrap draws of its parameters."""

    family: str
    theta: np.ndarray = field(repr=False)
    boot: np.ndarray = field(repr=False, compare=False)
    n: int
    n_min: float
    n_max: float
    level: float
    #: Residual sum of squares of the fit and of a least-squares straight line (unweighted).
    rss: float
    line_rss: float
    rmse: float
    #: Parameters at a bound of their range, in words.
    at_bound: tuple[str, ...] = ()
    #: RMSE of its predictions of the largest runs when fitted without them (NaN: not done).
    extrapolation_rmse: float = math.nan

    @property
    def n_boot(self) -> int:
        """Bootstrap resamples behind the CIs."""
        return int(self.boot.shape[0])

    @property
    def curve_family(self) -> CurveFamily:
        """The record of the fitted family."""
        return CURVE_FAMILIES[self.family]

    @property
    def params(self) -> dict[str, float]:
        """The fitted parameters by name."""
        return {k: float(v)
                for k, v in zip(self.curve_family.parameters, self.theta, strict=True)}

    def param_ci(self) -> dict[str, tuple[float, float]]:
        """Percentile bootstrap CI of each parameter."""
        return {name: _ci(self.boot[:, j], self.level)
                for j, name in enumerate(self.curve_family.parameters)}

    def predict(self, sizes: float | Sequence[float] | np.ndarray) -> np.ndarray:
        """Predicted F1 at the given training sizes (an array of their shape)."""
        n = np.asarray(sizes, dtype=float)
        return _evaluate(self.family, self.theta[None, :], n.ravel())[0].reshape(n.shape)

    def predict_interval(self, sizes: float | Sequence[float] | np.ndarray
                         ) -> tuple[np.ndarray, np.ndarray]:
        """Pointwise bootstrap CI of the predicted F1 at the given sizes."""
        draws = _evaluate(self.family, self.boot, np.atleast_1d(sizes))
        return _interval(draws, self.level)

    def gain(self, at: float, step: float = 100) -> tuple[float, tuple[float, float]]:
        """F1 added by ``step`` more sentences after ``at`` sentences, with its CI."""
        sizes = np.array([at, at + step])
        est = np.diff(self.predict(sizes))[0]
        draws = np.diff(_evaluate(self.family, self.boot, sizes), axis=1)
        lo, hi = _interval(draws, self.level)
        return float(est), (float(lo[0]), float(hi[0]))

    def plateau(self, min_gain: float, step: float = 100) -> tuple[float, tuple[float, float]]:
        """Smallest size after which ``step`` more sentences add less than ``min_gain`` F1."""
        if min_gain <= 0:
            raise AnalysisError("the gain that marks a plateau must be positive",
                                hint="e.g. 0.005 (half an F1 point per 100 sentences)")
        est = self._flat_from(self.theta[None, :], min_gain, step)[0]
        lo, hi = _interval(self._flat_from(self.boot, min_gain, step)[:, None], self.level)
        return float(est), (float(lo[0]), float(hi[0]))

    def sentences_for(self, target: float) -> TargetSize:
        """Training sentences needed for ``target`` F1, or why the target is out of reach."""
        if not 0 < target < 1:
            raise AnalysisError(f"target F1 {target} is not between 0 and 1",
                                hint="give the target as a fraction, e.g. 0.85")
        point = self._size_for(self.theta[None, :], target)[0]
        draws = self._size_for(self.boot, target)
        tail = (1 - self.level) / 2
        lo, hi = (float(v) for v in np.quantile(draws, [tail, 1 - tail], method="inverted_cdf"))
        ceiling = float(self.curve_family.ceiling(self.theta[None, :])[0])
        # a bootstrap ceiling above the bound (none, for the log-linear curve) caps nothing
        ceilings = np.minimum(self.curve_family.ceiling(self.boot), CEILING_BOUND)
        return TargetSize(target=target, sentences=float(point), ci=(lo, hi),
                          reachable=bool(math.isfinite(point)),
                          share_unreachable=float(np.mean(~np.isfinite(draws))),
                          ceiling=ceiling, ceiling_ci=_ci(ceilings, self.level),
                          ceiling_identified=self._ceiling_identified(ceilings))

    def boot_predict(self, size: float) -> np.ndarray:
        """F1 of every bootstrap refit at one training size: (n_boot,)."""
        return _evaluate(self.family, self.boot, np.array([float(size)]))[:, 0]

    def boot_sizes_for(self, target: float | np.ndarray) -> np.ndarray:
        """Per bootstrap refit, the training size where its curve first reaches ``target``,
        ``inf`` where it never does: one F1 for all refits ((n_boot,)), or one per refit for
        the first ``len(target)`` of them."""
        target = np.asarray(target, dtype=float)
        boot = self.boot if target.ndim == 0 else self.boot[:target.size]
        return self._size_for(boot, target)

    def _ceiling_identified(self, ceilings: np.ndarray) -> bool:
        """Whether the runs pin the ceiling down: no more than the tail share of the
        bootstrap ceilings ``ceilings`` (capped at :data:`CEILING_BOUND`) reach the bound, so
        the upper end of its CI stays below it."""
        if ceilings.size == 0:
            return False
        at_bound = np.mean(ceilings >= CEILING_BOUND - 1e-9)
        return bool(at_bound <= (1 - self.level) / 2)

    def _size_for(self, theta: np.ndarray, target: float | np.ndarray) -> np.ndarray:
        """Per parameter row, the size where the curve first reaches ``target`` (one F1, or
        one per row)."""
        def reached(sizes: np.ndarray) -> np.ndarray:
            return _evaluate(self.family, theta, sizes[:, None])[:, 0] >= target

        return _first_size(reached, theta.shape[0])

    def _flat_from(self, theta: np.ndarray, min_gain: float, step: float) -> np.ndarray:
        """Per parameter row, the size from which ``step`` more add less than ``min_gain``."""
        def reached(sizes: np.ndarray) -> np.ndarray:
            both = _evaluate(self.family, theta, np.column_stack([sizes, sizes + step]))
            return both[:, 1] - both[:, 0] < min_gain

        return _first_size(reached, theta.shape[0])

    @property
    def contradicts_data(self) -> bool:
        """True when the fit has a problem that makes it contradict the runs: a parameter at
        a bound, a degenerate CI, or a worse fit than a straight line (an F1 below 0 at the
        smallest size, at a few sentences, is said but does not count)."""
        return bool(self.at_bound or self._degenerate() or self._worse_than_line())

    def _degenerate(self) -> list[str]:
        return [name for name, (lo, hi) in self.param_ci().items()
                if self.n_boot > 1 and math.isfinite(lo) and lo == hi]

    def _worse_than_line(self) -> bool:
        return self.rss > self.line_rss * (1 + 1e-9)

    def flags(self, unit: str = "sentences", outcome: str = "F1") -> list[str]:
        """What should make a reader wary of this fit, in words (the training size in
        ``unit``, the outcome named ``outcome``); empty when nothing."""
        out = list(self.at_bound)
        degenerate = self._degenerate()
        if degenerate:
            out.append(f"degenerate CI of {', '.join(degenerate)} (every bootstrap refit "
                       "gave the same value)")
        if self._worse_than_line():
            line = math.sqrt(self.line_rss / self.n)
            out.append(f"worse than a straight line (RMSE {self.rmse:.3f} vs {line:.3f})")
        low = float(self.predict(self.n_min))
        if low < 0:
            out.append(f"{outcome} {low:.2f} predicted at {self.n_min:,.0f} {unit}")
        return out


def _ci(values: np.ndarray, level: float) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    lo, hi = np.quantile(finite, [tail, 1 - tail])
    return float(lo), float(hi)


def _interval(draws: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    tail = (1 - level) / 2
    lo, hi = np.quantile(draws, [tail, 1 - tail], axis=0)
    return lo, hi


@dataclass(frozen=True)
class CurveChoice:
    """Every family fitted to one backend's runs, and the one chosen.

    ``basis`` is ``"extrapolation"`` (chosen by predicting the runs above ``holdout_from``
    sentences, and above the 75th percentile, when fitted without them) or ``"in-sample"``
    (too few runs to hold any out); ``failed`` says why a family could not be fitted.
    """

    fits: dict[str, CurveFit]
    chosen: str
    basis: str
    holdout_from: float
    failed: dict[str, str] = field(default_factory=dict)
    #: Families whose held-out errors are not clearly worse than the chosen one's.
    rivals: tuple[str, ...] = ()

    @property
    def best(self) -> CurveFit:
        """The chosen family's fit."""
        return self.fits[self.chosen]

    def sentences_for(self, target: float) -> TargetSize:
        """The chosen curve's sentences for ``target`` F1, with a CI that spans the CIs of its
        rivals too: which family is right is itself uncertain, and the chosen curve's own
        bootstrap knows nothing of that (alone it covered 89% in the simulations of
        bench/adaptive_design.py, 97% with its rivals')."""
        best = self.best.sentences_for(target)
        cis = [best.ci, *(self.fits[f].sentences_for(target).ci for f in self.rivals)]
        return replace(best, ci=(min(c[0] for c in cis), max(c[1] for c in cis)))


def fit_curves(
    sizes: Sequence[float] | np.ndarray,
    f1: Sequence[float] | np.ndarray,
    *,
    cluster: Sequence[object] | np.ndarray | None = None,
    families: Sequence[str] | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> CurveChoice:
    """Fit each family with bootstrap CIs and choose one by its extrapolation error.

    ``cluster`` labels runs resampled together (the seeds of one training subset);
    ``families`` defaults to every family of :data:`CURVE_FAMILIES`. Raises AnalysisError
    when the data cannot support a curve or no family could be fitted.
    """
    order = list(CURVE_FAMILIES)
    families = order if families is None else families
    unknown = [f for f in families if f not in CURVE_FAMILIES]
    if unknown or not families:
        raise AnalysisError(f"unknown learning-curve family {', '.join(unknown) or '(none)'}",
                            hint=f"choose from {', '.join(order)}")
    n, y = check_curve_data(sizes, f1, n_boot=n_boot, level=level)
    fits: dict[str, CurveFit] = {}
    failed: dict[str, str] = {}
    for family in families:
        try:
            fits[family] = fit_family(family, n, y, cluster=cluster, n_boot=n_boot,
                                      level=level, seed=seed)
        except AnalysisError as err:
            failed[family] = err.message
    if not fits:
        raise AnalysisError("no learning-curve family could be fitted: " + "; ".join(
            f"{k}: {v}" for k, v in failed.items()))
    cuts = [float(np.quantile(n, q)) for q in HOLDOUT_QUANTILES]
    if all(_can_hold_out(n, cut) for cut in cuts):
        resid = {f: np.concatenate([_holdout_residuals(f, n, y, n > cut) for cut in cuts])
                 for f in fits}
        errors = {f: float(np.sqrt(np.mean(r**2))) for f, r in resid.items()}
        basis, cut = "extrapolation", cuts[0]
    else:
        resid, errors = {}, {f: math.nan for f in fits}
        basis, cut = "in-sample", math.nan
    fits = {f: replace(fit, extrapolation_rmse=errors[f]) for f, fit in fits.items()}
    score = {f: fit.extrapolation_rmse if basis == "extrapolation" else fit.rmse
             for f, fit in fits.items()}
    clean = [f for f in fits if not fits[f].contradicts_data]
    chosen = min(clean or fits, key=lambda f: (score[f], order.index(f)))
    rivals = tuple(f for f in fits if f != chosen and resid and _as_good(resid[f], resid[chosen]))
    return CurveChoice(fits=fits, chosen=chosen, basis=basis, holdout_from=cut,
                       failed=failed, rivals=rivals)


def _can_hold_out(n: np.ndarray, cut: float) -> bool:
    """Whether the runs up to ``cut`` can support a curve and at least 3 lie above it."""
    kept = n <= cut
    return bool(kept.sum() >= 10 and np.unique(n[kept]).size >= 4 and (~kept).sum() >= 3)


def _holdout_residuals(family: str, n: np.ndarray, y: np.ndarray,
                       held: np.ndarray) -> np.ndarray:
    """Residuals of the family's predictions of the held-out runs when fitted to the others,
    weighted by the square root of size relative to the held-out mean (infinite when it
    cannot be fitted to them)."""
    try:
        fit = fit_family(family, n[~held], y[~held], n_boot=0)
    except AnalysisError:
        return np.full(int(held.sum()), np.inf)
    resid = (y[held] - fit.predict(n[held])) * np.sqrt(n[held] / n[held].mean())
    return np.where(np.isfinite(resid), resid, np.inf)


def _as_good(other: np.ndarray, best: np.ndarray) -> bool:
    """Whether a family's held-out errors are not clearly worse than the chosen one's: the
    paired difference of squared errors is below two standard errors."""
    diff = other**2 - best**2
    if not np.all(np.isfinite(diff)):
        return False
    spread = float(np.std(diff, ddof=1))
    return bool(spread == 0 or np.mean(diff) < 2 * spread / math.sqrt(diff.size))


def fit_family(
    family: str,
    sizes: np.ndarray,
    f1: np.ndarray,
    *,
    cluster: Sequence[object] | np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> CurveFit:
    """Fit one family of :data:`CURVE_FAMILIES` with ``n_boot`` bootstrap refits."""
    n, y = check_curve_data(sizes, f1, n_boot=n_boot, level=level)
    theta, boot, at_bound = CURVE_FAMILIES[family].fit(n, y, cluster, n_boot, level, seed)
    resid = y - _evaluate(family, theta[None, :], n)[0]
    line = np.polynomial.polynomial.polyfit(n, y, 1)
    return CurveFit(
        family=family, theta=theta, boot=boot, n=int(n.size), n_min=float(n.min()),
        n_max=float(n.max()), level=level, rss=float(np.sum(resid**2)),
        line_rss=float(np.sum((y - line[0] - line[1] * n) ** 2)),
        rmse=float(np.sqrt(np.mean(resid**2))), at_bound=tuple(at_bound),
    )


def _saturation_bounds(theta: np.ndarray, c_range: tuple[float, float]) -> list[str]:
    """Words for the parameters of a saturating family (a − b·u) that sit at a bound."""
    a, b, c = theta
    out = []
    if a >= 1 - 1e-12:
        out.append("ceiling a at its bound 1 (the curve is not levelling off)")
    if b <= 0:
        out.append("b = 0 (a flat curve)")
    if not c_range[0] * 1.001 < c < c_range[1] / 1.001:
        out.append(f"rate c at the end of its range ({c:.3g})")
    return out


def _power(n, y, cluster, n_boot, level, seed):
    fit = fit_power_law(n, y, cluster=cluster, n_boot=n_boot, level=level, seed=seed)
    boot = np.column_stack([fit.boot[:, 0], fit.boot[:, 1] * fit.n_ref ** fit.boot[:, 2],
                            fit.boot[:, 2]])
    theta = np.array([fit.a, fit.b, fit.c])
    return theta, boot, _saturation_bounds(theta, C_BOUNDS)


def _exponential(n, y, cluster, n_boot, level, seed):
    n_ref = float(np.median(n))
    weights = n / n.max()
    profile = Profile(n / n_ref, y, kind="exponential", grid=_K_GRID)
    k, a, b = profile.point(weights)
    boot = profile.bootstrap(weights, cluster_codes(cluster, n.size), n_boot,
                             np.random.default_rng(seed))
    boot[:, 2] /= n_ref
    bounds = _saturation_bounds(np.array([a, b, k]), (_K_GRID[0], _K_GRID[-1]))
    return np.array([a, b, k / n_ref]), boot, bounds


def _loglinear(n, y, cluster, n_boot, level, seed):
    weights = n / n.max()
    theta = _loglinear_batch(np.log(n), y, weights[:, None])[0]
    boot = np.empty((n_boot, 2))
    rng = np.random.default_rng(seed)
    for start, counts in resample_weights(cluster_codes(cluster, n.size), n_boot, rng):
        boot[start:start + counts.shape[1]] = _loglinear_batch(np.log(n), y,
                                                               weights[:, None] * counts)
    bounds = ["b = 0 (a flat curve)"] if theta[1] <= 0 else []
    return theta, boot, bounds


def _loglinear_batch(log_n: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(a, b) of the weighted fit of ``y = a + b·ln n`` under ``b ≥ 0``, per column of ``w``."""
    sw, sx, sy = w.sum(axis=0), log_n @ w, y @ w
    sxx, sxy = (log_n * log_n) @ w, (log_n * y) @ w
    var = sxx - sx * sx / sw
    with np.errstate(divide="ignore", invalid="ignore"):
        b = np.where(var > 1e-12 * np.maximum(sxx, 1e-300), (sxy - sx * sy / sw) / var, 0.0)
    b = np.maximum(b, 0.0)
    return np.column_stack([(sy - b * sx) / sw, b])


def _plateau(n, y, cluster, n_boot, level, seed):
    from nercurve.analysis.threshold import threshold_analysis

    fit = threshold_analysis(n, y, families=("upperhinge",), cluster=cluster, n_boot=n_boot,
                             n_test=0, level=level, seed=seed).fits["upperhinge"]
    theta = np.array([fit.level, fit.slope_before, fit.threshold])
    boot = np.column_stack([fit.boot_coef[:, 2], fit.boot_coef[:, 0], fit.boot_thresholds])
    boot = boot[np.all(np.isfinite(boot), axis=1)]
    bounds = [f for f in fit.flags() if "candidate" in f]
    return theta, boot, bounds


def _loglinear_ceiling(theta: np.ndarray) -> np.ndarray:
    return np.where(theta[:, 1] > 0, np.inf, theta[:, 0])


def _plateau_ceiling(theta: np.ndarray) -> np.ndarray:
    return np.where(theta[:, 1] >= 0, theta[:, 0], -np.inf)


#: The learning-curve families, in the order that breaks ties of the choice.
CURVE_FAMILIES: dict[str, CurveFamily] = {family.name: family for family in (
    CurveFamily(
        name="power", short="power-law",
        method="the inverse power law a − b·n^(−c) (weighted least squares, weights "
               "proportional to the training size, Figueroa et al. 2012, 0 < a ≤ 1, b ≥ 0)",
        parameters=("a", "b", "c"), evaluate=lambda p, n: p[0] - p[1] * n ** (-p[2]),
        fit=_power),
    CurveFamily(
        name="exponential", short="exponential",
        method="exponential saturation a − b·e^(−c·n) (fitted the same way)",
        parameters=("a", "b", "c"), evaluate=lambda p, n: p[0] - p[1] * np.exp(-p[2] * n),
        fit=_exponential),
    CurveFamily(
        name="loglinear", short="log-linear",
        method="a log-linear curve a + b·ln n (b ≥ 0, weighted the same way)",
        parameters=("a", "b"), evaluate=lambda p, n: p[0] + p[1] * np.log(n),
        fit=_loglinear, ceiling=_loglinear_ceiling),
    CurveFamily(
        name="plateau", short="plateau",
        method="a straight rise to a plateau (the upperhinge threshold model)",
        parameters=("level", "slope", "threshold"),
        evaluate=lambda p, n: p[0] + p[1] * np.minimum(n - p[2], 0.0),
        fit=_plateau, ceiling=_plateau_ceiling),
)}
