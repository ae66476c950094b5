"""The analysis models against known truth: statsmodels' own OLS, simulated thresholds, smooth
functions and power-law curves."""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats

from nercurve.analysis.curve import fit_power_law
from nercurve.analysis.families import fit_family
from nercurve.analysis.gam import fit_gam
from nercurve.analysis.regression import standardized_regression
from nercurve.analysis.simulate import simulate_runs
from nercurve.analysis.threshold import threshold_analysis
from nercurve.errors import AnalysisError

TRUE_E = 400.0


def kinked(n: int, rng: np.random.Generator, family: str = "upperhinge", sd: float = 0.03):
    """Sentences uniform in 50..1000 and F1 with a kink at TRUE_E of the given family."""
    x = np.round(rng.uniform(50, 1000, n))
    if family == "upperhinge":
        mean = 0.8 + 0.0006 * np.minimum(x - TRUE_E, 0)
    elif family == "hinge":
        mean = 0.5 + 0.0006 * np.maximum(x - TRUE_E, 0)
    else:  # segmented: slope 0.0008 below, 0.0001 above
        mean = 0.5 + 0.0008 * x - 0.0007 * np.maximum(x - TRUE_E, 0)
    return x, mean + rng.normal(0, sd, n)


def test_regression_equals_statsmodels_on_hand_zscores():
    runs = simulate_runs({"m": (0.9, 2.0, 0.5)}, eps_effect=0.08, n_subsets=60, seed=3)
    got = standardized_regression(runs, backend="m")
    z = {c: (runs[c] - runs[c].mean()) / runs[c].std(ddof=1) for c in ("f1", "n_sentences", "eps")}
    ref = sm.OLS(z["f1"].to_numpy(),
                 sm.add_constant(np.column_stack([z["n_sentences"], z["eps"]]))).fit()
    assert got.n == 60
    for j, name in enumerate(("n_sentences", "eps"), start=1):
        assert got.beta[name] == pytest.approx(ref.params[j], rel=1e-10)
        assert got.se[name] == pytest.approx(ref.bse[j], rel=1e-10)
        assert got.p[name] == pytest.approx(ref.pvalues[j], rel=1e-8)
    assert got.f_statistic == pytest.approx(ref.fvalue, rel=1e-10)
    assert (got.df_model, got.df_resid) == (2, 57)
    assert got.f_pvalue == pytest.approx(ref.f_pvalue, rel=1e-8)
    assert got.r2 == pytest.approx(ref.rsquared, rel=1e-10)
    # standardized betas of a one-predictor model are the correlation
    one = standardized_regression(runs, ("eps",))
    assert one.beta["eps"] == pytest.approx(np.corrcoef(runs["eps"], runs["f1"])[0, 1], rel=1e-10)


def test_repeated_seeds_give_cluster_robust_errors_computed_by_hand():
    base = simulate_runs({"m": (0.9, 2.0, 0.5)}, eps_effect=0.08, n_subsets=30, seed=4)
    rng = np.random.default_rng(5)
    # three seeds per subset: same subset (and its sentences, EPS), F1 scattered by seed
    runs = pd.concat([base.assign(seed=k, f1=base["f1"] + rng.normal(0, 0.02, len(base)))
                      for k in range(3)], ignore_index=True)
    got = standardized_regression(runs, backend="m")
    assert got.clusters == 30 and got.se_kind == "cluster-robust by subset (30 subsets)"
    cols = ("f1", "n_sentences", "eps")
    z = {c: ((runs[c] - runs[c].mean()) / runs[c].std(ddof=1)).to_numpy() for c in cols}
    x = np.column_stack([np.ones(len(runs)), z["n_sentences"], z["eps"]])
    bread = np.linalg.inv(x.T @ x)
    beta = bread @ x.T @ z["f1"]
    u = z["f1"] - x @ beta
    meat = np.zeros((3, 3))
    for _, idx in runs.groupby("subset_id").indices.items():
        score = x[idx].T @ u[idx]
        meat += np.outer(score, score)
    n, k, g = len(runs), 3, 30
    # CR1 small-sample factor, as Stata and statsmodels use
    cov = bread @ meat @ bread * (g / (g - 1)) * ((n - 1) / (n - k))
    for j, name in enumerate(("n_sentences", "eps"), start=1):
        assert got.beta[name] == pytest.approx(beta[j], rel=1e-10)
        assert got.se[name] == pytest.approx(np.sqrt(cov[j, j]), rel=1e-8)
        t = beta[j] / np.sqrt(cov[j, j])
        assert got.p[name] == pytest.approx(2 * stats.t.sf(abs(t), g - 1), rel=1e-6)
    assert got.df_resid == g - 1
    # the naive OLS errors pretend there are 90 independent runs: they are smaller
    plain = standardized_regression(runs, backend="m", cluster=None)
    assert plain.clusters is None and plain.df_resid == n - k
    assert plain.se["n_sentences"] < got.se["n_sentences"]


def test_threshold_words_say_falls_for_a_negative_slope():
    from nercurve.analysis.recommend import describe_threshold

    rng = np.random.default_rng(3)
    x = rng.uniform(1.0, 3.0, 300)  # EPS: flat up to 2.0, then F1 falls 0.2 per EPS unit
    y = 0.9 - 0.2 * np.maximum(x - 2.0, 0) + rng.normal(0, 0.01, x.size)
    th = threshold_analysis(x, y, families=("hinge",), n_boot=200, n_test=200, seed=0)
    words = describe_threshold(th, "eps")
    assert "Best fit: hinge (flat, then a slope)" in words
    assert re.search(r"then falls by about (1\.9|2\.0|2\.1) points per 0\.1 EPS", words)
    assert not re.search(r"-\d", words)  # no negative numbers after "rises"


@pytest.mark.parametrize("family", ["upperhinge", "hinge", "segmented"])
def test_threshold_estimate_close_to_truth(family):
    x, y = kinked(400, np.random.default_rng(1), family)
    th = threshold_analysis(x, y, families=(family,), n_boot=200, n_test=200, seed=0)
    fit = th.fits[family]
    assert abs(fit.threshold - TRUE_E) < 60
    assert fit.ci_percentile[0] <= fit.threshold <= fit.ci_percentile[1]
    assert fit.ci_percentile[1] - fit.ci_percentile[0] < 250
    assert fit.p_value < 0.01
    assert th.best == family


def chngpt_grid(x: np.ndarray, lb: float = 0.05, ub: float = 0.95) -> np.ndarray:
    """chngpt's get.chngpts, transcribed: sort(x)[nLower:nUpper] (1-based, inclusive) with
    nLower = round(n·lb) + 1 and nUpper = round(n·ub), R's round taking halves to even."""
    n = x.size
    n_lower, n_upper = round(n * lb) + 1, round(n * ub)
    return np.unique(np.sort(x)[n_lower - 1:n_upper])


def naive_search(x: np.ndarray, y: np.ndarray, family: str) -> tuple[float, float]:
    """Refit statsmodels OLS at every candidate of chngpt's grid; returns (threshold, RSS)."""
    best = (math.nan, math.inf)
    for e in chngpt_grid(x):
        if family == "upperhinge":
            cols = [np.minimum(x - e, 0)]
        elif family == "hinge":
            cols = [np.maximum(x - e, 0)]
        else:
            cols = [x, np.maximum(x - e, 0)]
        if not np.any(cols[-1]):
            continue
        rss = sm.OLS(y, sm.add_constant(np.column_stack(cols), has_constant="add")).fit().ssr
        if rss < best[1]:
            best = (float(e), float(rss))
    return best


@pytest.mark.parametrize("family", ["upperhinge", "hinge", "segmented"])
def test_fast_search_equals_naive_refit(family):
    rng = np.random.default_rng(7)
    x, y = kinked(120, rng, family, sd=0.05)
    x[:30] = x[30:60]  # ties: candidates are distinct values
    fit = threshold_analysis(x, y, families=(family,), n_boot=0, n_test=0).fits[family]
    e, rss = naive_search(x, y, family)
    assert fit.threshold == e
    assert fit.rss == pytest.approx(rss, rel=1e-9)


@pytest.mark.parametrize("n", [20, 100, 150, 130])
def test_candidate_grid_is_chngpts(n):
    """The searched candidates are exactly chngpt's (the 5% bound no longer admits one extra
    candidate at the lower end), and an estimate on either end of the grid is flagged."""
    rng = np.random.default_rng(n)
    x = np.round(rng.uniform(10, 1000, n))
    x[: n // 4] = x[n // 4: 2 * (n // 4)]  # ties
    grid = chngpt_grid(x)
    y = 0.5 + 0.001 * x + rng.normal(0, 0.01, n)  # a line: no threshold
    fit = threshold_analysis(x, y, families=("upperhinge",), n_boot=0, n_test=0).fits[
        "upperhinge"]
    assert fit.grid == (grid[0], grid[-1])
    if n == 100:  # F(e) >= 0.05, the rule used before, admitted the value below the grid
        below = np.unique(x)[np.unique(x) < grid[0]]
        assert np.mean(x <= below[-1]) >= 0.05
    # flat, with a kink below the grid's first candidate: the estimate sits on that candidate
    kink = (x.min() + grid[0]) / 2
    steep = 0.8 - 0.01 * np.maximum(kink - x, 0) + rng.normal(0, 0.001, n)
    edge = threshold_analysis(x, steep, families=("upperhinge",), n_boot=50,
                              n_test=0).fits["upperhinge"]
    assert edge.threshold == grid[0] and edge.at_edge == "first"
    assert any("first candidate" in f for f in edge.flags())


def test_cut_symmetric_ci_is_flagged_with_the_uncut_one():
    rng = np.random.default_rng(4)
    x = np.round(rng.uniform(50, 1000, 60))
    y = 0.3 + 0.0004 * x + rng.normal(0, 0.08, 60)  # no threshold: a wide interval
    fits = threshold_analysis(x, y, n_boot=300, n_test=0).fits.values()
    cut = [f for f in fits if f.ci_clipped]
    assert cut
    for fit in cut:
        (lo, hi), (u_lo, u_hi) = fit.ci_symmetric, fit.ci_symmetric_uncut
        assert u_lo <= lo and hi <= u_hi and (u_lo < x.min() or u_hi > x.max())
        assert any("cut at the data's range" in f for f in fit.flags())


def test_bootstrap_ci_coverage():
    """200 simulated data sets × 200 resamples: the 95% percentile CI covers the true threshold
    in about 95% of them. Band: the binomial SD of a 95% rate over 200 replicates is
    sqrt(.95·.05/200) = 1.5 points; we allow 3 SD above (99.6%) and, below, 3 SD plus 2 points
    because percentile intervals for change points are known to under-cover slightly in
    finite samples (the estimator's distribution is skewed and discrete at the data points;
    Hansen 2017), giving [88%, 99.6%]."""
    rng = np.random.default_rng(11)
    replicates, covered, estimates = 200, 0, []
    for r in range(replicates):
        x, y = kinked(150, rng)
        fit = threshold_analysis(x, y, families=("upperhinge",), n_boot=200, n_test=0,
                                 seed=r).fits["upperhinge"]
        lo, hi = fit.ci_percentile
        covered += lo <= TRUE_E <= hi
        estimates.append(fit.threshold)
    rate = covered / replicates
    assert 0.88 <= rate <= 0.996, rate
    assert abs(np.mean(estimates) - TRUE_E) < 10  # nearly unbiased


def test_threshold_vs_line_p_value():
    rng = np.random.default_rng(5)
    x, y = kinked(200, rng)
    assert threshold_analysis(x, y, families=("upperhinge",), n_boot=0, n_test=300,
                              seed=1).fits["upperhinge"].p_value < 0.01
    # Straight lines: the test should reject rarely (p uniform under the null).
    small = 0
    for seed in range(10):
        x = np.round(rng.uniform(50, 1000, 200))
        y = 0.3 + 0.0004 * x + rng.normal(0, 0.03, 200)
        th = threshold_analysis(x, y, families=("upperhinge",), n_boot=0, n_test=200, seed=seed)
        small += th.fits["upperhinge"].p_value < 0.05
    assert small <= 2  # P(≥3 of 10 below 0.05 | null) ≈ 1%


def test_gam_band_contains_true_function():
    rng = np.random.default_rng(2)
    x = rng.uniform(0, 10, 300)
    truth = lambda v: 0.5 + 0.3 * np.sin(v / 2)  # noqa: E731
    y = truth(x) + rng.normal(0, 0.05, x.size)
    gam = fit_gam(x, y)
    inside = (gam.lower <= truth(gam.grid)) & (truth(gam.grid) <= gam.upper)
    assert inside.mean() >= 0.9
    assert np.max(np.abs(gam.fit - truth(gam.grid))) < 0.05
    assert np.all(gam.upper - gam.lower < 0.1)


@pytest.mark.parametrize("curve", [(0.86, 2.0, 0.5), (0.93, 3.0, 0.6)])
def test_power_law_recovers_known_curve(curve):
    runs = simulate_runs({"m": curve}, noise=0.05, eps_effect=0.0, n_subsets=150, seed=4)
    fit = fit_power_law(runs["n_sentences"], runs["f1"], n_boot=200, seed=0)
    a, b, c = curve
    assert fit.a == pytest.approx(a, abs=0.02)
    assert fit.c == pytest.approx(c, rel=0.1)
    assert fit.b == pytest.approx(b, rel=0.2)
    assert fit.a_ci[0] <= a <= fit.a_ci[1]
    assert fit.c_ci[0] <= c <= fit.c_ci[1]
    # sentences to reach a target a little above the data: CI contains the true size
    target = a - 0.03
    truth = (b / (a - target)) ** (1 / c)
    size = fit_family("power", runs["n_sentences"], runs["f1"], n_boot=200).sentences_for(target)
    assert size.reachable
    assert size.ci[0] <= truth <= size.ci[1]
    assert size.sentences == pytest.approx(truth, rel=0.3)


def test_target_above_ceiling_is_not_extrapolated():
    runs = simulate_runs({"m": (0.8, 2.0, 0.5)}, noise=0.05, eps_effect=0.0, n_subsets=120)
    fit = fit_family("power", runs["n_sentences"], runs["f1"], n_boot=200)
    size = fit.sentences_for(0.95)
    assert not size.reachable
    assert math.isinf(size.sentences)
    assert size.share_unreachable > 0.9


def test_analyze_end_to_end_tables():
    from nercurve.analysis import analyze

    runs = simulate_runs({"spacy": (0.7, 2.0, 0.5), "roberta-base": (0.75, 2.0, 0.5)},
                         noise=0.2, n_subsets=60, seed=1)
    analysis = analyze(runs, n_boot=200, target_f1=0.95)
    tables = analysis.tables()
    assert set(tables["regression"]["backend"]) == {"spacy", "roberta-base"}
    assert len(tables["thresholds"]) == 2 * 2 * 4  # backends × predictors × (line + 3 families)
    assert (~tables["power_law"]["target_reachable"]).all()
    for model in analysis.models.values():  # whichever curve is chosen: not said reachable
        assert re.search("above the fitted ceiling|out of reach|the runs cannot tell whether "
                         "F1 0.95 is reachable", model.recommendation)
    assert isinstance(pd.DataFrame(tables["runs"]), pd.DataFrame)


def test_power_law_matches_curve_fit():
    """Variable projection reaches the weighted least-squares optimum curve_fit finds."""
    from scipy.optimize import curve_fit

    runs = simulate_runs({"m": (0.9, 3.0, 0.55)}, noise=0.3, eps_effect=0.0, n_subsets=200,
                         seed=6)
    n, y = runs["n_sentences"].to_numpy(float), runs["f1"].to_numpy(float)
    fit = fit_power_law(n, y, n_boot=100)
    w = n / n.max()
    ref, _ = curve_fit(lambda v, a, b, c: a - b * v ** (-c), n, y, p0=(0.8, 1.0, 0.5),
                       sigma=1 / np.sqrt(w), bounds=([0, 0, 0.02], [1, np.inf, 3]))

    def rss(p):
        return float(np.sum(w * (y - (p[0] - p[1] * n ** (-p[2]))) ** 2))

    assert rss((fit.a, fit.b, fit.c)) <= rss(ref) * (1 + 1e-9)
    assert (fit.a, fit.b, fit.c) == pytest.approx(tuple(ref), rel=1e-4)


def test_symmetric_ci_stays_in_observed_range():
    rng = np.random.default_rng(4)
    x = np.round(rng.uniform(50, 1000, 80))
    y = 0.3 + 0.0004 * x + rng.normal(0, 0.05, 80)  # no threshold: wide, lopsided intervals
    for fit in threshold_analysis(x, y, n_boot=300, n_test=0).fits.values():
        lo, hi = fit.ci_symmetric
        assert x.min() <= lo <= fit.threshold <= hi <= x.max()


def test_display_tables_have_no_missing_cells():
    from nercurve.analysis import analyze
    from nercurve.report import tables as tb

    runs = simulate_runs({"spacy": (0.8, 2.0, 0.5), "bert": (0.9, 3.0, 0.6)}, noise=0.3,
                         n_subsets=50, seed=2)
    analysis = analyze(runs, n_boot=200)
    for make in (tb.descriptive_display, tb.regression_display, tb.threshold_display,
                 tb.curve_display, tb.runs_display):
        frame = make(analysis)
        assert not frame.empty
        assert not frame.isna().any().any(), make.__name__
        cells = frame.astype(str).to_numpy().ravel()
        assert not any(c.lower() in {"nan", "none", "inf"} or "nan" in c.split() for c in cells)


def test_an_exact_hinge_fit_has_a_finite_aic_and_wins() -> None:
    """Outcomes that lie exactly on a hinge (rss 0, as a few distinct F1 values of a tiny study
    can) are fitted without a math error: the hinge is found and beats the line."""
    x = np.repeat([4.0, 8.0, 12.0, 16.0, 20.0, 24.0], 3)
    y = np.minimum(x, 12.0) / 20  # rises to 0.6 at 12, flat after
    th = threshold_analysis(x, y, families=("upperhinge",), n_boot=50, seed=0)
    fit = th.fits["upperhinge"]
    assert fit.threshold == 12.0
    assert math.isfinite(fit.aic) and th.best == "upperhinge"


def test_outcomes_exactly_on_a_line_are_a_clear_error() -> None:
    x = np.repeat([4.0, 8.0, 12.0, 16.0, 20.0], 3)
    with pytest.raises(AnalysisError, match="exactly on a straight line"):
        threshold_analysis(x, x / 40, families=("hinge",), n_boot=10)
