"""Selection strategies compared: a learning curve per strategy, and the training sentences
(examples, ...) a strategy saves over the baseline, with bootstrap CIs.

A study whose subsets were chosen by several strategies (``[design] selection``: random,
uncertainty, diversity, or any other name a run's ``selection`` column holds) asks which
sentences to annotate as well as how many. The main analysis (curves, thresholds, the
recommendation) answers "how many" on one strategy's subsets, never on a mix: the random
ones when the study has them, else the first strategy by name (:func:`main_strategy`, the
*baseline*). This module compares every other strategy with that baseline, per backend:

- Each strategy's learning curve is the family the main analysis chose for the backend (so
  all strategies are drawn and compared with one shape), fitted to that strategy's runs on
  the training-size axis, with a bootstrap that resamples its subsets (a subset's seeds
  together) within the strategy. The baseline's curve is the main analysis's own fit.
- Sentences saved = the baseline's training size at an F1 minus the strategy's, for two F1
  levels: the analysis's target, and the F1 the baseline's curve reaches at its largest
  training set (the most the baseline was seen to do; its "plateau" in the data), computed
  by :func:`nercurve.analysis.saving.size_saving`. The CI is the percentile interval of the
  same difference over paired bootstrap refits (the i-th of each strategy: their subsets are
  independent, so any pairing is a draw of both). For the second level each baseline refit
  sets its own level (its F1 at that size), so the level's uncertainty is carried too. A
  selected strategy's subsets of one replicate are prefixes of
  one trajectory (:mod:`nercurve.study.selection`), so the bootstrap resamples trajectories
  (:func:`trajectories`), not subsets. A CI that covers 0 is no reliable difference; where either
  curve does not reach the level (or the runs cannot tell whether it does,
  :attr:`TargetSize.undecided`), no difference is given.
- What choosing the subsets cost: the ``selection_seconds``, ``selection_runs`` and
  ``selection_rounds`` of each strategy's trajectories (each subset's figures are its
  trajectory's cost up to its size: a trajectory costs its largest subset's, and seeds do
  not count again).

The words are written in :func:`nercurve.analysis.recommend.selection_words`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from nercurve.analysis.curve import TargetSize
from nercurve.analysis.data import RANDOM, SELECTION_COSTS, selection_of
from nercurve.analysis.families import CurveChoice, CurveFit, fit_family
from nercurve.analysis.saving import GOALS, Saving, size_saving
from nercurve.errors import AnalysisError
from nercurve.study.selection import trajectory_of
from nercurve.tasks import Task

#: The family fitted to every strategy when the baseline has no chosen curve to follow.
FALLBACK_FAMILY = "power"
#: The columns of :meth:`SelectionComparison.table`.
TABLE_COLUMNS = (
    "backend", "strategy", "baseline", "runs", "subsets", "family", "n_max", "f1_at_n_max",
    "target_f1", "target_sentences", "target_ci_low", "target_ci_high", "target_reachable",
    "target_undecided", "saved_target", "saved_target_ci_low", "saved_target_ci_high",
    "saved_target_reliable", "plateau_f1", "plateau_at", "saved_plateau",
    "saved_plateau_ci_low", "saved_plateau_ci_high", "saved_plateau_reliable",
    "selection_seconds", "selection_runs", "selection_rounds", "no_curve",
)


def strategy_names(frame: pd.DataFrame) -> list[str]:
    """The selection strategies of the runs, sorted by name (random for a table without a
    ``selection`` column)."""
    return sorted(set(selection_of(frame)))


def main_strategy(names: list[str]) -> str:
    """The strategy the main analysis runs on: random when the study has it, else the first
    by name."""
    return RANDOM if RANDOM in names else sorted(names)[0]


@dataclass(frozen=True)
class StrategyCurve:
    """One strategy's runs of one backend: its learning curve and what its selection cost."""

    backend: str
    strategy: str
    runs: int
    subsets: int
    #: The fitted curve (None when the runs cannot support one: ``why`` says why).
    curve: CurveFit | None
    #: Training size for the analysis's target F1 on this curve (None without a curve).
    target: TargetSize | None
    why: str
    #: Selection cost, summed over the strategy's subsets (rounds: the mean per subset).
    seconds: float
    selection_runs: int
    rounds: float


@dataclass(frozen=True)
class SelectionComparison:
    """Every strategy's curve per backend and its savings over the baseline strategy."""

    baseline: str
    strategies: tuple[str, ...]
    #: The runs of every strategy (the main analysis has the baseline's alone).
    runs: pd.DataFrame
    curves: tuple[StrategyCurve, ...]
    savings: tuple[Saving, ...]
    #: The curve family per compared backend.
    families: dict[str, str]
    target_f1: float
    level: float
    task: Task

    def backends(self) -> list[str]:
        """The backends compared, in order."""
        return list(self.families)

    def table(self) -> pd.DataFrame:
        """One row per backend and strategy: runs, subsets, the curve, the size for the
        target F1 with its CI, the savings over the baseline at both levels with their CIs,
        and the selection cost."""
        rows = []
        for c in self.curves:
            row: dict = {"backend": c.backend, "strategy": c.strategy,
                         "baseline": c.strategy == self.baseline, "runs": c.runs,
                         "subsets": c.subsets,
                         "family": c.curve.family if c.curve is not None else "",
                         "n_max": c.curve.n_max if c.curve is not None else math.nan,
                         "f1_at_n_max": (float(c.curve.predict(c.curve.n_max))
                                         if c.curve is not None else math.nan),
                         "target_f1": self.target_f1}
            t = c.target
            row |= {"target_sentences": t.sentences if t else math.nan,
                    "target_ci_low": t.ci[0] if t else math.nan,
                    "target_ci_high": t.ci[1] if t else math.nan,
                    "target_reachable": bool(t and t.reachable),
                    "target_undecided": bool(t and t.undecided)}
            for s in self.savings:
                if s.backend == c.backend and s.arm == c.strategy:
                    if s.goal == "plateau":
                        row |= {"plateau_f1": s.f1, "plateau_at": s.at}
                    row |= {f"saved_{s.goal}": s.saved, f"saved_{s.goal}_ci_low": s.ci[0],
                            f"saved_{s.goal}_ci_high": s.ci[1],
                            f"saved_{s.goal}_reliable": s.reliable}
            row |= {"selection_seconds": c.seconds, "selection_runs": c.selection_runs,
                    "selection_rounds": c.rounds, "no_curve": c.why}
            rows.append(row)
        return pd.DataFrame(rows, columns=TABLE_COLUMNS)

    def sizes_table(self) -> pd.DataFrame:
        """Mean and SD of F1 per backend, strategy and training size (the design's stratum
        when the runs have one, else the size itself)."""
        size = self.task.size
        frame = self.runs.assign(strategy=selection_of(self.runs))
        frame = frame.loc[frame["backend"].isin(self.backends())]
        key = "stratum" if "stratum" in frame.columns else size
        grouped = frame.groupby(["backend", "strategy", key], sort=False)
        out = grouped.agg(runs=("f1", "size"), mean_size=(size, "mean"),
                          f1_mean=("f1", "mean"), f1_sd=("f1", "std")).reset_index()
        out = out.rename(columns={key: "size" if key == size else key})
        return out.sort_values(["backend", "strategy", "mean_size"], kind="stable",
                               ignore_index=True)


def compare_strategies(
    frame: pd.DataFrame,
    choices: Mapping[str, CurveChoice | None],
    *,
    baseline: str,
    target_f1: float,
    n_boot: int,
    level: float,
    seed: int,
    task: Task,
) -> SelectionComparison | None:
    """Compare every strategy of ``frame`` (all strategies' runs) with ``baseline``, per
    backend; ``choices`` are the main analysis's curves per backend (fitted to the
    baseline's runs). None when the runs hold one strategy only."""
    names = strategy_names(frame)
    if len(names) < 2:
        return None
    strategy = selection_of(frame)
    curves: list[StrategyCurve] = []
    savings: list[Saving] = []
    families: dict[str, str] = {}
    for backend in dict.fromkeys(frame["backend"]):
        mine = frame["backend"] == backend
        present = sorted(set(strategy[mine]))
        if baseline not in present or len(present) < 2:
            continue
        choice = choices.get(backend)
        family = choice.chosen if choice is not None else FALLBACK_FAMILY
        families[backend] = family
        order = [baseline, *(s for s in present if s != baseline)]
        fitted = {}
        for i, name in enumerate(order):
            rows = frame.loc[mine & (strategy == name)]
            reuse = choice.fits.get(family) if name == baseline and choice is not None else None
            fitted[name] = _strategy_curve(backend, name, rows, family, reuse, target_f1,
                                           n_boot=n_boot, level=level, seed=seed + i, task=task)
        curves += fitted.values()
        base = fitted[baseline]
        for name in order[1:]:
            savings += [_saving(base, fitted[name], goal, target_f1, level) for goal in GOALS]
    if not families:
        return None
    return SelectionComparison(baseline=baseline, strategies=tuple(names), runs=frame,
                               curves=tuple(curves), savings=tuple(savings), families=families,
                               target_f1=target_f1, level=level, task=task)


def _strategy_curve(backend: str, name: str, rows: pd.DataFrame, family: str,
                    reuse: CurveFit | None, target_f1: float, *, n_boot: int, level: float,
                    seed: int, task: Task) -> StrategyCurve:
    """One strategy's curve (``reuse`` when given) and its selection cost."""
    subsets = rows.drop_duplicates("subset_id") if "subset_id" in rows.columns else rows
    cost = {c: subsets[c].astype(float) if c in subsets.columns
            else pd.Series(0.0, index=subsets.index) for c in SELECTION_COSTS}
    # a trajectory's subsets are its prefixes, each costed up to its own size: the
    # trajectory cost its largest subset's cost
    if "subset_id" in subsets.columns:
        paths = trajectories(subsets["subset_id"])
        cost = {c: v.groupby(paths.to_numpy()).max() for c, v in cost.items()}
    curve, why = reuse, ""
    if curve is None:
        positive = rows[task.size].to_numpy(float) > 0
        cluster = (trajectories(rows["subset_id"]).to_numpy()[positive]
                   if "subset_id" in rows.columns else None)
        try:
            curve = fit_family(family, rows[task.size].to_numpy(float)[positive],
                               rows["f1"].to_numpy(float)[positive], cluster=cluster,
                               n_boot=n_boot, level=level, seed=seed)
        except AnalysisError as err:
            why = err.message
    return StrategyCurve(
        backend=backend, strategy=name, runs=len(rows), subsets=len(subsets), curve=curve,
        target=curve.sentences_for(target_f1) if curve is not None else None, why=why,
        seconds=float(cost["selection_seconds"].sum()),
        selection_runs=int(cost["selection_runs"].sum()),
        rounds=float(cost["selection_rounds"].mean()) if len(subsets) else 0.0)


def trajectories(subset_ids: pd.Series) -> pd.Series:
    """The selection trajectory of each subset: the subsets of one replicate of a selected
    strategy (:func:`nercurve.study.selection.selected_id`) are
    prefixes of one trajectory, so they are one cluster and one cost; any other subset
    (random draws, runs from elsewhere) is its own."""
    return subset_ids.astype(str).map(lambda i: trajectory_of(i) or i)


def _saving(base: StrategyCurve, other: StrategyCurve, goal: str, target_f1: float,
            level: float) -> Saving:
    """The training size ``other`` saves over ``base`` at the target F1 (``goal="target"``)
    or at the F1 the baseline's curve reaches at its largest training set (``"plateau"``)."""
    return size_saving(base.curve, other.curve, goal=goal, target_f1=target_f1, level=level,
                       backend=base.backend, arm=other.strategy, baseline=base.strategy)
