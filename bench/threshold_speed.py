"""Benchmark: one threshold fit + 1000 bootstrap resamples on 2500 simulated runs.

The project's method (sort once, cumulative sums, all resamples in batched numpy) against a
naive refit-per-candidate search (statsmodels OLS at every candidate threshold). The naive
side is timed on the point fit plus a few bootstrap resamples and extrapolated linearly to
1000 (each resample is one more full search). Both are measured in the same run.

Run: .venv/bin/python bench/threshold_speed.py [--rows 2500] [--boot 1000] [--naive-boot 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import statsmodels.api as sm

from nercurve.analysis.simulate import simulate_runs
from nercurve.analysis.threshold import threshold_analysis

FAMILY = "upperhinge"


def naive_search(x: np.ndarray, y: np.ndarray) -> float:
    """Threshold minimising the RSS of an upperhinge model, refitting OLS per candidate."""
    best_e, best_rss = np.nan, np.inf
    for e in np.unique(x):
        if not (np.mean(x <= e) >= 0.05 and np.mean(x < e) < 0.95):
            continue
        exog = sm.add_constant(np.minimum(x - e, 0.0)[:, None], has_constant="add")
        rss = sm.OLS(y, exog).fit().ssr
        if rss < best_rss:
            best_e, best_rss = float(e), rss
    return best_e


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2500)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--naive-boot", type=int, default=3)
    args = parser.parse_args()

    runs = simulate_runs({"m": (0.9, 3.0, 0.6)}, n_subsets=args.rows, noise=0.6, seed=0)
    x, y = runs["n_sentences"].to_numpy(float), runs["f1"].to_numpy(float)
    print(f"{args.rows} runs, {np.unique(x).size} distinct sizes (candidate thresholds), "
          f"family {FAMILY}")

    threshold_analysis(x[:200], y[:200], families=(FAMILY,), n_boot=10, n_test=0)  # warm-up
    start = time.perf_counter()
    fit = threshold_analysis(x, y, families=(FAMILY,), n_boot=args.boot, n_test=0,
                             seed=0).fits[FAMILY]
    fast_s = time.perf_counter() - start

    rng = np.random.default_rng(0)
    start = time.perf_counter()
    naive_e = naive_search(x, y)
    point_s = time.perf_counter() - start
    start = time.perf_counter()
    for _ in range(args.naive_boot):
        rows = rng.integers(0, x.size, x.size)
        naive_search(x[rows], y[rows])
    per_resample = (time.perf_counter() - start) / args.naive_boot
    naive_s = point_s + args.boot * per_resample

    print(f"fast:  {fast_s:8.2f} s  (fit + {args.boot} bootstrap resamples, measured)")
    print(f"naive: {naive_s:8.2f} s  (point fit {point_s:.2f} s measured + {args.boot} × "
          f"{per_resample:.2f} s per resample, extrapolated from {args.naive_boot})")
    print(f"ratio: {naive_s / fast_s:,.0f}× faster")
    agree = fit.threshold == naive_e
    print(f"threshold: fast {fit.threshold:g}, naive {naive_e:g} -> "
          f"{'agree' if agree else 'DISAGREE'}; 95% CI {fit.ci_percentile[0]:g}–"
          f"{fit.ci_percentile[1]:g}")
    print(f"target fast ≤ 1 s: {'met' if fast_s <= 1 else 'NOT met'}")


if __name__ == "__main__":
    main()
