"""A test score's per-document counts and the cluster bootstrap over test documents.

A task scores a test set from counts that add up over documents (NER: strict entity ``tp``,
``fp``, ``fn``; classification: per class ``tp``, ``fp``, ``fn`` and an exact-match flag).
It keeps those counts per document, in test order (:attr:`nercurve.tasks.Scores.doc_counts`),
and computes its outcome from their column sums (:meth:`nercurve.tasks.Task.outcome_of_counts`).
A resample of the test set is then a row of document weights (how often each document is
drawn, summing to the number of documents): the counts of a resample are ``weights @ counts``,
so a thousand resamples of one job, or of every job of a study at once (paired: the same
weights for each), cost one matrix product and no prediction.

The per-job interval (:func:`outcome_ci`) is the percentile interval of 1,000 resamples
(:data:`N_BOOT`) with a seed derived from the job (:func:`seed_of`), widened where needed so
that it holds the job's own score: with very few documents a skewed bootstrap distribution
can leave the point estimate outside its percentile interval, and a stored CI never does.
Degenerate test sets (one document, no predictions, a perfect score) give an interval of
zero width at the score.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

import numpy as np

#: Resamples of the per-job test-set interval.
N_BOOT = 1000
#: Its confidence level.
LEVEL = 0.95

Outcome = Callable[[np.ndarray], np.ndarray]
"""A task's outcome of summed counts: (resamples × columns) -> (resamples,)."""


def seed_of(key: str) -> int:
    """A reproducible bootstrap seed from a text (a job id)."""
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big")


def resample_weights(n_docs: int, n_boot: int, seed: int | Sequence[int]) -> np.ndarray:
    """``n_boot`` bootstrap resamples of ``n_docs`` documents as weights (n_boot × n_docs):
    how many times each document is drawn (each row sums to ``n_docs``)."""
    drawn = np.random.default_rng(seed).integers(0, n_docs, size=(n_boot, n_docs))
    drawn += np.arange(n_boot)[:, None] * n_docs  # one bin per (resample, document)
    return np.bincount(drawn.ravel(), minlength=n_boot * n_docs).reshape(n_boot, n_docs
                                                                         ).astype(float)


def as_counts(doc_counts: Sequence[Sequence[float]] | np.ndarray) -> np.ndarray:
    """Per-document counts as a float matrix (documents × columns)."""
    counts = np.asarray(doc_counts, dtype=float)
    if counts.ndim == 2:
        return counts
    return counts.reshape(len(counts), -1 if counts.size else 0)


def resampled_outcomes(counts: np.ndarray, outcome: Outcome, weights: np.ndarray) -> np.ndarray:
    """The outcome of each resample (one per row of ``weights``)."""
    return outcome(weights @ counts)


def outcome_ci(doc_counts: Sequence[Sequence[float]], outcome: Outcome, score: float, *,
               seed: int, n_boot: int = N_BOOT, level: float = LEVEL) -> tuple[float, float]:
    """The percentile bootstrap interval of a test score over its documents, widened to hold
    ``score`` (the job's stored score). No documents: the interval is the score itself."""
    counts = as_counts(doc_counts)
    if counts.shape[0] == 0:
        return (score, score)
    boot = resampled_outcomes(counts, outcome, resample_weights(counts.shape[0], n_boot, seed))
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(boot, [tail, 1.0 - tail])
    return (min(float(low), score), max(float(high), score))


def f1_of(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    """``2·tp / (2·tp + fp + fn)`` elementwise, 0 where the denominator is 0 (as seqeval and
    scikit-learn with ``zero_division=0``)."""
    den = 2.0 * tp + fp + fn
    return np.divide(2.0 * tp, den, out=np.zeros(np.broadcast(tp, den).shape), where=den > 0)
