"""The inverse power law ``F1(n) = a − b·n^(−c)`` and the estimator it shares with the
exponential saturation curve (:mod:`nercurve.analysis.families`, where every curve's
predictions live).

Fitting (Figueroa et al. 2012, BMC Med Inform Decis Mak 12:8): weighted nonlinear least
squares with weights proportional to the training size (larger training sets vary less and
say more about the asymptote; Figueroa et al. weight the j-th of m equally spaced learning-curve
points by j/m, which is the same thing), under the bounds ``0 < a ≤ 1`` (F1 cannot exceed 1),
``b ≥ 0`` (the curve rises) and ``c`` in [0.02, 3].

For a fixed exponent ``c`` the model is linear in ``a`` and ``b``, so ``a`` and ``b`` are
profiled out exactly (a two-parameter weighted least-squares problem with its bounds solved in
closed form) and the exponent is found by a grid over ``log c`` refined by a bounded scalar
minimisation (variable projection). This is the same least-squares estimate that
``scipy.optimize.curve_fit`` targets, but it cannot stop in a local minimum or fail to
converge, and it vectorises over bootstrap resamples. The exponential family ``a − b·e^(−c·n)``
is the same problem with ``e^(−c·n)`` in place of ``n^(−c)``.

Confidence intervals are percentile intervals of a nonparametric bootstrap (runs — or clusters
of runs sharing a training subset — resampled with replacement, the whole fit repeated).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from nercurve.errors import AnalysisError

C_BOUNDS = (0.02, 3.0)
#: The highest ceiling a curve can have: F1 cannot exceed 1 (the bound of ``a``).
CEILING_BOUND = 1.0
_C_GRID = np.exp(np.linspace(math.log(C_BOUNDS[0]), math.log(C_BOUNDS[1]), 121))
_CHUNK = 250  # bootstrap resamples per batch


@dataclass(frozen=True)
class TargetSize:
    """Training sentences needed to reach ``target`` F1, with a bootstrap CI.

    ``sentences`` is ``inf`` when the target is at or above the fitted ceiling; ``ci[1]`` is
    ``inf`` when more than the tail share of bootstrap curves never reach it
    (``share_unreachable``). ``ceiling_identified`` is False when the upper end of the
    ceiling's CI reaches :data:`CEILING_BOUND` (more than the tail share of bootstrap
    ceilings at 1 or unbounded): the runs then do not pin the ceiling down.
    """

    target: float
    sentences: float
    ci: tuple[float, float]
    reachable: bool
    share_unreachable: float
    ceiling: float
    ceiling_ci: tuple[float, float]
    ceiling_identified: bool

    @property
    def undecided(self) -> bool:
        """True when the runs cannot tell whether the target is reachable: the fitted curve
        levels off below it, but the ceiling's CI includes it (as it always does when the
        ceiling is not identified, its CI running to the bound). The recommendation, the
        plan's answer, the report and the tables all read this one rule."""
        return not self.reachable and (not self.ceiling_identified
                                       or self.ceiling_ci[1] >= self.target)


@dataclass(frozen=True)
class PowerLawFit:
    """A fitted inverse power law with bootstrap draws of its parameters.

    ``b`` is on the scale of raw sentence counts (``F1 = a − b·n^(−c)``); internally sizes are
    divided by ``n_ref`` (the median training size) for numerical stability.
    """

    a: float
    b: float
    c: float
    a_ci: tuple[float, float]
    b_ci: tuple[float, float]
    c_ci: tuple[float, float]
    n: int
    n_min: float
    n_max: float
    n_ref: float
    rmse: float
    c_at_bound: bool
    level: float
    n_boot: int
    boot: np.ndarray = field(repr=False, compare=False)  # (B, 3): a, b at n_ref, c


def fit_power_law(
    sizes: Sequence[float] | np.ndarray,
    f1: Sequence[float] | np.ndarray,
    *,
    cluster: Sequence[object] | np.ndarray | None = None,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> PowerLawFit:
    """Fit ``F1(n) = a − b·n^(−c)`` by weighted least squares, with bootstrap CIs.

    ``cluster`` labels runs resampled together (e.g. the seeds of one training subset).
    Raises AnalysisError on non-positive sizes, too few runs or distinct sizes, or a
    constant F1.
    """
    n, y = check_curve_data(sizes, f1, n_boot=n_boot, level=level)
    n_ref = float(np.median(n))
    x = n / n_ref
    weights = n / n.max()
    profile = Profile(x, y)
    c_hat, a_hat, beta_hat = profile.point(weights)
    boot = profile.bootstrap(weights, cluster_codes(cluster, n.size), n_boot,
                             np.random.default_rng(seed))
    tail = (1 - level) / 2

    def ci(values: np.ndarray) -> tuple[float, float]:
        finite = values[np.isfinite(values)]
        if finite.size == 0:
            return math.nan, math.nan
        lo, hi = np.quantile(finite, [tail, 1 - tail])
        return float(lo), float(hi)

    b_scale = n_ref ** boot[:, 2]
    residual = y - (a_hat - beta_hat * x ** (-c_hat))
    return PowerLawFit(
        a=a_hat, b=beta_hat * n_ref**c_hat, c=c_hat,
        a_ci=ci(boot[:, 0]), b_ci=ci(boot[:, 1] * b_scale), c_ci=ci(boot[:, 2]),
        n=int(n.size), n_min=float(n.min()), n_max=float(n.max()), n_ref=n_ref,
        rmse=float(np.sqrt(np.mean(residual**2))),
        c_at_bound=not C_BOUNDS[0] * 1.001 < c_hat < C_BOUNDS[1] / 1.001,
        level=level, n_boot=n_boot, boot=boot,
    )


def check_curve_data(
    sizes: Sequence[float] | np.ndarray, f1: Sequence[float] | np.ndarray, *,
    n_boot: int = 0, level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Sizes and F1 as float arrays, checked to support a learning curve; raises
    AnalysisError on non-positive sizes, too few runs or distinct sizes, or a constant F1."""
    n = np.asarray(sizes, dtype=float)
    y = np.asarray(f1, dtype=float)
    if n.shape != y.shape or n.ndim != 1:
        raise AnalysisError("sizes and F1 must be 1-d and of equal length")
    if not (np.all(np.isfinite(n)) and np.all(np.isfinite(y))):
        raise AnalysisError("sizes or F1 hold NaN or infinite values", hint="remove those runs")
    if np.any(n <= 0):
        raise AnalysisError("a learning curve needs positive training sizes",
                            hint="leave out runs trained on 0 sentences (baselines)")
    if n.size < 10 or np.unique(n).size < 4:
        raise AnalysisError(
            f"a learning curve needs at least 10 runs at 4 or more sizes (got {n.size} runs "
            f"at {np.unique(n).size} sizes)", hint="run more subsets of different sizes",
        )
    if np.ptp(y) == 0:
        raise AnalysisError("F1 is the same in every run; there is no learning curve")
    if not 0 < level < 1 or n_boot < 0:
        raise AnalysisError("the confidence level must lie in (0, 1) and n_boot be ≥ 0")
    return n, y


def cluster_codes(cluster: Sequence[object] | np.ndarray | None, n: int) -> np.ndarray:
    """Integer codes of the resampling clusters (each run its own when ``cluster`` is None)."""
    if cluster is None:
        return np.arange(n)
    return np.unique(np.asarray(cluster).astype(str), return_inverse=True)[1]


def resample_weights(codes: np.ndarray, n_boot: int, rng: np.random.Generator):
    """Yield (offset, (n, b) weights) batches of a cluster bootstrap: how often each run's
    cluster was drawn in each resample."""
    n_clusters = int(codes.max()) + 1
    for start in range(0, n_boot, _CHUNK):
        b = min(_CHUNK, n_boot - start)
        draws = rng.integers(0, n_clusters, size=(b, n_clusters))
        draws += n_clusters * np.arange(b)[:, None]
        counts = np.bincount(draws.ravel(), minlength=b * n_clusters).reshape(b, n_clusters)
        yield start, counts.T[codes]


class Profile:
    """Weighted least squares of ``y`` on ``[1, −u(x; c)]`` under ``b ≥ 0, a ≤ 1``, per ``c``.

    ``u`` is ``x^(−c)`` (the power law) or ``e^(−c·x)`` (exponential saturation); ``grid``
    holds the exponents searched (log-spaced), refined between grid points.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, *, kind: str = "power",
                 grid: np.ndarray = _C_GRID) -> None:
        self.y = y
        self.log_x = np.log(x)
        self.x = x
        self.kind = kind
        self.grid = grid

    def _u(self, c: np.ndarray) -> np.ndarray:
        """The basis at every run for each exponent: (n, len(c))."""
        if self.kind == "power":
            return np.exp(-self.log_x[:, None] * c[None, :])
        return np.exp(-self.x[:, None] * c[None, :])

    def solve(self, w: np.ndarray, c: np.ndarray):
        """(a, b, rss) for each replicate (column of ``w``) and each exponent: (B, C) arrays."""
        u = self._u(c)  # (n, C)
        wt = w.T  # (B, n)
        sums = (wt.sum(axis=1)[:, None], (wt @ self.y)[:, None],
                (wt @ (self.y * self.y))[:, None], wt @ u, wt @ (u * u), (wt * self.y) @ u)
        return _constrained(*sums)

    def solve_paired(self, w: np.ndarray, c: np.ndarray):
        """(a, b, rss) for replicate j at its own exponent ``c[j]``: (B,) arrays."""
        u = self._u(c)  # (n, B)
        wy = w * self.y[:, None]
        wu = w * u
        sums = (w.sum(axis=0), wy.sum(axis=0), (wy * self.y[:, None]).sum(axis=0),
                wu.sum(axis=0), (wu * u).sum(axis=0), (wy * u).sum(axis=0))
        return _constrained(*sums)

    def point(self, weights: np.ndarray) -> tuple[float, float, float]:
        """(c, a, b) of the weighted fit: the grid's best exponent refined by a bounded scalar
        minimisation between its neighbours."""
        from scipy.optimize import minimize_scalar

        point_w = weights[:, None]
        rss_grid = self.solve(point_w, self.grid)[2][0]
        k = int(np.argmin(rss_grid))
        lo_t = math.log(self.grid[max(k - 1, 0)])
        hi_t = math.log(self.grid[min(k + 1, self.grid.size - 1)])
        found = minimize_scalar(
            lambda t: float(self.solve(point_w, np.array([math.exp(t)]))[2][0, 0]),
            bounds=(lo_t, hi_t), method="bounded", options={"xatol": 1e-7},
        )
        c_hat = math.exp(found.x) if found.fun <= rss_grid[k] else float(self.grid[k])
        a_hat, b_hat, _ = self.solve(point_w, np.array([c_hat]))
        return c_hat, float(a_hat[0, 0]), float(b_hat[0, 0])

    def bootstrap(self, weights: np.ndarray, codes: np.ndarray, n_boot: int,
                  rng: np.random.Generator) -> np.ndarray:
        """(a, b, c) refitted on ``n_boot`` cluster resamples: (n_boot, 3)."""
        boot = np.empty((n_boot, 3))
        for start, counts in resample_weights(codes, n_boot, rng):
            boot[start:start + counts.shape[1]] = self.fit_batch(weights[:, None] * counts)
        return boot

    def fit_batch(self, w: np.ndarray) -> np.ndarray:
        """(a, b, c) per replicate: grid over log c, then a parabolic step around the minimum."""
        grid = self.grid
        rss = self.solve(w, grid)[2]
        best = np.argmin(rss, axis=1)
        k = np.clip(best, 1, grid.size - 2)
        rows = np.arange(rss.shape[0])
        t = np.log(grid)
        r0, r1, r2 = rss[rows, k - 1], rss[rows, k], rss[rows, k + 1]
        h = t[1] - t[0]
        with np.errstate(divide="ignore", invalid="ignore"):
            curvature = r0 - 2 * r1 + r2
            shift = np.where(curvature > 0, 0.5 * h * (r0 - r2) / curvature, 0.0)
        c_step = np.exp(t[k] + np.clip(shift, -h, h))
        a_step, b_step, rss_step = self.solve_paired(w, c_step)
        c_grid = grid[best]
        a_grid, b_grid, _ = self.solve_paired(w, c_grid)
        better = rss_step <= rss[rows, best]
        return np.column_stack([np.where(better, a_step, a_grid),
                                np.where(better, b_step, b_grid),
                                np.where(better, c_step, c_grid)])


def _constrained(sw, sy, syy, su, suu, suy):
    """Closed-form weighted LS of y = a − b·u from its sums, under b ≥ 0 and a ≤ 1.

    The feasible optimum is the best of: the free solution (if feasible), the ``b = 0`` face
    (a flat line at the weighted mean, always feasible for F1 ≤ 1) and the ``a = 1`` face
    (feasible when its b ≥ 0); a convex problem in two unknowns has its optimum among these.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        var_u = suu - su * su / sw
        cov = suy - su * sy / sw
        slope = np.where(var_u > 1e-12 * suu, cov / var_u, 0.0)  # slope on u, i.e. −b
        a_free = (sy - slope * su) / sw
        rss_free = syy - sy * sy / sw - slope * cov
        rss_flat = np.broadcast_to(syy - sy * sy / sw, slope.shape)
        a_flat = np.broadcast_to(sy / sw, slope.shape)
        r_u = suy - su  # sum of w·u·(y − 1)
        b_top = np.where(suu > 0, -r_u / suu, 0.0)
        rss_top = (syy - 2 * sy + sw) - np.where(suu > 0, r_u * r_u / suu, 0.0)
    free_ok = (slope <= 0) & (a_free <= 1)
    rss = np.where(free_ok, rss_free, np.inf)
    a = np.where(free_ok, a_free, np.nan)
    b = np.where(free_ok, -slope, np.nan)
    use_flat = rss_flat < rss
    rss, a, b = (np.where(use_flat, rss_flat, rss), np.where(use_flat, a_flat, a),
                 np.where(use_flat, 0.0, b))
    use_top = (b_top >= 0) & (rss_top < rss)
    return (np.where(use_top, 1.0, a), np.where(use_top, b_top, b),
            np.where(use_top, rss_top, rss))
