"""The ``hf`` and ``llm`` backends train through the transformers ``Trainer``
(:func:`nercurve.backends.hf.train.fit`): its callback scores the dev set when the cadence
says so, stops on the stop rule (patience, noise, ``max_steps``), and the best step's weights
come back from memory; nothing is printed and no file is written."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch

from nercurve.backends.base import SE_KEY
from nercurve.backends.hf.train import FitResult, Schedule, fit
from nercurve.backends.loop import Cadence

IGNORE = -100


@dataclass(frozen=True)
class Window:
    input_ids: list[int]
    labels: list[int]


@pytest.fixture(autouse=True, scope="module")
def _one_thread() -> Iterator[None]:
    """Two busy shared cores: one torch thread is much faster than two that spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_bert() -> torch.nn.Module:
    """A randomly initialised one-layer BERT token classifier (3 labels)."""
    from transformers import BertConfig, BertForTokenClassification

    torch.manual_seed(0)
    config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                        num_labels=3)
    return BertForTokenClassification(config)


def windows(n: int = 24) -> list[Window]:
    """``n`` windows of 3 to 10 token ids; the label of a token is its id modulo 3."""
    out = []
    for k in range(n):
        ids = [1 + (k * 7 + i * 5) % 39 for i in range(3 + k % 8)]
        out.append(Window(ids, [t % 3 for t in ids]))
    return out


def schedule(max_steps: int, cadence: Cadence) -> Schedule:
    return Schedule(learning_rate=1e-2, weight_decay=0.01, warmup_steps=1, max_steps=max_steps,
                    batch_size=4, grad_accum=1, max_grad_norm=1.0, cadence=cadence)


def run(scores: list[float], cadence: Cadence, *, max_steps: int = 12,
        ses: list[float] | None = None) -> tuple[FitResult, torch.nn.Module, dict[int, dict]]:
    """Fit the tiny model, the dev scorer answering ``scores`` (and ``ses``) in turn; also the
    weights at each evaluated step."""
    model = tiny_bert()
    seen: dict[int, dict[str, torch.Tensor]] = {}
    answers = iter(zip(scores, ses or [None] * len(scores), strict=True))

    def evaluate() -> tuple[float, dict[str, float]]:
        seen[len(seen)] = {n: p.detach().clone() for n, p in model.named_parameters()}
        score, se = next(answers)
        return score, {"dev_f1": score, **({} if se is None else {SE_KEY: se})}

    fitted = fit(model, windows(), schedule(max_steps, cadence), device=torch.device("cpu"),
                 dtype=None, pad_id=0, seed=1, evaluate=evaluate)
    return fitted, model, seen


def same(model: torch.nn.Module, weights: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(p, weights[n]) for n, p in model.named_parameters())


def test_patience_stops_the_trainer_and_the_best_weights_come_back(tmp_path, monkeypatch,
                                                                  capfd):
    monkeypatch.chdir(tmp_path)
    fitted, model, seen = run([0.1, 0.5, 0.3, 0.2, 0.4, 0.9, 0.9], Cadence(2, patience=6))
    # best at step 4; 10 - 4 >= 6: stopped after the fifth evaluation
    assert [h["step"] for h in fitted.history] == [2.0, 4.0, 6.0, 8.0, 10.0]
    assert fitted.steps == 10 and fitted.best_step == 4 and fitted.best_score == 0.5
    assert fitted.stop_reason == "patience"
    assert same(model, seen[1]) and not same(model, seen[4])
    assert all(h["loss"] > 0 and h["seconds"] > 0 for h in fitted.history)
    assert fitted.train_tokens > 0 and 0 < fitted.train_seconds <= fitted.history[-1]["seconds"]
    assert fitted.schedule == {"eval_every_steps": 2.0, "patience_steps": 6.0}
    assert not list(tmp_path.iterdir())  # no checkpoint, log or output folder
    out, err = capfd.readouterr()
    assert out == "" and err == ""


def test_the_noise_rule_stops_when_gains_stay_within_the_se():
    fitted, model, seen = run([0.50, 0.51, 0.52, 0.53, 0.54, 0.55], Cadence(1, 3, noise=True),
                              ses=[0.05] * 6)
    assert fitted.stop_reason == "noise" and fitted.steps == 4
    assert fitted.best_step == 4 and same(model, seen[3])
    assert [h[SE_KEY] for h in fitted.history] == [0.05] * 4


def test_dense_early_evaluation_and_max_steps():
    fitted, model, seen = run([0.1, 0.2, 0.3, 0.4, 0.2, 0.1], Cadence(8, 0, dense_from=1),
                              max_steps=10)
    assert [h["step"] for h in fitted.history] == [1.0, 2.0, 4.0, 8.0, 10.0]
    assert fitted.stop_reason == "max_steps" and fitted.steps == 10 and fitted.best_step == 8
    assert same(model, seen[3])


def test_without_a_dev_set_the_last_step_stays():
    model = tiny_bert()
    fitted = fit(model, windows(), schedule(5, Cadence(2, 4)), device=torch.device("cpu"),
                 dtype=None, pad_id=0, seed=1, evaluate=None)
    assert fitted.steps == fitted.best_step == 5 and fitted.best_score is None
    assert [h["step"] for h in fitted.history] == [2.0, 4.0, 5.0]
    assert fitted.stop_reason == "max_steps"


def test_the_same_seed_trains_the_same_weights():
    first, again = tiny_bert(), tiny_bert()
    for model in (first, again):
        fit(model, windows(), schedule(4, Cadence(4, 0)), device=torch.device("cpu"),
            dtype=None, pad_id=0, seed=5, evaluate=None)
    assert same(first, dict(again.named_parameters()))


def test_the_same_weights_as_the_library_recipe_that_evaluates_by_itself(tmp_path):
    """The library's recipe (the Trainer evaluating the dev set every 2 steps by itself) and
    ``fit`` (its callback scoring the dev set on the same steps) train the same weights: the
    same sampler, AdamW, schedule and dropout masks, the draw of each evaluation included."""
    from functools import partial

    from transformers import Trainer, TrainingArguments

    from nercurve.backends.hf.train import collate

    recipe = tiny_bert()
    args = TrainingArguments(
        output_dir=str(tmp_path), max_steps=8, per_device_train_batch_size=4,
        learning_rate=1e-2, weight_decay=0.01, warmup_steps=1, seed=1, eval_strategy="steps",
        eval_steps=2, save_strategy="no", report_to=[], use_cpu=True, disable_tqdm=True)
    Trainer(model=recipe, args=args, train_dataset=windows(), eval_dataset=windows(6),
            data_collator=partial(collate, pad_id=0, device=torch.device("cpu"))).train()
    ours = tiny_bert()
    scores = iter([0.1, 0.2, 0.3, 0.4])  # rising: the last step's weights are kept
    fit(ours, windows(), schedule(8, Cadence(2, 0)), device=torch.device("cpu"), dtype=None,
        pad_id=0, seed=1, evaluate=lambda: (next(scores), {}))
    assert same(ours, dict(recipe.named_parameters()))
