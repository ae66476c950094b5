"""The one shape of a hand-written training loop, and the rule that turns epochs into steps.

A backend that trains by hand (spaCy NER, the torch loop of the ``hf`` and ``llm``
backends) writes its training as a generator of :class:`Progress` records, as spaCy's
``train_while_improving`` does: it updates the model and, when it has news (every step, or
every evaluation), yields the step, the dev score when it scored the dev set there, and the
row for the history. :func:`follow` drives such a generator: it keeps the history, tracks
the best dev score, calls ``keep`` when a step's model is worth keeping, and stops the
generator after ``patience`` steps without a better score or at ``max_steps``.

The tie rule is the backend's: ``ties = "first"`` keeps the first of equal best scores,
``"latest"`` (spaCy's rule) the latest; either way patience counts from the step that first
reached the best score.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Literal


@dataclass(frozen=True)
class Progress:
    """What a training generator reports about one step."""

    step: int
    #: The selection score (higher is better) when the dev set was scored at this step.
    score: float | None = None
    #: The history row of this step (``None``: nothing to record).
    row: dict[str, float] | None = None
    #: Training tokens so far and the seconds spent on them (dev scoring excluded), for
    #: loops that count them.
    tokens: int = 0
    seconds: float = 0.0


@dataclass
class Followed:
    """How a followed training run went."""

    #: The last step the generator reported (``None``: it reported none).
    last: Progress | None
    #: The step whose model ``keep`` saved last (``None``: no dev score was reported).
    kept_step: int | None
    #: The best dev score (``None``: no dev score was reported).
    best_score: float | None
    history: list[dict[str, float]] = field(default_factory=list)


def follow(
    progress: Generator[Progress, None, None],
    *,
    patience: int,
    max_steps: int,
    keep: Callable[[], None],
    ties: Literal["first", "latest"] = "first",
) -> Followed:
    """Run a training generator until ``patience`` steps pass without a better dev score or
    ``max_steps`` is reached (0 disables either), calling ``keep`` whenever the model of the
    step just reported is the one to keep."""
    history: list[dict[str, float]] = []
    best: float | None = None
    best_step: int | None = None
    kept_step: int | None = None
    last: Progress | None = None
    try:
        for record in progress:
            last = record
            if record.row is not None:
                history.append(record.row)
            if record.score is not None:
                better = best is None or record.score > best
                if better or (ties == "latest" and record.score == best):
                    keep()
                    kept_step = record.step
                if better:
                    best, best_step = record.score, record.step
            if best_step is not None and patience and record.step - best_step >= patience:
                break
            if max_steps and record.step >= max_steps:
                break
    finally:
        progress.close()
    return Followed(last, kept_step, best, history)


def epoch_steps(examples: int, epochs: float | None, *, batch_size: int, grad_accum: int,
                max_steps: int, min_steps: int = 0) -> int:
    """Optimizer steps for ``epochs`` passes over ``examples`` in batches of ``batch_size``
    (``grad_accum`` batches a step): at least ``min_steps`` and 1, at most ``max_steps``
    (``epochs = None``: ``max_steps``)."""
    if epochs is None:
        return max_steps
    per_epoch = examples / (batch_size * grad_accum)
    return max(1, min(max_steps, max(min_steps, math.ceil(epochs * per_epoch))))
