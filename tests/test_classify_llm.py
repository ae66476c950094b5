"""The ``llm`` backend of classification on CPU, offline: a tiny random Llama with SmolLM2's
tokenizer answers with classes; fine-tuned and zero-shot arms in a real study; answers read."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from test_llm_backend import tiny_llama  # noqa: F401  (the fixture)

from nercurve.backends import get_backend
from nercurve.backends.llm_classify import ClassPrompter, LLMClassifyBackend, LLMClassifyParams
from nercurve.backends.llm_prompt import PromptStyle
from nercurve.corpus.classes import ClassScheme
from nercurve.corpus.io import write_corpus
from nercurve.study.config import load_config
from nercurve.study.runner import run_study
from nercurve.study.store import results_frame
from nercurve.synthetic.smoking import generate_smoking

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

LABELS = ("CURRENT", "NEVER", "PAST", "UNKNOWN")


class _Tokenizer:
    chat_template = None
    eos_token = "</s>"


def _prompter(multi_label: bool) -> ClassPrompter:
    style = PromptStyle(LABELS, {"PAST": "quit over a year ago"}, system=None)
    return ClassPrompter(_Tokenizer(), style, [], multi_label)


def test_answers_are_read_as_classes():
    single = _prompter(False)
    assert single.classes_of(" past.") == (("PAST",), True, 0)
    assert single.classes_of("The class is NEVER, not CURRENT") == (("NEVER",), True, 0)
    assert single.classes_of("a smoker") == ((), False, 0)
    multi = _prompter(True)
    assert multi.classes_of("PAST, current\nBOGUS") == (("PAST", "CURRENT"), True, 1)
    assert multi.classes_of("none") == ((), True, 0)
    assert multi.classes_of("nothing") == ((), False, 1)


def test_questions_and_gold_answers():
    from nercurve.backends.llm_classify import Document

    single, multi = _prompter(False), _prompter(True)
    question = single.question("Quit in 1999.", None)
    assert "Classes: CURRENT; NEVER; PAST (quit over a year ago); UNKNOWN." in question
    assert question.endswith("Text: Quit in 1999.") and "the one class" in question
    assert single.answer(Document(0, 0, "x", (), ("PAST",)), None) == "PAST"
    assert multi.answer(Document(0, 0, "x", (), ("CURRENT", "PAST")), None) == "CURRENT, PAST"
    assert multi.answer(Document(0, 0, "x"), None) == "none"
    prompt = single.prompt("Quit in 1999.", None)
    assert prompt.endswith("\nAnswer: ")  # no chat template: plain text


def test_ner_options_are_refused_and_the_backend_registered():
    assert isinstance(get_backend("llm", "classify"), LLMClassifyBackend)
    with pytest.raises(ValidationError, match="per_type_prompts are options of NER"):
        LLMClassifyParams(per_type_prompts=True)
    assert LLMClassifyParams().max_new_tokens == 16


def test_fine_tuned_and_zero_shot_arms_in_a_study(tmp_path, tiny_llama):  # noqa: F811
    write_corpus(generate_smoking(20, seed=0), tmp_path / "smk.jsonl")
    fast = (f'model = "{tiny_llama}", device = "cpu", epochs = 1.0, max_steps = 2, '
            'eval_every = 1, batch_size = 4, dev_units = 2, max_new_tokens = 4, '
            "eval_batch_size = 8")
    (tmp_path / "study.toml").write_text(f"""name = "llm"
output = "out"
task = "classify"
[corpus]
path = "smk.jsonl"
[design]
sizes = [6]
subsets_per_size = 1
[[backends]]
name = "lora"
type = "llm"
params = {{ {fast} }}
[[backends]]
name = "zero"
type = "llm"
params = {{ {fast}, train = false, self_consistency = {{ samples = 2 }} }}
[run]
workers = 1
""", encoding="utf-8")
    frame = results_frame(run_study(load_config(tmp_path / "study.toml")), include_failed=True)
    assert (frame["status"] == "done").all(), frame["error"].tolist()
    lora, zero = (frame.loc[frame["backend"] == b].iloc[0] for b in ("lora", "zero"))
    assert lora["n_docs"] == 6 and lora["steps"] == 2 and lora["train_tokens_per_s"] > 0
    assert zero["n_docs"] == 0 and zero["minority_share"] == 0.0  # the zero-shot baseline
    assert zero["answers"] == 2 * 6  # two samples for each of the 6 test notes
    for row in (lora, zero):
        assert 0.0 <= row["f1"] <= 1.0
        assert row["parse_failures"] <= row["answers"]


def test_multi_label_self_consistency_scores(tiny_llama):  # noqa: F811
    docs = generate_smoking(6, seed=1).docs
    scheme = ClassScheme(LABELS, multi_label=True)
    params = {"model": str(Path(tiny_llama)), "device": "cpu", "train": False, "shots": 2,
              "max_new_tokens": 4, "self_consistency": {"samples": 3}}
    result = LLMClassifyBackend().train(docs, docs[:2], params, 0, scheme)
    scores = result.model.predict(docs[2:])
    assert result.extra == {"shots": 2.0}
    assert all(s == {} or set(s.values()) <= {0.0, 1.0} for s in scores)
    assert result.model.diagnostics()["answers"] == 3 * 4
