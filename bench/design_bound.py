"""The fewest runs any design could need for a CI width: the locally c-optimal design's bound.

A run of a learning-curve study at ``n`` training sentences gives an F1 with mean
``f(n; θ)`` and noise SD ``σ(n)``; it carries Fisher information ``g gᵀ / σ²`` about θ,
``g = ∂f/∂θ``. A design that puts the share ``w_i`` of its ``N`` runs at size ``n_i``
estimates a target ``τ(θ)`` (a threshold, the size that reaches an F1) with asymptotic
variance ``∇τᵀ M(w)⁻¹ ∇τ / N``, where ``M(w) = Σ w_i g_i g_iᵀ / σ_i²``. The design that
minimises it is the c-optimal design (Elfving 1952); its variance, by the Cramér–Rao bound, is
the least any design on those sizes can reach at the true θ, so the runs it needs for a CI
width are the fewest any design could need, adaptive or not. The bound is asymptotic: where a
design's real CIs are wider than its asymptotic ones (a threshold estimator in finite
samples), real designs need more.

Used by ``bench/adaptive_design.py``; checked against closed forms in
``tests/test_design_bound.py``.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.optimize import minimize

Mean = Callable[[np.ndarray, np.ndarray], np.ndarray]  # (sizes, θ) -> F1


def derivatives(fn: Callable[[np.ndarray], np.ndarray | float], theta: np.ndarray,
                step: float = 1e-6) -> np.ndarray:
    """Central differences of ``fn`` in each θ_j (steps relative to θ_j), in the last axis:
    ``∇τ`` (k,) for a scalar target, ``∂f/∂θ`` (m, k) for the F1 at m sizes."""
    cols = []
    for j in range(theta.size):
        h = step * max(1.0, abs(float(theta[j])))
        up, down = theta.copy(), theta.copy()
        up[j] += h
        down[j] -= h
        cols.append((np.asarray(fn(up)) - np.asarray(fn(down))) / (2 * h))
    return np.stack(cols, axis=-1)


def run_variance(weights: np.ndarray, rows: np.ndarray, sd: np.ndarray,
                 grad: np.ndarray) -> float:
    """``∇τᵀ M(w)⁻¹ ∇τ``: the target's variance times the runs, for a design with
    ``weights`` on sizes whose Jacobian rows and noise SDs are given."""
    info = (rows * (weights / sd**2)[:, None]).T @ rows
    ridge = 1e-12 * np.trace(info) * np.eye(grad.size)  # c may be estimable on a singular M
    return float(grad @ np.linalg.solve(info + ridge, grad))


def c_optimal(mean: Mean, theta: np.ndarray, target: Callable[[np.ndarray], float],
              sd: Callable[[np.ndarray], np.ndarray], sizes: np.ndarray
              ) -> tuple[np.ndarray, float]:
    """The c-optimal shares over the candidate ``sizes`` and their per-run variance of the
    target (the objective is convex in the shares; they are optimised as a softmax)."""
    pieces = _pieces(mean, theta, target, sd, sizes)
    best = minimize(lambda z: np.log(run_variance(_softmax(z), *pieces)), np.zeros(sizes.size),
                    method="L-BFGS-B", options={"maxiter": 20_000, "maxfun": 1_000_000})
    shares = _softmax(best.x)
    return shares, run_variance(shares, *pieces)


def design_variance(mean: Mean, theta: np.ndarray, target: Callable[[np.ndarray], float],
                    sd: Callable[[np.ndarray], np.ndarray], sizes: np.ndarray) -> float:
    """Per-run variance of the target for a design with equal shares on ``sizes``."""
    return run_variance(np.full(sizes.size, 1.0 / sizes.size),
                        *_pieces(mean, theta, target, sd, sizes))


def _pieces(mean: Mean, theta: np.ndarray, target: Callable[[np.ndarray], float],
            sd: Callable[[np.ndarray], np.ndarray], sizes: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """What :func:`run_variance` needs besides the shares: the Jacobian rows at ``sizes``,
    their noise SDs and the target's gradient."""
    return derivatives(lambda t: mean(sizes, t), theta), sd(sizes), derivatives(target, theta)


def _softmax(z: np.ndarray) -> np.ndarray:
    w = np.exp(z - z.max())
    return w / w.sum()


Z95 = 1.959964  # standard errors each way of a two-sided 95% normal CI


def runs_for_width(per_run_variance: float, width: float, z: float = Z95) -> float:
    """Runs for a normal CI of ``width`` (two-sided, ``z`` standard errors each way)."""
    return per_run_variance * (2 * z / width) ** 2


def width_for_runs(per_run_variance: float, runs: float, z: float = Z95) -> float:
    """Width of a normal CI from ``runs`` runs (the inverse of :func:`runs_for_width`)."""
    return 2 * z * (per_run_variance / runs) ** 0.5
