"""The c-optimal design bound of bench/design_bound.py against closed forms."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "bench" / "design_bound.py"
_SPEC = importlib.util.spec_from_file_location("design_bound", _PATH)
bound = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bound)


def test_a_line_predicted_inside_its_range_is_best_measured_there() -> None:
    # F1 = a + b·n with unit noise; the target is the mean at n = 30 on sizes 0..100.
    # Any design's variance is at least σ² = 1 per run, reached by any design whose sizes
    # average 30 (all runs at 30, or 70% at 0 and 30% at 100: the optimum is not unique).
    def mean(n, t):
        return t[0] + t[1] * n

    sizes = np.linspace(0, 100, 101)
    weights, var = bound.c_optimal(mean, np.array([0.2, 0.01]), lambda t: t[0] + 30 * t[1],
                                   lambda n: np.ones_like(n), sizes)
    assert var == pytest.approx(1.0, rel=1e-3)
    assert weights @ sizes == pytest.approx(30, abs=0.1)
    # the even design over the range: 1/N + (30 - 50)²/Σ(n - 50)²·N, by hand
    even = bound.design_variance(mean, np.array([0.2, 0.01]), lambda t: t[0] + 30 * t[1],
                                 lambda n: np.ones_like(n), sizes)
    assert even == pytest.approx(1 + 400 / np.mean((sizes - 50) ** 2), rel=1e-6)


def test_a_hinge_threshold_needs_the_corner_and_the_plateau() -> None:
    # F1 = L + s·min(n − e, 0): the threshold is the level's distance below the corner over
    # the slope, so the best design measures the rise just below e and the plateau where its
    # noise is least (the largest size), shares proportional to the noise SDs; its variance
    # is (σ(e⁻) + σ(top))² / s² per run.
    def mean(n, t):
        return t[0] + t[1] * np.minimum(n - t[2], 0.0)

    def sd(n):
        return 0.6 / np.sqrt(n) + 0.005

    theta = np.array([0.895, 0.0014, 450.0])
    sizes = np.concatenate([np.linspace(5, 440, 88), [449.5], np.linspace(460, 900, 45)])
    weights, var = bound.c_optimal(mean, theta, lambda t: t[2], sd, sizes)
    low, top = sd(np.array([449.5, 900.0]))
    assert var == pytest.approx((low + top) ** 2 / 0.0014**2, rel=0.01)
    assert weights[sizes == 449.5][0] == pytest.approx(low / (low + top), abs=0.02)
    assert weights[-1] == pytest.approx(top / (low + top), abs=0.02)


def test_runs_for_width_and_back() -> None:
    # variance 100 per run, CI ±1.96·10/√N of width 3.92 needs N = 100
    assert bound.runs_for_width(100.0, 3.92, z=1.96) == pytest.approx(100.0)
    assert bound.width_for_runs(100.0, 100.0, z=1.96) == pytest.approx(3.92)
