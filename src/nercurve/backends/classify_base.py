"""The protocol every text-classification backend implements, and what they share.

A classification backend trains on documents whose ``cats`` name their classes and returns
a model that scores every class of each document; like an NER backend
(:mod:`nercurve.backends.base`) it knows nothing of studies, declares a pydantic ``Params``
model and may offer ``needs_training_data``, ``wants_gpu(params)`` and ``check(params)``.
``train`` also receives the study's :class:`~nercurve.corpus.classes.ClassScheme` (its
classes, single- or multi-label): a small training subset may lack a class that the test set
holds. Backends select their model on the dev set's macro-F1 (:func:`dev_macro_f1`); the
result's ``dev_f1`` is that score.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Protocol

from nercurve.backends.base import BackendParams, TrainResult
from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.model import Doc


class ClassModel(Protocol):
    """A trained classifier."""

    def predict(self, docs: Sequence[Doc]) -> list[dict[str, float]]:
        """A score per class for each document, in order (decided by
        :meth:`ClassScheme.decide`: the best class, or each class scored at least 0.5)."""
        ...


class ClassifyBackend(Protocol):
    """Trains a classifier on documents. Registered in ``nercurve.backends`` for
    ``task = "classify"``."""

    name: ClassVar[str]
    Params: ClassVar[type[BackendParams]]

    def train(
        self,
        train: Sequence[Doc],
        dev: Sequence[Doc],
        params: Any,
        seed: int,
        scheme: ClassScheme,
    ) -> TrainResult:
        """Train on ``train`` (selecting on ``dev``) for the classes of ``scheme``."""
        ...


def dev_macro_f1(scheme: ClassScheme, dev: Sequence[Doc],
                 scores: Sequence[dict[str, float]]) -> tuple[float, dict[str, float]]:
    """The dev set's macro-F1 for a model's class scores, and the numbers for a history."""
    from nercurve.tasks.classify_scores import score_classes

    scored = score_classes([doc_classes(d) for d in dev], [scheme.decide(s) for s in scores],
                           multi_label=scheme.multi_label)
    return scored.macro.f1, {"dev_macro_f1": scored.macro.f1, "dev_accuracy": scored.accuracy}
