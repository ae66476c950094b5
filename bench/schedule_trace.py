"""One spaCy NER training run followed under several schedules at once (``bench/schedules.py``).

A run's training trajectory does not depend on when the dev set is scored or when the run
would stop: dev scoring runs under the optimizer's averages, without dropout, and draws no
random numbers. So one run, scored on the dev set wherever any schedule is due, gives every
schedule's run exactly: each schedule's :class:`~nercurve.backends.loop.Follower` sees the
records its own run would have seen (a dev score only at its own due steps), stops where that
run would have stopped and keeps the model it would have kept, which is then scored on the
test set. The run goes on until the last schedule stops. :func:`check` compares the traced
outcome of each schedule with a run of its own, trained by the backend.

Seconds per schedule are the run's training time up to that schedule's stop plus its own
evaluations at the run's mean seconds per evaluation (the other schedules' evaluations are
not charged to it).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

#: The spaCy parameters a schedule may set: everything else is shared by the traced run.
SCHEDULE_KEYS = frozenset({
    "eval_frequency", "patience", "eval_every_epochs", "patience_epochs", "min_eval_steps",
    "min_patience_steps", "eval_schedule", "stop",
})


@dataclass(frozen=True)
class Outcome:
    """What one schedule's run would have been."""

    steps: int
    best_step: int
    dev_f1: float
    f1: float
    seconds: float
    evaluations: int
    stop_reason: str


class _Due:
    """The union of the schedules still running: the dev set is scored where any is due."""

    def __init__(self, plans: Sequence[Any], running: set[int]) -> None:
        self.plans, self.running = plans, running
        self.noise = any(p.noise for p in plans)

    def due(self, step: int) -> bool:
        return any(self.plans[k].due(step) for k in self.running)


def trace(train: Sequence[Any], dev: Sequence[Any], test: Sequence[Any], task: Any,
          base: dict[str, Any], schedules: dict[str, dict[str, Any]],
          seed: int) -> dict[str, Outcome]:
    """Train once on ``train`` with the spaCy parameters ``base``, followed under each of
    ``schedules`` (name -> schedule parameters, :data:`SCHEDULE_KEYS`), and score each
    schedule's kept model on ``test`` by ``task``."""
    from nercurve.backends.loop import Follower, Progress, cadence
    from nercurve.backends.spacy.config import SpacyParams
    from nercurve.backends.spacy.ner import SpacyBackend

    for name, schedule in schedules.items():
        if not set(schedule) <= SCHEDULE_KEYS:
            raise ValueError(f"schedule {name!r} sets {sorted(set(schedule) - SCHEDULE_KEYS)}, "
                             "which would change the training itself")
    names = list(schedules)
    params = [SpacyParams.model_validate({**base, **schedules[n]}) for n in names]
    run, model = SpacyBackend().run(train, dev, base, seed)
    max_steps = params[0].max_steps
    per_epoch = cache(run.batches_per_pass)  # one count of the pass for every schedule
    plans = [cadence(p, eval_every=p.eval_frequency, patience=p.patience,
                     per_epoch=per_epoch) for p in params]
    nlp, optimizer = run.nlp, run.training["optimizer"]
    scorer, eval_seconds = run.score, [0.0]

    def timed(se: bool) -> tuple[float, dict[str, float]]:
        began = time.perf_counter()
        try:
            return scorer(se)
        finally:
            eval_seconds[0] += time.perf_counter() - began

    run.score = timed
    now = {"step": -1}
    cached: list[Any] = [None, b""]
    kept: dict[int, bytes] = {}

    def keeper(k: int) -> Any:
        def keep() -> None:
            if cached[0] != now["step"]:
                with nlp.use_params(optimizer.averages):
                    cached[:] = [now["step"], nlp.to_bytes(exclude=["vocab", "tokenizer"])]
            kept[k] = cached[1]
        return keep

    followers = [Follower(keeper(k), patience=plan.patience, max_steps=max_steps,
                          ties="latest", noise=plan.noise) for k, plan in enumerate(plans)]
    running = set(range(len(names)))
    evaluations, scored = [0] * len(names), 0
    ended: dict[int, float] = {}  # schedule -> training seconds at its stop
    started = time.perf_counter()
    steps = run.steps(_Due(plans, running))
    try:
        for record in steps:
            now["step"] = record.step
            scored += record.score is not None
            for k in sorted(running):
                own = record.score is not None and (plans[k].due(record.step)
                                                    or record.step == max_steps)
                evaluations[k] += own
                if followers[k].see(record if own else Progress(record.step)) is not None:
                    running.discard(k)
                    ended[k] = time.perf_counter() - started - eval_seconds[0]
            if not running:
                break
    finally:
        steps.close()
    per_eval = eval_seconds[0] / max(1, scored)
    out: dict[str, Outcome] = {}
    for k, name in enumerate(names):
        followed = followers[k].followed
        nlp.from_bytes(kept[k], exclude=["vocab", "tokenizer"])
        scores = task.score(test, model.predict(list(test)), None)
        last = followed.last.step if followed.last is not None else 0
        out[name] = Outcome(
            steps=last + 1, best_step=int(followed.kept_step or 0),
            dev_f1=float(followed.best_score or 0.0), f1=float(scores.f1),
            seconds=ended.get(k, time.perf_counter() - started - eval_seconds[0])
            + evaluations[k] * per_eval,
            evaluations=evaluations[k], stop_reason=followed.reason)
    return out


def check(train: Sequence[Any], dev: Sequence[Any], test: Sequence[Any], task: Any,
          base: dict[str, Any], schedules: dict[str, dict[str, Any]], seed: int) -> list[str]:
    """Each schedule traced and trained on its own; the differences found (none: empty)."""
    from nercurve.backends.spacy.ner import SpacyBackend

    traced = trace(train, dev, test, task, base, schedules, seed)
    problems = []
    for name, schedule in schedules.items():
        result = SpacyBackend().train(train, dev, {**base, **schedule}, seed)
        f1 = task.score(test, result.model.predict(list(test)), None).f1
        alone = (result.steps, result.best_step, f1)
        got = traced[name]
        if alone != (got.steps, got.best_step, got.f1):
            problems.append(f"{name}: alone (steps, best, F1) {alone}, traced "
                            f"{(got.steps, got.best_step, got.f1)}")
    return problems
