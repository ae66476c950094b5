"""The one training-loop shape: follow() drives a generator of progress records (patience,
the noise rule, max steps, the tie rule, what is kept, why it stopped), and the one rule that
turns epochs into steps (epoch_steps(), cadence())."""

from __future__ import annotations

from collections.abc import Generator

import pytest

from nercurve.backends.base import bootstrap_f1_se
from nercurve.backends.loop import (
    Cadence,
    Follower,
    Progress,
    ScheduleParams,
    cadence,
    epoch_steps,
    follow,
)


def _follow(scores: list[float | None], *, patience: int = 0, max_steps: int = 0,
            ties: str = "first", noise: bool = False, ses: list[float | None] | None = None):
    """Follow one record a step (from 1), scored where ``scores`` holds a number (with the
    SE in ``ses``); also return the steps whose model was kept and whether the generator was
    closed."""
    at: list[int] = []
    closed: list[bool] = []
    ses = ses or [None] * len(scores)

    def reports() -> Generator[Progress, None, None]:
        try:
            for step, (score, se) in enumerate(zip(scores, ses, strict=True), start=1):
                at.append(step)
                row = None if score is None else {"step": float(step)}
                yield Progress(step, score, row, se=se)
        finally:
            closed.append(True)

    kept: list[int] = []
    followed = follow(reports(), patience=patience, max_steps=max_steps,
                      keep=lambda: kept.append(at[-1]), ties=ties, noise=noise)
    return followed, kept, closed


def test_the_first_of_equal_best_scores_is_kept_and_patience_counts_from_it():
    followed, kept, closed = _follow([0.2, 0.5, None, 0.5, 0.4, 0.5, 0.9], patience=4)
    assert kept == [1, 2] and followed.kept_step == 2 and followed.best_score == 0.5
    assert followed.last is not None and followed.last.step == 6  # 6 - 2 >= 4: stopped
    assert [r["step"] for r in followed.history] == [1.0, 2.0, 4.0, 5.0, 6.0]
    assert closed == [True]  # the generator was closed, not left suspended
    assert followed.reason == "patience"


def test_spacys_rule_keeps_the_latest_of_equal_best_scores():
    followed, kept, _ = _follow([0.2, 0.5, None, 0.5, 0.4, 0.5, 0.9], patience=4,
                                ties="latest")
    assert kept == [1, 2, 4, 6] and followed.kept_step == 6 and followed.best_score == 0.5
    assert followed.last is not None and followed.last.step == 6  # patience from step 2


def test_max_steps_stops_and_without_dev_scores_patience_never_does():
    followed, kept, _ = _follow([None] * 10, patience=1, max_steps=7)
    assert followed.last is not None and followed.last.step == 7
    assert not kept and followed.kept_step is None and followed.best_score is None
    assert not followed.history and followed.reason == "max_steps"
    followed, kept, _ = _follow([0.1] * 5)  # neither limit: the generator runs out
    assert followed.last is not None and followed.last.step == 5 and kept == [1]
    assert followed.reason == "data"


def test_a_follower_takes_one_record_at_a_time_and_says_when_to_stop():
    kept: list[int] = []
    follower = Follower(lambda: kept.append(len(kept)), patience=2, max_steps=10)
    said = [follower.see(Progress(step, score, {"step": float(step)}))
            for step, score in ((1, 0.3), (2, 0.2), (3, None))]
    assert said == [None, None, "patience"] and kept == [0]
    assert follower.followed.reason == "patience" and follower.followed.kept_step == 1
    assert len(follower.followed.history) == 3


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


# gains of 0.03, 0.01, 0.005, 0.015 after a first score of 0.50, each score's SE 0.05
CREEPING = [0.50, 0.53, 0.54, 0.545, 0.56, 0.50]


def test_the_noise_rule_stops_when_gains_stay_within_the_se():
    followed, kept, closed = _follow(CREEPING, patience=3, noise=True, ses=[0.05] * 6)
    # no score beats 0.50 + 0.05, so patience runs from step 1 and stops at step 4 ...
    assert followed.last is not None and followed.last.step == 4
    assert followed.reason == "noise" and closed == [True]
    # ... while the best model is still the one kept
    assert kept == [1, 2, 3, 4] and followed.best_score == 0.545
    # the plain rule counts every better score as progress: the generator runs out
    followed, kept, _ = _follow(CREEPING, patience=3, ses=[0.05] * 6)
    assert followed.last is not None and followed.last.step == 6
    assert followed.reason == "data" and followed.kept_step == 5


def test_progress_beyond_the_se_renews_patience():
    scores = [0.50, 0.56, 0.57, 0.575, 0.59, 0.59, 0.59, 0.59, 0.59]
    ses = [0.05] + [0.02] * 8
    followed, kept, _ = _follow(scores, patience=3, noise=True, ses=ses)
    # 0.56 > 0.50 + 0.05 (step 2), 0.59 > 0.56 + 0.02 (step 5): stopped at 5 + 3
    assert followed.last is not None and followed.last.step == 8 and followed.reason == "noise"
    assert kept == [1, 2, 3, 4, 5]
    # without SEs (None: 0) any better score is progress, as in the plain rule
    followed, _, _ = _follow(scores, patience=3, noise=True)
    assert followed.last is not None and followed.last.step == 8


@pytest.mark.parametrize(("changes", "per_epoch", "every", "patience"), [
    ({}, 30.0, 200, 1600),  # nothing set: the step settings
    ({"eval_every_epochs": 0.5, "patience_epochs": 2}, 30.0, 15, 60),
    ({"eval_every_epochs": 0.5, "patience_epochs": 2, "min_eval_steps": 20}, 30.0, 20, 60),
    ({"eval_every_epochs": 0.5, "patience_epochs": 2}, 1000.0, 200, 1600),  # the ceilings
    ({"eval_every_epochs": 0.5, "patience_epochs": 0.25}, 30.0, 15, 15),  # >= one interval
    ({"patience_epochs": 3}, 30.0, 200, 200),  # 90 steps, but at least one interval
    ({"eval_every_epochs": 0.1}, 5.0, 1, 1600),  # half a step: at least one
    ({"eval_every_epochs": 0.5, "patience_epochs": 2, "min_patience_steps": 100}, 30.0, 15,
     100),  # 60 steps of patience, raised to the floor
    ({"patience_epochs": 2, "min_patience_steps": 5000}, 30.0, 200, 1600),  # the ceiling wins
])
def test_epochs_become_a_cadence(changes, per_epoch, every, patience):
    plan = cadence(ScheduleParams(**changes), eval_every=200, patience=1600,
                   per_epoch=lambda: per_epoch)
    assert (plan.eval_every, plan.patience) == (every, patience)
    assert plan.numbers() == {"eval_every_steps": every, "patience_steps": patience}


def test_patience_zero_means_no_ceiling_and_unset_epochs_count_nothing():
    plan = cadence(ScheduleParams(patience_epochs=100), eval_every=200, patience=0,
                   per_epoch=lambda: 30.0)
    assert plan.patience == 3000

    def uncounted() -> float:
        raise AssertionError("steps per epoch asked for without epochs")

    plan = cadence(ScheduleParams(stop="noise"), eval_every=7, patience=9, per_epoch=uncounted)
    assert plan == Cadence(7, 9, noise=True)


def test_dense_early_evaluation_doubles_up_to_the_interval():
    regular = Cadence(200, 1600)
    assert [s for s in range(801) if regular.due(s)] == [0, 200, 400, 600, 800]
    plan = cadence(ScheduleParams(eval_schedule="dense-early", min_eval_steps=25),
                   eval_every=200, patience=1600, per_epoch=lambda: 1.0)
    assert [s for s in range(801) if plan.due(s)] == [0, 25, 50, 100, 200, 400, 600, 800]
    assert plan.numbers()["first_eval_step"] == 25
    unset = cadence(ScheduleParams(eval_schedule="dense-early"), eval_every=10, patience=0,
                    per_epoch=lambda: 1.0)
    assert [s for s in range(1, 21) if unset.due(s)] == [1, 2, 4, 8, 10, 20]


def test_unset_schedule_params_stay_out_of_the_stored_params():
    assert ScheduleParams().model_dump(mode="json") == {}
    assert ScheduleParams(stop="noise").model_dump(mode="json") == {"stop": "noise"}


def test_bootstrap_se_of_f1_over_documents():
    # 100 documents, 40 found right (tp) and 60 wrong (fp + fn): F1 = 40 / 100, a share,
    # whose SE over documents is sqrt(0.4 * 0.6 / 100) = 0.049
    counts = [[(1, 0, 0)]] * 40 + [[(0, 1, 1)]] * 60
    se = bootstrap_f1_se(counts)
    assert 0.04 < se < 0.06
    assert bootstrap_f1_se(counts) == se  # seeded
    assert bootstrap_f1_se([[(2, 0, 0)]] * 30) == 0.0  # every resample scores 1
    assert bootstrap_f1_se([[(1, 1, 0)]]) == 0.0  # one document: nothing to resample
    # macro-F1: a class that is found everywhere adds no noise, one that is missed half the
    # time does; the mean of the two varies half as much
    macro = [[(1, 0, 0), (1, 0, 0)]] * 50 + [[(1, 0, 0), (0, 0, 1)]] * 50
    assert 0.015 < bootstrap_f1_se(macro) < 0.035
