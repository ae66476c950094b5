"""How unsure a model is of a document: the measures of uncertainty selection, one number per
document, higher = more uncertain (see docs/selection.md).

NER (from a model's own probabilities): ``least_confidence`` is 1 − the probability of the
predicted sequence (:func:`least_confidence`), ``entropy`` the mean over tokens of the
entropy of each token's label distribution (:func:`mean_token_entropy`). Classification
(from class probabilities): ``margin`` is 1 − (best − second best) and ``entropy`` the
entropy of the class distribution; both are small-text's query scores
(``BreakingTies``, ``PredictionEntropy``). Entropies are in nats.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np


def least_confidence(best: float) -> float:
    """1 − the probability of the predicted (most probable) sequence."""
    return 1.0 - float(best)


def mean_token_entropy(marginals: np.ndarray) -> float:
    """The mean over tokens (rows) of the entropy of each token's label distribution (0 for
    a document without tokens)."""
    p = np.asarray(marginals, dtype=float)
    if p.size == 0:
        return 0.0
    logs = np.log(p, out=np.zeros_like(p), where=p > 0)
    return float(np.mean(-(p * logs).sum(axis=1)))


class _Probabilities:
    """A stand-in classifier whose ``predict_proba`` gives fixed class probabilities: the
    shape small-text's query strategies score."""

    def __init__(self, proba: np.ndarray) -> None:
        self.proba = proba

    def predict_proba(self, _dataset: Any) -> np.ndarray:
        return self.proba


def class_uncertainty(proba: Sequence[Sequence[float]], measure: str) -> list[float]:
    """Per row of class probabilities: ``"margin"`` (1 − best + second best; one class:
    0) or ``"entropy"``, scored by small-text's ``BreakingTies`` and ``PredictionEntropy``."""
    from small_text.query_strategies import BreakingTies, PredictionEntropy

    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or len(p) == 0:
        return []
    clf = _Probabilities(p)
    if measure == "margin":
        if p.shape[1] < 2:
            return [0.0] * len(p)
        margins = BreakingTies().get_confidence(clf, None, None, None, None)
        return [1.0 - float(m) for m in margins]
    if measure == "entropy":
        return [float(e) for e in PredictionEntropy().get_confidence(clf, None, None, None, None)]
    raise ValueError(f"unknown classification uncertainty measure {measure!r}")

def scores_uncertainty(scores: Sequence[Mapping[str, float]], measure: str) -> list[float]:
    """:func:`class_uncertainty` of a classifier's class scores per document (each row
    renormalised to sum to 1, which multi-label scores need)."""
    if not scores:
        return []
    labels = sorted(scores[0])
    p = np.array([[float(s.get(c, 0.0)) for c in labels] for s in scores])
    totals = p.sum(axis=1, keepdims=True)
    p = np.divide(p, totals, out=np.full_like(p, 1.0 / p.shape[1]), where=totals > 0)
    return class_uncertainty(p, measure)


def spans_marginals(parses: Sequence[tuple[float, Sequence[tuple[int, int, str]]]],
                    n_tokens: int, labels: Sequence[str]) -> np.ndarray:
    """Token label distributions from whole-sequence parses (probability, entities as token
    ``(start, end, label)``): row t, column 0 is the probability that token t is outside any
    entity, column 1 + j that it is inside one labelled ``labels[j]``."""
    column = {label: j + 1 for j, label in enumerate(labels)}
    out = np.zeros((n_tokens, len(labels) + 1))
    total = sum(p for p, _ in parses) or 1.0
    for prob, ents in parses:
        tags = np.zeros(n_tokens, dtype=int)
        for start, end, label in ents:
            tags[start:end] = column[label]
        out[np.arange(n_tokens), tags] += prob / total
    return out
