"""Property-based round trips: read -> write -> read keeps documents and spans."""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nercurve.corpus.io import read_corpus, write_corpus
from nercurve.corpus.model import Doc, Span

LABELS = st.sampled_from(["PERSON", "ORG", "Disease", "anti-B", "x_y"])  # IOB-safe labels
SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ANY_CHAR = st.characters(exclude_categories=("Cs",))
LINE_CHAR = st.characters(exclude_categories=("Cs",), exclude_characters="\n\r\t")
WORD = st.text(
    st.characters(exclude_categories=("Cs", "Zs", "Zl", "Zp", "Cc")), min_size=1, max_size=5
).filter(lambda w: not any(c.isspace() for c in w))


@st.composite
def free_text_docs(draw: st.DrawFn, alphabet: st.SearchStrategy[str], trim: bool = False) -> Doc:
    """Arbitrary text with random non-overlapping spans (edges moved off whitespace if trim)."""
    text = draw(st.text(alphabet, min_size=1, max_size=60).filter(lambda t: t.strip()))
    cuts = sorted(set(draw(st.lists(st.integers(0, len(text)), max_size=8))))
    spans = []
    for a, b in zip(cuts[::2], cuts[1::2], strict=False):
        if trim:
            while a < b and text[a].isspace():
                a += 1
            while b > a and text[b - 1].isspace():
                b -= 1
        if a < b and draw(st.booleans()):
            spans.append(Span(a, b, draw(LABELS)))
    return Doc("", text, tuple(spans))


@st.composite
def token_docs(draw: st.DrawFn) -> Doc:
    """A document whose text is its tokens joined by single spaces, spans on whole tokens."""
    sentences = draw(st.lists(st.lists(WORD, min_size=1, max_size=7), min_size=1, max_size=3))
    tokens, sents, spans = [], [], []
    pos = 0
    for words in sentences:
        first = len(tokens)
        for w in words:
            tokens.append((pos, pos + len(w)))
            pos += len(w) + 1
        sents.append((tokens[first][0], tokens[-1][1]))
        i = first
        while i < len(tokens):
            length = draw(st.integers(0, 3))
            if length and i + length <= len(tokens) and draw(st.booleans()):
                spans.append(Span(tokens[i][0], tokens[i + length - 1][1], draw(LABELS)))
                i += length
            else:
                i += 1
    text = " ".join(w for words in sentences for w in words)
    return Doc("", text, tuple(spans), tuple(sents), tuple(tokens))


def _named(docs: list[Doc]) -> list[Doc]:
    return [replace(d, id=f"doc{i}") for i, d in enumerate(docs)]


def _roundtrip(docs: list[Doc], name: str) -> list[Doc]:
    with tempfile.TemporaryDirectory() as tmp:
        write_corpus(docs, Path(tmp) / name)
        first = read_corpus(Path(tmp) / name).docs
        write_corpus(first, Path(tmp) / ("again-" + name))
        second = read_corpus(Path(tmp) / ("again-" + name)).docs
    assert second == first  # a file this format wrote reads back identically
    return first


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _core(docs: list[Doc]) -> list[tuple[str, str, tuple[Span, ...]]]:
    return [(d.id, d.text, d.spans) for d in docs]


@SETTINGS
@given(st.lists(free_text_docs(ANY_CHAR), min_size=1, max_size=4))
def test_jsonl_holds_any_document(docs: list[Doc]) -> None:
    docs = _named(docs)
    assert _roundtrip(docs, "c.jsonl") == docs


@SETTINGS
@given(st.lists(free_text_docs(LINE_CHAR), min_size=1, max_size=4))
def test_pubtator_holds_single_line_text(docs: list[Doc]) -> None:
    docs = _named(docs)
    assert _core(_roundtrip(docs, "c.pubtator")) == _core(docs)


@SETTINGS
@given(st.lists(token_docs(), min_size=1, max_size=4))
def test_conll_holds_tokenized_documents(docs: list[Doc]) -> None:
    docs = _named(docs)
    assert _roundtrip(docs, "c.conll") == docs


@SETTINGS
@given(st.lists(token_docs(), min_size=1, max_size=4))
def test_docbin_holds_tokenized_documents(docs: list[Doc]) -> None:
    docs = _named(docs)
    assert _roundtrip(docs, "c.spacy") == docs


@SETTINGS
@given(st.lists(free_text_docs(ANY_CHAR, trim=True), min_size=1, max_size=3))
def test_docbin_holds_any_text_and_spans(docs: list[Doc]) -> None:
    docs = _named(docs)
    assert _core(_roundtrip(docs, "c.spacy")) == _core(docs)


@SETTINGS
@given(st.lists(free_text_docs(ANY_CHAR, trim=True), min_size=1, max_size=3))
def test_conll_keeps_span_words_of_any_text(docs: list[Doc]) -> None:
    """CoNLL rebuilds text from tokens: what survives is the non-space text and span labels."""
    docs = _named(docs)
    back = _roundtrip(docs, "c.conll")
    assert [d.id for d in back] == [d.id for d in docs]
    for doc, got in zip(docs, back, strict=True):
        assert _squeeze(got.text) == _squeeze(doc.text)
        assert [(_squeeze(got.span_text(s)), s.label) for s in got.spans] == [
            (_squeeze(doc.span_text(s)), s.label) for s in doc.spans
        ]


@pytest.mark.parametrize("name", ["c.jsonl", "c.conll", "c.spacy", "c.pubtator"])
def test_every_writer_keeps_ids_text_and_spans_of_tokenized_docs(name: str) -> None:
    doc = Doc("d1", "Sunakawa Y received fees from Pfizer India .", (
        Span(0, 10, "PERSON"), Span(30, 42, "ORG")),
        sentences=((0, 44),), tokens=((0, 8), (9, 10), (11, 19), (20, 24), (25, 29),
                                       (30, 36), (37, 42), (43, 44)))
    assert _core(_roundtrip([doc], name)) == _core([doc])


@SETTINGS
@given(st.lists(free_text_docs(ANY_CHAR), min_size=1, max_size=4))
def test_label_studio_tasks_hold_any_document(docs: list[Doc]) -> None:
    docs = _named(docs)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tasks.json"
        write_corpus(docs, path, "labelstudio")
        first = read_corpus(path).docs
        write_corpus(first, Path(tmp) / "again.json", "labelstudio")
        assert (Path(tmp) / "again.json").read_bytes() == path.read_bytes()
    assert first == docs
