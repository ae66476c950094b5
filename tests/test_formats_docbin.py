"""spaCy DocBin: tokens and sentences kept, foreign DocBins, round trips of real files."""

from __future__ import annotations

from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, detect_format, read_corpus, write_corpus
from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError


def test_reads_a_docbin_written_by_spacy(tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    sdoc = nlp("Pfizer paid Dr. Smith.  He thanked Roche.")
    sdoc.ents = [sdoc.char_span(0, 6, "ORG"), sdoc.char_span(16, 21, "PERSON"),
                 sdoc.char_span(35, 40, "ORG")]
    sdoc.cats = {"COI": 1.0}
    path = tmp_path / "foreign.bin"
    DocBin(docs=[sdoc]).to_disk(path)
    assert detect_format(path) == "docbin"
    doc = read_corpus(path)[0]
    assert doc.id == "foreign-1" and doc.text == sdoc.text
    assert doc.spans == (Span(0, 6, "ORG"), Span(16, 21, "PERSON"), Span(35, 40, "ORG"))
    assert doc.tokens == tuple((t.idx, t.idx + len(t)) for t in sdoc if not t.is_space)
    assert doc.sentences == ((0, 22), (24, 41))
    assert doc.cats == {"COI": 1.0}
    assert read_corpus(path).notices == []


def test_span_groups_are_counted_not_silently_dropped(tmp_path: Path) -> None:
    import spacy
    from spacy.tokens import DocBin

    sdoc = spacy.blank("en")("Pfizer paid Dr. Smith and Roche.")
    sdoc.ents = [sdoc.char_span(0, 6, "ORG")]
    sdoc.spans["sc"] = [sdoc.char_span(16, 21, "PERSON"), sdoc.char_span(26, 31, "ORG")]
    path = tmp_path / "groups.spacy"
    DocBin(docs=[sdoc, sdoc], store_user_data=True).to_disk(path)
    corpus = read_corpus(path)
    assert [d.spans for d in corpus] == [(Span(0, 6, "ORG"),)] * 2
    (notice,) = corpus.notices
    assert notice.kind == "span-groups-not-read" and "4 in 'sc'" in notice.message


def test_keeps_ids_meta_tokens_and_sentences(tmp_path: Path) -> None:
    doc = Doc("pmid1", "Ab-cd ef.\n\nGh", (Span(0, 2, "X"), Span(11, 13, "Y")),
              sentences=((0, 9), (11, 13)), tokens=((0, 5), (6, 8), (8, 9), (11, 13)),
              meta={"source": "test"})
    write_corpus([doc], tmp_path / "d.spacy")
    back = read_corpus(tmp_path / "d.spacy")[0]
    assert (back.id, back.text, back.spans, back.sentences) == (
        doc.id, doc.text, doc.spans, doc.sentences)
    assert back.tokens == ((0, 2), (2, 5), (6, 8), (8, 9), (11, 13))  # cut at the span edge
    assert back.meta == {"source": "test"}


def test_rejects_foreign_bytes_and_overlaps(tmp_path: Path) -> None:
    bad = tmp_path / "bad.spacy"
    bad.write_bytes(b"\x78\x9c not really zlib")
    with pytest.raises(InputError, match="not a readable spaCy DocBin"):
        read_corpus(bad)
    doc = Doc("d", "New York City", (Span(0, 8, "A"), Span(4, 13, "B")))
    with pytest.raises(InputError, match="overlap"):
        write_corpus([doc], tmp_path / "o.spacy")


def test_real_pubtator_corpus_round_trips(shared_corpora: Path, tmp_path: Path) -> None:
    path = shared_corpora / "ncbi-disease" / "pubtator" / "NCBItestset_corpus.txt"
    corpus = read_corpus(path, options=ReadOptions(label_map={"Modifier": "Disease"}))
    write_corpus(corpus, tmp_path / "ncbi.spacy")
    back = read_corpus(tmp_path / "ncbi.spacy")
    assert [(d.id, d.text, d.spans) for d in back] == [(d.id, d.text, d.spans) for d in corpus]
    assert back[0].meta == corpus[0].meta  # the title/abstract split survives
    write_corpus(back, tmp_path / "again.spacy")
    assert read_corpus(tmp_path / "again.spacy").docs == back.docs
