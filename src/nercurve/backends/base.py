"""The small protocols every backend implements: NER (:class:`Backend`) and text
classification (:class:`ClassifyBackend`).

A backend knows nothing of studies, stores or executors: it trains on documents
and returns a model that predicts spans (NER) or scores classes (classification). Each
backend declares a pydantic ``Params`` model; the runner validates a study's parameters
with it and hashes the validated, defaults-filled values into the job id. Optional class
attributes and methods: ``needs_training_data`` (False for a fixed baseline; or a function
of the validated params, e.g. False for a zero-shot arm of a backend that can also train),
``wants_gpu(params)`` (place runs on a GPU) and ``check(params)`` (called once before any
job starts; raises :class:`~nercurve.errors.BackendError` when the runs could not work,
e.g. a missing model). A model may also offer ``diagnostics()``: numbers about its most
recent ``predict`` call (e.g. unparseable answers of a generative model), stored with the
job's result. A backend whose models can say how unsure they are (uncertainty selection,
docs/selection.md) lists the measures they score in ``uncertainty_measures`` and its models
implement :class:`UncertainModel`; a study that selects by uncertainty with another backend
is refused before any job.

A study keeps trained models (``[run] keep``) only of a backend that can: its model offers
``save(path)`` (:class:`Keepable`: the model in the backend's own format in the folder
``path``, which the caller creates), and the backend ``load(path)``, the model back from such
a folder (:func:`can_keep` tells).

A classification backend trains on documents whose ``cats`` name their classes. Its
``train`` also receives the study's :class:`~nercurve.corpus.classes.ClassScheme` (its
classes, single- or multi-label): a small training subset may lack a class that the test
set holds. Classification backends select their model on the dev set's macro-F1
(:func:`dev_macro_f1`); the result's ``dev_f1`` is that score. NER backends that train
select on strict entity F1 (:func:`dev_strict_f1`). Both can also report the score's
bootstrap SE over the dev documents (:func:`bootstrap_f1_se`), which the noise stop rule
of :mod:`nercurve.backends.loop` reads.

A parameter added to a backend after studies were stored, optional and unset by default,
is left out of the validated values while unset (``Field(None, exclude_if=...)``), so
that the job ids of those studies stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from nercurve.corpus.model import Doc, Span

if TYPE_CHECKING:
    from nercurve.corpus.classes import ClassScheme


class BackendParams(BaseModel):
    """Base for backend parameter models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=BackendParams)

#: The history key under which a dev scorer reports its score's bootstrap SE.
SE_KEY = "dev_se"
#: Resamples and seed of that bootstrap (:func:`bootstrap_f1_se`).
SE_RESAMPLES = 200
SE_SEED = 0


def validated(cls: type[P], params: Any) -> P:
    """``params`` as a ``cls``: as they are when they are one, else validated from a mapping
    (``None``: the defaults)."""
    return params if isinstance(params, cls) else cls.model_validate(params or {})


class Model(Protocol):
    """A trained recognizer."""

    def predict(self, docs: Sequence[Doc]) -> list[tuple[Span, ...]]:
        """Predicted spans for each document, in order, as character offsets into its text."""
        ...


class ClassModel(Protocol):
    """A trained classifier."""

    def predict(self, docs: Sequence[Doc]) -> list[dict[str, float]]:
        """A score per class for each document, in order (decided by
        :meth:`ClassScheme.decide`: the best class, or each class scored at least 0.5)."""
        ...


class UncertainModel(Protocol):
    """A trained model that scores its own uncertainty (optional; see the module docstring)."""

    def uncertainty(self, docs: Sequence[Doc], measure: str) -> list[float]:
        """One number per document, in order: higher means the model is less sure of it
        (``measure``: one of its backend's ``uncertainty_measures``;
        :mod:`nercurve.backends.uncertainty` computes them)."""
        ...


class Keepable(Protocol):
    """A trained model that a study can keep: it saves itself in its backend's own format
    (a spaCy pipeline folder, a Hugging Face model folder with its tokenizer, ...)."""

    def save(self, path: Path) -> None:
        """Write the model into the existing, empty folder ``path``; the backend's
        ``load(path)`` reads it back."""
        ...


def can_keep(backend: object) -> bool:
    """Whether ``backend`` declares ``load(path)``, the counterpart of its models'
    ``save(path)`` (:class:`Keepable`), so that a study may keep its models."""
    return callable(getattr(backend, "load", None))


@dataclass
class TrainResult:
    """What a training run returns: the best model and how training went."""

    model: Model | ClassModel
    steps: int = 0
    best_step: int = 0
    dev_f1: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    #: Other numbers about training (e.g. ``train_tokens_per_s``; the schedule in force,
    #: ``eval_every_steps`` and ``patience_steps``), stored with the result.
    extra: dict[str, float] = field(default_factory=dict)
    #: Why training stopped (:data:`nercurve.backends.loop.StopReason`; ``None``: the
    #: backend does not say, or did not train).
    stop_reason: str | None = None


class Trainer(Protocol):
    """What every backend declares. Implementations are registered in ``nercurve.backends``
    (per task)."""

    name: ClassVar[str]
    Params: ClassVar[type[BackendParams]]


class Backend(Trainer, Protocol):
    """Trains a recognizer on documents (``task = "ner"``)."""

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any,
              seed: int) -> TrainResult:
        """Train on ``train`` (selecting on ``dev``) with validated ``params`` and ``seed``."""
        ...


class ClassifyBackend(Trainer, Protocol):
    """Trains a classifier on documents (``task = "classify"``)."""

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int,
              scheme: ClassScheme) -> TrainResult:
        """Train on ``train`` (selecting on ``dev``) for the classes of ``scheme``."""
        ...


def require_training(train: Sequence[Doc], backend: str) -> None:
    """Raise :class:`~nercurve.errors.BackendError` when there are no training documents for
    a ``backend`` that learns from them."""
    if not train:
        from nercurve.errors import BackendError

        raise BackendError(f"the {backend} backend needs at least one training document")


def dev_macro_f1(scheme: ClassScheme, dev: Sequence[Doc], scores: Sequence[dict[str, float]],
                 *, se: bool = False) -> tuple[float, dict[str, float]]:
    """The dev set's macro-F1 for a model's class scores, and the numbers for a history (with
    ``se``, also the macro-F1's bootstrap SE over the documents under
    :data:`SE_KEY`)."""
    from nercurve.corpus.classes import doc_classes
    from nercurve.tasks.classify_scores import score_classes

    gold = [doc_classes(d) for d in dev]
    predicted = [scheme.decide(s) for s in scores]
    scored = score_classes(gold, predicted, multi_label=scheme.multi_label)
    numbers = {"dev_macro_f1": scored.macro.f1, "dev_accuracy": scored.accuracy}
    if se:
        column = {c: k for k, c in enumerate(sorted({c for g in gold for c in g}
                                                    | {c for p in predicted for c in p}))}
        counts = []
        for g, p in zip(gold, predicted, strict=True):
            row = [[0, 0, 0] for _ in column]
            for c in set(g) & set(p):
                row[column[c]][0] += 1
            for c in set(p) - set(g):
                row[column[c]][1] += 1
            for c in set(g) - set(p):
                row[column[c]][2] += 1
            counts.append(row)
        numbers[SE_KEY] = bootstrap_f1_se(counts)
    return scored.macro.f1, numbers


def dev_strict_f1(gold: Sequence[Sequence[Span]], predicted: Sequence[Sequence[Span]], *,
                  se: bool = False, labels: frozenset[str] | None = None
                  ) -> tuple[float, dict[str, float]]:
    """The dev set's strict entity F1 (:func:`~nercurve.tasks.ner_scores.strict_prf`) and the
    numbers for a history (with ``se``, also its bootstrap SE over the documents under
    :data:`SE_KEY`). ``labels``: the dev corpus's own labels in a multi-corpus study
    (:func:`~nercurve.tasks.ner_scores.corpus_labels`): a multi-task model's spans of the
    other corpora's labels are dropped, as on the test sets; None: every span counts."""
    from nercurve.tasks.ner_scores import only_labels, strict_prf

    if labels is not None:
        predicted = only_labels(predicted, labels)
    prf = strict_prf(gold, predicted)
    numbers = {"dev_precision": prf.precision, "dev_recall": prf.recall, "dev_f1": prf.f1}
    if se:
        docs = [strict_prf([g], [p]) for g, p in zip(gold, predicted, strict=True)]
        numbers[SE_KEY] = bootstrap_f1_se([[(d.tp, d.fp, d.fn)] for d in docs])
    return prf.f1, numbers


def bootstrap_f1_se(counts: Sequence[Sequence[Sequence[int]]], *,
                    resamples: int = SE_RESAMPLES, seed: int = SE_SEED) -> float:
    """The bootstrap SE, over documents, of an F1: ``counts[d][c]`` holds document ``d``'s
    ``(tp, fp, fn)`` for class ``c``; the F1 of a resample is the mean, over the classes
    that occur in it (``tp + fp + fn > 0``), of ``2·tp / (2·tp + fp + fn)`` (0 when none
    does). One class of pooled counts is strict micro F1 (NER); a class each, macro-F1
    (classification). ``resamples`` resamples of the documents, drawn with ``seed``."""
    import numpy as np

    table = np.asarray(counts, dtype=float)
    n = len(table)
    if n < 2 or table.size == 0:
        return 0.0
    weights = np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=resamples)
    summed = (weights @ table.reshape(n, -1)).reshape(resamples, -1, 3)
    tp, fp, fn = summed[..., 0], summed[..., 1], summed[..., 2]
    den = 2 * tp + fp + fn
    occurs = den > 0
    f1 = np.divide(2 * tp, den, out=np.zeros_like(den), where=occurs)
    classes = occurs.sum(axis=1)
    scores = np.divide(f1.sum(axis=1), classes, out=np.zeros(resamples), where=classes > 0)
    return float(scores.std(ddof=1))
