"""How an adaptive design's estimate converged: one point per wave with its CI, against the
runs done so far, with the CI width the design stopped at."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from nercurve.report.figures import RC, THRESHOLD

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from nercurve.analysis import Analysis


def convergence_figure(analysis: Analysis) -> Figure:
    """The estimate after each wave with its CI (left) and the CI's width (right), against
    the driving arm's runs behind each estimate."""
    import matplotlib
    from matplotlib.figure import Figure

    waves = [w for w in analysis.waves if w.estimate is not None and w.ci is not None]
    runs = np.array([w.runs for w in waves], dtype=float)
    value = np.array([w.estimate for w in waves], dtype=float)
    lo = np.array([w.ci[0] for w in waves], dtype=float)
    hi = np.array([w.ci[1] for w in waves], dtype=float)
    with matplotlib.rc_context(RC):
        fig = Figure(figsize=(7.5, 2.8), layout="constrained")
        left, right = fig.subplots(1, 2)
        finite = np.isfinite(value)
        left.errorbar(runs[finite], value[finite],
                      yerr=[value[finite] - lo[finite], np.where(np.isfinite(hi), hi, value)
                            [finite] - value[finite]],
                      fmt="o-", color=THRESHOLD, capsize=3, linewidth=1)
        for w, x in zip(waves, runs, strict=True):
            left.annotate(str(w.wave), (x, w.estimate), textcoords="offset points",
                          xytext=(4, 4), fontsize=7)
        left.set_xlabel("Runs of the driving arm")
        left.set_ylabel("Estimate (sentences)")
        left.set_title("Estimate after each wave (CI)")
        width = hi - lo
        right.plot(runs[np.isfinite(width)], width[np.isfinite(width)], "o-", color="0.3",
                   linewidth=1)
        right.set_xlabel("Runs of the driving arm")
        right.set_ylabel("CI width (sentences)")
        right.set_title("CI width")
        stop = _stop_width(analysis)
        if stop is not None:
            right.axhline(stop, color=THRESHOLD, linestyle=":", linewidth=1,
                          label=f"stop at {stop:g}")
            right.legend(loc="upper right")
    return fig


def _stop_width(analysis: Analysis) -> float | None:
    """The CI width the design stops at, from the study's config when the runs say."""
    import json
    from pathlib import Path

    try:
        config = json.loads((Path(analysis.source) / "study.json").read_text(encoding="utf-8"))
        return float(config["design"]["adaptive"]["ci_width"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def convergence_text(analysis: Analysis) -> str:
    """A caption: the waves, where the design stopped, and what its CIs assume."""
    waves = analysis.waves
    last = waves[-1]
    why = {"ci_width": "its CI was as narrow as asked", "max_runs": "max_runs was reached"}
    end = (f"It stopped after wave {last.wave} because {why.get(last.stopped, last.stopped)}."
           if last.stopped else f"Wave {last.wave} is the latest; the design has not stopped.")
    if last.estimate is not None and last.ci is not None and math.isfinite(last.estimate):
        end += (f" Last estimate: {last.estimate:,.0f} sentences (CI {last.ci[0]:,.0f}–"
                f"{last.ci[1]:,.0f}) from {last.runs} runs.")
    runs = sum(len(w.subsets) for w in waves)
    return (f"The design ran in {len(waves)} waves ({runs} subsets): the first stratified, "
            f"each later one placed around the CI of the estimate before it. {end} The CIs "
            "treat the sizes as fixed although the data chose them; their coverage under this "
            "design is checked by simulation (docs/adaptive.md).")
