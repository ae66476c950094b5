"""Scoring document classes: accuracy, macro- and micro-averaged P/R/F1, per class, and a
confusion matrix; for multi-label data also sample-averaged F1.

scikit-learn computes every figure, on the documents matched by id:

- **Single-label.** ``accuracy`` is the share of documents whose predicted class is the gold
  class. Per class, precision, recall and F1 treat that class as the positive one. *Macro*
  scores are the unweighted means over the classes that occur in the gold or the predicted
  labels (as ``classification_report`` does); *micro* scores pool the counts, so micro-F1
  equals accuracy when every document has a prediction. ``confusion[gold][pred]`` counts
  documents.
- **Multi-label.** Each class is a yes/no decision per document. ``accuracy`` is the share of
  documents whose predicted set of classes is exactly the gold set (subset accuracy); macro
  and micro average the per-class scores or pool their counts; ``samples_f1`` averages each
  document's own F1 over its classes. ``confusion[label]`` holds that class's ``tp``, ``fp``,
  ``fn`` and ``tn``.

A document without a predicted class (absent with ``allow_missing``, or given none) counts as a
miss of its gold classes. Zero division gives 0 (``zero_division=0``).

The study outcome (:meth:`ClassScores.outcome`) is one of :data:`METRICS`.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.model import Doc
from nercurve.errors import InputError

METRICS = ("macro_f1", "micro_f1", "accuracy")
"""The outcomes a classification study can analyse (``macro_f1`` by default)."""

_NONE = "\x00no class"  # a document with no predicted class: a miss, never a class of its own
_SHOWN_IDS = 5


@dataclass(frozen=True)
class ClassPRF:
    """Precision, recall and F1 of one class (or an average), and its gold support."""

    precision: float
    recall: float
    f1: float
    support: int

    def to_dict(self) -> dict[str, float | int]:
        """Plain-data form for JSON."""
        return {"precision": self.precision, "recall": self.recall, "f1": self.f1,
                "support": self.support}


@dataclass(frozen=True)
class ClassScores:
    """The result of :func:`score_classes` (see the module docstring for every definition)."""

    documents: int
    labels: tuple[str, ...]
    multi_label: bool
    accuracy: float
    macro: ClassPRF
    micro: ClassPRF
    per_class: dict[str, ClassPRF]
    confusion: dict[str, dict[str, int]]
    samples_f1: float | None = None
    missing_in_pred: tuple[str, ...] = ()
    missing_in_gold: tuple[str, ...] = ()

    def outcome(self, metric: str) -> float:
        """The study outcome named by ``metric`` (one of :data:`METRICS`)."""
        if metric not in METRICS:
            raise InputError(f"unknown classification metric {metric!r}",
                             hint=f"choose one of: {', '.join(METRICS)}")
        return {"macro_f1": self.macro.f1, "micro_f1": self.micro.f1,
                "accuracy": self.accuracy}[metric]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        return {
            "documents": self.documents,
            "labels": list(self.labels),
            "multi_label": self.multi_label,
            "accuracy": self.accuracy,
            "macro": self.macro.to_dict(),
            "micro": self.micro.to_dict(),
            "samples_f1": self.samples_f1,
            "per_class": {k: v.to_dict() for k, v in self.per_class.items()},
            "confusion": {k: dict(v) for k, v in self.confusion.items()},
            "missing_in_pred": list(self.missing_in_pred),
            "missing_in_gold": list(self.missing_in_gold),
        }


def score_classes(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *, multi_label: bool
) -> ClassScores:
    """Score predicted classes against gold classes, one sequence of classes per document.

    Single-label: each gold entry holds one class, each predicted entry one or none.
    """
    if len(gold) != len(pred):
        raise InputError(f"{len(gold)} gold documents but {len(pred)} predicted ones",
                         hint="pass one class list per document on both sides, in order")
    if not gold:
        raise InputError("there are no documents to score", hint="score at least one document")
    if multi_label:
        return _multi_label(gold, pred)
    return _single_label(gold, pred)


def class_doc_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                     labels: Sequence[str]) -> list[list[int]]:
    """Per document, for each of ``labels`` in order its ``tp``, ``fp`` and ``fn`` (the class
    in both, in the prediction only, in the gold only), then 1 when the predicted set of
    classes is exactly the gold set, then 1 (the document): the counts accuracy and macro- and
    micro-F1 add up from (:func:`class_outcome`). Single- and multi-label alike (a
    single-label document without a prediction misses its gold class)."""
    out = []
    for g, q in zip(gold, pred, strict=True):
        gs, qs = set(g), set(q)
        row = []
        for label in labels:
            row += [int(label in gs and label in qs), int(label in qs and label not in gs),
                    int(label in gs and label not in qs)]
        out.append([*row, int(gs == qs), 1])
    return out


def class_outcome(summed: Any, metric: str) -> Any:
    """The ``metric`` (one of :data:`METRICS`) of :func:`class_doc_counts` summed over a test
    set or each resample of it (an array: resamples × columns), as :func:`score_classes`
    computes it: macro-F1 averages the classes that occur in the gold or the predictions of
    that resample; accuracy is the exact matches over the documents."""
    import numpy as np

    from nercurve.tasks.doc_scores import f1_of

    if metric not in METRICS:
        raise InputError(f"unknown classification metric {metric!r}",
                         hint=f"choose one of: {', '.join(METRICS)}")
    if metric == "accuracy":
        docs = summed[:, -1]
        return np.divide(summed[:, -2], docs, out=np.zeros(len(summed)), where=docs > 0)
    per_class = summed[:, :-2].reshape(len(summed), -1, 3)
    tp, fp, fn = per_class[..., 0], per_class[..., 1], per_class[..., 2]
    if metric == "micro_f1":
        return f1_of(tp.sum(axis=1), fp.sum(axis=1), fn.sum(axis=1))
    present = (tp + fp + fn) > 0
    n = present.sum(axis=1)
    f1 = np.where(present, f1_of(tp, fp, fn), 0.0).sum(axis=1)
    return np.divide(f1, n, out=np.zeros(len(summed)), where=n > 0)


def _single_label(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> ClassScores:
    from sklearn.metrics import accuracy_score, confusion_matrix, precision_recall_fscore_support

    bad = [i for i, g in enumerate(gold) if len(g) != 1]
    if bad:
        raise InputError(f"gold document {bad[0]} carries {len(gold[bad[0]])} classes, not one",
                         hint="score multi-label data with multi_label=True")
    y_true = [g[0] for g in gold]
    y_pred = [p[0] if p else _NONE for p in pred]
    labels = sorted({*y_true, *y_pred} - {_NONE})
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    averages = {
        how: precision_recall_fscore_support(y_true, y_pred, labels=labels, average=how,
                                             zero_division=0)[:3]
        for how in ("macro", "micro")
    }
    with warnings.catch_warnings():  # one class only: the labels given keep the shape right
        warnings.filterwarnings("ignore", message="A single label was found")
        matrix = confusion_matrix(y_true, y_pred, labels=labels)
    support = len(y_true)
    return ClassScores(
        documents=support,
        labels=tuple(labels),
        multi_label=False,
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro=ClassPRF(*map(float, averages["macro"]), support),
        micro=ClassPRF(*map(float, averages["micro"]), support),
        per_class={lab: ClassPRF(float(p[j]), float(r[j]), float(f[j]), int(s[j]))
                   for j, lab in enumerate(labels)},
        confusion={g: {q: int(matrix[i, j]) for j, q in enumerate(labels)}
                   for i, g in enumerate(labels)},
    )


def _multi_label(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> ClassScores:
    from sklearn.metrics import (
        accuracy_score,
        multilabel_confusion_matrix,
        precision_recall_fscore_support,
    )
    from sklearn.preprocessing import MultiLabelBinarizer

    labels = sorted({c for g in gold for c in g} | {c for q in pred for c in q})
    binarizer = MultiLabelBinarizer(classes=labels)
    y_true = binarizer.fit_transform(gold)
    y_pred = binarizer.transform(pred)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
    averages = {
        how: precision_recall_fscore_support(y_true, y_pred, average=how, zero_division=0)[:3]
        for how in ("macro", "micro", "samples")
    }
    matrices = multilabel_confusion_matrix(y_true, y_pred)
    support = int(y_true.sum())
    return ClassScores(
        documents=len(gold),
        labels=tuple(labels),
        multi_label=True,
        accuracy=float(accuracy_score(y_true, y_pred)),
        macro=ClassPRF(*map(float, averages["macro"]), support),
        micro=ClassPRF(*map(float, averages["micro"]), support),
        per_class={lab: ClassPRF(float(p[j]), float(r[j]), float(f[j]), int(s[j]))
                   for j, lab in enumerate(labels)},
        confusion={lab: {"tp": int(m[1, 1]), "fp": int(m[0, 1]), "fn": int(m[1, 0]),
                         "tn": int(m[0, 0])} for lab, m in zip(labels, matrices, strict=True)},
        samples_f1=float(averages["samples"][2]),
    )


def evaluate_classes(
    gold: Iterable[Doc],
    pred: Iterable[Doc],
    scheme: ClassScheme,
    *,
    allow_missing: bool = False,
    names: tuple[str, str] = ("GOLD", "PRED"),
) -> ClassScores:
    """Score the classes of predicted documents against gold documents, matched by id.

    A predicted document's classes are its ``cats`` decided by ``scheme`` (the best-scoring
    class, or every class scored at least 0.5). A document id on one side only is an
    :class:`InputError` unless ``allow_missing``: a document missing from ``pred`` is then a
    miss, and one missing from ``gold`` is left out (it has no gold class to score against);
    both are recorded. ``names`` are what errors call the two sides.
    """
    gold_name, pred_name = names
    gold_by_id = _index(gold, gold_name)
    pred_by_id = _index(pred, pred_name)
    missing_in_pred = tuple(i for i in gold_by_id if i not in pred_by_id)
    missing_in_gold = tuple(i for i in pred_by_id if i not in gold_by_id)
    if not allow_missing and (missing_in_pred or missing_in_gold):
        parts = [f"{len(ids)} missing from {side} ({_show(ids)})"
                 for side, ids in ((pred_name, missing_in_pred), (gold_name, missing_in_gold))
                 if ids]
        raise InputError(
            "gold and predicted documents differ: " + "; ".join(parts),
            hint="score the same documents on both sides, or pass --allow-missing to count a "
            "document missing from the predictions as a miss",
        )
    gold_classes = [doc_classes(d) for d in gold_by_id.values()]
    pred_classes = [
        scheme.decide(pred_by_id[i].cats) if i in pred_by_id else () for i in gold_by_id
    ]
    scores = score_classes(gold_classes, pred_classes, multi_label=scheme.multi_label)
    return replace(scores, missing_in_pred=missing_in_pred, missing_in_gold=missing_in_gold)


def _index(docs: Iterable[Doc], side: str) -> dict[str, Doc]:
    out: dict[str, Doc] = {}
    for d in docs:
        if d.id in out:
            raise InputError(f"{side} holds document id {d.id!r} more than once",
                             hint="give every document a unique id before scoring")
        out[d.id] = d
    return out


def _show(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN_IDS])
    return shown + (f", … {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else "")
