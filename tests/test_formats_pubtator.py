"""PubTator: title + abstract offsets, relation lines, and the real NCBI/BC5CDR traps."""

from __future__ import annotations

from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, detect_format, read_corpus, write_corpus
from nercurve.corpus.model import Span
from nercurve.errors import InputError

SMALL = (
    "1|t|Naloxone and clonidine.\n"
    "1|a|Naloxone reverses hypertension.\n"
    "1\t0\t8\tNaloxone\tChemical\tD009270\n"
    "1\t24\t32\tNaloxone\tChemical\tD009270\n"
    "1\t42\t54\thypertension\tDisease\tD006973\n"
    "1\tCID\tD009270\tD006973\n"
    "\n"
    "2|t|No abstract here\n"
    "2|a|\n"
    "\n"
)
NCBI_MAP = {t: "Disease" for t in
            ("SpecificDisease", "Modifier", "DiseaseClass", "CompositeMention")}


def test_reads_title_space_abstract_and_skips_relations(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text(SMALL, encoding="utf-8")
    assert detect_format(path) == "pubtator"
    corpus = read_corpus(path)
    first, second = corpus
    assert first.text == "Naloxone and clonidine. Naloxone reverses hypertension."
    assert [first.span_text(s) for s in first.spans] == ["Naloxone", "Naloxone", "hypertension"]
    assert second.text == "No abstract here" and second.spans == ()
    assert corpus.notice_counts() == {"skipped-relation": 1, "concept-ids-not-kept": 1}
    relation, ids = corpus.notices
    assert relation.line == 6
    assert ids.line == 3 and ids.message.startswith("3 mention(s) carry concept ids")


def test_writes_back_the_same_file_content(tmp_path: Path) -> None:
    path = tmp_path / "small.txt"
    path.write_text(SMALL, encoding="utf-8")
    corpus = read_corpus(path)
    write_corpus(corpus, tmp_path / "out.pubtator")
    written = (tmp_path / "out.pubtator").read_text(encoding="utf-8")
    assert written.startswith("1|t|Naloxone and clonidine.\n1|a|Naloxone reverses hypertension.\n")
    assert "1\t42\t54\thypertension\tDisease\n" in written
    assert read_corpus(tmp_path / "out.pubtator").docs == corpus.docs


@pytest.mark.parametrize(
    ("content", "message", "line"),
    [
        ("1|t|abc\n1\t0\t9\tabcdefghi\tX\n", "lies outside its text", 2),
        ("1|t|abc def\n1\t0\t3\tabd\tX\n", "expected 'abd', found 'abc'", 2),
        ("1|t|abc\n2\t0\t3\tabc\tX\n", "inside the block of document '1'", 2),
        ("1|t|abc\n1\t0\t3\n", "at least 5 are needed", 2),
        ("1|t|abc\n1\t0 \t3\tabc\tX\n", "the start offset '0 ' of mention 'abc' is not", 2),
        ("1|t|abc\n1\tO1\t3\tbc\tX\n", "the start offset 'O1'", 2),
        ("1|t|abc\n1\t0\t3x\tabc\tX\n", "the end offset '3x'", 2),
        ("hello world\n", "unexpected line", 1),
        ("1|t|abc def\n1\t0\t7\tabc def\tX\n1\t4\t7\tdef\tY\n", "spans overlap", 3),
        ("1|t|   \n", "has no text", 1),
    ],
)
def test_bad_input_names_the_line(tmp_path: Path, content: str, message: str, line: int) -> None:
    path = tmp_path / "bad.pubtator"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as err:
        read_corpus(path, fmt="pubtator")
    assert (err.value.file, err.value.line) == (str(path), line)
    assert err.value.hint


def test_writer_refuses_text_with_line_breaks(tmp_path: Path) -> None:
    from nercurve.corpus.model import Doc

    with pytest.raises(InputError, match="line break"):
        write_corpus([Doc("a", "two\nlines")], tmp_path / "x.pubtator")


def test_ncbi_train_traps(shared_corpora: Path) -> None:
    path = shared_corpora / "ncbi-disease" / "pubtator" / "NCBItrainset_corpus.txt"
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert err.value.line == 3249
    assert "'10923035'" in err.value.message
    assert "expected 'generalized epilepsy and febrile seizures \" plus \"  '" in err.value.message
    assert "found 'generalized epilepsy and febrile seizures \" plus \"'" in err.value.message
    assert "--mismatch strip" in (err.value.hint or "")

    with pytest.raises(InputError) as err:
        read_corpus(path, options=ReadOptions(mismatch="strip"))
    assert err.value.line == 4557
    assert "'8528200' is repeated: first at line 3811, again at line 4557" in err.value.message
    assert "--duplicate-ids keep-first" in (err.value.hint or "")

    corpus = read_corpus(
        path, options=ReadOptions(mismatch="strip", duplicate_ids="keep-first", label_map=NCBI_MAP)
    )
    assert len(corpus) == 592 and len(set(corpus.ids)) == 592
    assert sum(len(d.spans) for d in corpus) == 5145 - 11  # the repeated block held 11
    assert corpus.labels() == ["Disease"]
    assert corpus.notice_counts() == {"mismatch-stripped": 1, "duplicate-id-dropped": 1,
                                      "concept-ids-not-kept": 1}
    stripped = next(n for n in corpus.notices if n.kind == "mismatch-stripped")
    assert (stripped.line, stripped.doc_id) == (3249, "10923035")
    doc = corpus.by_id()["10923035"]
    assert Span(711, 761, "Disease") in doc.spans


def test_ncbi_keeps_its_four_types_without_a_map(shared_corpora: Path) -> None:
    path = shared_corpora / "ncbi-disease" / "pubtator" / "NCBIdevelopset_corpus.txt"
    corpus = read_corpus(path)
    assert (len(corpus), sum(len(d.spans) for d in corpus)) == (100, 787)
    assert corpus.labels() == sorted(NCBI_MAP)
    (ids,) = corpus.notices  # NCBI mentions carry MeSH/OMIM ids: not kept, and said so
    assert ids.kind == "concept-ids-not-kept" and ids.message.startswith("787 mention(s)")
    keep = frozenset({"SpecificDisease"})
    only = read_corpus(path, options=ReadOptions(labels=keep))
    kept = sum(len(d.spans) for d in only)
    assert kept > 0 and only.notice_counts() == {"label-dropped": 787 - kept,
                                                 "concept-ids-not-kept": 1}
    with pytest.raises(InputError, match="not one of --labels SpecificDisease") as err:
        read_corpus(path, options=ReadOptions(labels=keep, strict=True))
    assert err.value.line is not None


def test_bc5cdr_skips_cid_lines_and_round_trips(shared_corpora: Path, tmp_path: Path) -> None:
    path = shared_corpora / "bc5cdr" / "pubtator" / "CDR_TrainingSet.PubTator.txt"
    corpus = read_corpus(path)
    assert (len(corpus), sum(len(d.spans) for d in corpus)) == (500, 9385)
    assert corpus.labels() == ["Chemical", "Disease"]
    relation_lines = sum(
        1 for ln in path.read_text(encoding="utf-8").splitlines() if "\tCID\t" in ln
    )
    assert corpus.notice_counts() == {"skipped-relation": relation_lines,
                                      "concept-ids-not-kept": 1}
    for name in ("back.pubtator", "back.jsonl"):
        write_corpus(corpus, tmp_path / name)
        assert read_corpus(tmp_path / name).docs == corpus.docs
