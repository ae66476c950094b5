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
job's result.

A classification backend trains on documents whose ``cats`` name their classes. Its
``train`` also receives the study's :class:`~nercurve.corpus.classes.ClassScheme` (its
classes, single- or multi-label): a small training subset may lack a class that the test
set holds. Classification backends select their model on the dev set's macro-F1
(:func:`dev_macro_f1`); the result's ``dev_f1`` is that score.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from nercurve.corpus.model import Doc, Span

if TYPE_CHECKING:
    from nercurve.corpus.classes import ClassScheme


class BackendParams(BaseModel):
    """Base for backend parameter models: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=BackendParams)


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


@dataclass
class TrainResult:
    """What a training run returns: the best model and how training went."""

    model: Model | ClassModel
    steps: int = 0
    best_step: int = 0
    dev_f1: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    #: Other numbers about training (e.g. ``train_tokens_per_s``), stored with the result.
    extra: dict[str, float] = field(default_factory=dict)


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


def dev_macro_f1(scheme: ClassScheme, dev: Sequence[Doc],
                 scores: Sequence[dict[str, float]]) -> tuple[float, dict[str, float]]:
    """The dev set's macro-F1 for a model's class scores, and the numbers for a history."""
    from nercurve.corpus.classes import doc_classes
    from nercurve.tasks.classify_scores import score_classes

    scored = score_classes([doc_classes(d) for d in dev], [scheme.decide(s) for s in scores],
                           multi_label=scheme.multi_label)
    return scored.macro.f1, {"dev_macro_f1": scored.macro.f1, "dev_accuracy": scored.accuracy}
