"""The ``llm`` backend of classification on CPU, offline: a tiny random Llama with SmolLM2's
tokenizer answers with classes; fine-tuned and zero-shot arms in a real study; answers read
strictly; long documents cut to ``max_length``, never dropped."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from test_llm_backend import tiny_llama  # noqa: F401  (the fixture)

from nercurve.backends import get_backend
from nercurve.backends.llm.classify import (
    MARKER,
    ClassPrompter,
    Document,
    LLMClassifyBackend,
    LLMClassifyParams,
    TextFitter,
)
from nercurve.backends.llm.prompt import PromptStyle
from nercurve.backends.llm.train import lm_examples
from nercurve.corpus.classes import ClassScheme
from nercurve.corpus.io import write_corpus
from nercurve.errors import BackendError
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


def _prompter(multi_label: bool, labels: tuple[str, ...] = LABELS) -> ClassPrompter:
    style = PromptStyle(labels, {"PAST": "quit over a year ago"}, system=None)
    return ClassPrompter(_Tokenizer(), style, [], multi_label)


@pytest.mark.parametrize(("answer", "read"), [
    ("current", ("CURRENT",)),
    (' "CURRENT".', ("CURRENT",)),
    ("CURRENT - the patient smokes", ("CURRENT",)),
    ("CURRENT? No, PAST", ("CURRENT",)),  # what follows the class is ignored
    ("**Past**", ("PAST",)),
    ("[NEVER]", ("NEVER",)),
    ("Class: NEVER", ("NEVER",)),
    ("**Answer:** unknown", ("UNKNOWN",)),
    ("SMOKER", ()),
    ("not a current smoker", ()),  # a negation is never read as the class it negates
    ("The class is NEVER, not CURRENT", ()),  # no lead-in but answer: / class:
    ("Answer: class: PAST", ()),  # one label at most
    ("currently smoking", ()),  # the class must end at a word boundary
    ("none", ()),
])
def test_a_single_label_answer_names_the_class_it_starts_with(answer, read):
    classes, named, invalid = _prompter(False).classes_of(answer)
    assert classes == read
    assert named == bool(read)  # no class named: unparseable, a miss
    assert invalid == (not read)  # ... and one invalid class answer


def test_an_empty_answer_is_unparseable_but_names_no_invalid_class():
    assert _prompter(False).classes_of(" \n") == ((), False, 0)
    assert _prompter(True).classes_of("") == ((), False, 0)


def test_the_longest_class_name_that_starts_the_answer_wins():
    prompter = _prompter(False, ("NON", "NON-SMOKER", "SMOKER"))
    assert prompter.classes_of("non-smoker.") == (("NON-SMOKER",), True, 0)
    assert prompter.classes_of("Non-Smoker: never smoked") == (("NON-SMOKER",), True, 0)
    assert prompter.classes_of("NON") == (("NON",), True, 0)
    assert prompter.classes_of("non, a smoker") == (("NON",), True, 0)
    assert prompter.classes_of("nonsmoker") == ((), False, 1)
    assert prompter.classes_of("smoker") == (("SMOKER",), True, 0)


def test_multi_label_answers_count_every_name_that_is_not_a_class():
    multi = _prompter(True)
    assert multi.classes_of("PAST, current\nBOGUS") == (("PAST", "CURRENT"), True, 1)
    assert multi.classes_of("Classes: PAST; SMOKER; none") == (("PAST",), True, 2)
    assert multi.classes_of("Answer: never, never.") == (("NEVER",), True, 0)
    assert multi.classes_of("none") == ((), True, 0)
    assert multi.classes_of("**None**") == ((), True, 0)
    assert multi.classes_of("nothing") == ((), False, 1)
    assert multi.classes_of("not current, past") == (("PAST",), True, 1)


LONG = "HEADWORD " + "filler words and more " * 150 + "TAILWORD."


def _real_prompter(model: Path, multi_label: bool) -> ClassPrompter:
    """A prompter with the tiny model's (SmolLM2's) tokenizer and chat template."""
    from transformers import AutoTokenizer

    style = PromptStyle(LABELS, {}, system="You classify texts.")
    return ClassPrompter(AutoTokenizer.from_pretrained(model), style, [], multi_label)


def _longest_example(prompter: ClassPrompter, text: str, max_length: int) -> int:
    """Tokens of the longest training example any gold answer makes of ``text`` (none
    may be skipped)."""
    golds = [LABELS, ()] if prompter.multi_label else [(lab,) for lab in LABELS]
    examples, skipped = lm_examples(prompter, [Document(0, 0, text, (), g) for g in golds],
                                    max_length=max_length)
    assert skipped == 0 and len(examples) == len(golds)
    return max(len(e.input_ids) for e in examples)


@pytest.mark.parametrize("multi_label", [False, True])
def test_a_long_document_keeps_its_head_and_tail_within_max_length(tiny_llama, multi_label):  # noqa: F811
    prompter = _real_prompter(tiny_llama, multi_label)
    tokens = prompter.tokenizer
    assert len(tokens(LONG)["input_ids"]) > 600
    text, cut = TextFitter(prompter, 128, "head_tail").fit(LONG)
    assert cut and text.startswith("HEADWORD filler") and text.endswith("more TAILWORD.")
    head, tail = text.split(MARKER)
    assert LONG.startswith(head) and LONG.endswith(tail)  # the document's own words
    halves = [len(tokens(part, add_special_tokens=False)["input_ids"]) for part in (head, tail)]
    assert abs(halves[0] - halves[1]) <= 1
    assert 120 <= _longest_example(prompter, text, 128) <= 128  # fits, and uses the room


def test_the_head_policy_keeps_the_first_tokens_and_short_texts_stay(tiny_llama):  # noqa: F811
    prompter = _real_prompter(tiny_llama, False)
    fitter = TextFitter(prompter, 128, "head")
    text, cut = fitter.fit(LONG)
    assert cut and LONG.startswith(text) and "TAILWORD" not in text and MARKER not in text
    assert 120 <= _longest_example(prompter, text, 128) <= 128
    assert fitter.fit("Quit in 1999.") == ("Quit in 1999.", False)


def test_a_prompt_too_long_even_without_text_asks_for_a_larger_max_length(tiny_llama):  # noqa: F811
    with pytest.raises(BackendError, match="more than max_length = 32") as err:
        TextFitter(_real_prompter(tiny_llama, False), 32, "head_tail")
    assert "raise max_length" in (err.value.hint or "")


def test_few_shot_texts_share_the_room_and_test_documents_are_cut(tiny_llama):  # noqa: F811
    docs = generate_smoking(6, seed=1).docs
    params = {"model": str(tiny_llama), "device": "cpu", "train": False, "shots": 2,
              "max_length": 256, "max_new_tokens": 2}
    result = LLMClassifyBackend().train(docs, [], params, 0, ClassScheme(LABELS, False))
    model = result.model
    assert result.extra == {"shots": 2.0, "truncated_shots": 2.0}
    assert all(MARKER in shot.text for shot in model.prompter.shots)
    model.predict(docs[2:5])
    assert model.diagnostics()["truncated_docs"] == 3
    for doc in docs[2:5]:
        prompt = model.prompter.prompt(model.fitter.fit(doc.text)[0], None)
        length = len(model.prompter.tokenizer(prompt, add_special_tokens=False)["input_ids"])
        assert length + model.fitter.answer_tokens <= 256


def test_questions_and_gold_answers():
    from nercurve.backends.llm.classify import Document

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
params = {{ {fast}, max_length = 128 }}
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
    # every note is longer than 128 tokens: each is cut, none is dropped, the test notes too
    assert lora["train_examples"] == lora["truncated_examples"] == 6
    assert lora["skipped_examples"] == 0 and lora["truncated_docs"] == 6
    assert zero["truncated_docs"] == 0  # all fit the default max_length = 512
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
    assert result.extra == {"shots": 2.0, "truncated_shots": 2.0}  # 3 notes: > 512 tokens
    assert all(s == {} or set(s.values()) <= {0.0, 1.0} for s in scores)
    assert result.model.diagnostics()["answers"] == 3 * 4


@pytest.mark.parametrize("multi_label", [False, True])
def test_constrained_answers_always_name_classes(tiny_llama, multi_label):  # noqa: F811
    docs = generate_smoking(8, seed=2).docs
    scheme = ClassScheme(LABELS, multi_label=multi_label)
    params = {"model": str(tiny_llama), "device": "cpu", "train": False, "max_new_tokens": 12,
              "max_length": 256}
    free = LLMClassifyBackend().train([], docs, {**params, "constrained": False}, 0, scheme)
    free.model.predict(docs)
    assert free.model.diagnostics()["parse_failures"] > 0  # a random model's free answers
    model = LLMClassifyBackend().train([], docs, params, 0, scheme).model
    scores = model.predict(docs)
    counts = model.diagnostics()
    assert counts["parse_failures"] == 0 and counts["invalid_classes"] == 0
    assert counts["decode_constrained"] == 1.0 and counts["decode_repetition_penalty"] == 1.0
    named = [c for s in scores for c, v in s.items() if v > 0]
    assert set(named) <= set(LABELS) and (named or multi_label)
    if not multi_label:
        assert all(sorted(s.values()) == [0.0, 0.0, 0.0, 1.0] for s in scores)
