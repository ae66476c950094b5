"""brat standoff folders: entities, skipped annotations and discontinuous-span policies."""

from __future__ import annotations

from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, detect_format, read_corpus
from nercurve.corpus.model import Span
from nercurve.errors import InputError

TEXT = "Aspirin reduced left and right ventricle damage.\n"
ANN = (
    "T1\tChemical 0 7\tAspirin\n"
    "T2\tAnatomy 16 20;31 40\tleft ventricle\n"
    "R1\tAffects Arg1:T1 Arg2:T2\n"
    "#1\tAnnotatorNotes T1\tdrug\n"
)


def _folder(tmp_path: Path, ann: str = ANN, text: str = TEXT) -> Path:
    root = tmp_path / "brat"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "d1.txt").write_text(text, encoding="utf-8", newline="")
    (root / "sub" / "d1.ann").write_text(ann, encoding="utf-8")
    (root / "README.txt").write_text("not a document\n", encoding="utf-8")
    return root


def test_discontinuous_span_is_an_error_by_default(tmp_path: Path) -> None:
    root = _folder(tmp_path)
    assert detect_format(root) == "brat"
    with pytest.raises(InputError, match="discontinuous span T2 Anatomy 16 20;31 40") as err:
        read_corpus(root)
    assert err.value.file == str(root / "sub" / "d1.ann") and err.value.line == 2
    assert "--discontinuous" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("policy", "spans"),
    [
        ("hull", [Span(0, 7, "Chemical"), Span(16, 40, "Anatomy")]),
        ("first-fragment", [Span(0, 7, "Chemical"), Span(16, 20, "Anatomy")]),
        ("split", [Span(0, 7, "Chemical"), Span(16, 20, "Anatomy"), Span(31, 40, "Anatomy")]),
    ],
)
def test_discontinuous_policies(tmp_path: Path, policy: str, spans: list[Span]) -> None:
    corpus = read_corpus(_folder(tmp_path), options=ReadOptions(discontinuous=policy))
    assert corpus.ids == ["sub/d1"]
    assert list(corpus[0].spans) == spans
    assert corpus[0].text == TEXT
    assert corpus.notice_counts() == {
        "discontinuous": 1, "skipped-annotation": 2, "txt-without-ann": 1,
    }


def test_mention_mismatch_and_offsets_outside(tmp_path: Path) -> None:
    root = _folder(tmp_path, ann="T1\tChemical 0 7\tAspirin\nT2\tX 8 15\treduces\n")
    with pytest.raises(InputError, match="expected 'reduces', found 'reduced'") as err:
        read_corpus(root)
    assert err.value.line == 2
    root2 = _folder(tmp_path / "b", ann="T1\tChemical 40 99\tx\n")
    with pytest.raises(InputError, match="lies outside its text"):
        read_corpus(root2)


def test_single_ann_file_and_missing_txt(tmp_path: Path) -> None:
    root = _folder(tmp_path, ann="T1\tChemical 0 7\tAspirin\n")
    corpus = read_corpus(root / "sub" / "d1.ann")
    assert corpus.ids == ["d1"] and corpus[0].spans == (Span(0, 7, "Chemical"),)
    (root / "sub" / "d1.txt").unlink()
    with pytest.raises(InputError, match=r"d1\.txt is missing"):
        read_corpus(root)


def test_crlf_text_keeps_exact_offsets(tmp_path: Path) -> None:
    root = _folder(tmp_path, text="a\r\nAspirin\r\n", ann="T1\tChemical 3 10\tAspirin\n")
    doc = read_corpus(root)[0]
    assert doc.text == "a\r\nAspirin\r\n" and doc.span_text(doc.spans[0]) == "Aspirin"


def test_write_folder_reads_back(tmp_path: Path) -> None:
    from nercurve.corpus.brat import write_folder
    from nercurve.corpus.model import Doc

    docs = [Doc("sub/a", "Ann Lee took aspirin.\n", (Span(0, 7, "PERSON"), Span(13, 20, "Drug"))),
            Doc("b", "Nothing here. 👍 Ümlaut ok\r\n", ())]
    write_folder(docs, tmp_path / "out")
    back = read_corpus(tmp_path / "out", "brat").by_id()
    assert {k: (d.text, d.spans) for k, d in back.items()} == {d.id: (d.text, d.spans)
                                                               for d in docs}
    # a span across a line break is written as fragments (the reader's discontinuous policy)
    write_folder([Doc("c", "New\nYork is big.", (Span(0, 8, "GPE"),))], tmp_path / "frag")
    assert (tmp_path / "frag" / "c.ann").read_text() == "T1\tGPE 0 3;4 8\tNew York\n"
    hull = read_corpus(tmp_path / "frag", "brat", ReadOptions(discontinuous="hull"))
    assert hull[0].spans == (Span(0, 8, "GPE"),)
    with pytest.raises(InputError, match="cannot name a brat file"):
        write_folder([Doc("../up", "x", ())], tmp_path / "bad")
