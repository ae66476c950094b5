"""JSONL reading (ours, doccano, Prodigy), the shared checks it runs, and writing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, detect_format, read_corpus, write_corpus
from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError


def _jsonl(path: Path, *objs: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objs), encoding="utf-8")
    return path


def test_reads_our_doccano_and_prodigy_shapes(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "c.jsonl",
        {"id": "a", "text": "Pfizer paid Dr. Smith.",
         "spans": [{"start": 16, "end": 21, "label": "PERSON"},
                   {"start": 0, "end": 6, "label": "ORG"}]},
        {"id": 7, "text": "Bayer AG", "label": [[0, 8, "ORG"]]},
        {"text": "Roche Ltd", "entities": [{"start_offset": 0, "end_offset": 5, "label": "ORG"}],
         "id": "r"},
        {"text": "Novartis", "_input_hash": 99, "answer": "accept",
         "spans": [{"start": 0, "end": 8, "label": "ORG", "text": "Novartis", "token_start": 0}],
         "tokens": [{"text": "Novartis", "start": 0, "end": 8, "id": 0}]},
        {"text": "rejected", "_input_hash": 100, "answer": "reject", "spans": []},
        {"text": "no conflicts", "label": ["NONE"]},
    )
    corpus = read_corpus(path)
    assert corpus.ids == ["a", "7", "r", "99", "c-6"]
    assert corpus[0].spans == (Span(0, 6, "ORG"), Span(16, 21, "PERSON"))
    assert corpus.by_id()["7"].spans == (Span(0, 8, "ORG"),)
    assert corpus.by_id()["r"].spans == (Span(0, 5, "ORG"),)
    assert corpus.by_id()["99"].tokens == ((0, 8),)
    assert corpus.by_id()["c-6"].cats == {"NONE": 1.0}
    assert corpus.notice_counts() == {"prodigy-not-accepted": 1}
    assert corpus.notices[0].line == 5


def test_write_then_read_keeps_everything(tmp_path: Path) -> None:
    doc = Doc("d1", "Ab cd. Ef", (Span(0, 2, "X"), Span(7, 9, "Y")),
              sentences=((0, 6), (7, 9)), tokens=((0, 2), (3, 5), (5, 6), (7, 9)),
              cats={"c": 1.0}, meta={"source": "s"})
    write_corpus([doc], tmp_path / "out.jsonl")
    back = read_corpus(tmp_path / "out.jsonl")
    assert back.docs == [doc]
    assert back[0].cats == doc.cats and back[0].meta == doc.meta


def test_label_map_and_labels_filter_count_dropped_spans(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "c.jsonl", {"id": "a", "text": "aa bb cc", "spans": [
        {"start": 0, "end": 2, "label": "SpecificDisease"},
        {"start": 3, "end": 5, "label": "Modifier"},
        {"start": 6, "end": 8, "label": "Gene"}]})
    opts = ReadOptions(label_map={"SpecificDisease": "Disease", "Modifier": "Disease"},
                       labels=frozenset({"Disease"}))
    corpus = read_corpus(path, options=opts)
    assert corpus[0].spans == (Span(0, 2, "Disease"), Span(3, 5, "Disease"))
    assert corpus.notice_counts() == {"label-dropped": 1}
    with pytest.raises(InputError, match="'Gene', not one of --labels Disease") as err:
        read_corpus(path, options=ReadOptions(labels=frozenset({"Disease"}), strict=True,
                                              label_map=opts.label_map))
    assert err.value.line == 1 and "--labels" in (err.value.hint or "")


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"id": "a", "text": "abc", "spans": [{"start": 1, "end": 9, "label": "X"}]},
         "lies outside its text"),
        ({"id": "a", "text": "abc", "spans": [{"start": 0, "end": 2, "label": "X", "text": "bc"}]},
         "expected 'bc', found 'ab'"),
        ({"id": "a", "text": "   ", "spans": []}, "has no text"),
        ({"id": "a", "text": "abc", "spans": [{"start": "0", "end": 2, "label": "X"}]},
         "not an integer"),
        ({"id": "a", "spans": []}, 'no "text"'),
    ],
)
def test_bad_lines_name_file_line_and_hint(tmp_path: Path, obj: dict, message: str) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", {"id": "ok", "text": "fine"}, obj)
    with pytest.raises(InputError, match=message) as err:
        read_corpus(path)
    assert err.value.file == str(path) and err.value.line == 2 and err.value.hint


def test_overlap_policies(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "o.jsonl", {"id": "a", "text": "New York City", "spans": [
        {"start": 0, "end": 8, "label": "LOC"}, {"start": 4, "end": 13, "label": "LOC2"},
        {"start": 0, "end": 13, "label": "CITY"}]})
    with pytest.raises(InputError, match="spans overlap") as err:
        read_corpus(path)
    assert "--overlap" in (err.value.hint or "")
    first = read_corpus(path, options=ReadOptions(overlap="first"))
    assert first[0].spans == (Span(0, 8, "LOC"),)
    longest = read_corpus(path, options=ReadOptions(overlap="longest"))
    assert longest[0].spans == (Span(0, 13, "CITY"),)
    assert longest.notice_counts() == {"overlap-dropped": 2}


def test_repeated_id_and_repeated_span(tmp_path: Path) -> None:
    span = {"start": 0, "end": 1, "label": "X"}
    path = _jsonl(tmp_path / "d.jsonl", {"id": "a", "text": "x", "spans": [span, span]},
                  {"id": "b", "text": "y"}, {"id": "a", "text": "z"})
    with pytest.raises(InputError, match=r"'a' is repeated: first at line 1, again at line 3"):
        read_corpus(path)
    corpus = read_corpus(path, options=ReadOptions(duplicate_ids="keep-first"))
    assert corpus.ids == ["a", "b"] and corpus[0].text == "x"
    assert corpus.notice_counts() == {"duplicate-span": 1, "duplicate-id-dropped": 1}
    with pytest.raises(InputError, match="repeated in document"):
        read_corpus(path, options=ReadOptions(duplicate_ids="keep-first", strict=True))


def test_non_utf8_bytes_report_their_line(tmp_path: Path) -> None:
    path = tmp_path / "latin.jsonl"
    path.write_bytes(b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "caf\xe9"}\n')
    with pytest.raises(InputError, match="not UTF-8 at line 2") as err:
        read_corpus(path)
    assert err.value.line == 2 and "iconv" in (err.value.hint or "")


def test_invalid_json_and_detection(tmp_path: Path) -> None:
    path = tmp_path / "x.data"
    path.write_text('{"id": "a", "text": "t"}\n{"id": \n', encoding="utf-8")
    assert detect_format(path) == "jsonl"
    with pytest.raises(InputError, match="not valid JSON") as err:
        read_corpus(path)
    assert err.value.line == 2


def test_failed_write_leaves_existing_file_untouched(tmp_path: Path) -> None:
    out = tmp_path / "keep.jsonl"
    out.write_text("precious\n", encoding="utf-8")
    bad = Doc("a", "text", meta={"x": object()})
    with pytest.raises(InputError, match="cannot be written as JSON") as err:
        write_corpus([Doc("ok", "fine"), bad], out)
    assert err.value.file == str(out)
    assert out.read_text(encoding="utf-8") == "precious\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.jsonl"]
