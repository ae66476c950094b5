"""The one training-loop shape: follow() drives a generator of progress records (patience,
max steps, the tie rule, what is kept) and epoch_steps() turns epochs into steps."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from nercurve.backends.loop import Progress, epoch_steps, follow


def _follow(scores: list[float | None], *, patience: int = 0, max_steps: int = 0,
            ties: str = "first"):
    """Follow one record a step (from 1), scored where ``scores`` holds a number; also
    return the steps whose model was kept and whether the generator was closed."""
    at: list[int] = []
    closed: list[bool] = []

    def reports() -> Generator[Progress, None, None]:
        try:
            for step, score in enumerate(scores, start=1):
                at.append(step)
                yield Progress(step, score, None if score is None else {"step": float(step)})
        finally:
            closed.append(True)

    kept: list[int] = []
    followed = follow(reports(), patience=patience, max_steps=max_steps,
                      keep=lambda: kept.append(at[-1]), ties=ties)
    return followed, kept, closed


def test_the_first_of_equal_best_scores_is_kept_and_patience_counts_from_it():
    followed, kept, closed = _follow([0.2, 0.5, None, 0.5, 0.4, 0.5, 0.9], patience=4)
    assert kept == [1, 2] and followed.kept_step == 2 and followed.best_score == 0.5
    assert followed.last is not None and followed.last.step == 6  # 6 - 2 >= 4: stopped
    assert [r["step"] for r in followed.history] == [1.0, 2.0, 4.0, 5.0, 6.0]
    assert closed == [True]  # the generator was closed, not left suspended


def test_spacys_rule_keeps_the_latest_of_equal_best_scores():
    followed, kept, _ = _follow([0.2, 0.5, None, 0.5, 0.4, 0.5, 0.9], patience=4,
                                ties="latest")
    assert kept == [1, 2, 4, 6] and followed.kept_step == 6 and followed.best_score == 0.5
    assert followed.last is not None and followed.last.step == 6  # patience from step 2


def test_max_steps_stops_and_without_dev_scores_patience_never_does():
    followed, kept, _ = _follow([None] * 10, patience=1, max_steps=7)
    assert followed.last is not None and followed.last.step == 7
    assert not kept and followed.kept_step is None and followed.best_score is None
    assert not followed.history
    followed, kept, _ = _follow([0.1] * 5)  # neither limit: the generator runs out
    assert followed.last is not None and followed.last.step == 5 and kept == [1]


@pytest.mark.parametrize(("examples", "epochs", "changes", "steps"), [
    (20, 1.0, {}, 3),  # 2.5 batches of 8 a pass
    (20, 1.0, {"min_steps": 5}, 5),
    (20, 1.0, {"min_steps": 5, "max_steps": 4}, 4),
    (20, 4.0, {"grad_accum": 2}, 5),
    (1, 0.01, {}, 1),  # at least one step
    (20, None, {}, 100),  # no epochs: max_steps alone
])
def test_epochs_become_steps(examples, epochs, changes, steps):
    settings = {"batch_size": 8, "grad_accum": 1, "max_steps": 100, **changes}
    assert epoch_steps(examples, epochs, **settings) == steps
