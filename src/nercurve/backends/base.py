"""The small protocol every backend implements.

A backend knows nothing of studies, stores or executors: it trains on documents
and returns a model that predicts spans. Each backend declares a pydantic
``Params`` model; the runner validates a study's parameters with it and hashes
the validated, defaults-filled values into the job id. Optional class attributes
and methods: ``needs_training_data`` (False for a fixed baseline; or a function of the validated
params, e.g. False for a zero-shot arm of a backend that can also train), ``wants_gpu(params)``
(place runs on a GPU) and ``check(params)`` (called once before any job starts; raises
:class:`~nercurve.errors.BackendError` when the runs could not work, e.g. a missing model).
A model may also offer ``diagnostics()``: numbers about its most recent ``predict`` call
(e.g. unparseable answers of a generative model), stored with the job's result.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from nercurve.corpus.model import Doc, Span


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


@dataclass
class TrainResult:
    """What a training run returns: the best model and how training went."""

    model: Model
    steps: int = 0
    best_step: int = 0
    dev_f1: float | None = None
    history: list[dict[str, float]] = field(default_factory=list)
    #: Other numbers about training (e.g. ``train_tokens_per_s``), stored with the result.
    extra: dict[str, float] = field(default_factory=dict)


class Backend(Protocol):
    """Trains a model on documents. Implementations are registered in ``nercurve.backends``."""

    name: ClassVar[str]
    Params: ClassVar[type[BackendParams]]

    def train(
        self,
        train: Sequence[Doc],
        dev: Sequence[Doc],
        params: Any,
        seed: int,
    ) -> TrainResult:
        """Train on ``train`` (selecting on ``dev``) with validated ``params`` and ``seed``."""
        ...
