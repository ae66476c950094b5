"""Answer grammars of constrained decoding, checked with llguidance and SmolLM2's tokenizer:
every gold answer is allowed, answers that cannot be right in form are refused, and the
gold answers of real corpus sentences all fit their sentence's grammar."""

from __future__ import annotations

import json
import random

import pytest
from test_llm_backend import TOKENIZER_CACHE, tiny_llama  # noqa: F401  (the fixture)

from nercurve.backends.llm.grammar import class_grammar, inline_grammar, json_grammar, words
from nercurve.backends.llm.prompt import Prompter, PromptStyle, units
from nercurve.corpus.io import ReadOptions, read_corpus

LABELS = ("Disease", "Gene")
TEXT = 'Café "naïve" BRCA1-linked breast cancer; recombinants of x'


@pytest.fixture(scope="module")
def tokenizer(tiny_llama):  # noqa: F811  (tiny_llama caches SmolLM2's tokenizer)
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(TOKENIZER_CACHE)


@pytest.fixture(scope="module")
def allowed(tokenizer):
    """Whether a grammar allows an answer, decoded as the tokenizer splits it, then the end
    of the turn; each token is checked against the mask before it is taken."""
    import llguidance
    import llguidance.hf
    import numpy as np
    from llguidance.numpy import allocate_token_bitmask, fill_next_token_bitmask

    end = tokenizer.convert_tokens_to_ids("<|im_end|>")
    ll = llguidance.hf.from_tokenizer(tokenizer, n_vocab=len(tokenizer), eos_token=[end])

    def check(grammar: str, answer: str | list[int]) -> bool:
        matcher = llguidance.LLMatcher(ll, grammar, log_level=0)
        assert not matcher.is_error(), matcher.get_error()
        ids = answer if isinstance(answer, list) else tokenizer(
            answer, add_special_tokens=False)["input_ids"]
        mask = allocate_token_bitmask(1, len(tokenizer))
        for token in [*ids, end]:
            fill_next_token_bitmask(matcher, mask, 0)
            bits = np.unpackbits(mask.view(np.uint8), bitorder="little")
            if not bits[token] or not matcher.consume_token(token):
                return False
        return matcher.is_stopped()

    return check


def test_words_are_letter_runs_and_single_other_characters():
    text = "BRCA1-linked (cancer)."
    assert [text[s:e] for s, e in words(text)] == ["BRCA1", "-", "linked", "(", "cancer", ")",
                                                   "."]


@pytest.mark.parametrize(("answer", "ok"), [
    ([("breast cancer", "Disease"), ('Café "naïve"', "Gene")], True),  # escaped, non-ASCII
    ([("BRCA1-linked", "Gene"), ("BRCA1", "Gene"), ("cancer;", "Disease")], True),
    ([("recombinants", "Disease")], True),  # a merge that depends on text still to come
    ([], True),
    ([("reast", "Disease")], False),  # not a word boundary
    ([("cancer risk", "Disease")], False),  # not in the sentence
    ([("Breast cancer", "Disease")], False),  # the sentence's own letter case only
    ([("BRCA1", "Chemical")], False),  # not a type of the study
])
def test_json_answers(allowed, answer, ok):
    text = json.dumps([{"text": t, "type": lab} for t, lab in answer], ensure_ascii=False)
    assert allowed(json_grammar(TEXT, LABELS, None), text) is ok


def test_json_format_is_exactly_the_tuned_one(allowed):
    grammar = json_grammar(TEXT, LABELS, None)
    assert not allowed(grammar, '[{"text":"BRCA1","type":"Gene"}]')  # other separators
    assert not allowed(grammar, '[{"text": "BRCA1", "type": "Gene"}] Done.')  # prose after
    assert allowed(json_grammar(TEXT, LABELS, "Gene"), '["BRCA1", "x"]')  # one type: strings
    assert not allowed(json_grammar(TEXT, LABELS, "Gene"), '[{"text": "BRCA1", "type": "Gene"}]')
    assert allowed(json_grammar("  ", LABELS, None), "[]")  # a blank text: no mention at all


def test_a_model_may_choose_a_split_the_tokenizer_would_not(allowed, tokenizer):
    ids = tokenizer('[{"text": "recomb', add_special_tokens=False)["input_ids"]
    ids += tokenizer.convert_tokens_to_ids(["in", "ants"])
    ids += tokenizer('", "type": "Gene"}]', add_special_tokens=False)["input_ids"]
    assert tokenizer.decode(ids) == '[{"text": "recombinants", "type": "Gene"}]'
    assert allowed(json_grammar(TEXT, LABELS, None), ids)


@pytest.mark.parametrize(("answer", "ok"), [
    ('Café "naïve" <Gene>BRCA1</Gene>-linked <Disease>breast cancer</Disease>; recombinants '
     "of x", True),
    (TEXT, True),  # no entity
    ('Café "naïve" <Gene>BRCA1-linked <Disease>breast</Disease> cancer</Gene>; recombinants '
     "of x", False),  # nested
    ('Cafe "naïve" BRCA1-linked breast cancer; recombinants of x', False),  # altered copy
    ('Café "naïve" BRCA1-linked breast cancer; recombinants', False),  # stopped early
    ('Café "naïve" <Chemical>BRCA1</Chemical>-linked breast cancer; recombinants of x', False),
])
def test_inline_answers(allowed, answer, ok):
    assert allowed(inline_grammar(TEXT, LABELS, None), answer) is ok


def test_class_answers(allowed):
    labels = ["CURRENT", "NON-SMOKER", "PAST"]
    single, multi = class_grammar(labels, False, "none"), class_grammar(labels, True, "none")
    assert allowed(single, "PAST") and allowed(single, "NON-SMOKER")
    assert not allowed(single, "SMOKER") and not allowed(single, "not a current smoker")
    assert not allowed(single, "PAST, CURRENT")
    assert allowed(multi, "NON-SMOKER, PAST") and allowed(multi, "none")
    assert allowed(multi, "CURRENT, NON-SMOKER, PAST") and allowed(multi, "CURRENT, PAST")
    assert not allowed(multi, "none, PAST") and not allowed(multi, "PAST,")
    assert not allowed(multi, "PAST, NON-SMOKER")  # gold answers list classes sorted
    assert not allowed(multi, "PAST, PAST")  # each class once: a list cannot loop


@pytest.mark.slow
@pytest.mark.parametrize("corpus", ["ncbi-disease", "bc5cdr"])
def test_gold_answers_of_real_sentences_fit_their_grammar(shared_corpora, allowed, tokenizer,
                                                          corpus):
    """Mentions of real corpora start and end at word boundaries: a constrained model can
    write every gold answer (JSON, one type at a time, inline)."""
    folder = shared_corpora / corpus / "pubtator"
    files = sorted(p for p in folder.iterdir() if "test" in p.name.lower())
    options = ReadOptions(duplicate_ids="keep-first", mismatch="strip")
    docs = read_corpus(files[0], "pubtator", options).docs
    found = [u for u in units(random.Random(0).sample(docs, 25)) if u.spans]
    labels = tuple(sorted({s.label for u in found for s in u.spans}))
    checked = 0
    for fmt in ("json", "inline"):
        prompter = Prompter(tokenizer, PromptStyle(labels, {}, answer_format=fmt))
        build = json_grammar if fmt == "json" else inline_grammar
        for unit in found[:40]:
            asked = [None] + ([unit.spans[0].label] if fmt == "json" else [])
            for a in asked:
                answer = prompter.answer(unit, a)
                assert allowed(build(unit.text, labels, a), answer), (unit.text, answer)
                checked += 1
    assert checked >= 100
