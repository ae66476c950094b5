"""Plain-words findings: what each threshold means and how many sentences to annotate."""

from __future__ import annotations

import math

from nercurve.analysis.curve import PowerLawFit, TargetSize
from nercurve.analysis.regression import StandardizedRegression
from nercurve.analysis.threshold import FAMILY_WORDS, ThresholdAnalysis

# predictor column -> (what it counts, step for "per ..." slopes, that step in words)
PREDICTOR_WORDS = {
    "n_sentences": ("sentences", 100.0, "per 100 sentences"),
    "eps": ("EPS", 0.1, "per 0.1 EPS"),
}
# A target needing more than FAR times the largest training size is not extrapolated to.
FAR = 100


def about(value: float) -> str:
    """A count in words: whole numbers below 100, else three significant digits with
    thousands separators (1234 -> '1,230')."""
    if not math.isfinite(value):
        return "unbounded"
    if abs(value) < 100:
        return f"{value:,.0f}"
    digits = 2 - math.floor(math.log10(abs(value)))
    return f"{round(value, digits):,.0f}"


def value(number: float, predictor: str) -> str:
    """A predictor value in words: sentence counts rounded, EPS with two decimals."""
    return about(number) if predictor == "n_sentences" else f"{number:.2f}"


def points(gain: float) -> str:
    """An F1 difference in F1 points (hundredths), one decimal: 0.0043 -> '0.4'."""
    return f"{100 * gain:.1f}"


def _moves(change: float) -> str:
    """'rises by about 0.4' or 'falls by about 1.9': an F1 change in points, in words."""
    return f"{'falls' if change < 0 else 'rises'} by about {points(abs(change))}"


def p_text(p: float) -> str:
    """A p-value as published: 'p < 0.001' or 'p = 0.034'."""
    if not math.isfinite(p):
        return "p not computed"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def describe_threshold(analysis: ThresholdAnalysis, predictor: str) -> str:
    """One or two sentences on which family fits best and what its threshold means."""
    unit, step, per = PREDICTOR_WORDS.get(predictor, (predictor, 1.0, "per unit"))
    fit = analysis.best_fit()
    if fit is None:
        slope = analysis.line_slope * step
        return (f"A straight line fits best (lowest AIC): F1 changes by about {points(slope)} "
                f"points {per} over the whole observed range, with no threshold.")
    lo, hi = fit.ci_percentile
    where = (f"at about {value(fit.threshold, predictor)} {unit} "
             f"({fit.level_ci:.0%} CI {value(lo, predictor)}–{value(hi, predictor)})")
    before, after = fit.slope_before * step, fit.slope_after * step
    if fit.family == "upperhinge":
        shape = (f"F1 {_moves(before)} points {per} up to a threshold {where}, then "
                 f"stays flat at about {fit.level:.2f}.")
    elif fit.family == "hinge":
        shape = (f"F1 stays flat at about {fit.level:.2f} up to a threshold {where}, then "
                 f"{_moves(after)} points {per}.")
    else:
        shape = (f"The slope changes {where}: from {points(before)} to {points(after)} F1 "
                 f"points {per}.")
    test = (f"Against a straight line, {p_text(fit.p_value)} (wild-bootstrap likelihood-ratio "
            f"test, {analysis.n_test} replicates)")
    verdict = "." if fit.p_value < 0.05 else ": not clearly better than a straight line."
    return f"Best fit: {fit.family} ({FAMILY_WORDS[fit.family]}). {shape} {test}{verdict}"


def recommend(
    backend: str,
    *,
    threshold: ThresholdAnalysis | None,
    curve: PowerLawFit | None,
    target: TargetSize | None,
    step: float,
    regression: StandardizedRegression | None,
    training_eps: float | None,
    eps_source: str,
) -> str:
    """The recommendation for one backend, in plain words."""
    parts = [_flatten_words(threshold)]
    if curve is not None:
        gain, (g_lo, g_hi) = curve.gain(curve.n_max, step)
        parts.append(
            f"beyond the largest training set here ({about(curve.n_max)} sentences), the next "
            f"{about(step)} sentences would add about {points(gain)} F1 points "
            f"({curve.level:.0%} CI {points(g_lo)}–{points(g_hi)})")
    if target is not None and curve is not None:
        parts.append(_target_words(target, curve))
    text = f"{backend}: " + "; ".join(p for p in parts if p) + "."
    if training_eps is not None:
        text += f" {eps_source} {training_eps:.2f}; keep production texts near it"
        if regression is not None and "eps" in regression.beta:
            beta, p = regression.beta["eps"], regression.p["eps"]
            if p < 0.05:
                direction = "rises" if beta > 0 else "falls"
                text += (f" (F1 {direction} with entity density: standardized β = {beta:.2f}, "
                         f"{p_text(p)})")
        text += "."
    return text


def _flatten_words(threshold: ThresholdAnalysis | None) -> str:
    """Where gains flatten (or start), from the threshold analysis of training size."""
    if threshold is None:
        return ""
    fit = threshold.best_fit()
    if fit is None or not fit.p_value < 0.05:
        return "no clear threshold in the observed range (a straight line fits as well)"
    lo, hi = fit.ci_percentile
    ci = f"({fit.level_ci:.0%} CI {about(lo)}–{about(hi)})"
    if fit.family == "hinge":
        return f"F1 only starts rising after about {about(fit.threshold)} sentences {ci}"
    if fit.slope_after < fit.slope_before:
        return f"gains flatten at about {about(fit.threshold)} sentences {ci}"
    return f"gains speed up after about {about(fit.threshold)} sentences {ci}"


def _target_words(target: TargetSize, curve: PowerLawFit) -> str:
    """How many sentences reach the target F1, or why it is out of reach."""
    goal = f"F1 {target.target:.2f}"
    c_lo, c_hi = target.ceiling_ci
    if not target.reachable:
        return (f"{goal} is above the fitted ceiling of {target.ceiling:.2f} ({curve.level:.0%} "
                f"CI {c_lo:.2f}–{c_hi:.2f}): more annotation of this kind is not predicted to "
                f"reach it")
    lo, hi = target.ci
    if target.sentences > FAR * curve.n_max:
        return (f"{goal} is out of reach in practice: the fitted curve gains so slowly that it "
                f"would take more than {FAR}× the largest training set here (over "
                f"{about(FAR * curve.n_max)} sentences; fitted ceiling {target.ceiling:.2f}, "
                f"{curve.level:.0%} CI {c_lo:.2f}–{c_hi:.2f}), far too far to extrapolate")
    if target.sentences <= curve.n_max:
        return (f"{goal} is already reached at about {about(target.sentences)} sentences "
                f"(within the observed range)")
    if math.isfinite(hi):
        ci = f"{curve.level:.0%} CI {about(lo)}–{about(hi)}"
    else:
        ci = (f"{curve.level:.0%} CI from {about(lo)} with no upper bound: "
              f"{target.share_unreachable:.0%} of bootstrap curves level off below it")
    text = f"to reach {goal}, annotate about {about(target.sentences)} sentences in total ({ci})"
    if target.sentences > 4 * curve.n_max:
        text += (f", far beyond the largest training set here ({about(curve.n_max)}), so treat "
                 f"it as a rough extrapolation")
    return text


def plan_answer(backend: str, target: TargetSize, curve: PowerLawFit,
                pilot_sentences: float) -> str:
    """The answer of ``nercurve plan``: sentences to annotate for the target F1 (total and
    beyond the pilot's largest training set, with a CI), or that it is out of reach."""
    text = f"{backend}: {_target_words(target, curve)}."
    far = target.sentences > FAR * curve.n_max
    if target.reachable and not far and target.sentences > pilot_sentences:
        lo, hi = target.ci
        more_lo = about(max(lo - pilot_sentences, 0.0))
        more_hi = about(hi - pilot_sentences) if math.isfinite(hi) else "unbounded"
        text += (f" That is about {about(target.sentences - pilot_sentences)} more sentences "
                 f"than the largest pilot training set ({about(pilot_sentences)}) "
                 f"({curve.level:.0%} CI {more_lo}–{more_hi}).")
    elif not target.reachable or far:
        text += (" The target is out of reach for this backend; consider a lower target or a "
                 "stronger backend.")
    return text
