"""Test-set planning: what a study's test set can tell apart, and what a larger one would.

Every job scores the same test set and stores its score's per-document counts (the
``doc_counts`` column: :mod:`nercurve.tasks.doc_scores`). Resampling the test documents with
one set of weights for every job (a paired, cluster bootstrap over documents) gives each
job's score under each resample, and from those:

- **comparisons**: for two arms at the same size (stratum), and for two adjacent sizes of one
  arm, the difference of their mean scores and its test-set standard error (the SD of the
  difference over resamples). The *minimum detectable difference* (MDD) at power ``1 - β``
  and two-sided level ``α`` is ``(z(1 - α/2) + z(1 - β)) · SE``; the power to detect a
  difference ``d`` is ``Φ(|d|/SE - z(1 - α/2)) + Φ(-|d|/SE - z(1 - α/2))``. A comparison is
  *resolved* when its observed difference reaches its MDD. The study's headline MDD is the
  median over its comparisons.
- **test documents needed**: the SE falls as ``1/√n`` with ``n`` test documents, so a
  difference ``δ`` needs ``n · (MDD/δ)²`` of them (rounded up).
- **hold-out shares**: what a 20% or 40% test split would have resolved (the headline MDD at
  that many documents), how many pool documents and training units (sentences, examples)
  the move costs, and whether the design's largest training size still fits the pool.
- **variance decomposition**: per arm and size, the run-to-run SD of the score across
  subsets and seeds, each job's own test-set bootstrap SD, and the share of the run-to-run
  variance that test-set noise produces. Since all runs score one test set, the noise that
  spreads them is the part of each job's resampled score that differs from the size's mean
  (the model-by-document interaction); its expected contribution to the sample variance is
  ``Σ_j var_b(score_jb - mean_j score_jb) / (m - 1)``, taken as a share of the observed
  variance and capped at 1.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from nercurve.errors import AnalysisError
from nercurve.tasks import Task
from nercurve.tasks.doc_scores import as_counts, resample_weights, resampled_outcomes

#: The power and two-sided level of "what the test set resolves".
POWER = 0.8
ALPHA = 0.05
#: The other hold-out shares ``plan-test`` reports.
SHARES = (0.2, 0.4)
#: Resamples drawn at once.
CHUNK = 500
#: Test-set noise above this share of the run-to-run variance is worth a sentence.
NOISE_SHARE_WORTH_SAYING = 0.25


def z_sum(power: float = POWER, alpha: float = ALPHA) -> float:
    """``z(1 - α/2) + z(power)``: the MDD in standard errors."""
    from scipy.stats import norm

    return float(norm.ppf(1 - alpha / 2) + norm.ppf(power))


def detectable(se: float, power: float = POWER, alpha: float = ALPHA) -> float:
    """The smallest difference detected with ``power`` at two-sided level ``alpha``."""
    return z_sum(power, alpha) * se


def power_to_detect(diff: float, se: float, alpha: float = ALPHA) -> float:
    """The power of a two-sided test at level ``alpha`` to detect a true difference ``diff``
    whose estimate has standard error ``se``."""
    from scipy.stats import norm

    if not se > 0:
        return 1.0 if diff != 0 else alpha
    z = norm.ppf(1 - alpha / 2)
    ratio = abs(diff) / se
    return float(norm.cdf(ratio - z) + norm.cdf(-ratio - z))


def docs_needed(n_docs: int, mdd: float, detect: float) -> int:
    """Test documents that bring the MDD ``mdd`` (at ``n_docs`` documents) down to
    ``detect``: the SE falls as one over the square root of the documents."""
    return max(1, math.ceil(n_docs * (mdd / detect) ** 2))


@dataclass(frozen=True)
class TestPlan:
    """What :func:`plan_test` found (see the module docstring for every figure)."""

    __test__ = False  # not a pytest class

    n_docs: int
    jobs: int
    n_boot: int
    power: float
    alpha: float
    #: The headline MDD: the median over the comparisons.
    mdd: float
    comparisons: pd.DataFrame
    variance: pd.DataFrame
    #: Hold-out shares side by side (None without the study's corpus statistics).
    splits: pd.DataFrame | None = None
    #: A difference asked about, and the test documents it needs at ``power``.
    detect: float | None = None
    docs_for_detect: int | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables by name: testset_comparisons, testset_variance, testset_splits."""
        out = {"testset_comparisons": self.comparisons, "testset_variance": self.variance}
        if self.splits is not None:
            out["testset_splits"] = self.splits
        return out

    def noise_share(self, backend: str) -> float | None:
        """The share of ``backend``'s run-to-run variance that test-set noise produces, pooled
        over its sizes (None: no size with two runs or more)."""
        rows = self.variance.loc[self.variance["backend"] == backend]
        if rows.empty:
            return None
        weight = rows["runs"] - 1
        run_var = float((weight * rows["run_sd"] ** 2).sum())
        noise_var = float((weight * rows["noise_sd"] ** 2).sum())
        return min(1.0, noise_var / run_var) if run_var > 0 else (1.0 if noise_var > 0 else None)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON (a missing number is None)."""
        return {
            "n_docs": self.n_docs, "jobs": self.jobs, "n_boot": self.n_boot,
            "power": self.power, "alpha": self.alpha,
            "mdd": self.mdd if math.isfinite(self.mdd) else None,
            "detect": self.detect, "docs_for_detect": self.docs_for_detect,
            **{name: json.loads(frame.to_json(orient="records"))
               for name, frame in self.tables().items()},
        }


def counts_absent(frame: pd.DataFrame) -> str | None:
    """Why the runs cannot plan the test set (no per-document counts), or None when they can."""
    if "doc_counts" not in frame.columns:
        return ("the runs carry no per-document test counts (no doc_counts column: a table "
                "of runs without them, or a study stored before they existed)")
    missing = int(frame["doc_counts"].isna().sum())
    if missing:
        return (f"{missing} of {len(frame)} runs were stored without per-document test counts "
                "(by an earlier version of nercurve)")
    return None


def job_counts(frame: pd.DataFrame) -> list[np.ndarray]:
    """Each run's per-document counts (documents × columns), checked to cover one test set."""
    why = counts_absent(frame)
    if why is not None:
        raise AnalysisError(
            f"cannot plan the test set: {why}",
            hint="run the study again into a new output folder with this version of nercurve: "
                 "its jobs then store per-document counts (f1_ci_low, f1_ci_high, doc_counts)",
        )
    counts = []
    for job, text in zip(frame.get("job_id", pd.Series(range(len(frame)))),
                         frame["doc_counts"], strict=True):
        try:
            counts.append(as_counts(json.loads(text) if isinstance(text, str) else text))
        except (ValueError, TypeError) as err:
            raise AnalysisError(f"the doc_counts of run {job} are not a table of counts: {err}",
                                hint="doc_counts holds one list of counts per test document"
                                ) from None
    sizes = sorted({c.shape[0] for c in counts})
    if len(sizes) > 1:
        raise AnalysisError(
            f"the runs scored test sets of different sizes ({', '.join(map(str, sizes))} "
            "documents)", hint="plan the test set of one study at a time")
    if sizes == [0]:
        raise AnalysisError("the runs scored an empty test set")
    return counts


def resampled_scores(counts: Sequence[np.ndarray], task: Task, *, n_boot: int,
                     seed: int) -> np.ndarray:
    """Every run's score under each of ``n_boot`` resamples of the test documents, the same
    resamples for every run (runs × resamples); drawn in chunks of :data:`CHUNK` resamples,
    so that memory stays small whatever the test set's size."""
    parts = []
    for k, start in enumerate(range(0, n_boot, CHUNK)):
        weights = resample_weights(counts[0].shape[0], min(CHUNK, n_boot - start), (seed, k))
        parts.append(np.vstack([resampled_outcomes(c, task.outcome_of_counts, weights)
                                for c in counts]))
    return np.hstack(parts)


def plan_test(frame: pd.DataFrame, task: Task, corpus_stats: Mapping[str, Any] | None = None,
              *, n_boot: int = 1000, seed: int = 0, power: float = POWER, alpha: float = ALPHA,
              detect: float | None = None, shares: Sequence[float] = SHARES) -> TestPlan:
    """Plan the test set of a study's runs (one row per finished job, with ``doc_counts``,
    ``backend``, ``stratum``, the task's size column and ``f1``); raises
    :class:`AnalysisError` when the runs cannot say."""
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise AnalysisError(f"power {power} and level {alpha} must lie between 0 and 1",
                            hint="e.g. --power 0.8 --alpha 0.05")
    if detect is not None and not 0 < detect < 1:
        raise AnalysisError(f"the difference to detect ({detect}) must lie between 0 and 1",
                            hint="give it as a fraction of F1, e.g. --detect 0.02")
    if n_boot < 100:
        raise AnalysisError(f"{n_boot} bootstrap resamples are too few",
                            hint="use at least 100 (the default is 1000)")
    frame = frame.reset_index(drop=True)
    if frame.empty:
        raise AnalysisError("there are no finished runs to plan the test set from",
                            hint="wait for the study to finish some jobs (nercurve status DIR)")
    counts = job_counts(frame)
    scores = resampled_scores(counts, task, n_boot=n_boot, seed=seed)
    groups = _groups(frame, task)
    comparisons = _comparisons(frame, groups, scores, power, alpha, detect, counts[0].shape[0])
    if comparisons.empty:
        raise AnalysisError(
            "the runs hold no two sizes of one arm and no two arms at one size to compare",
            hint="a study needs at least two training sizes (strata) or two arms")
    mdd = float(comparisons["mdd"].median())
    n_docs = counts[0].shape[0]
    return TestPlan(
        n_docs=n_docs, jobs=len(frame), n_boot=n_boot, power=power, alpha=alpha, mdd=mdd,
        comparisons=comparisons, variance=_variance(frame, groups, scores),
        splits=_splits(corpus_stats, task, n_docs, mdd, float(frame[task.size].max()), shares),
        detect=detect, docs_for_detect=None if detect is None else docs_needed(n_docs, mdd,
                                                                             detect),
    )


def _groups(frame: pd.DataFrame, task: Task) -> dict[str, list[tuple[str, float, np.ndarray]]]:
    """Per backend (in order of appearance), its sizes: (stratum, mean size, run rows), by
    size."""
    stratum = (frame["stratum"].astype(str) if "stratum" in frame.columns
               else frame[task.size].map(lambda v: f"{v:g}"))
    out: dict[str, list[tuple[str, float, np.ndarray]]] = {}
    for backend in dict.fromkeys(frame["backend"]):
        mine = frame["backend"] == backend
        found = []
        for name in dict.fromkeys(stratum[mine]):
            rows = np.flatnonzero(mine & (stratum == name))
            found.append((name, float(frame[task.size].iloc[rows].mean()), rows))
        out[backend] = sorted(found, key=lambda g: g[1])
    return out


def _comparisons(frame: pd.DataFrame, groups: dict[str, list[tuple[str, float, np.ndarray]]],
                 scores: np.ndarray, power: float, alpha: float, detect: float | None,
                 n_docs: int) -> pd.DataFrame:
    f1 = frame["f1"].to_numpy(float)
    rows = []

    def compare(kind: str, a: tuple[str, str, float, np.ndarray],
                b: tuple[str, str, float, np.ndarray]) -> None:
        diff = float(f1[b[3]].mean() - f1[a[3]].mean())
        se = float(np.std(scores[b[3]].mean(axis=0) - scores[a[3]].mean(axis=0), ddof=1))
        mdd = detectable(se, power, alpha)
        rows.append({
            "kind": kind, "backend_a": a[0], "stratum_a": a[1], "size_a": a[2],
            "runs_a": len(a[3]), "backend_b": b[0], "stratum_b": b[1], "size_b": b[2],
            "runs_b": len(b[3]), "f1_a": float(f1[a[3]].mean()), "f1_b": float(f1[b[3]].mean()),
            "diff": diff, "se": se, "mdd": mdd, "power": power_to_detect(diff, se, alpha),
            "resolved": bool(abs(diff) >= mdd and (se > 0 or diff != 0)),
            "docs_needed": (docs_needed(n_docs, mdd, detect) if detect is not None and mdd > 0
                            else None),
        })

    for backend, sizes in groups.items():
        for (sa, na, ra), (sb, nb, rb) in itertools.pairwise(sizes):
            compare("sizes", (backend, sa, na, ra), (backend, sb, nb, rb))
    names = list(groups)
    for i, first in enumerate(names):
        for second in names[i + 1:]:
            theirs = {s: (n, r) for s, n, r in groups[second]}
            for stratum, size, rows_a in groups[first]:
                if stratum in theirs:
                    compare("arms", (first, stratum, size, rows_a),
                            (second, stratum, theirs[stratum][0], theirs[stratum][1]))
    return pd.DataFrame(rows, columns=[
        "kind", "backend_a", "stratum_a", "size_a", "runs_a", "backend_b", "stratum_b",
        "size_b", "runs_b", "f1_a", "f1_b", "diff", "se", "mdd", "power", "resolved",
        "docs_needed"])


def _variance(frame: pd.DataFrame, groups: dict[str, list[tuple[str, float, np.ndarray]]],
              scores: np.ndarray) -> pd.DataFrame:
    f1 = frame["f1"].to_numpy(float)
    rows = []
    for backend, sizes in groups.items():
        for stratum, size, idx in sizes:
            m = len(idx)
            if m < 2:
                continue
            mine = scores[idx]
            run_sd = float(np.std(f1[idx], ddof=1))
            boot_sd = float(np.sqrt(np.mean(np.var(mine, axis=1, ddof=1))))
            noise_var = float(np.var(mine - mine.mean(axis=0), axis=1, ddof=1).sum() / (m - 1))
            share = (min(1.0, noise_var / run_sd**2) if run_sd > 0
                     else (1.0 if noise_var > 0 else float("nan")))
            rows.append({"backend": backend, "stratum": stratum, "size": size, "runs": m,
                         "run_sd": run_sd, "boot_sd": boot_sd, "noise_sd": math.sqrt(noise_var),
                         "share": share})
    return pd.DataFrame(rows, columns=["backend", "stratum", "size", "runs", "run_sd",
                                       "boot_sd", "noise_sd", "share"])


def _splits(corpus_stats: Mapping[str, Any] | None, task: Task, n_docs: int, mdd: float,
            largest: float, shares: Sequence[float]) -> pd.DataFrame | None:
    """The hold-out shares side by side (the current one first), or None without the parts'
    document counts."""
    parts = {}
    for name in ("pool", "dev", "test"):
        part = (corpus_stats or {}).get(name)
        if not isinstance(part, dict) or not isinstance(part.get("documents"), int | float):
            return None
        parts[name] = part
    total = sum(float(p["documents"]) for p in parts.values())
    pool_docs = float(parts["pool"]["documents"])
    pool_units = float(parts["pool"].get(task.pool_key, pool_docs))
    per_doc = pool_units / pool_docs if pool_docs else 0.0
    test_now = float(parts["test"]["documents"])
    current = test_now / total
    rows = []
    for share in (current, *[s for s in shares if abs(s - current) > 0.005]):
        test_docs = round(share * total) if share != current else int(test_now)
        moved = test_docs - int(test_now)
        moved_units = moved * per_doc
        left = pool_units - moved_units
        rows.append({
            "test_share": share, "current": share == current, "test_docs": test_docs,
            "mdd": mdd * math.sqrt(n_docs / test_docs) if test_docs > 0 else float("inf"),
            "pool_docs_moved": moved, "pool_units_moved": moved_units,
            "pool_docs_left": pool_docs - moved, "pool_units_left": left,
            "largest_size": largest, "fits": bool(largest <= left and pool_docs - moved > 0),
        })
    return pd.DataFrame(rows)
