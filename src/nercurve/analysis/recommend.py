"""Plain-words findings: what each threshold means and how many sentences to annotate.

Every sentence is written once, in the words of the study's task (``task.words``: "sentences"
and "F1" for NER, "examples" and "macro-F1" for text classification, ...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from nercurve.analysis.curve import CEILING_BOUND, TargetSize
from nercurve.analysis.families import CurveFit
from nercurve.analysis.multitask import MULTI, SINGLE, ArmCurve, MultitaskComparison
from nercurve.analysis.regression import StandardizedRegression
from nercurve.analysis.saving import Saving
from nercurve.analysis.selection import SelectionComparison, StrategyCurve
from nercurve.analysis.testset import NOISE_SHARE_WORTH_SAYING, TestPlan
from nercurve.analysis.threshold import ThresholdAnalysis
from nercurve.tasks import Task, Words
from nercurve.tasks.ner import TASK as NER

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


def value(number: float, predictor: str, task: Task = NER) -> str:
    """A predictor value in words: training sizes rounded (:func:`about`), the composition
    measure (EPS) with two decimals."""
    return about(number) if predictor == task.size else f"{number:.2f}"


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


def describe_threshold(analysis: ThresholdAnalysis, predictor: str, task: Task = NER) -> str:
    """One or two sentences on which family fits best and what its threshold means."""
    unit, step, per = task.per(predictor)
    o = task.words.outcome
    fit = analysis.best_fit()
    if fit is None:
        slope = analysis.line_slope * step
        return (f"A straight line fits best (lowest AIC): {o} changes by about {points(slope)} "
                f"points {per} over the whole observed range, with no threshold.")
    lo, hi = fit.ci_percentile
    where = (f"at about {value(fit.threshold, predictor, task)} {unit} "
             f"({fit.level_ci:.0%} CI {value(lo, predictor, task)}–"
             f"{value(hi, predictor, task)})")
    before, after = fit.slope_before * step, fit.slope_after * step
    if fit.family == "upperhinge":
        shape = (f"{o} {_moves(before)} points {per} up to a threshold {where}, then "
                 f"stays flat at about {fit.level:.2f}.")
    elif fit.family == "hinge":
        shape = (f"{o} stays flat at about {fit.level:.2f} up to a threshold {where}, then "
                 f"{_moves(after)} points {per}.")
    else:
        shape = (f"The slope changes {where}: from {points(before)} to {points(after)} {o} "
                 f"points {per}.")
    test = (f"Against a straight line, {p_text(fit.p_value)} (wild-bootstrap likelihood-ratio "
            f"test, {analysis.n_test} replicates)")
    verdict = "." if fit.p_value < 0.05 else ": not clearly better than a straight line."
    return f"Best fit: {fit.family} ({fit.model.words}). {shape} {test}{verdict}"


@dataclass(frozen=True)
class Budget:
    """What the words about annotation are measured against: the sentences (examples, ...)
    already annotated for training (``have``), and the annotation speed (minutes per
    sentence, optional)."""

    have: float
    minutes_per_sentence: float | None = None


@dataclass(frozen=True)
class Observed:
    """The runs at the largest training sizes (the top tenth): their mean size and F1."""

    size: float
    f1: float
    runs: int

    @classmethod
    def of(cls, sizes: pd.Series, f1: pd.Series) -> Observed | None:
        """The top tenth of the runs by training size (None without runs)."""
        if sizes.empty:
            return None
        top = sizes >= sizes.quantile(0.9)
        return cls(float(sizes[top].mean()), float(f1[top].mean()), int(top.sum()))


def recommend(
    backend: str,
    *,
    threshold: ThresholdAnalysis | None,
    curve: CurveFit | None,
    target: TargetSize | None,
    step: float,
    min_gain: float,
    regression: StandardizedRegression | None,
    training_eps: float | None,
    eps_source: str,
    budget: Budget | None = None,
    rivals: Sequence[CurveFit] = (),
    task: Task = NER,
    observed: Observed | None = None,
) -> str:
    """The recommendation for one backend, in plain words.

    Every figure read off a fit with a problem (a parameter at a bound, a degenerate CI, a
    fit worse than a line, a threshold on the edge of its grid) says so next to it, and so
    does a disagreement between the curve and the threshold model about whether gains go on.
    ``task``: what the runs measure, with its predictors and words (NER: sentences, EPS,
    F1). ``rivals``: other curves that predict the held-out largest runs about as well; where
    they say something else, that is said too. ``observed``: the runs at the largest sizes,
    so that the words on the target F1 never contradict them. ``eps_source`` begins the
    sentence on ``training_eps`` ("Your training EPS is").
    """
    w = task.words
    parts = [_flatten_words(threshold, w)]
    if curve is not None:
        gain, (g_lo, g_hi) = curve.gain(curve.n_max, step)
        parts.append(
            f"the {curve.curve_family.short} curve (best at predicting the largest runs) says "
            f"the next {about(step)} {w.unit} beyond the largest training set here "
            f"({about(curve.n_max)}) would add about {points(gain)} {w.outcome} points "
            f"({curve.level:.0%} CI {points(g_lo)}–{points(g_hi)})"
            + _caution(_flags(curve, w))
            + _rival_gains(rivals, curve.n_max, step, (g_lo, g_hi)))
    if target is not None and curve is not None:
        parts.append(_target_words(target, curve, w, budget, observed)
                     + _rival_targets(rivals, target))
    text = f"{backend}: " + "; ".join(p for p in parts if p) + "."
    conflict = disagreement(threshold, curve, min_gain, step, w)
    if conflict:
        text += f" {conflict}"
    if training_eps is not None:
        text += f" {eps_source} {training_eps:.2f}; keep production texts near it"
        density = task.density
        if regression is not None and density in regression.beta:
            beta, p = regression.beta[density], regression.p[density]
            if p < 0.05:
                direction = "rises" if beta > 0 else "falls"
                text += (f" ({w.outcome} {direction} with {w.theme}: standardized β = "
                         f"{beta:.2f}, {p_text(p)})")
        text += "."
    return text


def _flags(curve: CurveFit, w: Words) -> list[str]:
    """A curve's problems in the task's words."""
    return curve.flags(unit=w.unit, outcome=w.outcome)


def _rival_gains(rivals: Sequence[CurveFit], at: float, step: float,
                 ci: tuple[float, float]) -> str:
    """Words for the rival curves whose gain lies outside the chosen curve's CI."""
    said = []
    for rival in rivals:
        gain, (lo, hi) = rival.gain(at, step)
        if not ci[0] <= gain <= ci[1]:
            said.append(f"the {rival.curve_family.short} curve, as good on the largest runs, "
                        f"says {points(gain)} ({points(lo)}–{points(hi)})")
    return f" — but {'; '.join(said)}" if said else ""


def _rival_targets(rivals: Sequence[CurveFit], target: TargetSize) -> str:
    """Words for the rival curves that answer the target question differently (reachable,
    out of reach, or the runs cannot tell); where the chosen curve cannot tell, they are
    the other families' answers."""
    said = []
    for rival in rivals:
        other = rival.sentences_for(target.target)
        if other.reachable and target.reachable and (
                target.ci[0] <= other.sentences <= target.ci[1]):
            continue
        if not (other.reachable or target.reachable) and other.undecided == target.undecided:
            continue
        if other.reachable:
            answer = (f"says about {about(other.sentences)} "
                      f"({about(other.ci[0])}–{about(other.ci[1])})")
            if other.sentences > rival.n_max:
                answer += f", {other.sentences / rival.n_max:.1f}× the largest training set"
        elif other.undecided:
            answer = (f"says the runs cannot tell (ceiling {other.ceiling:.2f}, CI "
                      f"{other.ceiling_ci[0]:.2f}–{other.ceiling_ci[1]:.2f})")
        else:
            answer = f"says out of reach (ceiling {other.ceiling:.2f})"
        said.append(f"the {rival.curve_family.short} curve {answer}")
    if not said:
        return ""
    lead = "the other curves as good on the largest runs answer: " if target.undecided else "but "
    return f" — {lead}{'; '.join(said)}"


def _caution(flags: list[str]) -> str:
    """' (caution: ...)' naming a fit's problems, or nothing."""
    return f" (caution: {'; '.join(flags)})" if flags else ""


def gains_continue(threshold: ThresholdAnalysis, min_gain: float, step: float) -> bool | None:
    """Whether the threshold analysis says F1 still rises by ``min_gain`` per ``step`` at the
    top of the data (its best model's last slope); None when it cannot say."""
    fit = threshold.best_fit()
    if fit is None:
        return threshold.line_slope * step >= min_gain
    if not fit.p_value < 0.05:
        return None
    return fit.slope_after * step >= min_gain


def disagreement(threshold: ThresholdAnalysis | None, curve: CurveFit | None,
                 min_gain: float, step: float, w: Words = NER.words) -> str:
    """Words when the curve and the threshold model disagree about whether gains go on;
    empty when they agree or the threshold model cannot say.

    When the threshold model says F1 is flat at the top of the data, the curve disagrees if
    it predicts at least ``min_gain`` per ``step`` beyond the data. When the threshold model
    says F1 still rises there (by its last slope, an average over its upper segment), the
    curve disagrees if its own average slope over that segment is below ``min_gain``: a
    concave curve gaining less beyond the data than on average within it is no
    contradiction.
    """
    if threshold is None or curve is None:
        return ""
    says = gains_continue(threshold, min_gain, step)
    if says is None:
        return ""
    fit = threshold.best_fit()
    start = fit.threshold if fit is not None else curve.n_min
    slope = (fit.slope_after if fit is not None else threshold.line_slope) * step
    model = (f"the {fit.family} threshold model" if fit is not None else "the straight line")
    where = (f"above {about(fit.threshold)} {w.unit}" if fit is not None
             else "over the observed range")
    if says:
        span = max(curve.n_max - start, 1.0)
        average = float(curve.predict(curve.n_max) - curve.predict(start)) / span * step
        if average >= min_gain:
            return ""
        return (f"The curve and the threshold model disagree: {model} says {w.outcome} rises by "
                f"{points(slope)} points per {about(step)} {w.unit} {where}, the curve only "
                f"{points(average)} there; trust neither about larger sizes without runs there.")
    gain = curve.gain(curve.n_max, step)[0]
    if gain < min_gain:
        return ""
    return (f"The curve and the threshold model disagree: {model} says {w.outcome} is flat "
            f"{where} ({points(slope)} points per {about(step)} {w.unit}), the curve that the next "
            f"{about(step)} add {points(gain)}; trust neither about larger sizes without runs "
            f"there.")


def _flatten_words(threshold: ThresholdAnalysis | None, w: Words) -> str:
    """Where gains flatten (or start), from the threshold analysis of training size."""
    if threshold is None:
        return ""
    fit = threshold.best_fit()
    if fit is None or not fit.p_value < 0.05:
        return "no clear threshold in the observed range (a straight line fits as well)"
    lo, hi = fit.ci_percentile
    ci = f"({fit.level_ci:.0%} CI {about(lo)}–{about(hi)})" + _caution(fit.flags())
    if fit.family == "hinge":
        return f"{w.outcome} only starts rising after about {about(fit.threshold)} {w.unit} {ci}"
    if fit.slope_after < fit.slope_before:
        return f"gains flatten at about {about(fit.threshold)} {w.unit} {ci}"
    return f"gains speed up after about {about(fit.threshold)} {w.unit} {ci}"


def _ceiling_words(target: TargetSize, level: float) -> str:
    if not math.isfinite(target.ceiling):
        return "the curve has no ceiling"
    c_lo, c_hi = target.ceiling_ci
    return f"fitted ceiling {target.ceiling:.2f}, {level:.0%} CI {c_lo:.2f}–{c_hi:.2f}"


def _target_words(target: TargetSize, curve: CurveFit, w: Words = NER.words,
                  budget: Budget | None = None, observed: Observed | None = None) -> str:
    """How many sentences reach the target F1 (with the extrapolation it rests on and, with a
    budget, the annotation still needed), or why it is out of reach; where the runs at the
    largest sizes (``observed``) already reach it, or fall short of what the curve says is
    reached, that comes first."""
    goal = f"{w.outcome} {target.target:.2f}"
    flags = _caution(_flags(curve, w))
    if observed is not None and observed.f1 >= target.target and (
            not target.reachable or target.sentences > observed.size):
        said = (f"a ceiling of {target.ceiling:.2f}" if not target.reachable
                else f"about {about(target.sentences)} {w.unit}")
        return (f"{goal} is already reached by the runs themselves: the {observed.runs} runs "
                f"at the largest training sizes (about {about(observed.size)} {w.unit}) "
                f"average {w.outcome} {observed.f1:.3f}, which the "
                f"{curve.curve_family.short} curve understates (it says {said})" + flags)
    if target.undecided:
        c_lo, c_hi = target.ceiling_ci
        bound = ("" if target.ceiling_identified
                 else f" runs to its bound {CEILING_BOUND:.2f} and so")
        return (f"the runs cannot tell whether {goal} is reachable: the fitted ceiling of "
                f"{target.ceiling:.2f} lies below it, but its {curve.level:.0%} CI "
                f"({c_lo:.2f}–{c_hi:.2f}){bound} includes the target; runs at training "
                f"sizes beyond the largest here ({about(curve.n_max)} {w.unit}) would tell"
                + _if_reachable(target, curve, w) + flags)
    if not target.reachable:
        c_lo, c_hi = target.ceiling_ci
        return (f"{goal} is above the fitted ceiling of {target.ceiling:.2f} ({curve.level:.0%} "
                f"CI {c_lo:.2f}–{c_hi:.2f}): more annotation of this kind is not predicted to "
                f"reach it" + flags)
    lo, hi = target.ci
    if target.sentences > FAR * curve.n_max:
        return (f"{goal} is out of reach in practice: the fitted curve gains so slowly that it "
                f"would take more than {FAR}× the largest training set here (over "
                f"{about(FAR * curve.n_max)} {w.unit}; {_ceiling_words(target, curve.level)}), "
                f"far too far to extrapolate")
    if target.sentences <= curve.n_max:
        short = ("" if observed is None or observed.f1 >= target.target else
                 f", though the {observed.runs} runs at the largest training sizes (about "
                 f"{about(observed.size)} {w.unit}) average only {w.outcome} {observed.f1:.3f}")
        return (f"{goal} is already reached at about {about(target.sentences)} {w.unit} "
                f"(within the observed range{short})" + flags)
    if math.isfinite(hi):
        ci = f"{curve.level:.0%} CI {about(lo)}–{about(hi)}"
    else:
        ci = (f"{curve.level:.0%} CI from {about(lo)} with no upper bound: "
              f"{target.share_unreachable:.0%} of bootstrap curves level off below it")
    ratio = target.sentences / curve.n_max
    text = (f"to reach {goal}, annotate about {about(target.sentences)} {w.unit} in total "
            f"({ci}; an extrapolation to {ratio:.1f}× the largest training set here, "
            f"{about(curve.n_max)} {w.unit}" + (", so treat it as rough" if ratio > 4 else "")
            + ")")
    if budget is not None:
        text += more_words(target, budget, curve.level, w)
    return text + flags


def _if_reachable(target: TargetSize, curve: CurveFit, w: Words) -> str:
    """Where the runs cannot tell whether the target is reachable: where the CI of the
    sentences it takes starts (the bootstrap curves that reach it), or nothing."""
    lo = target.ci[0]
    if not math.isfinite(lo):
        return ""
    text = (f"; if it is, the {curve.level:.0%} CI of the {w.unit} it takes starts at about "
            f"{about(lo)}")
    if _far_even_if_reachable(target, curve):
        return text + (f", more than {FAR}× the largest training set here: out of reach in "
                       f"practice")
    return text + f" ({lo / curve.n_max:.1f}× the largest training set here)"


def _far_even_if_reachable(target: TargetSize, curve: CurveFit) -> bool:
    """Where the runs cannot tell whether the target is reachable, whether even the bootstrap
    curves that reach it need more than FAR times the largest training set."""
    return target.ci[0] > FAR * curve.n_max


def more_words(target: TargetSize, budget: Budget, level: float,
               w: Words = NER.words) -> str:
    """', about N more than the H annotated for training here' with, given an annotation
    speed, the annotator hours and their CI; empty when nothing more is needed."""
    more = target.sentences - budget.have
    if not more > 0:
        return ""
    lo, hi = target.ci
    text = (f": about {about(more)} more than the {about(budget.have)} annotated for training "
            f"here")
    minutes = budget.minutes_per_sentence
    if minutes is not None:
        h_lo = max(lo - budget.have, 0.0) * minutes / 60
        h_hi = (hi - budget.have) * minutes / 60
        upper = f"{hours(h_hi)}" if math.isfinite(h_hi) else "unbounded"
        text += (f", about {hours(more * minutes / 60)} annotator hours at {minutes:g} minutes "
                 f"per {w.unit_one} ({level:.0%} CI {hours(h_lo)}–{upper})")
    return text


def hours(value: float) -> str:
    """Annotator hours in words: one decimal below 10, else as :func:`about`."""
    return f"{value:.1f}" if value < 10 else about(value)


def plan_answer(backend: str, target: TargetSize, curve: CurveFit, pilot_sentences: float,
                minutes_per_sentence: float | None = None, task: Task = NER) -> str:
    """The answer of ``nercurve plan``: sentences (the task's unit) to annotate for the target
    F1 (total and beyond the pilot's largest training set, with a CI and, given an annotation
    speed, in annotator hours), that it is out of reach, or that the pilot cannot tell."""
    budget = Budget(have=pilot_sentences, minutes_per_sentence=minutes_per_sentence)
    text = f"{backend}: {_target_words(target, curve, task.words, budget)}."
    if target.undecided and not _far_even_if_reachable(target, curve):
        text += (f" The pilot cannot tell whether the target is within reach of this backend; "
                 f"give it larger training sets than {about(curve.n_max)} {task.words.unit} "
                 f"before deciding.")
    elif not target.reachable or target.sentences > FAR * curve.n_max:
        text += (" The target is out of reach for this backend; consider a lower target or a "
                 "stronger backend.")
    return text


def selection_words(comparison: SelectionComparison) -> dict[str, str]:
    """Backend -> how its selection strategies compare with the baseline (random) in words:
    the training size each saves at the target F1 and at the F1 the baseline reaches with
    its largest training set, with CIs, or that there is no reliable difference, or why no
    difference can be given; then what choosing the subsets cost."""
    w = comparison.task.words
    out = {}
    for backend in comparison.backends():
        curves = {c.strategy: c for c in comparison.curves if c.backend == backend}
        said = [_saving_words(s, curves, w) for s in comparison.savings if s.backend == backend]
        cost = _cost_words([c for c in curves.values() if c.strategy != comparison.baseline], w)
        out[backend] = f"{backend}: " + "; ".join(said) + "." + (f" {cost}" if cost else "")
    return out


def _saving_words(s: Saving, curves: dict[str, StrategyCurve], w: Words) -> str:
    """One saving in words (see :func:`selection_words`)."""
    name, base = s.arm, s.baseline
    if s.goal == "plateau" and math.isfinite(s.at):
        goal = (f"{base} selection's {w.outcome} at its largest training set ({s.f1:.2f} at "
                f"{about(s.at)} {w.unit})")
        reaches, reach = f"matches {goal}", f"match {goal}"
    else:
        goal = f"{w.outcome} {s.f1:.2f}"
        reaches, reach = f"reaches {goal}", f"reach {goal}"
    missing = [c for c in (curves[base], curves[name]) if c.curve is None]
    if missing:
        return "; ".join(f"{c.strategy} selection has no learning curve, so no difference in "
                         f"{w.unit} can be given at {goal} ({c.why})" for c in missing)
    short = [(n, t) for n, t in ((base, s.baseline_size), (name, s.arm_size))
             if t is not None and not t.reachable]
    if short:
        return "; ".join(_short_words(n, t, goal, s.level, w) for n, t in short)
    lo, hi = s.ci
    level = f"{s.level:.0%} CI"
    if not s.decided:
        why = (_past_one(f"{base} selection's", w) if _beyond_one(s)
               else "too many bootstrap curves of both never reach it")
        return f"the runs cannot tell whether {name} and {base} selection differ at {goal}: {why}"
    if lo > 0:
        return (f"{name} selection {reaches} with {about(s.saved)} fewer {w.unit} than {base} "
                f"({level} {_span(lo, hi)})")
    if hi < 0:
        return (f"{name} selection needs {about(-s.saved)} more {w.unit} than {base} to {reach} "
                f"({level} {_span(-hi, -lo)})")
    return (f"no reliable difference between {name} and {base} selection at {goal}: {name} "
            f"about {about(s.arm_size.sentences)} {w.unit}, {base} about "
            f"{about(s.baseline_size.sentences)} ({level} of the difference {_span(lo, hi)})")


def _short_words(name: str, t: TargetSize, goal: str, level: float, w: Words) -> str:
    """Why one strategy's curve gives no size for ``goal``: out of reach, or the runs cannot
    tell."""
    c_lo, c_hi = t.ceiling_ci
    ceiling = f"its fitted ceiling is {t.ceiling:.2f} ({level:.0%} CI {c_lo:.2f}–{c_hi:.2f})"
    if t.undecided:
        return (f"the runs cannot tell whether {name} selection reaches {goal}: {ceiling}, "
                f"so no difference in {w.unit} can be given")
    return (f"{goal} is beyond {name} selection's curve: {ceiling}, so no difference in "
            f"{w.unit} can be given")


def _span(lo: float, hi: float) -> str:
    """An interval of signed sizes in words: '60–290', '−40 to 120', 'from 60, unbounded'."""
    def signed(v: float) -> str:
        return f"−{about(-v)}" if v < 0 else about(v)

    if not math.isfinite(hi):
        return f"from {signed(lo)}, unbounded above"
    if not math.isfinite(lo):
        return f"unbounded below, up to {signed(hi)}"
    return f"{signed(lo)} to {signed(hi)}" if lo < 0 else f"{signed(lo)}–{signed(hi)}"


def _cost_words(curves: list[StrategyCurve], w: Words) -> str:
    """What choosing the subsets cost, per strategy (nothing when none cost anything)."""
    said = []
    for c in curves:
        if c.seconds <= 0 and c.selection_runs <= 0:
            continue
        plural = "s" if c.selection_runs != 1 else ""
        runs = (f" and {c.selection_runs:,} extra training run{plural}"
                if c.selection_runs else "")
        said.append(f"{c.strategy} selection {duration(c.seconds)} of computing (training and "
                    f"embedding){runs} for its {c.subsets:,} subsets")
    return f"Choosing the subsets cost {'; '.join(said)}." if said else ""


def duration(seconds: float) -> str:
    """Seconds in words: '45 seconds', '12 minutes', '3.4 hours'."""
    if seconds < 120:
        return f"{seconds:.0f} seconds"
    if seconds < 7200:
        return f"{seconds / 60:.0f} minutes"
    return f"{seconds / 3600:.1f} hours"


# -- single- against multi-task training (analysis.multitask) ------------------------------


def multitask_words(comparison: MultitaskComparison) -> dict[str, str]:
    """Base backend -> what multi-task training buys on the target corpus, in words: the
    target sentences it saves at the target F1 and at the F1 single-task reaches with its
    largest training set, with CIs, or "no reliable saving", or that the runs cannot tell;
    then its gain on each unseen corpus at the largest stratum."""
    w = comparison.task.words
    out = {}
    for backend in comparison.backends():
        curves = {c.training: c for c in comparison.curves
                  if c.backend == backend and c.test_set == comparison.target}
        said = [_multitask_saving(s, curves, w) for s in comparison.savings
                if s.backend == backend]
        text = f"{backend}: " + "; ".join(said) + "."
        transfer = _multitask_transfer(comparison, backend)
        out[backend] = text + (f" {transfer}" if transfer else "")
    return out


def _signed_f1(value: float) -> str:
    """An F1 difference with its sign, three decimals: '+0.053', '−0.012'."""
    return f"{value:+.3f}".replace("-", "−")


def _beyond_one(s: Saving) -> bool:
    """True for a plateau level at or past an outcome's bounds (a curve unbounded above,
    such as the log-linear, passes 1 at the largest training set)."""
    return s.goal == "plateau" and not 0 < s.f1 < 1


def _past_one(whose: str, w: Words) -> str:
    return f"{whose} fitted curve passes {w.outcome} 1 there, so it gives no level to match"


def _multitask_saving(s: Saving, curves: dict[str, ArmCurve], w: Words) -> str:
    """One saving of multi-task training in words (see :func:`multitask_words`)."""
    if s.goal == "plateau" and math.isfinite(s.at):
        goal = (f"single-task's {w.outcome} on your corpus at its largest training set "
                f"({s.f1:.2f} at {about(s.at)} target {w.unit})")
        reaches, reach = f"matches {goal}", f"match {goal}"
    else:
        goal = f"{w.outcome} {s.f1:.2f} on your corpus"
        reaches, reach = f"reaches {goal}", f"reach {goal}"
    cannot = f"the runs cannot tell whether multi-task saves target {w.unit} at {goal}"
    missing = [c for c in (curves[SINGLE], curves[MULTI]) if c.curve is None]
    if missing:
        return cannot + ": " + "; ".join(f"{c.training}-task has no learning curve ({c.why})"
                                         for c in missing)
    short = [(n, t) for n, t in (("single", s.baseline_size), ("multi", s.arm_size))
             if t is not None and not t.reachable]
    if short:
        return cannot + ": " + "; ".join(_arm_short(n, t, s.level) for n, t in short)
    lo, hi = s.ci
    level = f"{s.level:.0%} CI"
    if not s.decided:
        return cannot + ": " + (_past_one("single-task's", w) if _beyond_one(s)
                                else "too many bootstrap curves of both arms never reach it")
    if lo > 0:
        return (f"multi-task {reaches} with {about(s.saved)} fewer target {w.unit} than "
                f"single-task ({level} {_span(lo, hi)})")
    if hi < 0:
        return (f"multi-task needs {about(-s.saved)} more target {w.unit} than single-task to "
                f"{reach} ({level} {_span(-hi, -lo)})")
    return (f"no reliable saving at {goal}: multi-task about {about(s.arm_size.sentences)} "
            f"target {w.unit}, single-task about {about(s.baseline_size.sentences)} ({level} "
            f"of the difference {_span(lo, hi)})")


def _arm_short(name: str, t: TargetSize, level: float) -> str:
    """Why one arm's curve gives no size: it levels off below the level, or the runs cannot
    tell whether it reaches it."""
    c_lo, c_hi = t.ceiling_ci
    ceiling = f"fitted ceiling {t.ceiling:.2f}, {level:.0%} CI {c_lo:.2f}–{c_hi:.2f}"
    if t.undecided:
        return f"it is unclear whether the {name}-task curve reaches it ({ceiling})"
    return f"the {name}-task curve levels off below it ({ceiling})"


def _multitask_transfer(comparison: MultitaskComparison, backend: str) -> str:
    """Multi-task's paired gain over single-task on each unseen corpus, at the largest
    stratum, in words (empty without unseen corpora)."""
    names = comparison.unseen()
    table = comparison.transfer_table()
    if not names or table.empty:
        return ""
    w = comparison.task.words
    mine = table.loc[table["base_backend"] == backend]
    largest = mine[w.unit].max()
    top = mine.loc[mine[w.unit] == largest]
    single = top.loc[top["training"] == SINGLE].iloc[0]
    multi = top.loc[top["training"] == MULTI].iloc[0]
    level = f"{comparison.level:.0%} CI"
    unscorable = set(comparison.unscorable())
    said = []
    for name in names:
        if name in unscorable:
            said.append(f"the unseen corpus '{name}' keeps no entity of the labels the models "
                        f"learn, so neither arm can score on it")
            continue
        gain = multi[f"gain_{name}"]
        lo, hi = multi[f"gain_{name}_ci_low"], multi[f"gain_{name}_ci_high"]
        band = f"{level} {_signed_f1(lo)} to {_signed_f1(hi)}"
        verdict = (f"a gain of {gain:.3f}, {band}" if lo > 0
                   else f"a loss of {-gain:.3f}, {band}" if hi < 0
                   else f"no reliable difference: {_signed_f1(gain)}, {band}")
        said.append(f"on the unseen corpus '{name}' multi-task scores {w.outcome} "
                    f"{multi[f'f1_{name}']:.3f} against single-task's "
                    f"{single[f'f1_{name}']:.3f} ({verdict})")
    return (f"Transfer ({backend}, at about {about(largest)} target {w.unit}, over the same "
            f"subsets and seeds): " + "; ".join(said) + ".")


# -- the test set (analysis.testset) -------------------------------------------------------


def _resolves(plan: TestPlan) -> str:
    return f"this test set resolves at {plan.power:.0%} power"


def testset_headline(plan: TestPlan, task: Task = NER) -> str:
    """What the test set resolves, what a chosen difference needs and what other hold-out
    shares would resolve (``plan-test`` and the report)."""
    w = task.words
    text = (f"This test set of {plan.n_docs:,} documents detects {w.outcome} differences of "
            f"{plan.mdd:.3f} or more between two arms or two sizes at {plan.power:.0%} power "
            f"and a {plan.alpha:.0%} two-sided level ("
            + (f"the median over {len(plan.comparisons)} comparisons)."
               if len(plan.comparisons) > 1 else "from its one comparison)."))
    if plan.detect is not None and plan.docs_for_detect is not None:
        text += (f" A difference of {plan.detect:.3f} needs about "
                 f"{about(plan.docs_for_detect)} test documents.")
    if plan.splits is not None:
        text += " " + _split_words(plan.splits, w)
    return text


def _split_words(splits: pd.DataFrame, w: Words) -> str:
    said = []
    for row in splits.loc[~splits["current"]].itertuples():
        moved = int(row.pool_docs_moved)
        how = ("taking" if moved > 0 else "returning") + (
            f" {abs(moved):,} documents ({about(abs(row.pool_units_moved))} {w.unit}) "
            + ("from" if moved > 0 else "to") + " the training pool")
        fits = ("which still holds" if row.fits else "which then no longer holds")
        said.append(f"a {row.test_share:.0%} test split ({row.test_docs:,} documents) would "
                    f"resolve {row.mdd:.3f}, {how}, {fits} the largest training set here "
                    f"({about(row.largest_size)} {w.unit})")
    if not said:
        return ""
    current = splits.loc[splits["current"]].iloc[0]
    return (f"The test split is {current.test_share:.0%} now; " + "; ".join(said) + ".")


def testset_words(plan: TestPlan, backend: str, task: Task = NER) -> str:
    """What the test set cannot tell apart between ``backend``'s adjacent sizes, and how much
    of its run-to-run spread is test-set noise (empty when there is nothing to say)."""
    w = task.words
    said = []
    steps = plan.comparisons.loc[(plan.comparisons["kind"] == "sizes")
                                 & (plan.comparisons["backend_a"] == backend)]
    unresolved = steps.loc[~steps["resolved"]]
    if len(unresolved):
        first = unresolved.iloc[0]
        change = (f"from {about(first.size_a)} to {about(first.size_b)} {w.unit} by "
                  f"{abs(first['diff']):.3f}")
        if len(unresolved) == 1:
            said.append(f"From {about(first.size_a)} to {about(first.size_b)} {w.unit}, "
                        f"{w.outcome} changes by {abs(first['diff']):.3f}, less than the "
                        f"{first.mdd:.3f} {_resolves(plan)}: the test set cannot tell these "
                        "sizes apart.")
        else:
            many = _how_many(len(unresolved), len(steps))
            said.append(f"Between adjacent sizes, {w.outcome} changes by less than "
                        f"{_resolves(plan)} at {many} steps (e.g. {change}, where it resolves "
                        f"{first.mdd:.3f}): the test set cannot tell these sizes apart.")
    share = plan.noise_share(backend)
    if share is not None and share > NOISE_SHARE_WORTH_SAYING:
        said.append(f"Test-set noise accounts for about {share:.0%} of the run-to-run "
                    f"variance of {w.outcome} across subsets and seeds: that much of the "
                    "spread between runs comes from the test set, not the models.")
    return " ".join(said)


def _how_many(part: int, whole: int, *, their: bool = False) -> str:
    """``part`` of ``whole`` in words: '3 of 4', 'both', 'all 5' (``their``: '3 of their 4',
    'both of their', 'all 5 of their')."""
    if part < whole:
        return f"{part} of {'their ' if their else ''}{whole}"
    return ("both" if whole == 2 else f"all {whole}") + (" of their" if their else "")


def arms_words(plan: TestPlan, task: Task = NER) -> str:
    """Pairs of arms whose difference at a shared size is below what the test set resolves."""
    w = task.words
    arms = plan.comparisons.loc[plan.comparisons["kind"] == "arms"]
    said = []
    for (a, b), rows in arms.groupby(["backend_a", "backend_b"], sort=False):
        unresolved = rows.loc[~rows["resolved"]]
        if unresolved.empty:
            continue
        first = unresolved.iloc[0]
        at = f"at {about(first.size_a)} {w.unit}"
        if len(unresolved) == 1:
            said.append(f"{a} and {b} differ by {abs(first['diff']):.3f} {w.outcome} {at}, "
                        f"less than the {first.mdd:.3f} {_resolves(plan)}: the test set cannot "
                        "tell them apart.")
        else:
            many = _how_many(len(unresolved), len(rows), their=True)
            said.append(f"{a} and {b} differ by less than {_resolves(plan)} at {many} shared "
                        f"sizes (e.g. by {abs(first['diff']):.3f} {w.outcome} {at}, where it "
                        f"resolves {first.mdd:.3f}): there the test set cannot tell them apart.")
    return " ".join(said)
