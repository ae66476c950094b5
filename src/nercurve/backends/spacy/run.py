"""One training run of a blank spaCy pipeline: what the NER and textcat backends share.

The pipeline is built from the run's complete config (:func:`pipeline`); the optimizer,
batcher and dropout are the ones that config defines, built by spaCy's registry, and the
loop follows ``spacy train`` step for step (same seeding, shuffling, batching, evaluation
schedule, early stopping and tie rule) with three differences that make it fast and keep it
honest: nothing touches the disk, the dev set is scored by the backend's own scorer (strict
entity F1 for NER, macro-F1 for textcat; :data:`Scorer`), and the best model is kept in
memory as a byte snapshot. The loop is a generator of progress records
(:meth:`SpacyRun.steps`) that :func:`nercurve.backends.loop.follow` drives
(:meth:`SpacyRun.train`). Without a dev set there is no early stopping: training runs
``max_steps`` steps and keeps the last model.

The schedule may scale with the data (:class:`~nercurve.backends.loop.ScheduleParams`:
``eval_every_epochs``, ``patience_epochs``, ``min_eval_steps``, ``eval_schedule``, ``stop``).
A pass over the training subset is as many steps as a fresh copy of the run's batcher makes
batches of the training examples in their stored order: the first pass's length, since
spaCy's batches (sized in words, compounding from ``batch_start`` to ``batch_stop``) grow as
training goes, so later passes take fewer steps. Counting does not touch the run's own
batcher or random state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from typing import Any

from nercurve.backends.base import SE_KEY, ClassModel, Model, TrainResult
from nercurve.backends.loop import Cadence, Progress, cadence, follow
from nercurve.backends.spacy.config import SpacyParams
from nercurve.errors import BackendError

Scorer = Callable[[bool], tuple[float, dict[str, float]]]
"""Scores the dev set with the pipeline as it is (called under the optimizer's averages):
given whether the bootstrap SE is wanted, returns the selection score and the numbers for
the history (:func:`~nercurve.backends.base.dev_strict_f1`,
:func:`~nercurve.backends.base.dev_macro_f1`)."""


def pipeline(config: Any, seed: int, config_file: str | None) -> tuple[Any, dict[str, Any]]:
    """The blank pipeline of a complete (not interpolated) spaCy ``config``, built after
    seeding with ``seed``, and its resolved training section; a config spaCy cannot build is
    a :class:`BackendError` naming ``config_file``."""
    import spacy
    from spacy.schemas import ConfigSchemaTraining
    from thinc.api import fix_random_seed

    fix_random_seed(seed)
    try:
        nlp = spacy.util.load_model_from_config(config, auto_fill=True, validate=True)
        training = spacy.util.registry.resolve(
            nlp.config.interpolate()["training"], schema=ConfigSchemaTraining
        )
    except Exception as err:  # spaCy/confection raise many types for a bad config
        raise BackendError(
            f"spaCy cannot build the pipeline from the config: {err}",
            file=config_file,
            hint="check the `config` overrides and the config file against spaCy's docs",
        ) from None
    return nlp, training


@dataclass
class SpacyRun:
    """One training run: the pipeline and its training section (:func:`pipeline`), the
    training examples, the dev scorer (``None``: no dev set), and the loop of ``spacy
    train``."""

    params: SpacyParams
    seed: int
    nlp: Any
    training: dict[str, Any]
    examples: list[Any]
    score: Scorer | None

    def train(self, model: Model | ClassModel) -> TrainResult:
        """Follow :meth:`steps` until patience or ``max_steps`` runs out (spaCy's rule: the
        latest of equal best scores is kept, patience counts from the first), restore the
        kept weights into the pipeline that ``model`` wraps, and return it with the schedule
        in force and why training stopped."""
        p, nlp, optimizer = self.params, self.nlp, self.training["optimizer"]
        snapshot = b""

        def keep() -> None:
            nonlocal snapshot
            with nlp.use_params(optimizer.averages):
                snapshot = nlp.to_bytes(exclude=["vocab", "tokenizer"])

        plan = cadence(p, eval_every=p.eval_frequency, patience=p.patience,
                       per_epoch=self.batches_per_pass)
        if self.score is None:
            plan = replace(plan, patience=0)
        followed = follow(self.steps(plan), patience=plan.patience, max_steps=p.max_steps,
                          keep=keep, ties="latest", noise=plan.noise)
        step = followed.last.step if followed.last is not None else 0
        kept_step = followed.kept_step
        if kept_step is None:  # no dev set: keep the last model
            keep()
            kept_step = step
        nlp.from_bytes(snapshot, exclude=["vocab", "tokenizer"])
        return TrainResult(
            model=model,
            steps=step + 1,
            best_step=kept_step,
            dev_f1=followed.best_score,
            history=followed.history,
            extra=plan.numbers(),
            stop_reason=followed.reason,
        )

    def batches_per_pass(self) -> float:
        """Steps in one pass over the training examples (see the module docstring)."""
        import spacy

        section = self.nlp.config.interpolate()["training"]["batcher"]
        batcher = spacy.util.registry.resolve({"batcher": section})["batcher"]
        return float(sum(1 for _ in batcher(self.examples)))

    def steps(self, plan: Cadence) -> Generator[Progress, None, None]:
        """Initialize, then update step by step as ``spacy train`` does, reporting every step
        (with the dev scores when ``plan`` says they are due, and at ``max_steps``: unlike
        ``spacy train``, a run cut by the step limit is also judged on its last model, which
        an interval in passes seldom divides)."""
        from spacy.training.loop import create_train_batches, subdivide_batch
        from thinc.api import fix_random_seed

        p, nlp, training = self.params, self.nlp, self.training
        optimizer, frozen = training["optimizer"], list(training["frozen_components"])
        annotating = list(training["annotating_components"])
        before_update: Callable[..., None] | None = training["before_update"]
        with nlp.select_pipes(disable=frozen):
            nlp.initialize(lambda: self.examples, sgd=optimizer)
        fix_random_seed(self.seed)  # as `spacy train` does after initializing
        losses: dict[str, float] = {}
        started = time.perf_counter()
        batches = create_train_batches(nlp, lambda _: self.examples, training["batcher"],
                                       training["max_epochs"])
        for step, (epoch, batch) in enumerate(batches):
            if before_update is not None:
                before_update(nlp, {"step": step, "epoch": epoch})
            for sub in subdivide_batch(batch, training["accumulate_gradient"]):
                nlp.update(sub, drop=p.dropout, losses=losses, sgd=False, exclude=frozen,
                           annotates=annotating)
            for name, proc in nlp.pipeline:
                if (name not in frozen and getattr(proc, "is_trainable", False)
                        and proc.model not in (True, False, None)):
                    proc.finish_update(optimizer)
            optimizer.step_schedules()
            if self.score is None or not (plan.due(step) or step == p.max_steps):
                yield Progress(step)
                continue
            with nlp.use_params(optimizer.averages):
                score, numbers = self.score(plan.noise)
            row = {
                "step": float(step), "epoch": float(epoch),
                "loss": float(sum(losses.values())),
                **numbers, "seconds": time.perf_counter() - started,
            }
            losses = {}
            yield Progress(step, score, row, se=numbers.get(SE_KEY))
