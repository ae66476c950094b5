"""The training size one learning curve saves over another to reach an F1 level, with a
paired-bootstrap CI: the one computation behind the selection strategies' savings
(:mod:`nercurve.analysis.selection`) and the multi-task arm's
(:mod:`nercurve.analysis.multitask`).

Two curves of one family are compared: the *baseline* (random selection; single-task
training) and the *arm* (another strategy; multi-task training). Sentences saved = the
baseline's training size at an F1 minus the arm's, at one of two levels (:data:`GOALS`):

- ``"target"``: the analysis's target F1;
- ``"plateau"``: the F1 the baseline's fitted curve reaches at its largest training set
  (the most the baseline was seen to do, its "plateau" in the data; not the fitted
  ceiling, which the runs may not pin down).

The CI is the percentile interval of the same difference over the i-th bootstrap refits of
both curves. Who pairs the refits is the caller's business: independent subsets (selection
strategies) make any pairing a draw of both; shared subsets (the arms of a multi-task study
train on the same subsets and seeds) are paired when both curves resample the same subsets
in their i-th refit. For the plateau each baseline refit sets its own level (its F1 at that
size), so the level's uncertainty is carried too. A CI that covers 0 is no reliable
difference; where either curve does not reach the level, no difference is given.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from nercurve.analysis.curve import TargetSize
from nercurve.analysis.families import CurveFit

#: The two F1 levels an arm is compared with its baseline at.
GOALS = ("target", "plateau")


@dataclass(frozen=True)
class Saving:
    """Training size an arm saves over its baseline to reach one F1 level.

    ``goal`` is ``"target"`` (the analysis's target F1) or ``"plateau"`` (the F1 the
    baseline's curve reaches at its largest training set, ``at``). ``saved`` is the
    baseline's size minus the arm's (negative: the arm needs more), NaN when either curve is
    missing or does not reach ``f1``; ``ci`` its percentile bootstrap CI (NaN when more than
    the tail share of refits of both never reach the level).
    """

    backend: str
    #: The arm compared (a selection strategy; multi-task) and its baseline.
    arm: str
    baseline: str
    goal: str
    f1: float
    at: float
    level: float
    saved: float
    ci: tuple[float, float]
    #: Whether the level is reached, by each curve (None: that curve is missing).
    arm_size: TargetSize | None
    baseline_size: TargetSize | None

    @property
    def decided(self) -> bool:
        """True when both curves reach the level and the CI could be computed."""
        return math.isfinite(self.saved) and not math.isnan(self.ci[0])

    @property
    def reliable(self) -> bool:
        """True when the CI of the saving lies wholly above or below 0."""
        return self.decided and (self.ci[0] > 0 or self.ci[1] < 0)


def size_saving(base: CurveFit | None, other: CurveFit | None, *, goal: str,
                target_f1: float, level: float, backend: str, arm: str,
                baseline: str) -> Saving:
    """The training size ``other`` (the arm's curve) saves over ``base`` (the baseline's) at
    the target F1 (``goal="target"``) or at the F1 the baseline's curve reaches at its
    largest training set (``"plateau"``); a missing curve (None), or a plateau outside (0, 1)
    (a curve unbounded above passes 1 there), gives no saving."""
    f1, at = target_f1, math.nan
    base_size = None
    if base is not None and goal == "plateau":
        at = base.n_max
        f1 = float(base.predict(at))
        if 0 < f1 < 1:  # a curve that passes F1 1 there (log-linear) gives no level
            base_size = _fixed_size(base, f1, at)
    elif base is not None:
        base_size = base.sentences_for(f1)
    other_size = other.sentences_for(f1) if other is not None and 0 < f1 < 1 else None
    saved, ci = math.nan, (math.nan, math.nan)
    if (base is not None and other is not None and base_size is not None
            and other_size is not None and base_size.reachable and other_size.reachable):
        k = min(base.n_boot, other.n_boot)
        if goal == "plateau":
            levels = base.boot_predict(at)[:k]
            base_draws, other_draws = np.full(k, at), other.boot_sizes_for(levels)
        else:
            base_draws, other_draws = base.boot_sizes_for(f1)[:k], other.boot_sizes_for(f1)[:k]
        saved = base_size.sentences - other_size.sentences
        ci = _difference_ci(base_draws, other_draws, level)
    return Saving(backend=backend, arm=arm, baseline=baseline, goal=goal, f1=f1, at=at,
                  level=level, saved=saved, ci=ci, arm_size=other_size,
                  baseline_size=base_size)


def _fixed_size(curve: CurveFit, f1: float, at: float) -> TargetSize:
    """The baseline's size for the F1 its curve reaches at ``at``: ``at`` itself, with the
    curve's ceiling (so a reader of the table sees the same fields as for a target)."""
    size = curve.sentences_for(f1)
    return TargetSize(target=f1, sentences=at, ci=(at, at), reachable=True,
                      share_unreachable=0.0, ceiling=size.ceiling, ceiling_ci=size.ceiling_ci,
                      ceiling_identified=size.ceiling_identified)


def _difference_ci(base: np.ndarray, other: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile CI of ``base − other`` over paired refits; a refit whose curve never reaches
    the level counts as infinitely large, and where neither does the difference is undefined:
    more than the tail share of those and there is no CI (NaN)."""
    with np.errstate(invalid="ignore"):
        diff = base - other
    undefined = np.isnan(diff)
    tail = (1 - level) / 2
    if diff.size == 0 or np.mean(undefined) > tail:
        return math.nan, math.nan
    lo, hi = np.quantile(diff[~undefined], [tail, 1 - tail], method="inverted_cdf")
    return float(lo), float(hi)
