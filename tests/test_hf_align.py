"""Word/subword alignment and long-document windowing of the ``hf`` backend (no training)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nercurve.backends.hf.align import (
    IGNORE,
    Encoder,
    bio_tags,
    decode,
    doc_words,
    label_list,
    plan_windows,
    spans_from_tags,
)
from nercurve.corpus.model import Doc, Span
from nercurve.errors import ConfigError


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from nercurve.backends.hf.load import load_tokenizer, locate
    from nercurve.backends.hf.presets import resolve_preset

    return load_tokenizer(locate(resolve_preset("minilm"), revision=None, trust_pickle=False))


def _doc(words: list[str], spans: list[tuple[int, int, str]], doc_id: str = "d") -> Doc:
    """A document of space-joined words with spans given as word ranges [i, j)."""
    offsets, pos = [], 0
    for w in words:
        offsets.append((pos, pos + len(w)))
        pos += len(w) + 1
    text = " ".join(words)
    return Doc(
        doc_id,
        text,
        tuple(Span(offsets[i][0], offsets[j - 1][1], lab) for i, j, lab in spans),
        tokens=tuple(offsets),
    )


def test_bio_tags_label_every_overlapped_word_and_first_span_wins():
    doc = _doc(["Dr", "Ann", "Lee", "of", "Acme", "Corp", "."], [(1, 3, "PER"), (4, 6, "ORG")])
    words = doc_words(doc)
    assert bio_tags(words, doc.spans) == ["O", "B-PER", "I-PER", "O", "B-ORG", "I-ORG", "O"]
    # a span ending inside a word tags the whole word; an overlapping second span
    # starts at the first word the first span left free
    partial = [Span(3, 5, "PER"), Span(4, 9, "ORG")]  # "An" and "nn Le"
    assert bio_tags(words, partial) == ["O", "B-PER", "B-ORG", "O", "O", "O", "O"]


def test_blank_tokens_are_not_words():
    doc = Doc("d", "a  b", tokens=((0, 1), (1, 3), (3, 4)))
    assert doc_words(doc) == [(0, 1), (3, 4)]


def test_spans_from_tags_repairs_orphan_inside_tags():
    words = [(0, 1), (2, 3), (4, 5), (6, 7), (8, 9)]
    tags = ["I-A", "I-A", "I-B", "O", "I-A"]
    assert spans_from_tags(words, tags) == [Span(0, 3, "A"), Span(4, 5, "B"), Span(8, 9, "A")]
    assert spans_from_tags(words, ["B-A", "B-A", "I-A", "O", "O"]) == [
        Span(0, 1, "A"),
        Span(2, 5, "A"),
    ]


def test_label_list_is_sorted_bio():
    assert label_list(["ORG", "PER", "ORG"]) == ["O", "B-ORG", "I-ORG", "B-PER", "I-PER"]


@settings(max_examples=300, deadline=None)
@given(
    counts=st.lists(st.integers(0, 12), max_size=80),
    budget=st.integers(1, 30),
    overlap=st.integers(0, 14),
)
def test_windows_fit_cover_and_own_each_word_once(counts, budget, overlap):
    if 2 * overlap >= budget:
        with pytest.raises(ValueError):
            plan_windows(counts, budget, overlap)
        return
    counts = [min(c, budget) for c in counts]
    windows = plan_windows(counts, budget, overlap)
    owned = []
    for k, win in enumerate(windows):
        assert sum(counts[win.start : win.end]) <= budget
        assert win.start <= win.own_start <= win.own_end <= win.end
        owned += range(win.own_start, win.own_end)
        if k:
            previous = windows[k - 1]
            assert previous.start < win.start <= previous.end < win.end
            assert sum(counts[win.start : previous.end]) <= overlap
    assert owned == list(range(len(counts)))
    assert windows[-1].end == len(counts)


def _border_doc(rng: random.Random, n_words: int) -> Doc:
    vocab = ["alpha", "beta-gamma", "Δelta", "x", "supercalifragilistic", "42", "don't", "U.S."]
    words = [rng.choice(vocab) for _ in range(n_words)]
    spans, i = [], 0
    while i < n_words - 1:  # dense spans of 1-4 words separated by 0-2 outside words
        length = rng.randint(1, 4)
        if i + length > n_words:
            break
        spans.append((i, i + length, rng.choice(["A", "B"])))
        i += length + rng.randint(0, 2)
    return _doc(words, spans, doc_id=f"doc{n_words}")


@pytest.mark.parametrize(("max_length", "overlap"), [(12, 3), (16, 0), (24, 7)])
def test_windowed_documents_reproduce_spans_exactly(minilm_tokenizer, max_length, overlap):
    rng = random.Random(max_length)
    docs = [_border_doc(rng, n) for n in (3, 40, 157)]
    encoder = Encoder(minilm_tokenizer, max_length, overlap)
    tags = label_list(["A", "B"])
    tag_id = {t: i for i, t in enumerate(tags)}
    words = [doc_words(d) for d in docs]
    word_tags = [
        [tag_id[t] for t in bio_tags(w, d.spans)] for d, w in zip(docs, words, strict=True)
    ]
    examples = encoder.examples(docs, words, word_tags)

    long_doc = [e for e in examples if e.doc == 2]
    assert len(long_doc) > 10  # the long document really is windowed
    for e in examples:
        assert len(e.input_ids) <= max_length
        assert e.input_ids[0] == minilm_tokenizer.cls_token_id
        assert e.input_ids[-1] == minilm_tokenizer.sep_token_id
        assert len(e.labels) == len(e.input_ids)
        assert {p for p, lab in enumerate(e.labels) if lab != IGNORE} == set(e.positions.values())
    # every word is labelled exactly once, across window borders
    for d, w in enumerate(words):
        owned = sorted(x for e in examples if e.doc == d for x in e.positions)
        assert owned == list(range(len(w)))

    found = [{w: e.labels[p] for w, p in e.positions.items()} for e in examples]
    assert decode(words, examples, found, tags) == [d.spans for d in docs]


def test_encoder_rejects_overlap_that_leaves_no_room(minilm_tokenizer):
    with pytest.raises(ConfigError, match="window_overlap"):
        Encoder(minilm_tokenizer, 10, 4)  # 8 subwords of room: overlap must stay under 4


def test_words_without_subwords_are_skipped_not_misaligned(minilm_tokenizer):
    text = "Ann \u200b Lee"  # the zero-width space is a token that encodes to nothing
    doc = Doc("d", text, (Span(6, 9, "PER"),), tokens=((0, 3), (4, 5), (6, 9)))
    words = doc_words(doc)
    encoder = Encoder(minilm_tokenizer, 16, 2)
    tags = label_list(["PER"])
    word_tags = [[tags.index(t) for t in bio_tags(words, doc.spans)]]
    (example,) = encoder.examples([doc], [words], word_tags)
    assert set(example.positions) == {0, 2}
    found = [{w: example.labels[p] for w, p in example.positions.items()}]
    assert decode([words], [example], found, tags) == [doc.spans]
