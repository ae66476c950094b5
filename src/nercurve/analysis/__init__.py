"""Study analysis: descriptive table, standardized regression, threshold models with bootstrap
CIs, GAM smooths, learning-curve families chosen by extrapolation error and a plain-words
recommendation.

``analyze(load_runs(path))`` runs all of it per backend and returns an :class:`Analysis`
whose ``tables()`` are pandas DataFrames. Backends whose runs cannot support model fits (a
fixed off-the-shelf baseline, too few runs) are described, listed in ``notes`` with the
reason, and left out of the models; if no backend can be modelled, AnalysisError is raised.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nercurve.analysis.ceiling import AgreementCeiling, ceiling_words
from nercurve.analysis.curve import TargetSize
from nercurve.analysis.curve_tables import curve_row, families_table
from nercurve.analysis.data import (
    RANDOM,
    Runs,
    check_backend,
    load_runs,
    selection_of,
    training_eps,
    validate_runs,
)
from nercurve.analysis.descriptive import describe_runs
from nercurve.analysis.families import CurveChoice, CurveFit, fit_curves
from nercurve.analysis.gam import GamSmooth, fit_gam
from nercurve.analysis.multitask import MultitaskComparison, compare_training
from nercurve.analysis.recommend import (
    Budget,
    Observed,
    arms_words,
    describe_threshold,
    multitask_words,
    recommend,
    selection_words,
    testset_words,
)
from nercurve.analysis.regression import StandardizedRegression, standardized_regression
from nercurve.analysis.selection import (
    SelectionComparison,
    compare_strategies,
    main_strategy,
    strategy_names,
)
from nercurve.analysis.testset import TestPlan, counts_absent, plan_test
from nercurve.analysis.threshold import (
    THRESHOLD_MODELS,
    ThresholdAnalysis,
    check_models,
    threshold_analysis,
)
from nercurve.analysis.transfer import external_names, transfer_sentence, transfer_table
from nercurve.errors import AnalysisError
from nercurve.tasks import Task
from nercurve.tasks.ner import TASK as NER

if TYPE_CHECKING:
    from nercurve.study.keep import KeptModel
    from nercurve.study.wave_records import WaveRecord

__all__ = ["Analysis", "BackendModels", "Runs", "analyze", "load_runs"]


@dataclass(frozen=True)
class BackendModels:
    """Everything fitted for one backend; a part is None when the data could not support it."""

    backend: str
    runs: int
    regression: StandardizedRegression | None = None
    thresholds: dict[str, ThresholdAnalysis] = field(default_factory=dict)
    gams: dict[str, GamSmooth] = field(default_factory=dict)
    #: Every learning-curve family fitted, and the one chosen by extrapolation error.
    curves: CurveChoice | None = None
    target: TargetSize | None = None
    recommendation: str = ""
    #: GAM smooths of each external test set's F1 on training sentences, by set name.
    transfer: dict[str, GamSmooth] = field(default_factory=dict)

    @property
    def curve(self) -> CurveFit | None:
        """The chosen learning curve, or None when none could be fitted."""
        return self.curves.best if self.curves is not None else None

    @property
    def modelled(self) -> bool:
        """True when at least one model could be fitted."""
        return bool(self.regression or self.thresholds or self.gams or self.curve)


@dataclass(frozen=True)
class Settings:
    """The options an analysis ran with (recorded in its outputs)."""

    target_f1: float
    min_gain: float
    step: float
    n_boot: int
    level: float
    seed: int
    families: tuple[str, ...]
    adjust: tuple[str, ...]
    #: Annotation speed behind the annotator hours in the recommendation (None: not given).
    minutes_per_sentence: float | None = None


@dataclass(frozen=True)
class Analysis:
    """The result of :func:`analyze`: the runs, per-backend models, tables and words."""

    source: str
    runs: pd.DataFrame
    settings: Settings
    models: dict[str, BackendModels]
    descriptive: pd.DataFrame
    notes: list[str]
    summary: str
    corpus_stats: dict | None = None
    design: pd.DataFrame | None = None
    training_eps: float | None = None
    #: Names of the external (unseen-corpus) test sets the runs were scored on.
    external: tuple[str, ...] = ()
    #: The annotators' own agreement, drawn as the ceiling of the learning curves.
    agreement: AgreementCeiling | None = None
    #: The waves of an adaptive design, with the estimate after each (empty otherwise).
    waves: tuple[WaveRecord, ...] = ()
    #: What the runs measure, with its columns and words (NER; or text classification, whose
    #: ``training_eps`` is the training pool's minority-class share).
    task: Task = NER
    #: The selection strategies compared, when the subsets were chosen by several (``runs``
    #: then holds the baseline strategy's runs alone, the comparison every strategy's).
    selection: SelectionComparison | None = None

    @property
    def all_runs(self) -> pd.DataFrame:
        """Every run analysed: of every selection strategy, where there are several."""
        return self.selection.runs if self.selection is not None else self.runs

    def selection_words(self) -> dict[str, str]:
        """Backend -> the plain-words comparison of its selection strategies (empty with one
        strategy)."""
        if self.selection is None:
            return {}
        return selection_words(self.selection)
    #: What the test set resolves (:mod:`nercurve.analysis.testset`), or None, with the reason
    #: in ``test_plan_absent`` (runs without per-document counts).
    test_plan: TestPlan | None = None
    test_plan_absent: str | None = None
    #: The models the study keeps (``run.keep``), final ones first.
    kept: tuple[KeptModel, ...] = ()
    #: Single- against multi-task training, when the runs come from a multi-corpus study
    #: (:mod:`nercurve.analysis.multitask`).
    multitask: MultitaskComparison | None = None

    def multitask_words(self) -> dict[str, str]:
        """Base backend -> what multi-task training buys, in words (empty for a
        single-corpus study)."""
        if self.multitask is None:
            return {}
        return multitask_words(self.multitask)

    def recommendation_text(self) -> str:
        """The plain-words recommendation: one paragraph per backend, the summary, the notes."""
        lines = ["Recommendation"]
        lines += [m.recommendation for m in self.models.values() if m.recommendation]
        lines += list(self.selection_words().values())
        lines += list(self.multitask_words().values())
        if self.summary:
            lines.append(self.summary)
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def tables(self) -> dict[str, pd.DataFrame]:
        """The publication tables by name: descriptive, regression, thresholds, curves (every
        learning-curve family side by side), power_law (the power-law family alone), gam
        (smooth curves on a grid), runs (of every selection strategy) and, when the runs were
        scored on external test sets, transfer (in-domain and unseen F1 by stratum); when the
        subsets were chosen by several strategies, selection (each strategy's curve, savings
        over the baseline and cost) and selection_sizes (its mean F1 per size); when the runs
        carry per-document test counts, the test-set plan (testset_comparisons,
        testset_variance, testset_splits); in a multi-corpus study, multitask_curves (each
        arm's curve per test set, multi-task's gain at the largest size), multitask_savings
        (the target sentences multi-task saves) and, with unseen corpora, multitask_transfer
        (mean F1 per stratum and arm, with multi-task's paired gain)."""
        tables = {
            "descriptive": self.descriptive,
            "regression": self.regression_table(),
            "thresholds": self.threshold_table(),
            "curves": self.families_table(),
            "power_law": self.curve_table(),
            "gam": self.gam_table(),
            "runs": self.all_runs,
        }
        if self.external:
            tables["transfer"] = transfer_table(self.runs, list(self.external), self.task)
        if self.selection is not None:
            tables["selection"] = self.selection.table()
            tables["selection_sizes"] = self.selection.sizes_table()
        if self.test_plan is not None:
            tables.update(self.test_plan.tables())
        if self.multitask is not None:
            tables["multitask_curves"] = self.multitask.curves_table()
            tables["multitask_savings"] = self.multitask.savings_table()
            transfer = self.multitask.transfer_table()
            if not transfer.empty:
                tables["multitask_transfer"] = transfer
        return tables

    def regression_table(self) -> pd.DataFrame:
        """One row per backend: standardized betas with p-values, F(df1, df2), p, R²."""
        rows = [m.regression.row() for m in self.models.values() if m.regression is not None]
        return pd.DataFrame(rows)

    def threshold_table(self) -> pd.DataFrame:
        """One row per backend, predictor and model (the straight line included)."""
        rows = []
        for m in self.models.values():
            for predictor, th in m.thresholds.items():
                best_aic = min([th.line_aic, *(f.aic for f in th.fits.values())])
                rows.append({
                    "backend": m.backend, "predictor": predictor, "model": "line",
                    "best": th.best == "line", "runs": th.n, "aic": th.line_aic,
                    "delta_aic": th.line_aic - best_aic, "rss": th.line_rss,
                    "slope_before": th.line_slope, "slope_after": th.line_slope,
                })
                for family, fit in th.fits.items():
                    rows.append({
                        "backend": m.backend, "predictor": predictor, "model": family,
                        "best": th.best == family, "runs": fit.n, "aic": fit.aic,
                        "delta_aic": fit.aic - best_aic, "rss": fit.rss,
                        "threshold": fit.threshold,
                        "ci_low": fit.ci_percentile[0], "ci_high": fit.ci_percentile[1],
                        "sym_ci_low": fit.ci_symmetric[0], "sym_ci_high": fit.ci_symmetric[1],
                        "slope_before": fit.slope_before,
                        "slope_before_ci_low": fit.coef_ci["slope_before"][0],
                        "slope_before_ci_high": fit.coef_ci["slope_before"][1],
                        "slope_after": fit.slope_after,
                        "slope_after_ci_low": fit.coef_ci["slope_after"][0],
                        "slope_after_ci_high": fit.coef_ci["slope_after"][1],
                        "level": fit.level,
                        "level_ci_low": fit.coef_ci["level"][0],
                        "level_ci_high": fit.coef_ci["level"][1],
                        "lr": fit.lr, "p_vs_line": fit.p_value,
                        "n_boot": fit.n_boot, "boot_failed": fit.boot_failed,
                        "grid_low": fit.grid[0], "grid_high": fit.grid[1],
                        "at_edge": fit.at_edge, "sym_ci_low_uncut": fit.ci_symmetric_uncut[0],
                        "sym_ci_high_uncut": fit.ci_symmetric_uncut[1],
                        "ci_clipped": fit.ci_clipped, "flags": "; ".join(fit.flags()),
                    })
        return pd.DataFrame(rows)

    def curve_table(self) -> pd.DataFrame:
        """One row per backend: the power-law family's parameters and predictions, with CIs
        (whichever family was chosen; the ``curves`` table has them all)."""
        rows = []
        for m in self.models.values():
            power = m.curves.fits.get("power") if m.curves is not None else None
            if power is None:
                continue
            row = {"backend": m.backend}
            for name, value in power.params.items():
                lo, hi = power.param_ci()[name]
                row |= {name: value, f"{name}_ci_low": lo, f"{name}_ci_high": hi}
            rows.append(row | curve_row(power, step=self.settings.step,
                                        min_gain=self.settings.min_gain,
                                        target_f1=self.settings.target_f1))
        return pd.DataFrame(rows)

    def families_table(self) -> pd.DataFrame:
        """Every learning-curve family of every backend side by side (see ``tables()``)."""
        s = self.settings
        return families_table({m.backend: m.curves for m in self.models.values()
                               if m.curves is not None},
                              step=s.step, min_gain=s.min_gain, target_f1=s.target_f1)

    def gam_table(self) -> pd.DataFrame:
        """The GAM smooths on their grids: backend, predictor, x, fit, lower, upper."""
        parts = [
            pd.DataFrame({"backend": m.backend, "predictor": predictor, "x": g.grid,
                          "fit": g.fit, "lower": g.lower, "upper": g.upper})
            for m in self.models.values() for predictor, g in m.gams.items()
        ]
        columns = ["backend", "predictor", "x", "fit", "lower", "upper"]
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)

    def threshold_words(self) -> dict[tuple[str, str], str]:
        """(backend, predictor) -> the plain-words description of its threshold analysis."""
        return {(m.backend, p): describe_threshold(th, p, self.task)
                for m in self.models.values() for p, th in m.thresholds.items()}

    def to_dict(self) -> dict:
        """Everything as JSON-ready data (NaN and infinities become None)."""
        return _json_ready({
            "source": self.source,
            "settings": self.settings.__dict__,
            "summary": self.summary,
            "recommendations": {b: m.recommendation for b, m in self.models.items()
                                if m.recommendation},
            "threshold_words": [{"backend": b, "predictor": p, "text": t}
                                for (b, p), t in self.threshold_words().items()],
            "selection_words": self.selection_words(),
            "multitask_words": self.multitask_words(),
            "notes": self.notes,
            "training_eps": self.training_eps,
            "corpus_stats": self.corpus_stats,
            "agreement": self.agreement.__dict__ if self.agreement is not None else None,
            "waves": [w.to_json() for w in self.waves],
            "tables": {name: frame.to_dict(orient="records")
                       for name, frame in self.tables().items() if name != "gam"},
        })


def analyze(
    runs: Runs | pd.DataFrame,
    *,
    backends: Sequence[str] | None = None,
    target_f1: float = 0.9,
    min_gain: float = 0.005,
    step: float = 100,
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
    families: Sequence[str] = tuple(THRESHOLD_MODELS),
    adjust: Sequence[str] = (),
    agreement: AgreementCeiling | None = None,
    minutes_per_sentence: float | None = None,
) -> Analysis:
    """Analyse a study's runs per backend.

    ``target_f1``: the F1 to plan for. ``min_gain``: the F1 gain per ``step`` sentences below
    which the curve counts as flat. ``n_boot``: bootstrap resamples for every CI and test.
    ``adjust``: columns used as adjustment covariates in the threshold models. Runs that share
    a ``subset_id`` (repeated seeds) are resampled together. ``agreement``: the annotators'
    own agreement, the ceiling each backend is compared with. ``minutes_per_sentence``: the
    annotation speed that turns sentences still to annotate into annotator hours.
    Where the subsets were chosen by several selection strategies, everything above rests
    on the random ones (else the first strategy by name) and the strategies are compared in
    ``Analysis.selection`` (:mod:`nercurve.analysis.selection`). In a multi-corpus study each
    arm (``X``, ``X+multi``) is a backend above, and the arms are compared in
    ``Analysis.multitask`` (:mod:`nercurve.analysis.multitask`).
    """
    if isinstance(runs, pd.DataFrame):
        frame, left_out = validate_runs(runs)
        runs = Runs(frame=frame, source="(data frame)", left_out=left_out)
    frame = runs.frame
    task = runs.task
    w = task.words
    _check_settings(target_f1, min_gain, step, n_boot, level)
    if minutes_per_sentence is not None and not minutes_per_sentence > 0:
        raise AnalysisError(f"minutes per sentence must be positive, not {minutes_per_sentence}",
                            hint="e.g. 0.5 for two sentences a minute")
    check_models(families)
    missing_cols = [c for c in adjust if c not in frame.columns]
    if missing_cols:
        raise AnalysisError(f"adjustment covariate(s) {', '.join(missing_cols)} are not columns "
                            "of the runs", hint=f"columns: {', '.join(frame.columns)}")
    known = list(dict.fromkeys(frame["backend"]))
    chosen = list(backends) if backends else known
    absent = [b for b in chosen if b not in known]
    if absent:
        raise AnalysisError(f"there are no runs for backend(s) {', '.join(absent)}",
                            file=runs.source, hint=f"backends in the data: {', '.join(known)}")
    frame = frame.loc[frame["backend"].isin(chosen)].reset_index(drop=True)
    strategies = strategy_names(frame)
    baseline = main_strategy(strategies)
    every_strategy = frame
    if len(strategies) > 1:
        frame = frame.loc[selection_of(frame) == baseline].reset_index(drop=True)
    settings = Settings(target_f1=target_f1, min_gain=min_gain, step=step, n_boot=n_boot,
                        level=level, seed=seed, families=tuple(families), adjust=tuple(adjust),
                        minutes_per_sentence=minutes_per_sentence)
    eps = training_eps(runs)
    eps_source = f"Your training {w.density} is"
    if eps is None:
        eps = float(frame[task.density].mean())
        eps_source = f"The training subsets' mean {w.density} is"

    notes: list[str] = [f"{count} run(s) with status '{status}' were left out"
                        for status, count in runs.left_out.items()]
    if len(strategies) > 1:
        notes.append(_strategy_note(strategies, baseline, task))
    external = external_names(frame, runs.corpus_stats)
    models: dict[str, BackendModels] = {}
    for backend in chosen:
        try:
            rows = check_backend(frame, backend, task=task)
        except AnalysisError as err:
            notes.append(f"{backend}: described only, not modelled: {err.message}")
            models[backend] = BackendModels(backend=backend, runs=int(
                (frame["backend"] == backend).sum()))
            continue
        fitted = _fit_backend(backend, rows, settings, notes, task)
        text = recommend(
            backend, threshold=fitted.thresholds.get(task.size), curve=fitted.curve,
            target=fitted.target, step=step, min_gain=min_gain, regression=fitted.regression,
            training_eps=eps, eps_source=eps_source, task=task,
            budget=Budget(have=annotated(runs, frame, task),
                          minutes_per_sentence=minutes_per_sentence),
            rivals=([fitted.curves.fits[f] for f in fitted.curves.rivals]
                    if fitted.curves is not None else ()),
            observed=Observed.of(rows[task.size], rows["f1"]),
        )
        transfer = _fit_transfer(backend, rows, external, settings, notes, task)
        said = [text, transfer_sentence(backend, rows, list(transfer), task)]
        if agreement is not None and fitted.curve is not None:
            said.append(ceiling_words(backend, fitted.curve, agreement, task))
        models[backend] = replace(fitted, transfer=transfer,
                                  recommendation=" ".join(t for t in said if t))
    test_plan, test_plan_absent = _test_plan(frame, runs, settings)
    summary = _summary(models, frame, task)
    if test_plan is not None:
        for backend, m in models.items():
            said = [m.recommendation, testset_words(test_plan, backend, task)]
            models[backend] = replace(m, recommendation=" ".join(t for t in said if t))
        summary = " ".join(t for t in (summary, arms_words(test_plan, task)) if t)
    if not any(m.modelled for m in models.values()):
        raise AnalysisError(
            "no backend has runs that can support a learning-curve analysis: "
            + "; ".join(n for n in notes if ": described only" in n),
            file=runs.source, hint="a study needs at least 10 runs at 4 or more training sizes "
                                   "per backend, with an F1 that varies",
        )
    selection = compare_strategies(
        every_strategy, {b: m.curves for b, m in models.items()}, baseline=baseline,
        target_f1=target_f1, n_boot=n_boot, level=level, seed=seed, task=task)
    multitask = _multitask(frame, models, runs, settings, notes)
    return Analysis(
        source=runs.source, runs=frame, settings=settings, models=models,
        descriptive=describe_runs(frame), notes=notes,
        summary=summary, corpus_stats=runs.corpus_stats,
        design=runs.design, training_eps=eps, external=tuple(external), agreement=agreement,
        waves=runs.waves, task=task, selection=selection, kept=runs.kept,
        test_plan=test_plan, test_plan_absent=test_plan_absent, multitask=multitask,
    )


def _multitask(frame: pd.DataFrame, models: dict[str, BackendModels], runs: Runs,
               s: Settings, notes: list[str]) -> MultitaskComparison | None:
    """Single- against multi-task training (None for a single-corpus study); what cannot
    be compared becomes a note."""
    try:
        comparison = compare_training(
            frame, {b: m.curves for b, m in models.items()}, corpus_stats=runs.corpus_stats,
            target_f1=s.target_f1, n_boot=s.n_boot, level=s.level, seed=s.seed, task=runs.task)
    except AnalysisError as err:
        notes.append(f"no single- against multi-task comparison: {err.message}")
        return None
    if comparison is not None:
        notes += [f"{b}: {k} run(s) without a run of the other arm on the same subset and seed "
                  "are left out of the single- against multi-task comparison"
                  for b, k in comparison.unpaired.items() if k]
    return comparison


def _strategy_note(strategies: Sequence[str], baseline: str, task: Task) -> str:
    """Which strategy's runs the main analysis rests on, where the subsets were chosen by
    several."""
    why = ("" if baseline == RANDOM
           else " (there are no random subsets, so the first strategy by name)")
    return (f"the subsets were chosen by {len(strategies)} selection strategies "
            f"({', '.join(strategies)}): the descriptive statistics, models, curves and "
            f"recommendation rest on the {baseline} subsets alone{why}; the strategies "
            f"are compared with it in their own section, by the training {task.words.unit} "
            "each needs")


def _test_plan(frame: pd.DataFrame, runs: Runs, s: Settings) -> tuple[TestPlan | None,
                                                                        str | None]:
    """The test-set plan of the runs, or None and why (no per-document counts, too little
    to compare)."""
    absent = counts_absent(frame)
    if absent is not None:
        return None, absent
    try:
        return plan_test(frame, runs.task, runs.corpus_stats, n_boot=s.n_boot, seed=s.seed), None
    except AnalysisError as err:
        return None, err.message


def _check_settings(target_f1: float, min_gain: float, step: float, n_boot: int,
                    level: float) -> None:
    """Reject option values that would make the analysis meaningless."""
    if not 0 < target_f1 < 1:
        raise AnalysisError(f"target F1 {target_f1} is not between 0 and 1",
                            hint="give the target as a fraction, e.g. 0.85")
    if not min_gain > 0 or not step > 0:
        raise AnalysisError("the plateau gain and step must be positive",
                            hint="e.g. --min-gain 0.005 --step 100")
    if n_boot < 100:
        raise AnalysisError(f"{n_boot} bootstrap resamples are too few for a 95% interval",
                            hint="use at least 100 (the default is 1000)")
    if not 0.5 <= level < 1:
        raise AnalysisError(f"confidence level {level} is not in [0.5, 1)")


def _fit_backend(backend: str, rows: pd.DataFrame, s: Settings, notes: list[str],
                 task: Task = NER) -> BackendModels:
    """All models for one backend; each part that the data cannot support becomes a note."""
    cluster = None
    if "subset_id" in rows.columns and rows["subset_id"].duplicated().any():
        cluster = rows["subset_id"].astype(str).to_numpy()
    y = rows["f1"].to_numpy(float)

    def attempt(what: str, fn):
        try:
            return fn()
        except AnalysisError as err:
            notes.append(f"{backend}: no {what}: {err.message}")
            return None

    o = task.words.outcome
    regression = attempt("regression", lambda: standardized_regression(
        rows, predictors=task.predictors, backend=backend))
    thresholds, gams = {}, {}
    for predictor in task.predictors:
        x = rows[predictor].to_numpy(float)
        covariates = [c for c in s.adjust if c != predictor]
        adjust = rows[covariates].to_numpy(float) if covariates else None
        th = attempt(f"threshold model of {o} on {predictor}", lambda x=x, adjust=adjust:
                     threshold_analysis(x, y, families=s.families, adjust=adjust,
                                        cluster=cluster, n_boot=s.n_boot, level=s.level,
                                        seed=s.seed))
        if th is not None:
            thresholds[predictor] = th
        gam = attempt(f"smooth of {o} on {predictor}", lambda x=x: fit_gam(x, y, level=s.level))
        if gam is not None:
            gams[predictor] = gam
    positive = rows[task.size].to_numpy(float) > 0
    if not positive.all():
        notes.append(f"{backend}: {int((~positive).sum())} run(s) with 0 {task.words.unit} are "
                     "left out of the learning curves")
    curves = attempt("learning curve", lambda: fit_curves(
        rows[task.size].to_numpy(float)[positive], y[positive],
        cluster=None if cluster is None else cluster[positive], n_boot=s.n_boot,
        level=s.level, seed=s.seed))
    if curves is not None:
        notes += [f"{backend}: the {f} learning curve could not be fitted: {why}"
                  for f, why in curves.failed.items()]
        if curves.basis == "in-sample":
            notes.append(f"{backend}: too few runs to hold the largest out, so the learning "
                         "curve was chosen by its in-sample fit, not by extrapolation")
    target = curves.sentences_for(s.target_f1) if curves is not None else None
    return BackendModels(backend=backend, runs=len(rows), regression=regression,
                         thresholds=thresholds, gams=gams, curves=curves, target=target)


def annotated(runs: Runs, frame: pd.DataFrame, task: Task = NER) -> float:
    """Sentences (examples) already annotated for training: the study's pool when its
    statistics say, else the largest training set among the runs."""
    pool = (runs.corpus_stats or {}).get("pool")
    key = task.pool_key
    if isinstance(pool, dict) and isinstance(pool.get(key), int | float):
        return float(pool[key])
    return float(frame[task.size].max())


def _fit_transfer(backend: str, rows: pd.DataFrame, names: Sequence[str], s: Settings,
                  notes: list[str], task: Task = NER) -> dict[str, GamSmooth]:
    """A GAM smooth of each external test set's F1 on the training size."""
    out = {}
    for name in names:
        try:
            out[name] = fit_gam(rows[task.size].to_numpy(float),
                                rows[f"f1_{name}"].to_numpy(float), level=s.level)
        except AnalysisError as err:
            notes.append(f"{backend}: no smooth of {task.words.outcome} on the unseen test set "
                         f"'{name}': "
                         f"{err.message}")
    return out


def _summary(models: dict[str, BackendModels], frame: pd.DataFrame, task: Task = NER) -> str:
    """A closing sentence or two comparing the backends and naming any fixed baselines."""
    w = task.words
    parts = []
    curves = {b: m.curve for b, m in models.items() if m.curve is not None}
    if len(curves) > 1:
        at = min(c.n_max for c in curves.values())
        best = max(curves, key=lambda b: float(curves[b].predict(at)))
        parts.append(f"At {at:,.0f} training {w.unit}, {best} has the highest predicted "
                     f"{w.outcome} ({float(curves[best].predict(at)):.2f}).")
    for backend, m in models.items():
        if not m.modelled:
            rows = frame.loc[frame["backend"] == backend]
            sizes = rows[task.size].unique()
            if sizes.size == 1 and rows["f1"].size:
                trained = ("with no annotation" if sizes[0] == 0
                           else f"at a single size of {sizes[0]:,.0f} {w.unit}")
                parts.append(f"{backend} scores {w.outcome} {rows['f1'].mean():.2f} {trained}.")
    return " ".join(parts)


def _json_ready(value):
    """Recursively replace NaN/inf by None and numpy scalars by Python ones."""
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is pd.NA or value is pd.NaT:
        return None
    return value
