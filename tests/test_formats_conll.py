"""CoNLL/IOB: tag schemes, columns, document boundaries, repairs, and the real IOB files."""

from __future__ import annotations

from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, detect_format, read_corpus, write_corpus
from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError


def _file(tmp_path: Path, content: str, name: str = "c.conll") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def _entities(doc: Doc) -> list[tuple[str, str]]:
    return [(doc.span_text(s), s.label) for s in doc.spans]


def test_iob2_with_docstart_ids_and_sentence_offsets(tmp_path: Path) -> None:
    path = _file(tmp_path, (
        "-DOCSTART- -X- -X- O\n\n"
        "Dr.\tB-PER\nVirchow\tI-PER\nthanks\tO\nPfizer\tB-ORG\n\n"
        "Bayer\tB-ORG\nAG\tI-ORG\n.\tO\n\n"
        "-DOCSTART-\tpmid42\n\n"
        "Roche\tB-ORG\n"
    ))
    assert detect_format(path) == "conll"
    corpus = read_corpus(path)
    assert corpus.ids == ["c-1", "pmid42"]
    doc = corpus[0]
    assert doc.text == "Dr. Virchow thanks Pfizer Bayer AG ."
    assert _entities(doc) == [("Dr. Virchow", "PER"), ("Pfizer", "ORG"), ("Bayer AG", "ORG")]
    assert doc.sentences == ((0, 25), (26, 36))
    assert doc.tokens is not None and doc.tokens[:2] == ((0, 3), (4, 11))
    assert _entities(corpus[1]) == [("Roche", "ORG")]
    assert corpus.notices == []


def test_bioes_and_bilou(tmp_path: Path) -> None:
    path = _file(tmp_path, "a B-X\nb I-X\nc E-X\nd S-Y\ne O\nf U-Z\ng B-Z\nh L-Z\n")
    doc = read_corpus(path)[0]
    assert _entities(doc) == [("a b c", "X"), ("d", "Y"), ("f", "Z"), ("g h", "Z")]


def test_iob1_chunks(tmp_path: Path) -> None:
    content = "a I-X\nb I-X\nc B-X\nd I-Y\n"
    path = _file(tmp_path, content)
    iob1 = read_corpus(path, options=ReadOptions(scheme="iob1"))
    assert _entities(iob1[0]) == [("a b", "X"), ("c", "X"), ("d", "Y")]
    assert set(iob1.notice_counts()) == {"no-document-boundaries"}
    # read as IOB2 the same chunks come out, each dangling I- repaired with a notice
    iob2 = read_corpus(path)
    assert iob2.docs == iob1.docs
    dangling = [n for n in iob2.notices if n.kind == "dangling-tag"]
    assert [n.line for n in dangling] == [1, 4]
    assert "I-Y has no opening B-Y (previous tag B-X)" in dangling[1].message


def test_dangling_tag_is_an_error_under_strict(tmp_path: Path) -> None:
    path = _file(tmp_path, "a O\nb I-GENE\n")
    with pytest.raises(InputError, match="I-GENE has no opening B-GENE") as err:
        read_corpus(path, options=ReadOptions(strict=True))
    assert err.value.line == 2 and "B-GENE" in (err.value.hint or "")


def test_unclosed_bioes_entity_is_repaired_and_counted(tmp_path: Path) -> None:
    corpus = read_corpus(_file(tmp_path, "a B-X\nb I-X\nc O\nd E-X\n"))
    assert _entities(corpus[0]) == [("a b", "X"), ("d", "X")]
    assert corpus.notice_counts() == {
        "unclosed-entity": 1, "dangling-tag": 1, "no-document-boundaries": 1,
    }


def test_choosable_columns_and_space_separated_lines(tmp_path: Path) -> None:
    path = _file(tmp_path, "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\nGerman JJ B-NP B-MISC\n")
    assert _entities(read_corpus(path)[0]) == [("EU", "ORG"), ("German", "MISC")]
    chunks = read_corpus(path, options=ReadOptions(tag_col=2))
    assert _entities(chunks[0]) == [("EU", "NP"), ("rejects", "VP"), ("German", "NP")]
    with pytest.raises(InputError, match="tag 'NNP' is not O") as err:
        read_corpus(path, options=ReadOptions(tag_col=1))
    assert err.value.line == 1 and "--tag-col" in (err.value.hint or "")
    with pytest.raises(InputError, match="column 7 is missing"):
        read_corpus(path, options=ReadOptions(tag_col=7))


def test_sentences_per_doc_groups_sentences(tmp_path: Path) -> None:
    path = _file(tmp_path, "".join(f"w{i}\tO\n\n" for i in range(5)), "s.iob")
    single = read_corpus(path)
    assert single.ids == ["s-1", "s-2", "s-3", "s-4", "s-5"]
    assert single.notice_counts() == {"no-document-boundaries": 1}
    grouped = read_corpus(path, options=ReadOptions(sentences_per_doc=2))
    assert grouped.ids == ["s-1", "s-2", "s-3"]
    assert grouped[0].text == "w0 w1" and grouped[0].sentences == ((0, 2), (3, 5))
    assert grouped[2].text == "w4"


def test_repeated_docstart_id_and_empty_document(tmp_path: Path) -> None:
    path = _file(tmp_path, "-DOCSTART- a\n\nx O\n\n-DOCSTART- a\n\ny O\n")
    with pytest.raises(InputError, match="first at line 1, again at line 5"):
        read_corpus(path)
    empty = _file(tmp_path, "-DOCSTART- a\n\n-DOCSTART- b\n\ny O\n", "e.conll")
    with pytest.raises(InputError, match="'a' has no text") as err:
        read_corpus(empty)
    assert err.value.line == 1 and "--empty-docs skip" in (err.value.hint or "")
    skipped = read_corpus(empty, options=ReadOptions(empty_docs="skip"))
    assert skipped.ids == ["b"] and skipped.notice_counts() == {"empty-doc-skipped": 1}


def test_writer_cuts_tokens_at_span_edges(tmp_path: Path) -> None:
    doc = Doc("d", "Pfizer-India paid\n\nDr.  Smith.", (Span(0, 6, "ORG"), Span(19, 29, "PER")))
    write_corpus([doc], tmp_path / "o.conll")
    lines = (tmp_path / "o.conll").read_text(encoding="utf-8").splitlines()
    assert lines[:3] == ["-DOCSTART-\td", "", "Pfizer\tB-ORG"]
    assert lines[3].endswith("\tO") and all(ln.count("\t") == 1 for ln in lines if ln)
    assert "Dr.\tB-PER" in lines and "Smith\tI-PER" in lines
    back = read_corpus(tmp_path / "o.conll")[0]
    assert _entities(back) == [("Pfizer", "ORG"), ("Dr. Smith", "PER")]


def test_writer_refuses_overlapping_spans(tmp_path: Path) -> None:
    doc = Doc("d", "New York City", (Span(0, 8, "A"), Span(4, 13, "B")),
              sentences=((0, 13),), tokens=((0, 3), (4, 8), (9, 13)))
    with pytest.raises(InputError, match="overlap"):
        write_corpus([doc], tmp_path / "o.conll")
    assert not (tmp_path / "o.conll").exists()


@pytest.mark.parametrize(
    ("corpus", "split", "sentences", "tokens", "entities", "label"),
    [
        ("ncbi-disease", "train", 5424, 135701, 5134, "Disease"),
        ("bc2gm", "train", 12574, 355405, 15197, "GENE"),
    ],
)
def test_real_iob_files(
    shared_corpora: Path, tmp_path: Path,
    corpus: str, split: str, sentences: int, tokens: int, entities: int, label: str,
) -> None:
    path = shared_corpora / corpus / "iob" / f"{split}.tsv"
    docs = read_corpus(path)
    assert len(docs) == sentences  # no -DOCSTART-: each sentence a document
    assert sum(len(d.tokens or ()) for d in docs) == tokens
    assert sum(len(d.spans) for d in docs) == entities
    assert docs.labels() == [label]
    assert docs.notice_counts() == {"no-document-boundaries": 1}
    assert f"{sentences} documents" in docs.notices[0].message
    # text is whitespace-joined: the IOB tokenization (e.g. "Parkinson ' s") is kept
    assert all(d.text == " ".join(d.text[a:b] for a, b in d.tokens or ()) for d in docs)
    if corpus == "ncbi-disease":
        write_corpus(docs, tmp_path / "back.iob")
        assert read_corpus(tmp_path / "back.iob").docs == docs.docs
