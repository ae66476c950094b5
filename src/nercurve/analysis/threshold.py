"""Threshold (change-point) regression with bootstrap confidence intervals, after R's chngpt.

Threshold models (``e`` is the threshold, ``(t)_+ = max(t, 0)``, ``(t)_- = min(t, 0)``), each
one :class:`ThresholdModel` record in :data:`THRESHOLD_MODELS` (a model is its hinge term,
``(x − e)_+`` or ``(x − e)_-``, with or without a slope of ``x`` of its own):

- ``hinge``: ``y = a + b·(x − e)_+`` — flat, then a slope;
- ``upperhinge``: ``y = a + b·(x − e)_-`` — a slope, then flat (diminishing returns);
- ``segmented``: ``y = a + b1·x + b2·(x − e)_+`` — two slopes joined at ``e``;

each optionally with adjustment covariates ``+ Z·g``. (The learning-curve families, fitted
for extrapolation, are another registry: :mod:`nercurve.analysis.families`.)

Estimation. The threshold minimises the residual sum of squares over the candidates of chngpt's
grid (``get.chngpts``): the sorted values of ``x`` at 1-based positions ``round(n·lb) + 1``
to ``round(n·ub)`` (R's ``round``: halves to even), each distinct value once, with
``lb = 0.05`` and ``ub = 0.95`` (chngpt's ``lb.quantile``/``ub.quantile``; its own default is
0.1/0.9). A bootstrap resample applies the same rule to its own sorted values. An estimate
on the first or the last candidate is flagged (the best threshold may lie beyond the grid).
The search is exact and fast: with the rows sorted once by ``x``,
the hinge column's cross-products with ``1, x, y`` and the covariates are differences of
cumulative sums, and by Frisch–Waugh–Lovell the RSS for candidate ``e`` is
``RSS_F − (h'M y)² / (h'M h)`` with ``F`` the fixed columns and ``M`` their residual maker.
All candidates are thus evaluated in O(n·p²) vectorised numpy; a bootstrap resample is the
same computation with multinomial row weights, so 1000 resamples are one batched pass.

Confidence intervals. Nonparametric (pairs) bootstrap — runs are resampled with
replacement, or whole clusters of runs (e.g. the seeds of one training subset) when a cluster
label is given — re-estimating the threshold each time; reported as the percentile interval
and as the symmetric interval ``ê ± q(|e* − ê|)``, cut at the observed range of x (a cut
interval is flagged and the uncut one kept).
For continuous (kink) models the threshold estimator is root-n consistent and asymptotically
normal (Hansen 2017, J. Bus. Econ. Stat.), so the bootstrap is valid; it tends to cover
slightly less than nominally in small samples. A very wide or lopsided interval means the data
do not locate a threshold well (often: the curve bends smoothly rather than at a point).

Test against a straight line. The statistic is the likelihood ratio
``LR = n·log(RSS_line / RSS_family)`` (the sup-LR over thresholds). Its null distribution is
not chi-square — the threshold does not exist under the null (Davies' problem) — so it is
simulated by a wild bootstrap under the fitted straight line (``y* = ŷ_line + r·v`` with
Rademacher ``v``, drawn per cluster), which keeps the unequal variance that learning-curve
data always has (small training sets scatter more). ``p = (1 + #{LR* ≥ LR}) / (B + 1)``.
For ``hinge`` and ``upperhinge`` the line is not nested in the family, and the test is then a
bootstrap test of the line as the null model rather than a nested LR test.

Model choice. AIC, ``n·log(RSS/n) + 2k`` with the threshold counted as a parameter, picks the
best of the straight line and the families.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nercurve.errors import AnalysisError

MIN_POINTS = 10
_CHUNK_CELLS = 500_000  # replicates × candidates evaluated per batch (bounds memory)


@dataclass(frozen=True)
class ThresholdModel:
    """One threshold model: ``y = a [+ b1·x] + b·h`` with the hinge term ``h = (x − e)_-``
    (``below``: active below the threshold) or ``(x − e)_+``, and a slope of ``x`` of its own
    when ``slope``; ``words`` says its shape."""

    name: str
    words: str
    below: bool = False
    slope: bool = False


#: The threshold models, in the order the tables list them.
THRESHOLD_MODELS: dict[str, ThresholdModel] = {model.name: model for model in (
    ThresholdModel("hinge", "flat, then a slope"),
    ThresholdModel("upperhinge", "a slope, then flat", below=True),
    ThresholdModel("segmented", "two slopes", slope=True),
)}


@dataclass(frozen=True)
class ThresholdFit:
    """One family fitted to one predictor, with bootstrap CIs and a test against a line.

    ``slope_before``/``slope_after`` are the outcome's change per unit of the predictor
    below/above the threshold; ``level`` the fitted outcome at the threshold (covariates at
    their means). ``coef`` holds the model's own coefficients (``intercept``, ``x`` for
    segmented, ``hinge`` for the ``(x − e)`` term, and each covariate); ``coef_ci`` percentile
    CIs for ``slope_before``, ``slope_after`` and ``level``.
    """

    family: str
    n: int
    threshold: float
    ci_percentile: tuple[float, float]
    ci_symmetric: tuple[float, float]
    slope_before: float
    slope_after: float
    level: float
    coef: dict[str, float]
    coef_ci: dict[str, tuple[float, float]]
    rss: float
    aic: float
    lr: float
    p_value: float
    n_boot: int
    boot_failed: int
    level_ci: float
    #: The first and last candidate threshold of the search grid.
    grid: tuple[float, float] = (math.nan, math.nan)
    #: The symmetric CI before it was cut at the observed range of x.
    ci_symmetric_uncut: tuple[float, float] = (math.nan, math.nan)
    boot_thresholds: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False,
                                        compare=False)
    #: Bootstrap draws of (slope_before, slope_after, level), one row per resample.
    boot_coef: np.ndarray = field(default_factory=lambda: np.empty((0, 3)), repr=False,
                                  compare=False)

    @property
    def model(self) -> ThresholdModel:
        """The record of the fitted model."""
        return THRESHOLD_MODELS[self.family]

    @property
    def at_edge(self) -> str | None:
        """"first" or "last" when the estimate sits on that end of the candidate grid."""
        if self.threshold == self.grid[0]:
            return "first"
        if self.threshold == self.grid[1]:
            return "last"
        return None

    @property
    def ci_clipped(self) -> bool:
        """True when the symmetric CI was cut at the observed range of the predictor."""
        return tuple(self.ci_symmetric) != tuple(self.ci_symmetric_uncut)

    def flags(self) -> list[str]:
        """Plain-words problems of this fit (an estimate on the edge of the grid, a cut or
        degenerate CI); empty when there are none."""
        out = []
        edge = self.at_edge
        if edge == "first":
            out.append("threshold on the first candidate of the grid (the best may lie "
                       "lower)")
        elif edge == "last":
            out.append("threshold on the last candidate of the grid (the best may lie "
                       "higher)")
        lo, hi = self.ci_percentile
        if math.isfinite(lo) and lo == hi and self.n_boot > 1:
            out.append("degenerate CI (every resample gave the same threshold)")
        if self.ci_clipped:
            u_lo, u_hi = self.ci_symmetric_uncut
            out.append(f"symmetric CI cut at the data's range (uncut {u_lo:.4g}–{u_hi:.4g})")
        return out


@dataclass(frozen=True)
class ThresholdAnalysis:
    """All requested families fitted to one predictor, plus the straight line they compete with."""

    n: int
    fits: dict[str, ThresholdFit]
    line_rss: float
    line_aic: float
    line_slope: float
    best: str
    n_test: int

    def best_fit(self) -> ThresholdFit | None:
        """The best family's fit, or None when a straight line fits best."""
        return self.fits.get(self.best)


def fit_threshold(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    family: str = "hinge",
    *,
    adjust: np.ndarray | None = None,
    cluster: Sequence[object] | np.ndarray | None = None,
    n_boot: int = 1000,
    n_test: int | None = None,
    level: float = 0.95,
    seed: int = 0,
) -> ThresholdFit:
    """Fit one family; the options are those of :func:`threshold_analysis`."""
    analysis = threshold_analysis(x, y, families=(family,), adjust=adjust, cluster=cluster,
                                  n_boot=n_boot, n_test=n_test, level=level, seed=seed)
    return analysis.fits[family]


def check_models(families: Sequence[str]) -> None:
    """Raise AnalysisError unless ``families`` is a non-empty list of known threshold models."""
    unknown = [f for f in families if f not in THRESHOLD_MODELS]
    if unknown or not families:
        raise AnalysisError(f"unknown threshold model family {', '.join(unknown) or '(none)'}",
                            hint=f"choose from {', '.join(THRESHOLD_MODELS)}")


def threshold_analysis(
    x: Sequence[float] | np.ndarray,
    y: Sequence[float] | np.ndarray,
    *,
    families: Sequence[str] = tuple(THRESHOLD_MODELS),
    adjust: np.ndarray | None = None,
    cluster: Sequence[object] | np.ndarray | None = None,
    n_boot: int = 1000,
    n_test: int | None = None,
    level: float = 0.95,
    bounds: tuple[float, float] = (0.05, 0.95),
    seed: int = 0,
) -> ThresholdAnalysis:
    """Fit threshold models of ``y`` on ``x``: estimates, bootstrap CIs and tests against a line.

    ``adjust``: an (n, q) array of adjustment covariates. ``cluster``: labels of runs that must
    be resampled together (e.g. subset ids when each subset was trained with several seeds).
    ``n_boot`` resamples for the CIs, ``n_test`` (default ``n_boot``; 0 skips the test) wild
    bootstrap replicates for the p-value. All randomness comes from ``seed``.
    """
    check_models(families)
    if not 0 < level < 1:
        raise AnalysisError(f"confidence level {level} is not between 0 and 1")
    if n_boot < 0 or (n_test is not None and n_test < 0):
        raise AnalysisError("the number of bootstrap resamples cannot be negative")
    prep = _Prepared(x, y, adjust, cluster, bounds)
    rng = np.random.default_rng(seed)
    n_test = n_boot if n_test is None else n_test
    ones = np.ones((prep.n, 1))

    sums = _Sums(prep, ones, prep.y[:, None])
    point = {f: _search(prep, f, sums) for f in families}
    for family, (idx, _, _) in point.items():
        if idx[0] < 0:
            raise AnalysisError(
                f"no candidate threshold for the {family} model between the {bounds[0]:.0%} "
                f"and {bounds[1]:.0%} quantiles of the predictor",
                hint="the predictor needs more distinct values",
            )
    boot_e = {f: np.empty(n_boot) for f in families}
    boot_coef = {f: np.empty((n_boot, 3)) for f in families}
    for start, weights in _chunks(prep, n_boot, rng, kind="pairs"):
        sums = _Sums(prep, weights, prep.y[:, None])
        for family in families:
            idx, _, theta = _search(prep, family, sums)
            stop = start + len(idx)
            boot_e[family][start:stop] = np.where(idx >= 0, prep.ux[np.maximum(idx, 0)], np.nan)
            boot_coef[family][start:stop] = _natural(prep, family, idx, theta)

    line_rss, line_fitted, line_coef = prep.line_fit()
    if line_rss <= 1e-20 * prep.n:  # standardized: about n without a line at all
        raise AnalysisError("the outcome lies exactly on a straight line of the predictor: there "
                            "is no threshold to find",
                            hint="a threshold model needs outcomes that vary about the line")
    tiny = 1e-12 * line_rss  # a fit can be exact (rss 0): its rss is floored here
    stat = {f: prep.n * math.log(line_rss / max(point[f][1][0], tiny)) for f in families}
    exceed = dict.fromkeys(families, 0)
    for _, multipliers in _chunks(prep, n_test, rng, kind="wild"):
        y_star = line_fitted[:, None] + prep.line_resid[:, None] * multipliers
        rss0 = prep.line_rss_batch(y_star)
        sums = _Sums(prep, ones, y_star)
        for family in families:
            _, rss1, _ = _search(prep, family, sums)
            lr_star = prep.n * np.log(rss0 / np.maximum(rss1, tiny))
            exceed[family] += int(np.count_nonzero(lr_star >= stat[family] - 1e-9))

    fits = {}
    for family in families:
        idx, rss, _ = point[family]
        fits[family] = _summarise(
            prep, family, int(idx[0]), max(float(rss[0]), tiny) * prep.sy**2,
            boot_e[family], boot_coef[family], stat[family],
            (1 + exceed[family]) / (1 + n_test) if n_test > 0 else math.nan, level,
        )
    n = prep.n
    k_line = 2 + prep.q
    line_aic = n * math.log(line_rss * prep.sy**2 / n) + 2 * (k_line + 1)
    aics = {"line": line_aic} | {f: fits[f].aic for f in families}
    best = min(aics, key=aics.__getitem__)
    return ThresholdAnalysis(
        n=n, fits=fits, line_rss=line_rss * prep.sy**2, line_aic=line_aic,
        line_slope=float(line_coef[1]) * prep.sy / prep.sx, best=best, n_test=n_test,
    )


class _Prepared:
    """The data sorted by x and scaled (x, y and covariates z-scored) for stable sums."""

    def __init__(self, x, y, adjust, cluster, bounds) -> None:
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        if x.ndim != 1 or x.shape != y.shape:
            raise AnalysisError("the predictor and the outcome must be 1-d and of equal length")
        n = x.size
        if n < MIN_POINTS:
            raise AnalysisError(f"{n} runs are too few for a threshold model",
                                hint=f"at least {MIN_POINTS} runs are needed")
        if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
            raise AnalysisError("the predictor or the outcome holds NaN or infinite values",
                                hint="remove those runs")
        if np.unique(x).size < 4:
            raise AnalysisError("the predictor takes fewer than 4 distinct values",
                                hint="a threshold needs runs at several sizes")
        if np.ptp(y) == 0:
            raise AnalysisError("the outcome is the same in every run",
                                hint="a constant outcome has no threshold")
        lo, hi = bounds
        if not 0 <= lo < hi <= 1:
            raise AnalysisError(f"bad search bounds {bounds}",
                                hint="use quantiles like (0.05, 0.95)")
        order = np.argsort(x, kind="stable")
        self.n = n
        self.bounds = bounds
        self.mx, self.sx = float(x.mean()), float(x.std())
        self.my, self.sy = float(y.mean()), float(y.std())
        xs = x[order]
        self.x_orig, self.y_orig = xs, y[order]
        self.x = (xs - self.mx) / self.sx
        self.y = (self.y_orig - self.my) / self.sy
        if adjust is None:
            z = self.z_orig = np.empty((n, 0))
        else:
            z = np.asarray(adjust, dtype=float).reshape(n, -1)[order]
            self.z_orig = z
            if not np.all(np.isfinite(z)):
                raise AnalysisError("an adjustment covariate holds NaN or infinite values")
            sd = z.std(axis=0)
            if np.any(sd == 0):
                raise AnalysisError("an adjustment covariate is constant",
                                    hint="drop covariates that do not vary")
            z = (z - z.mean(axis=0)) / sd
        self.z = z
        self.q = z.shape[1]
        last = np.flatnonzero(np.r_[xs[1:] != xs[:-1], True])
        self.ends = last + 1  # exclusive end of each group of equal x
        group = np.repeat(np.arange(1, last.size + 1), np.diff(np.r_[0, self.ends]))
        first = np.r_[True, group[1:] != group[:-1]]
        self.accumulate = list(zip(np.where(first, group - 1, group).tolist(), group.tolist(),
                                   strict=True))
        self.starts = np.r_[0, self.ends[:-1]]
        self.ux = xs[last]  # candidate thresholds (original scale)
        self.uxs = self.x[last]  # candidate thresholds (scaled)
        searched = self.ux[in_grid(self.starts, self.ends, n, bounds)]
        self.grid = ((float(searched[0]), float(searched[-1])) if searched.size
                     else (math.nan, math.nan))
        if cluster is None:
            self.codes = np.arange(n)
        else:
            labels = np.asarray(cluster, dtype=object)
            if labels.shape != (n,):
                raise AnalysisError("cluster labels must be one per run")
            self.codes = np.unique(labels.astype(str), return_inverse=True)[1][order]
        self.n_clusters = int(self.codes.max()) + 1
        x0 = np.column_stack([np.ones(n), self.x, self.z])
        if np.linalg.matrix_rank(x0) < x0.shape[1]:
            raise AnalysisError("the predictor is collinear with the adjustment covariates")
        self._x0 = x0
        self._x0_pinv = np.linalg.pinv(x0)
        coef = self._x0_pinv @ self.y
        fitted = x0 @ coef
        self.line_resid = self.y - fitted
        self._line = (float(self.line_resid @ self.line_resid), fitted, coef)

    def line_fit(self) -> tuple[float, np.ndarray, np.ndarray]:
        """RSS, fitted values and coefficients (scaled) of the straight line ``1 + x + Z``."""
        return self._line

    def line_rss_batch(self, y_star: np.ndarray) -> np.ndarray:
        """RSS of the straight line refitted to each column of ``y_star`` (n, B)."""
        coef = np.einsum("ji,ib->jb", self._x0_pinv, y_star)
        resid = y_star - np.einsum("ij,jb->ib", self._x0, coef)
        return np.einsum("ib,ib->b", resid, resid)

    def fixed(self, family: str) -> np.ndarray:
        """The fixed columns F of a model: ``1, Z``, or ``1, x, Z`` with a slope of its own."""
        if THRESHOLD_MODELS[family].slope:
            return np.column_stack([np.ones(self.n), self.x, self.z])
        return np.column_stack([np.ones(self.n), self.z])


def _chunks(prep: _Prepared, total: int, rng: np.random.Generator, kind: str):
    """Yield (offset, (n, b) array) batches of bootstrap weights ("pairs") or wild multipliers."""
    size = max(1, _CHUNK_CELLS // prep.n)
    k = prep.n_clusters
    for start in range(0, total, size):
        b = min(size, total - start)
        if kind == "pairs":
            draws = rng.integers(0, k, size=(b, k)) + k * np.arange(b)[:, None]
            counts = np.bincount(draws.ravel(), minlength=b * k).reshape(b, k)
            yield start, counts.T[prep.codes].astype(float)
        else:
            signs = rng.integers(0, 2, size=(k, b)) * 2.0 - 1.0
            yield start, signs[prep.codes]


class _Sums:
    """Cumulative sums over the x-sorted rows, shared by all families for one batch.

    ``w`` is (n, Bw) and ``y`` is (n, By), with Bw and By equal or 1; replicates run along
    the second axis. For each candidate threshold ``e`` (a distinct x), ``prefix[name]`` is
    the sum over rows with ``x < e`` and ``upto[name]`` over rows with ``x ≤ e``, both (m, B);
    ``total[name]`` the sum over all rows.
    """

    def __init__(self, prep: _Prepared, w: np.ndarray, y: np.ndarray) -> None:
        self.w, self.y = w, y
        self.b = max(w.shape[1], y.shape[1])
        x = prep.x[:, None]
        z = [prep.z[:, j : j + 1] for j in range(prep.q)]
        # Quantities that depend on the weights only, then those that depend on y too.
        names_w = ["w", "wx", "wxx", *(f"wz{j}" for j in range(prep.q)),
                   *(f"wxz{j}" for j in range(prep.q))]
        factors_w = [1.0, x, x * x, *z, *(x * zj for zj in z)]
        cum_w = _cumsum_groups(prep, w, factors_w)
        cum_y = _cumsum_groups(prep, w * y, [1.0, x])
        cum = dict(zip(names_w, cum_w, strict=True)) | {"wy": cum_y[0], "wxy": cum_y[1]}
        self.prefix = {k: v[:-1] for k, v in cum.items()}
        self.upto = {k: v[1:] for k, v in cum.items()}
        self.total = {k: v[-1] for k, v in cum.items()}

    def active(self, name: str, family: str) -> np.ndarray:
        """(m, B) sums of a quantity over the hinge's active rows for each candidate."""
        if THRESHOLD_MODELS[family].below:
            return self.prefix[name]
        return self.total[name] - self.upto[name]


def _cumsum_groups(prep: _Prepared, base: np.ndarray, factors: list) -> list[np.ndarray]:
    """Cumulative sums of ``base · factor`` over the groups of equal x: each (m + 1, B).

    The products are written into one (n, K·B) array, summed within groups of equal x and
    accumulated group by group: one contiguous vector addition per group, several times
    faster than ``np.cumsum`` along axis 0 of a wide array.
    """
    n, width = base.shape
    k = len(factors)
    stacked = np.empty((n, k, width))
    for j, factor in enumerate(factors):
        np.multiply(base, factor, out=stacked[:, j])
    stacked = stacked.reshape(n, k * width)
    m = prep.ends.size
    cum = np.empty((m + 1, k * width))
    cum[0] = 0.0
    if width == 1:
        cum[1:] = np.cumsum(stacked, axis=0)[prep.ends - 1]
    else:
        # Row i is added into its group's slot, which starts from the previous group's total.
        for i, (source, target) in enumerate(prep.accumulate):
            np.add(cum[source], stacked[i], out=cum[target])
    cum = cum.reshape(m + 1, k, width)
    return [cum[:, j] for j in range(k)]


def _search(prep: _Prepared, family: str, sums: _Sums):
    """Best candidate threshold per replicate of a batch.

    Returns (index into the candidates, -1 when none is valid; minimum RSS in scaled units;
    coefficients ``theta`` = (fixed coefficients..., hinge coefficient) in scaled units).
    """
    f = prep.fixed(family)
    p = f.shape[1]
    w, y = sums.w, sums.y
    wy = w * y
    # einsum rather than a BLAS product: for these skinny shapes it is faster and does not
    # spin up threads on a busy machine.
    ff = (f[:, :, None] * f[:, None, :]).reshape(prep.n, p * p)
    g = np.einsum("ij,ib->bj", ff, w).reshape(-1, p, p)
    g_inv = np.broadcast_to(np.linalg.pinv(g), (sums.b, p, p))
    gy = np.broadcast_to(np.einsum("ij,ib->bj", f, wy), (sums.b, p))
    yy = np.einsum("ib,ib->b", wy, y) if wy.shape == y.shape else (wy * y).sum(axis=0)
    ginv_gy = np.einsum("bjk,bk->bj", g_inv, gy)
    rss_fixed = yy - np.einsum("bj,bj->b", gy, ginv_gy)

    e = prep.uxs[:, None]
    s1 = sums.active("w", family)
    sx = sums.active("wx", family)
    sxx = sums.active("wxx", family)
    # Cross-products of the hinge column h = (x - e) on the active rows:
    # h'1 = sx - e·s1, h'x = sxx - e·sx, h'h = sxx - 2e·sx + e²·s1, h'y = sxy - e·sy.
    a = [sx - e * s1]
    hh = sxx - e * (sx + a[0])
    if THRESHOLD_MODELS[family].slope:
        a.append(sxx - e * sx)
    for j in range(prep.q):
        a.append(sums.active(f"wxz{j}", family) - e * sums.active(f"wz{j}", family))
    a = [np.broadcast_to(a_j, (a_j.shape[0], sums.b)) for a_j in a]
    n_h = sums.active("wxy", family) - e * sums.active("wy", family)
    q_h = hh.copy() if hh.shape[1] == sums.b else np.repeat(hh, sums.b, axis=1)
    for j in range(p):
        n_h -= a[j] * ginv_gy[:, j]
        q_h -= a[j] * (a[j] * g_inv[:, j, j])
        for k in range(j + 1, p):
            q_h -= a[j] * (a[k] * (2 * g_inv[:, j, k]))

    valid = in_grid(sums.prefix["w"], sums.upto["w"], sums.total["w"], prep.bounds)
    valid = valid & (q_h > 1e-9 * np.maximum(hh, 1e-300))
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = n_h * n_h
        gain /= q_h
    np.copyto(gain, -np.inf, where=~valid)
    idx = np.argmax(gain, axis=0)
    cols = np.arange(gain.shape[1])
    best_gain = gain[idx, cols]
    ok = np.isfinite(best_gain)
    best_rss = np.where(ok, rss_fixed - best_gain, np.inf)
    theta_h = np.where(ok, n_h[idx, cols] / np.where(ok, q_h[idx, cols], 1.0), np.nan)
    a_best = np.stack([a_j[idx, cols] for a_j in a], axis=1)  # (B, p)
    theta_f = np.einsum("bjk,bk->bj", g_inv, gy - a_best * theta_h[:, None])
    theta = np.column_stack([theta_f, theta_h])
    return np.where(ok, idx, -1), best_rss, theta


def in_grid(below: np.ndarray, upto: np.ndarray, total: np.ndarray | float,
            bounds: tuple[float, float]) -> np.ndarray:
    """Which distinct values are candidates of chngpt's grid: a value whose sorted positions
    (0-based) run from ``below`` to ``upto − 1`` is one when they reach position
    ``round(total·lb)`` and start before ``round(total·ub)`` (halves round to even, as R's
    ``round``). ``below``/``upto`` are (weighted) counts of rows under / up to the value."""
    lower = np.rint(bounds[0] * np.asarray(total, dtype=float))
    upper = np.rint(bounds[1] * np.asarray(total, dtype=float))
    return (upto >= lower + 1 - 1e-9) & (below <= upper - 1 + 1e-9) & (upto > below)


def _natural(prep: _Prepared, family: str, idx: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """(slope_before, slope_after, level at the threshold) on the original scale, per replicate."""
    scale = prep.sy / prep.sx
    e = prep.uxs[np.maximum(idx, 0)]
    hinge = theta[:, -1] * scale
    model = THRESHOLD_MODELS[family]
    if model.slope:
        before, after = _slopes(model, theta[:, 1] * scale, hinge, np.zeros_like(hinge))
        level_c = theta[:, 0] + theta[:, 1] * e
    else:
        before, after = _slopes(model, None, hinge, np.zeros_like(hinge))
        level_c = theta[:, 0]
    out = np.column_stack([before, after, prep.my + prep.sy * level_c])
    out[idx < 0] = np.nan
    return out


def _slopes(model: ThresholdModel, slope_x: Any, hinge: Any, zero: Any) -> tuple[Any, Any]:
    """(slope before, slope after) the threshold: the hinge's slope on its active side, plus
    the model's own slope of x (``slope_x``; None without one) on both sides."""
    beside = (hinge, zero) if slope_x is None else (slope_x + hinge, slope_x)
    return beside if model.below else beside[::-1]


def _summarise(
    prep: _Prepared, family: str, idx: int, rss: float,
    boot_e: np.ndarray, boot_coef: np.ndarray, lr: float, p_value: float, level: float,
) -> ThresholdFit:
    """Assemble a ThresholdFit from the point estimate and the bootstrap draws.

    The coefficients are refitted by least squares on the original scale at the estimated
    threshold, so they do not depend on the scaling used by the search.
    """
    e = float(prep.ux[idx])
    x, z = prep.x_orig, prep.z_orig
    model = THRESHOLD_MODELS[family]
    hinge = np.minimum(x - e, 0.0) if model.below else np.maximum(x - e, 0.0)
    names = ["intercept", *(["x"] if model.slope else []), "hinge"]
    names += [f"z{j + 1}" for j in range(prep.q)]
    columns = [np.ones(prep.n), *([x] if model.slope else []), hinge, *z.T]
    beta = np.linalg.lstsq(np.column_stack(columns), prep.y_orig, rcond=None)[0]
    coef = {name: float(b) for name, b in zip(names, beta, strict=True)}
    slope_x = coef.get("x", 0.0)
    before, after = _slopes(model, slope_x if model.slope else None, coef["hinge"], 0.0)
    level_at = coef["intercept"] + slope_x * e + sum(
        coef[f"z{j + 1}"] * float(z[:, j].mean()) for j in range(prep.q))
    good = np.isfinite(boot_e)
    draws = boot_e[good]
    tails = [(1 - level) / 2, (1 + level) / 2]
    if draws.size:
        pct = (float(np.quantile(draws, tails[0])), float(np.quantile(draws, tails[1])))
        half = float(np.quantile(np.abs(draws - e), level))
        uncut = (e - half, e + half)
        sym = (max(uncut[0], float(x[0])), min(uncut[1], float(x[-1])))
        coef_ci = {
            name: (float(np.quantile(boot_coef[good, j], tails[0])),
                   float(np.quantile(boot_coef[good, j], tails[1])))
            for j, name in enumerate(("slope_before", "slope_after", "level"))
        }
    else:
        pct = sym = uncut = (math.nan, math.nan)
        coef_ci = {name: (math.nan, math.nan) for name in ("slope_before", "slope_after", "level")}
    n = prep.n
    k = (3 if model.slope else 2) + prep.q + 1
    return ThresholdFit(
        family=family, n=n, threshold=e, ci_percentile=pct, ci_symmetric=sym,
        slope_before=before, slope_after=after, level=float(level_at),
        coef=coef, coef_ci=coef_ci, rss=rss, aic=n * math.log(rss / n) + 2 * (k + 1),
        lr=lr, p_value=p_value, n_boot=int(boot_e.size), boot_failed=int((~good).sum()),
        level_ci=level, grid=prep.grid, ci_symmetric_uncut=uncut, boot_thresholds=boot_e,
        boot_coef=boot_coef,
    )
