"""The rules of an adaptive design, as pure functions (the runner and the benchmark share them).

- **Estimate.** After each wave, the target is re-estimated from every finished run of the
  driving arm by an :class:`Estimator` that the caller hands the runner (the study package
  knows nothing of the analysis; :func:`nercurve.analysis.wave_estimate.estimate_target` is
  the one the CLI passes: the threshold of the chosen threshold model, or the training
  sentences the chosen learning curve needs for the target F1, with bootstrap CIs).
- **Sampling rule.** The next wave puts ``1 − spread`` of its subsets at sizes spread
  evenly (one per equal slice, at a random point within it) over the current CI widened by
  a quarter of its width on each side (at least a twentieth of the design's range wide,
  within it), and the rest evenly over the whole range, so that the slopes on either side stay
  pinned down and a wrong early estimate can be corrected. Without an estimate (too few
  runs yet) the whole wave spreads over the range. A CI that lies beyond the range (a
  target F1 out of reach of the sizes the design allows) focuses on the top fifth of it.
- **Stopping rule.** The design stops when the CI is at most ``ci_width`` sentences wide,
  or when the runs planned for the driving arm reach ``max_runs`` (the last wave is cut to
  fit).

Because the sizes depend on the data, the bootstrap CI's coverage under this design is not
guaranteed by theory; ``bench/adaptive_design.py`` measures it by simulation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from nercurve.study.config import AdaptiveSection

FOCUS_MARGIN = 0.25  # the focus interval reaches this share of the CI's width past each end
FOCUS_MIN = 0.05  # ...and spans at least this share of the design's range


@dataclass(frozen=True)
class Estimate:
    """The design's target estimated from the runs so far, with its CI (in sentences)."""

    value: float
    ci: tuple[float, float]
    runs: int

    @property
    def width(self) -> float:
        """The CI's width (infinite when a bound is)."""
        return self.ci[1] - self.ci[0]


class Estimator(Protocol):
    """Estimates an adaptive design's target (in sentences) from the runs so far: their
    training sentences and F1, the design's settings, the runs' clusters (subset ids) and a
    seed; raises AnalysisError when the runs cannot support an estimate yet."""

    def __call__(self, sentences: Sequence[float] | np.ndarray,
                 f1: Sequence[float] | np.ndarray, settings: AdaptiveSection, *,
                 cluster: Sequence[object] | None = None, seed: int = 0) -> Estimate: ...


def next_sizes(current: Estimate | None, bounds: tuple[float, float], k: int, spread: float,
               rng: np.random.Generator) -> tuple[np.ndarray, tuple[float, float] | None]:
    """The training sizes (sentences) of the next wave of ``k`` subsets within ``bounds``,
    and the focus interval (None when the whole wave spreads over the range)."""
    lo, hi = bounds
    focus = None if current is None else focus_interval(current, bounds)
    n_wide = k if focus is None else min(k, round(k * spread))
    sizes = [_even(lo, hi, n_wide, rng)]
    if focus is not None:
        sizes.append(_even(*focus, k - n_wide, rng))
    return np.concatenate(sizes), focus


def focus_interval(current: Estimate, bounds: tuple[float, float]) -> tuple[float, float]:
    """The current CI widened by :data:`FOCUS_MARGIN` of its width on each side, at least
    :data:`FOCUS_MIN` of the range wide, within ``bounds``."""
    lo, hi = bounds
    span = hi - lo
    c_lo, c_hi = current.ci
    if not math.isfinite(c_lo) or c_lo >= hi:
        return hi - 0.2 * span, hi
    c_hi = min(c_hi, hi) if math.isfinite(c_hi) else hi
    margin = FOCUS_MARGIN * (c_hi - c_lo)
    f_lo, f_hi = max(lo, c_lo - margin), min(hi, c_hi + margin)
    short = FOCUS_MIN * span - (f_hi - f_lo)
    if short > 0:
        f_lo, f_hi = max(lo, f_lo - short / 2), min(hi, f_hi + short / 2)
    return f_lo, f_hi


def _even(lo: float, hi: float, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` points spread evenly over [lo, hi]: one at random within each of n equal slices."""
    return lo + (np.arange(n) + rng.random(n)) / max(n, 1) * (hi - lo)


def wave_size(settings: AdaptiveSection, planned_runs: int, seeds: int) -> int:
    """Subsets in the next wave: ``wave``, cut so the driving arm's runs stay within
    ``max_runs`` (0: no room left)."""
    room = (settings.max_runs - planned_runs) // max(seeds, 1)
    return max(0, min(settings.wave, room))


def stop_reason(current: Estimate | None, settings: AdaptiveSection, planned_runs: int,
                seeds: int) -> str | None:
    """Why the design stops now (``"ci_width"`` or ``"max_runs"``), or None to go on."""
    if current is not None and current.width <= settings.ci_width:
        return "ci_width"
    if wave_size(settings, planned_runs, seeds) == 0:
        return "max_runs"
    return None
