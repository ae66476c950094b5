"""The estimator of an adaptive design: its target from the runs so far, with a bootstrap CI.

The runner's adaptive design (:mod:`nercurve.study.adaptive`) knows nothing of the analysis;
its caller hands it :func:`estimate_target` (the CLI's ``run`` and ``plan`` do).

- ``threshold``: the threshold of the chosen threshold model on training sentences
  (:func:`nercurve.analysis.threshold.threshold_analysis`);
- ``target_f1``: the training sentences the chosen learning curve needs for the target F1
  (:func:`nercurve.analysis.families.fit_curves`; its CI spans the curves that predict the
  largest runs as well);

both with percentile bootstrap CIs (runs of one subset resampled together).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nercurve.analysis.families import fit_curves
from nercurve.analysis.threshold import threshold_analysis
from nercurve.study.config import AdaptiveSection
from nercurve.study.wave_policy import Estimate


def estimate_target(sentences: Sequence[float] | np.ndarray, f1: Sequence[float] | np.ndarray,
                    settings: AdaptiveSection, *, cluster: Sequence[object] | None = None,
                    seed: int = 0) -> Estimate:
    """The design's target from the runs so far; raises AnalysisError when they cannot
    support it yet."""
    x = np.asarray(sentences, dtype=float)
    y = np.asarray(f1, dtype=float)
    if settings.target == "threshold":
        fit = threshold_analysis(x, y, families=(settings.family,), cluster=cluster,
                                 n_boot=settings.n_boot, n_test=0, level=settings.level,
                                 seed=seed).fits[settings.family]
        return Estimate(value=fit.threshold, ci=fit.ci_percentile, runs=int(x.size))
    positive = x > 0
    clusters = None if cluster is None else np.asarray(cluster)[positive]
    curves = fit_curves(x[positive], y[positive], cluster=clusters, n_boot=settings.n_boot,
                        level=settings.level, seed=seed)
    needed = curves.sentences_for(float(settings.target_f1))
    return Estimate(value=needed.sentences, ci=needed.ci, runs=int(positive.sum()))
