"""Single- against multi-task training in a multi-corpus study (``[[corpora]]``): the
learning curve of each arm on every test set, the target sentences the multi-task arm saves,
and its transfer to the unseen corpora.

A multi-corpus study's runs (:func:`nercurve.study.store.results_frame`) carry
``training`` (``"single"``: the target subset alone; ``"multi"``: the same target subset
plus the auxiliary corpora's training documents) and ``base_backend`` (the backend entry,
``X`` for both arms ``X`` and ``X+multi``). ``n_sentences`` counts the TARGET subset's
sentences in both arms (the annotation the team pays for); ``f1`` is the target test set's,
``f1_<name>`` each auxiliary and test-only corpus's (``corpus_stats.json``'s ``corpora``
says which name has which role). A table without ``training`` is a single-corpus study and
has no comparison (:func:`compare_training` returns None).

Per base backend, both arms train on the same subsets and seeds, so the runs are pairs: a
run whose pair (same ``subset_id`` and ``seed`` in the other arm) is missing, or has no
score on a test set, is left out of that comparison (and counted). Then:

- Curves: each arm's learning curve on each test set is the family the main analysis chose
  for the single-task arm on the target test set (one shape for all, as
  :mod:`nercurve.analysis.selection` draws its strategies), fitted on the target sentences.
  Both arms are refitted with the same subsets as resampling clusters (a subset's seeds
  together) and the same seed, so the i-th bootstrap refit of each arm resamples the SAME
  subsets: the bootstrap resamples pairs, not each arm on its own. (The plateau family
  drops refits that fail, which can unpair the rest; the other families never do.)
- The annotation saved, on the target test set
  (:func:`nercurve.analysis.saving.size_saving`, the computation the selection strategies
  share): single-task's target sentences minus multi-task's, at the analysis's target F1
  and at the single-task plateau, defined as in the selection comparison: the F1 the
  single-task curve reaches at its largest training set (the most single-task was seen to
  do), not the fitted ceiling. Its CI is the percentile interval over the paired refits; a
  CI covering 0 is no reliable saving; a curve that does not reach the level (or of which
  the runs cannot tell whether it does) gives no saving.
- The gain at the largest training set: multi-task's fitted F1 minus single-task's there,
  on every test set, with its paired-bootstrap CI.
- Transfer to the test-only (unseen) corpora: :func:`nercurve.analysis.transfer.transfer_table`
  of both arms (mean F1 per stratum and arm, retained share), with the paired gain per
  stratum: the mean over pairs of multi-task's F1 minus single-task's, with a CI from
  resampling the stratum's subsets.

The words are written in :func:`nercurve.analysis.recommend.multitask_words`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nercurve.analysis.curve import TargetSize, cluster_codes, resample_weights
from nercurve.analysis.families import CurveChoice, CurveFit, fit_family
from nercurve.analysis.saving import GOALS, Saving, size_saving
from nercurve.analysis.selection import FALLBACK_FAMILY
from nercurve.analysis.transfer import transfer_table
from nercurve.errors import AnalysisError
from nercurve.tasks import Task

SINGLE, MULTI = "single", "multi"
TARGET, AUXILIARY, TEST_ONLY = "target", "auxiliary", "test-only"
#: A run's pair in the other arm: the same target subset and seed.
PAIR_KEYS = ("subset_id", "seed")
#: The columns of :meth:`MultitaskComparison.curves_table`.
CURVE_COLUMNS = (
    "backend", "test_set", "role", "column", "training", "arm", "runs", "subsets", "family",
    "n_max", "f1_at_n_max", "f1_at_n_max_ci_low", "f1_at_n_max_ci_high", "target_f1",
    "target_sentences", "target_ci_low", "target_ci_high", "target_reachable",
    "target_undecided", "gain_at_n_max", "gain_ci_low", "gain_ci_high", "gain_reliable",
    "no_curve",
)
#: The columns of :meth:`MultitaskComparison.savings_table`.
SAVING_COLUMNS = (
    "backend", "test_set", "goal", "f1", "at", "single_sentences", "single_reachable",
    "single_undecided", "multi_sentences", "multi_ci_low", "multi_ci_high", "multi_reachable",
    "multi_undecided", "saved", "saved_ci_low", "saved_ci_high", "decided", "reliable",
)


@dataclass(frozen=True)
class CorpusTest:
    """One test set of a multi-corpus study: the corpus's name, its role, its F1 column and
    whether it holds entities of the labels the study's models learn (``scorable``: a
    test-only corpus of other entity types keeps none, and every model scores 0 on it)."""

    name: str
    role: str
    column: str
    scorable: bool = True


@dataclass(frozen=True)
class ArmCurve:
    """One arm's learning curve on one test set."""

    backend: str
    test_set: CorpusTest
    training: str
    arm: str
    runs: int
    subsets: int
    #: The fitted curve (None when the runs cannot support one: ``why`` says why).
    curve: CurveFit | None
    #: Target sentences for the analysis's target F1 on this curve (None without a curve).
    target: TargetSize | None
    why: str


@dataclass(frozen=True)
class Gain:
    """Multi-task's F1 minus single-task's at single-task's largest training set ``at``, on
    one test set, with its paired-bootstrap CI (NaN without both curves)."""

    backend: str
    test_set: CorpusTest
    at: float
    gain: float
    ci: tuple[float, float]

    @property
    def reliable(self) -> bool:
        """True when the CI lies wholly above or below 0."""
        return self.ci[0] > 0 or self.ci[1] < 0


@dataclass(frozen=True)
class MultitaskComparison:
    """Single- against multi-task curves per base backend and test set, the target
    sentences saved and the transfer to unseen corpora."""

    test_sets: tuple[CorpusTest, ...]
    #: The paired runs of both arms (a ``stratum`` column added where the runs lack one).
    runs: pd.DataFrame
    curves: tuple[ArmCurve, ...]
    #: On the target test set, per base backend: at the target F1 and the plateau.
    savings: tuple[Saving, ...]
    gains: tuple[Gain, ...]
    #: The curve family per compared base backend.
    families: dict[str, str]
    #: Runs left out per base backend: no pair in the other arm.
    unpaired: dict[str, int]
    target_f1: float
    level: float
    n_boot: int
    seed: int
    task: Task

    def backends(self) -> list[str]:
        """The base backends compared, in order."""
        return list(self.families)

    @property
    def target(self) -> CorpusTest:
        """The target corpus's test set."""
        return self.test_sets[0]

    def unseen(self) -> list[str]:
        """The test-only corpora, in config order."""
        return [t.name for t in self.test_sets if t.role == TEST_ONLY]

    def unscorable(self) -> list[str]:
        """The test sets that keep no entity of the labels the models learn."""
        return [t.name for t in self.test_sets if not t.scorable]

    def auxiliary(self) -> list[str]:
        """The auxiliary corpora (whose test sets are scored too), in config order."""
        return [t.name for t in self.test_sets if t.role == AUXILIARY]

    def curves_table(self) -> pd.DataFrame:
        """One row per base backend, test set and arm: runs, the curve's F1 at the largest
        training set with its CI, the target sentences for the target F1 with their CI,
        and, on the multi-task row, its gain over single-task there with the paired CI."""
        rows = []
        gains = {(g.backend, g.test_set.name): g for g in self.gains}
        for c in self.curves:
            fit, t = c.curve, c.target
            row: dict = {"backend": c.backend, "test_set": c.test_set.name,
                         "role": c.test_set.role, "column": c.test_set.column,
                         "training": c.training, "arm": c.arm, "runs": c.runs,
                         "subsets": c.subsets, "family": fit.family if fit else "",
                         "n_max": fit.n_max if fit else math.nan}
            if fit is not None:
                lo, hi = fit.predict_interval(fit.n_max)
                row |= {"f1_at_n_max": float(fit.predict(fit.n_max)),
                        "f1_at_n_max_ci_low": float(lo[0]), "f1_at_n_max_ci_high": float(hi[0])}
            row |= {"target_f1": self.target_f1,
                    "target_sentences": t.sentences if t else math.nan,
                    "target_ci_low": t.ci[0] if t else math.nan,
                    "target_ci_high": t.ci[1] if t else math.nan,
                    "target_reachable": bool(t and t.reachable),
                    "target_undecided": bool(t and t.undecided)}
            g = gains.get((c.backend, c.test_set.name))
            if c.training == MULTI and g is not None:
                row |= {"gain_at_n_max": g.gain, "gain_ci_low": g.ci[0],
                        "gain_ci_high": g.ci[1], "gain_reliable": g.reliable}
            rows.append(row | {"no_curve": c.why})
        return pd.DataFrame(rows, columns=CURVE_COLUMNS)

    def savings_table(self) -> pd.DataFrame:
        """One row per base backend and level (target F1, single-task plateau): each arm's
        target sentences for it, and the sentences multi-task saves with their paired CI
        (negative: multi-task needs more)."""
        rows = []
        for s in self.savings:
            single, multi = s.baseline_size, s.arm_size
            rows.append({
                "backend": s.backend, "test_set": self.target.name, "goal": s.goal,
                "f1": s.f1, "at": s.at,
                "single_sentences": single.sentences if single else math.nan,
                "single_reachable": bool(single and single.reachable),
                "single_undecided": bool(single and single.undecided),
                "multi_sentences": multi.sentences if multi else math.nan,
                "multi_ci_low": multi.ci[0] if multi else math.nan,
                "multi_ci_high": multi.ci[1] if multi else math.nan,
                "multi_reachable": bool(multi and multi.reachable),
                "multi_undecided": bool(multi and multi.undecided),
                "saved": s.saved, "saved_ci_low": s.ci[0], "saved_ci_high": s.ci[1],
                "decided": s.decided, "reliable": s.reliable})
        return pd.DataFrame(rows, columns=SAVING_COLUMNS)

    def transfer_table(self) -> pd.DataFrame:
        """Per base backend, arm and stratum: :func:`transfer_table`'s columns (mean target
        sentences, in-domain F1, each unseen corpus's F1 and retained share) and, on the
        multi-task rows, the paired gain over single-task per test set (``gain_in_domain``,
        ``gain_<name>``) with its CI. Empty without unseen corpora."""
        names = self.unseen()
        if not names:
            return pd.DataFrame()
        parts = []
        columns = {"in_domain": self.target.column} | {n: f"f1_{n}" for n in names}
        for backend in self.backends():
            rows = self.runs.loc[self.runs["base_backend"] == backend]
            table = transfer_table(rows, names, self.task)
            arms = rows.drop_duplicates("backend").set_index("backend")["training"]
            table.insert(0, "base_backend", backend)
            table.insert(2, "training", table["backend"].map(arms))
            gains = _stratum_gains(rows, columns, n_boot=self.n_boot, level=self.level,
                                   seed=self.seed)
            table = table.merge(gains, on="stratum", how="left")
            table.loc[table["training"] != MULTI, gains.columns.drop("stratum")] = math.nan
            parts.append(table)
        return pd.concat(parts, ignore_index=True)


def has_arms(frame: pd.DataFrame) -> bool:
    """Whether the runs come from a multi-corpus study (a ``training`` column)."""
    return "training" in frame.columns


def corpus_tests(frame: pd.DataFrame, corpus_stats: dict | None) -> list[CorpusTest]:
    """The study's test sets: the target's (``f1``) first, then each auxiliary and test-only
    corpus of ``corpus_stats["corpora"]`` (config order) that has an F1 column."""
    corpora = (corpus_stats or {}).get("corpora") or {}
    if not isinstance(corpora, dict):
        corpora = {}
    roles = {name: c.get("role") for name, c in corpora.items() if isinstance(c, dict)}
    target = next((n for n, r in roles.items() if r == TARGET), TARGET)
    out = [CorpusTest(name=target, role=TARGET, column="f1")]
    out += [CorpusTest(name=n, role=r, column=f"f1_{n}",
                       scorable=corpora[n].get("labels") != [])
            for n, r in roles.items() if r in (AUXILIARY, TEST_ONLY) and f"f1_{n}" in frame.columns]
    return out


def compare_training(
    frame: pd.DataFrame,
    choices: Mapping[str, CurveChoice | None],
    *,
    corpus_stats: dict | None,
    target_f1: float,
    n_boot: int,
    level: float,
    seed: int,
    task: Task,
) -> MultitaskComparison | None:
    """Compare the multi-task arm of each base backend with its single-task arm (see the
    module's words). ``choices``: the main analysis's curves per arm name (the single-task
    arm's chosen family is used for both). None when the runs have no ``training`` column
    or no base backend has both arms; AnalysisError when the arms cannot be paired (no
    ``subset_id``)."""
    if not has_arms(frame) or not (frame["training"] == MULTI).any():
        return None
    missing = [c for c in ("base_backend", "subset_id") if c not in frame.columns]
    if missing:
        raise AnalysisError(
            f"the runs have a training column but no {', '.join(missing)}, so the single- and "
            "multi-task runs cannot be paired", hint="analyse the study folder itself, or "
            "keep base_backend and subset_id in the table of runs")
    sets = corpus_tests(frame, corpus_stats)
    if "stratum" not in frame.columns:
        frame = frame.assign(stratum=frame[task.size])
    curves: list[ArmCurve] = []
    savings: list[Saving] = []
    gains: list[Gain] = []
    families: dict[str, str] = {}
    unpaired: dict[str, int] = {}
    paired_runs = []
    for backend in dict.fromkeys(frame["base_backend"].astype(str)):
        rows = frame.loc[frame["base_backend"].astype(str) == backend]
        single, multi = (rows.loc[rows["training"] == t] for t in (SINGLE, MULTI))
        if single.empty or multi.empty:
            continue
        single, multi, left_out = _pairs(single, multi)
        unpaired[backend] = left_out
        if single.empty:
            continue
        choice = choices.get(str(single["backend"].iloc[0]))
        family = choice.chosen if choice is not None else FALLBACK_FAMILY
        families[backend] = family
        paired_runs += [single, multi]
        for test in sets:
            fitted = {}
            for training, arm_rows in ((SINGLE, single), (MULTI, multi)):
                fitted[training] = _arm_curve(backend, test, training, arm_rows, family,
                                              target_f1, n_boot=n_boot, level=level,
                                              seed=seed, task=task)
            curves += fitted.values()
            gains.append(_gain(backend, test, fitted[SINGLE].curve, fitted[MULTI].curve, level))
            if test.role == TARGET:
                savings += [size_saving(fitted[SINGLE].curve, fitted[MULTI].curve, goal=goal,
                                        target_f1=target_f1, level=level, backend=backend,
                                        arm=fitted[MULTI].arm, baseline=fitted[SINGLE].arm)
                            for goal in GOALS]
    if not families:
        return None
    return MultitaskComparison(
        test_sets=tuple(sets), runs=pd.concat(paired_runs, ignore_index=True),
        curves=tuple(curves), savings=tuple(savings), gains=tuple(gains), families=families,
        unpaired=unpaired, target_f1=target_f1, level=level, n_boot=n_boot, seed=seed,
        task=task)


def _pairs(single: pd.DataFrame, multi: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame,
                                                                int]:
    """Both arms' runs kept to the pairs (same subset and seed) that both have, and how many
    runs had no pair."""
    keys = [k for k in PAIR_KEYS if k in single.columns]
    index_single = pd.MultiIndex.from_frame(single[keys].astype(str))
    index_multi = pd.MultiIndex.from_frame(multi[keys].astype(str))
    both = index_single.intersection(index_multi)
    kept_single = single.loc[index_single.isin(both)].drop_duplicates(keys)
    kept_multi = multi.loc[index_multi.isin(both)].drop_duplicates(keys)
    left_out = len(single) - len(kept_single) + len(multi) - len(kept_multi)
    return kept_single, kept_multi, left_out


def _arm_curve(backend: str, test: CorpusTest, training: str, rows: pd.DataFrame, family: str,
               target_f1: float, *, n_boot: int, level: float, seed: int,
               task: Task) -> ArmCurve:
    """One arm's curve on one test set: its runs with a positive size and a score there,
    clustered by subset and fitted with ``seed`` (the same for both arms: paired refits)."""
    arm = str(rows["backend"].iloc[0])
    size = rows[task.size].to_numpy(float)
    y = pd.to_numeric(rows[test.column], errors="coerce").to_numpy(float)
    keep = (size > 0) & np.isfinite(y)
    curve, why = None, ""
    try:
        curve = fit_family(family, size[keep], y[keep],
                           cluster=rows["subset_id"].astype(str).to_numpy()[keep],
                           n_boot=n_boot, level=level, seed=seed)
    except AnalysisError as err:
        why = err.message
    target = (curve.sentences_for(target_f1) if curve is not None and test.role == TARGET
              else None)
    return ArmCurve(backend=backend, test_set=test, training=training, arm=arm,
                    runs=int(keep.sum()), subsets=int(rows["subset_id"][keep].nunique()),
                    curve=curve, target=target, why=why)


def _gain(backend: str, test: CorpusTest, single: CurveFit | None, multi: CurveFit | None,
          level: float) -> Gain:
    """Multi-task's fitted F1 minus single-task's at single-task's largest training set, with
    the percentile CI of the same difference over the paired refits."""
    if single is None or multi is None:
        return Gain(backend, test, math.nan, math.nan, (math.nan, math.nan))
    at = single.n_max
    k = min(single.n_boot, multi.n_boot)
    draws = multi.boot_predict(at)[:k] - single.boot_predict(at)[:k]
    gain = float(multi.predict(at) - single.predict(at))
    return Gain(backend, test, at, gain, _percentile(draws, level))


def _stratum_gains(rows: pd.DataFrame, columns: Mapping[str, str], *, n_boot: int,
                   level: float, seed: int) -> pd.DataFrame:
    """Per stratum, the mean over pairs of multi-task's score minus single-task's on each
    test set (``gain_<key>``), with a percentile CI from resampling the stratum's subsets
    (a subset's seeds together)."""
    single = rows.loc[rows["training"] == SINGLE]
    multi = rows.loc[rows["training"] == MULTI]
    keys = [k for k in PAIR_KEYS if k in rows.columns]
    both = single.merge(multi, on=keys, suffixes=("", "_m"))
    out = []
    rng = np.random.default_rng(seed)
    for stratum, group in both.groupby("stratum", sort=False):
        subsets = group["subset_id"].astype(str).to_numpy()
        row: dict = {"stratum": stratum, "pairs": len(group)}
        for name, column in columns.items():
            diff = (pd.to_numeric(group[f"{column}_m"], errors="coerce")
                    - pd.to_numeric(group[column], errors="coerce")).to_numpy(float)
            ok = np.isfinite(diff)
            boot = np.full(n_boot, math.nan)
            if ok.any():
                codes = cluster_codes(subsets[ok], int(ok.sum()))
                for start, weights in resample_weights(codes, n_boot, rng):
                    w = weights * 1.0
                    with np.errstate(invalid="ignore", divide="ignore"):
                        boot[start:start + w.shape[1]] = (diff[ok] @ w) / w.sum(axis=0)
            lo, hi = _percentile(boot, level)
            row |= {f"gain_{name}": float(diff[ok].mean()) if ok.any() else math.nan,
                    f"gain_{name}_ci_low": lo, f"gain_{name}_ci_high": hi}
        out.append(row)
    return pd.DataFrame(out)


def _percentile(draws: np.ndarray, level: float) -> tuple[float, float]:
    """Percentile CI of the finite draws (NaN when there are none)."""
    finite = draws[np.isfinite(draws)]
    if finite.size == 0:
        return math.nan, math.nan
    tail = (1 - level) / 2
    lo, hi = np.quantile(finite, [tail, 1 - tail])
    return float(lo), float(hi)
