"""Benchmark: adaptive designs against the seed study's uniform design, on simulated studies
from known learning curves.

The seed study (Majdik et al. 2024) trained 2,500 subsets per model: 500 in each of five
strata of 1–40, 41–80, …, 161–200 documents. Here a "run" is one such subset with its F1
drawn from a known curve, with noise that shrinks with size as in the seed study's runs (SD
0.6/√n + 0.005 at n training sentences, documents holding about 4.5 sentences each):

- ``hinge``: F1 rises by 0.0014 per sentence up to 450 sentences and is flat at 0.895 after
  (the seed study's shape); the design estimates the upperhinge threshold (truth: 450);
- ``power``: F1 = 0.9 − 0.8·n^(−1/2); the design estimates the sentences needed for F1 0.86
  (truth: 400);
- ``line``: F1 = 0.4 + 0.0005·n, no threshold; the design estimates the upperhinge threshold,
  and what matters is how often the final analysis claims one (the threshold model beats
  the straight line at p < 0.05, wild-bootstrap test).

For each case, ``--studies`` simulated studies (default 500) are analysed twice: with the
full uniform stratified design (2,500 runs), and with the adaptive design of
:mod:`nercurve.study.wave_policy` and :func:`nercurve.analysis.wave_estimate.estimate_target`
(the rules ``nercurve run`` follows: a first stratified wave of 5 × ``--first`` subsets, then
waves of ``--wave`` subsets around the CI with
``--spread`` over the whole range; waves of ``--power-wave`` in the power case), stopped
when its CI is as narrow as the median CI of the uniform design (or at 2,500 runs); its
final data are then analysed with a fresh bootstrap, as ``nercurve analyze`` does. Reported
per case: the runs the adaptive design needed (median, mean, 90th percentile, share of
2,500), the 95% CI's coverage of the truth for both designs (with a binomial 95% interval),
the error of the estimate (bias, RMSE), the median CI width, and for ``line`` the rate of
false thresholds. Next to them, the bound of :mod:`design_bound`: the runs that the
c-optimal design of the true curve (the best design there is, knowing the truth) needs for
the same width, asymptotically — how far the adaptive design is from the best possible one,
and whether a target share can be reached at all.

Targets (issue 13): the uniform design's CI width with ≤ 20% of its runs (aim 10%); coverage
between 93% and 97%; no more false thresholds than the uniform design.

Run: .venv/bin/python bench/adaptive_design.py [--studies 500] [--cases hinge,power,line]
     [--workers 2] [--n-boot 1000]
"""

from __future__ import annotations

import argparse
import math
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np
from design_bound import c_optimal, design_variance, runs_for_width, width_for_runs

from nercurve.analysis.wave_estimate import estimate_target
from nercurve.errors import AnalysisError
from nercurve.study.config import AdaptiveSection
from nercurve.study.wave_policy import next_sizes, stop_reason, wave_size

STRATA = ((1, 40), (41, 80), (81, 120), (121, 160), (161, 200))
PER_STRATUM = 500  # the seed study: 2,500 runs
SENTENCES_PER_DOC = 4.5
UNIFORM_RUNS = PER_STRATUM * len(STRATA)


@dataclass(frozen=True)
class Case:
    """A known learning curve (its family and true parameters) and what the design
    estimates on it."""

    name: str
    target: str  # "threshold" or "target_f1"
    theta: tuple[float, ...]
    target_f1: float | None = None

    @property
    def truth(self) -> float:
        """The true threshold or size (NaN: there is none)."""
        return self.target_of(np.array(self.theta))

    def target_of(self, theta: np.ndarray) -> float:
        """The estimated quantity as a function of the curve's parameters."""
        if self.name == "hinge":
            return float(theta[2])
        if self.name == "power":
            a, b, c = theta
            return float((b / (a - self.target_f1)) ** (1 / c))
        return math.nan

    def mean_at(self, n: np.ndarray, theta: np.ndarray) -> np.ndarray:
        """The curve's F1 at n training sentences under parameters ``theta``."""
        if self.name == "hinge":
            return theta[0] + theta[1] * np.minimum(n - theta[2], 0.0)
        if self.name == "power":
            return theta[0] - theta[1] * n ** -theta[2]
        return theta[0] + theta[1] * n

    def mean(self, n: np.ndarray) -> np.ndarray:
        """The curve's F1 at n training sentences."""
        return self.mean_at(n, np.array(self.theta))

    def f1(self, n: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Simulated test F1 of runs trained on n sentences."""
        return np.clip(self.mean(n) + noise_sd(n) * rng.standard_normal(n.size), 0.0, 1.0)


def noise_sd(n: np.ndarray) -> np.ndarray:
    """SD of a run's F1 at n training sentences (shrinking with size, as in the seed study)."""
    return 0.6 / np.sqrt(n) + 0.005


CASES = {
    "hinge": Case("hinge", "threshold", (0.895, 0.0014, 450.0)),
    "power": Case("power", "target_f1", (0.9, 0.8, 0.5), target_f1=0.86),
    "line": Case("line", "threshold", (0.4, 0.0005)),
}


def sentences(docs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Training sentences of subsets of ``docs`` documents."""
    return np.maximum(1, rng.poisson(SENTENCES_PER_DOC * docs)).astype(float)


def settings_for(case: Case, ci_width: float, args: argparse.Namespace) -> AdaptiveSection:
    wave = args.power_wave if case.name == "power" else args.wave
    return AdaptiveSection(target=case.target, target_f1=case.target_f1, ci_width=ci_width,
                           wave=wave, max_runs=UNIFORM_RUNS, spread=args.spread,
                           n_boot=args.n_boot)


def final_test(case: Case, n: np.ndarray, y: np.ndarray, args: argparse.Namespace,
               seed: int) -> float:
    """p-value of the upperhinge model against a straight line (line case only)."""
    if case.name != "line":
        return math.nan
    from nercurve.analysis.threshold import threshold_analysis

    return threshold_analysis(n, y, families=("upperhinge",), n_boot=0, n_test=args.n_boot,
                              seed=seed).fits["upperhinge"].p_value


def uniform_study(job: tuple[Case, int, argparse.Namespace]) -> dict:
    """The full uniform stratified design of one simulated study."""
    case, index, args = job
    rng = np.random.default_rng([1, index])
    docs = np.concatenate([rng.integers(lo, hi + 1, PER_STRATUM) for lo, hi in STRATA])
    n = sentences(docs, rng)
    y = case.f1(n, rng)
    found = estimate_target(n, y, settings_for(case, 1.0, args), seed=index)
    return {"estimate": found.value, "ci": found.ci, "runs": UNIFORM_RUNS,
            "p": final_test(case, n, y, args, index)}


def adaptive_study(job: tuple[Case, int, float, argparse.Namespace]) -> dict:
    """One simulated study under the adaptive design, stopped at ``ci_width``."""
    case, index, ci_width, args = job
    settings = settings_for(case, ci_width, args)
    rng = np.random.default_rng([2, index])
    docs = np.concatenate([rng.integers(lo, hi + 1, args.first) for lo, hi in STRATA])
    n = sentences(docs, rng)
    y = case.f1(n, rng)
    wave, waves = 0, []
    while True:
        try:
            found = estimate_target(n, y, settings, seed=1000 * index + wave)
        except AnalysisError:
            found = None
        waves.append(None if found is None else found.width)
        if stop_reason(found, settings, n.size, 1) is not None:
            break
        wave += 1
        per_doc = n.sum() / docs.sum()
        bounds = (STRATA[0][0] * per_doc, STRATA[-1][1] * per_doc)
        sizes, _ = next_sizes(found, bounds, wave_size(settings, n.size, 1), settings.spread,
                              rng)
        new_docs = np.clip(np.round(sizes / per_doc), STRATA[0][0], STRATA[-1][1])
        new_n = sentences(new_docs, rng)
        docs, n = np.concatenate([docs, new_docs]), np.concatenate([n, new_n])
        y = np.concatenate([y, case.f1(new_n, rng)])
    # the analysis of the finished study bootstraps afresh (its own seed), as `nercurve
    # analyze` does: the interval that stopped the design is not the one reported
    final = estimate_target(n, y, settings, seed=10**6 + index)
    return {"estimate": final.value, "ci": final.ci, "stop_ci": found.ci if found else None,
            "runs": int(n.size), "waves": len(waves), "p": final_test(case, n, y, args, index)}


def summary(case: Case, results: list[dict]) -> dict:
    """Coverage, error, width and runs of one design on one case."""
    est = np.array([r["estimate"] for r in results], dtype=float)
    lo = np.array([r["ci"][0] for r in results], dtype=float)
    hi = np.array([r["ci"][1] for r in results], dtype=float)
    runs = np.array([r["runs"] for r in results], dtype=float)
    out = {"studies": len(results), "width_median": float(np.median(hi - lo)),
           "runs_median": float(np.median(runs)), "runs_mean": float(runs.mean()),
           "runs_p90": float(np.quantile(runs, 0.9)),
           "p_below_05": float(np.mean([r["p"] < 0.05 for r in results]))}
    if math.isfinite(case.truth):
        covered = (lo <= case.truth) & (case.truth <= hi)
        k, m = int(covered.sum()), covered.size
        out |= {"coverage": k / m, "coverage_ci": wilson(k, m),
                "bias": float(np.nanmean(est - case.truth)),
                "rmse": float(np.sqrt(np.nanmean((est - case.truth) ** 2)))}
    return out


def wilson(k: int, m: int) -> tuple[float, float]:
    """Wilson 95% interval of a binomial proportion k/m."""
    from statsmodels.stats.proportion import proportion_confint

    lo, hi = proportion_confint(k, m, alpha=0.05, method="wilson")
    return float(lo), float(hi)


def information_bound(case: Case, measured_width: float) -> dict | None:
    """The c-optimal design's asymptotic bound on this case (:mod:`design_bound`): the
    uniform design's asymptotic CI width at its 2,500 runs, the share of its runs the best
    design needs for the same asymptotic width, and the runs it needs for the uniform
    design's measured width. None when the case has nothing to estimate."""
    if not math.isfinite(case.truth):
        return None
    theta = np.array(case.theta)
    per_doc = SENTENCES_PER_DOC * np.arange(STRATA[0][0], STRATA[-1][1] + 1)
    uniform = design_variance(case.mean_at, theta, case.target_of, noise_sd, per_doc)
    grid = np.union1d(np.linspace(per_doc[0], per_doc[-1], 400),
                      [case.truth - 0.5, case.truth + 0.5])
    _, best = c_optimal(case.mean_at, theta, case.target_of, noise_sd, grid)
    return {"uniform_width": width_for_runs(uniform, UNIFORM_RUNS),
            "share": best / uniform, "runs": runs_for_width(best, measured_width)}


def report(case: Case, uniform: dict, adaptive: dict, seconds: float) -> None:
    share = adaptive["runs_median"] / UNIFORM_RUNS
    print(f"\n== {case.name} ({case.target}, truth {case.truth:g}) — {seconds:,.0f} s")
    for label, s in (("uniform", uniform), ("adaptive", adaptive)):
        line = (f"  {label:8s} runs median {s['runs_median']:6.0f} (mean {s['runs_mean']:6.0f}, "
                f"p90 {s['runs_p90']:6.0f}); CI width median {s['width_median']:7.1f}")
        if "coverage" in s:
            c_lo, c_hi = s["coverage_ci"]
            line += (f"; coverage {s['coverage']:.1%} (95% CI {c_lo:.1%}–{c_hi:.1%}); bias "
                     f"{s['bias']:+.1f}, RMSE {s['rmse']:.1f}")
        if case.name == "line":
            line += f"; false thresholds (p < 0.05) {s['p_below_05']:.1%}"
        print(line)
    verdict = ("target ≤ 20%, aim 10%: " + ("met" if share <= 0.2 else "NOT met")
               if math.isfinite(case.truth) else "no truth to pin down: the target does not apply")
    print(f"  adaptive needs {share:.1%} of the uniform design's runs for its CI width "
          f"({verdict})")
    bound = information_bound(case, uniform["width_median"])
    if bound is not None:
        print(f"  bound (the c-optimal design of the true curve, asymptotic): the uniform design's "
              f"asymptotic CI width is {bound['uniform_width']:.1f} (measured "
              f"{uniform['width_median']:.1f}); the best design needs {bound['share']:.1%} of "
              f"its runs for the same asymptotic width, and at least {bound['runs']:,.0f} runs "
              f"({bound['runs'] / UNIFORM_RUNS:.1%}) for the measured width")
    if "coverage" in adaptive:
        ok = all(0.93 <= s["coverage"] <= 0.97 for s in (uniform, adaptive))
        print(f"  coverage within 93–97% for both designs: {'met' if ok else 'NOT met'}")
    if case.name == "line":
        ok = adaptive["p_below_05"] <= uniform["p_below_05"]
        print(f"  no more false thresholds than uniform: {'met' if ok else 'NOT met'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=500)
    parser.add_argument("--cases", default="hinge,power,line")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--first", type=int, default=10, help="first-wave subsets per stratum")
    parser.add_argument("--wave", type=int, default=25)
    parser.add_argument("--power-wave", type=int, default=250,
                        help="waves of the power case (each refit fits four curve families)")
    parser.add_argument("--spread", type=float, default=0.1)
    args = parser.parse_args()
    print(f"{args.studies} simulated studies per case; uniform: {UNIFORM_RUNS} runs; adaptive: "
          f"first wave {5 * args.first}, waves of {args.wave} ({args.power_wave} for power), "
          f"spread {args.spread}; "
          f"{args.n_boot} bootstrap resamples; {args.workers} worker processes")
    with ProcessPoolExecutor(args.workers) as pool:
        for name in args.cases.split(","):
            case = CASES[name]
            started = time.perf_counter()
            uniform = list(pool.map(uniform_study,
                                    [(case, i, args) for i in range(args.studies)]))
            u = summary(case, uniform)
            width = u["width_median"]
            adaptive = list(pool.map(adaptive_study,
                                     [(case, i, width, args) for i in range(args.studies)]))
            report(case, u, summary(case, adaptive), time.perf_counter() - started)


if __name__ == "__main__":
    main()
