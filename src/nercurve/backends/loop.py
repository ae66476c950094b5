"""The one stop rule of training loops, and the rules that turn epochs into steps.

A training run reports :class:`Progress` records: the step, the dev score when it scored the
dev set there (and that score's bootstrap SE when the noise rule needs it:
:func:`nercurve.backends.base.dev_strict_f1`, :func:`~nercurve.backends.base.dev_macro_f1`),
and the row for the history. A :class:`Follower` takes them one at a time: it keeps the
history, tracks the best dev score, calls ``keep`` when a step's model is worth keeping, and
says when to stop (after ``patience`` steps without progress or at ``max_steps``) and why
(:data:`StopReason`). The spaCy backends (NER and textcat, :mod:`nercurve.backends.spacy.run`)
write their training as a generator of such records, as
spaCy's ``train_while_improving`` does, and :func:`follow` drives it; the ``hf`` and ``llm``
backends train through the transformers ``Trainer``, whose callback hands the records to a
:class:`Follower` (:mod:`nercurve.backends.hf.train`).

The tie rule is the backend's: ``ties = "first"`` keeps the first of equal best scores,
``"latest"`` (spaCy's rule) the latest; either way patience counts from the step that first
reached the best score.

**Schedules that scale with the data.** :class:`ScheduleParams` are the optional parameters
every such backend shares; :func:`cadence` turns them, once per run, into the
:class:`Cadence` the loop follows (evaluation every so many steps, patience in steps, the stop
rule, denser evaluation early). Unset, they leave the backend's step settings exactly as they
are. :func:`epochs_to_steps` is the one rule that turns passes over the training subset into
steps (also for the ``epochs`` of the ``hf`` and ``llm`` backends, :func:`epoch_steps`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from nercurve.backends.base import BackendParams

StopReason = Literal["patience", "noise", "max_steps", "data"]
"""Why a run stopped (:class:`Follower`): ``patience`` steps without a better dev score; the same
without progress beyond the dev score's noise (``noise``); ``max_steps`` reached; or the
generator ran out (``data``: e.g. spaCy's ``max_epochs``)."""


def _unset(value: Any) -> bool:
    return value is None


class ScheduleParams(BackendParams):
    """The schedule parameters every backend that follows the stop rule shares (spaCy NER and
    textcat, ``hf``, ``llm``). All are optional; unset, the backend's step settings hold as
    they are, and an unset parameter is left out of the stored parameters (job ids do not
    change).

    ``eval_every_epochs`` and ``patience_epochs`` count passes over the training subset and
    become steps once per run (:func:`cadence`): the evaluation interval is at least
    ``min_eval_steps`` (unset: 1) and at most the backend's step setting (``eval_frequency``
    / ``eval_every``); patience is at least one evaluation interval and at most the
    backend's ``patience`` in steps (0: no ceiling), and at least ``min_patience_steps``
    where set. ``stop = "noise"`` counts only progress beyond the dev score's bootstrap SE
    (see :class:`Follower`). ``eval_schedule =
    "dense-early"`` also evaluates at ``min_eval_steps`` (unset: 1) and its doubles below the
    evaluation interval, where small subsets peak.
    """

    eval_every_epochs: float | None = Field(None, gt=0, exclude_if=_unset)
    """Evaluate every this many passes over the training subset (see the class doc)."""
    patience_epochs: float | None = Field(None, gt=0, exclude_if=_unset)
    """Stop after this many passes without progress (see the class doc)."""
    min_eval_steps: int | None = Field(None, ge=1, exclude_if=_unset)
    """The fewest steps between evaluations that ``eval_every_epochs`` may give, and the
    first evaluation of ``eval_schedule = "dense-early"`` (unset: 1)."""
    min_patience_steps: int | None = Field(None, ge=1, exclude_if=_unset)
    """The fewest steps of patience that ``patience_epochs`` may give (unset: one evaluation
    interval): a model needs some optimizer steps to learn anything, however small its
    subset, and a run must not stop while its dev score is still at zero."""
    eval_schedule: Literal["regular", "dense-early"] | None = Field(None, exclude_if=_unset)
    """``dense-early``: also evaluate at ``min_eval_steps``, twice that, ... below the
    evaluation interval (unset: ``regular``)."""
    stop: Literal["patience", "noise"] | None = Field(None, exclude_if=_unset)
    """``noise``: patience counts from the last dev score that beat the previous such score by
    more than that score's bootstrap SE (unset: ``patience``, from the best score)."""


@dataclass(frozen=True)
class Cadence:
    """When a run scores the dev set and how long it waits for progress, in steps."""

    #: Steps between evaluations.
    eval_every: int
    #: Steps without progress before the run stops (0: it never stops for that).
    patience: int
    #: Progress must beat the dev score's bootstrap SE (``stop = "noise"``).
    noise: bool = False
    #: ``dense-early``: the first extra evaluation step (doubling below ``eval_every``).
    dense_from: int | None = None

    def due(self, step: int) -> bool:
        """Whether the dev set is scored after ``step``: every ``eval_every`` steps (step 0
        included, where a loop counts from 0) and, early, at ``dense_from`` and its
        doubles."""
        if step % self.eval_every == 0:
            return True
        if self.dense_from is None or step >= self.eval_every:
            return False
        at = self.dense_from
        while at < step:
            at *= 2
        return at == step

    def numbers(self) -> dict[str, float]:
        """The schedule in force, for the job's stored numbers: ``eval_every_steps``,
        ``patience_steps`` and, with ``dense-early``, ``first_eval_step``."""
        out = {"eval_every_steps": float(self.eval_every),
               "patience_steps": float(self.patience)}
        if self.dense_from is not None:
            out["first_eval_step"] = float(self.dense_from)
        return out


def epochs_to_steps(epochs: float, per_epoch: float, *, floor: int = 0, ceiling: int = 0) -> int:
    """``epochs`` passes of ``per_epoch`` steps, rounded up, at least ``floor`` (and 1) and at
    most ``ceiling`` (0: no ceiling; the ceiling wins over the floor)."""
    steps = max(floor, math.ceil(epochs * per_epoch))
    if ceiling:
        steps = min(ceiling, steps)
    return max(1, steps)


def cadence(params: ScheduleParams, *, eval_every: int, patience: int,
            per_epoch: Callable[[], float]) -> Cadence:
    """The cadence of one run: the backend's step settings ``eval_every`` and ``patience``
    (0: none), scaled to the data where ``params`` give epochs (``per_epoch()``: the run's
    steps per pass over its training subset, asked only then). See
    :class:`ScheduleParams`."""
    floor = params.min_eval_steps or 1
    if params.eval_every_epochs is not None or params.patience_epochs is not None:
        steps = per_epoch()
        if params.eval_every_epochs is not None:
            eval_every = epochs_to_steps(params.eval_every_epochs, steps, floor=floor,
                                         ceiling=eval_every)
        if params.patience_epochs is not None:
            patience = epochs_to_steps(
                params.patience_epochs, steps,
                floor=max(eval_every, params.min_patience_steps or 0), ceiling=patience)
    return Cadence(eval_every, patience, noise=params.stop == "noise",
                   dense_from=floor if params.eval_schedule == "dense-early" else None)


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
    #: The bootstrap SE of ``score`` (``None``: not computed; the noise rule takes 0).
    se: float | None = None


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
    #: Why the run stopped.
    reason: StopReason = "data"


class Follower:
    """The stop rule, one progress record at a time: :meth:`see` keeps the history, tracks
    the best dev score, calls ``keep`` when the model of the step just reported is the one to
    keep, and says when to stop: after ``patience`` steps without progress or at
    ``max_steps`` (0 disables either).

    Progress is a better dev score; with ``noise``, a dev score that beats the last progress
    by more than that score's bootstrap SE (:attr:`Progress.se`), so that patience is not
    renewed by gains within the dev set's noise. What is kept does not change: the best
    score's model (by the tie rule ``ties``)."""

    def __init__(self, keep: Callable[[], None], *, patience: int, max_steps: int,
                 ties: Literal["first", "latest"] = "first", noise: bool = False) -> None:
        self.keep, self.patience, self.max_steps = keep, patience, max_steps
        self.ties, self.noise = ties, noise
        self.followed = Followed(None, None, None)
        self._best_step: int | None = None
        self._mark: tuple[float, float] | None = None  # noise rule: last progress' score, SE
        self._mark_step: int | None = None

    def see(self, record: Progress) -> StopReason | None:
        """Take one record; why training stops now (also set as
        :attr:`Followed.reason`), or ``None`` to go on."""
        followed = self.followed
        followed.last = record
        if record.row is not None:
            followed.history.append(record.row)
        if record.score is not None:
            best = followed.best_score
            better = best is None or record.score > best
            if better or (self.ties == "latest" and record.score == best):
                self.keep()
                followed.kept_step = record.step
            if better:
                followed.best_score, self._best_step = record.score, record.step
            if self.noise and (self._mark is None
                               or record.score > self._mark[0] + self._mark[1]):
                self._mark, self._mark_step = (record.score, record.se or 0.0), record.step
        since = self._mark_step if self.noise else self._best_step
        reason: StopReason | None = None
        if since is not None and self.patience and record.step - since >= self.patience:
            reason = "noise" if self.noise else "patience"
        elif self.max_steps and record.step >= self.max_steps:
            reason = "max_steps"
        if reason is not None:
            followed.reason = reason
        return reason


def follow(
    progress: Generator[Progress, None, None],
    *,
    patience: int,
    max_steps: int,
    keep: Callable[[], None],
    ties: Literal["first", "latest"] = "first",
    noise: bool = False,
) -> Followed:
    """Run a training generator until its :class:`Follower` (with these settings) says stop,
    or until it runs out (``data``), and close it."""
    follower = Follower(keep, patience=patience, max_steps=max_steps, ties=ties, noise=noise)
    try:
        for record in progress:
            if follower.see(record) is not None:
                break
    finally:
        progress.close()
    return follower.followed


def epoch_steps(examples: int, epochs: float | None, *, batch_size: int, grad_accum: int,
                max_steps: int, min_steps: int = 0) -> int:
    """Optimizer steps for ``epochs`` passes over ``examples`` in batches of ``batch_size``
    (``grad_accum`` batches a step): at least ``min_steps`` and 1, at most ``max_steps``
    (``epochs = None``: ``max_steps``)."""
    if epochs is None:
        return max_steps
    return epochs_to_steps(epochs, examples / (batch_size * grad_accum), floor=min_steps,
                           ceiling=max_steps)
