"""Disagreement lists, adjudication rules and a third rater's decisions file."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from marked_docs import doc

from nercurve.agreement.adjudicate import adjudicate, read_decisions
from nercurve.agreement.aligned import Aligned, align
from nercurve.agreement.disagreements import (
    columns,
    find_disagreements,
    write_disagreements,
)
from nercurve.corpus.model import Corpus, Span
from nercurve.errors import InputError


def _texts(aligned: Aligned) -> dict[str, str]:
    return {i: row[0].text for i, row in zip(aligned.ids, aligned.docs, strict=True)}


T1 = "Alice Smith met Bob Jones at Acme Corp and Zed Inc in Paris."
T2 = "Dr. Ng consults for Big Pharma Ltd; Ann Roe holds stock in Bio Co."


@pytest.fixture()
def pair() -> tuple[Corpus, Corpus]:
    a = Corpus([
        doc("d1", T1, ("Alice Smith", "PERSON"), ("Bob Jones", "PERSON"),
            ("Acme Corp", "ORG"), ("Zed Inc", "ORG")),
        doc("d2", T2, ("Ng", "PERSON"), ("Big Pharma Ltd", "ORG"), ("Bio Co", "ORG")),
    ], source="a.jsonl")
    b = Corpus([
        doc("d1", T1, ("Alice Smith", "PERSON"), ("Bob", "PERSON"),
            ("Acme Corp", "PERSON"), ("Paris", "ORG")),
        doc("d2", T2, ("Ng", "PERSON"), ("Big Pharma", "ORG"), ("Ltd", "ORG"),
            ("Ann Roe", "PERSON"), ("Bio Co", "ORG")),
    ], source="b.jsonl")
    return a, b


def _span(text: str, sub: str, label: str) -> Span:
    start = text.index(sub)
    return Span(start, start + len(sub), label)


def test_disagreements_grouped_and_classified(pair: tuple[Corpus, Corpus]) -> None:
    found = find_disagreements(align(pair))
    summary = [(d.item, d.doc_id, d.text, d.kind) for d in found]
    assert summary == [
        (1, "d1", "Bob Jones", "boundary"),
        (2, "d1", "Acme Corp", "type"),
        (3, "d1", "Zed Inc", "missing"),
        (4, "d1", "Paris", "missing"),
        # B's "Big Pharma" and "Ltd" both overlap A's "Big Pharma Ltd": one group
        (5, "d2", "Big Pharma Ltd", "boundary"),
        (6, "d2", "Ann Roe", "missing"),
    ]
    group = found[4]
    assert [len(s) for s in group.spans] == [1, 2]
    assert "[[Big Pharma Ltd]]" in group.context


def test_disagreement_csv(pair: tuple[Corpus, Corpus], tmp_path: Path) -> None:
    aligned = align(pair)
    path = tmp_path / "dis.csv"
    write_disagreements(find_disagreements(aligned), aligned.names, _texts(aligned), path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    assert list(rows[0]) == columns(["A", "B"])
    assert len(rows) == 6
    start = T2.index("Big")
    big = rows[4]
    assert (big["doc_id"], big["text"], big["A_label"], big["B_label"]) == (
        "d2", "Big Pharma Ltd", "ORG", "ORG; ORG")
    assert big["A_span"] == f'{start}-{start + 14} "Big Pharma Ltd"'
    assert big["B_span"] == f'{start}-{start + 10} "Big Pharma"; {start + 11}-{start + 14} "Ltd"'
    assert rows[5]["A_span"] == "(none)" and rows[5]["A_label"] == ""
    assert rows[5]["decision"] == "" and rows[5]["custom"] == ""


def _spans(corpus: Corpus, doc_id: str) -> list[tuple[str, str]]:
    d = corpus.by_id()[doc_id]
    return [(d.span_text(s), s.label) for s in d.spans]


def test_rules(pair: tuple[Corpus, Corpus]) -> None:
    a, b = pair
    agreed = [("Alice Smith", "PERSON")]
    result = adjudicate(a, b, rule="intersection")
    assert _spans(result.corpus, "d1") == agreed
    assert (result.agreed, result.by_rule, result.unresolved) == (3, 6, ())
    assert _spans(adjudicate(a, b, rule="A").corpus, "d1") == _spans(a, "d1")
    assert _spans(adjudicate(a, b, rule="B").corpus, "d2") == _spans(b, "d2")
    union = adjudicate(a, b, rule="union").corpus
    # longer span wins an overlap (Bob Jones over Bob; Big Pharma Ltd over its parts);
    # on the same offsets A's label wins (Acme Corp ORG); the rest is kept
    assert _spans(union, "d1") == [("Alice Smith", "PERSON"), ("Bob Jones", "PERSON"),
                                   ("Acme Corp", "ORG"), ("Zed Inc", "ORG"),
                                   ("Paris", "ORG")]
    assert _spans(union, "d2") == [("Ng", "PERSON"), ("Big Pharma Ltd", "ORG"),
                                   ("Ann Roe", "PERSON"), ("Bio Co", "ORG")]


def test_no_rule_leaves_disagreements_unresolved(pair: tuple[Corpus, Corpus]) -> None:
    result = adjudicate(*pair)
    assert len(result.unresolved) == 6 and result.by_rule == 0
    assert _spans(result.corpus, "d2") == [("Ng", "PERSON"), ("Bio Co", "ORG")]


def test_unknown_rule(pair: tuple[Corpus, Corpus]) -> None:
    with pytest.raises(InputError):
        adjudicate(*pair, rule="majority")


def _filled(pair: tuple[Corpus, Corpus], tmp_path: Path, decisions: dict[int, tuple[str, str]],
            drop: tuple[str, ...] = ()) -> Path:
    """The disagreement CSV with some rows' decision and custom cells filled in."""
    aligned = align(pair)
    path = tmp_path / "decisions.csv"
    write_disagreements(find_disagreements(aligned), aligned.names, _texts(aligned), path)
    rows = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"))))
    out = io.StringIO()
    fields = [c for c in rows[0] if c not in drop]
    writer = csv.DictWriter(out, fieldnames=fields, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        row["decision"], row["custom"] = decisions.get(int(row["item"]), ("", ""))
        writer.writerow(row)
    path.write_text(out.getvalue(), encoding="utf-8")
    return path


def test_decisions_applied(pair: tuple[Corpus, Corpus], tmp_path: Path) -> None:
    a, b = pair
    big = T2.index("Big")
    path = _filled(pair, tmp_path, {
        1: ("keep A", ""),            # Bob Jones
        2: ("B", ""),                 # Acme Corp as PERSON
        3: ("neither", ""),           # Zed Inc dropped
        4: ("both", ""),              # Paris: only B marked it
        5: ("custom", f'{big}-{big + 10} ORG "Big Pharma"'),
        6: ("Custom", f"{T2.index('Ann')}-{T2.index('Ann') + 7} PERSON"),
    })
    decisions = read_decisions(path, a, b)
    assert len(decisions) == 6
    result = adjudicate(a, b, decisions=decisions)
    assert (result.by_decision, result.unresolved) == (6, ())
    assert _spans(result.corpus, "d1") == [("Alice Smith", "PERSON"), ("Bob Jones", "PERSON"),
                                           ("Acme Corp", "PERSON"), ("Paris", "ORG")]
    assert _spans(result.corpus, "d2") == [("Ng", "PERSON"), ("Big Pharma", "ORG"),
                                           ("Ann Roe", "PERSON"), ("Bio Co", "ORG")]


def test_undecided_rows_fall_back_to_a_rule(pair: tuple[Corpus, Corpus], tmp_path: Path) -> None:
    a, b = pair
    decisions = read_decisions(_filled(pair, tmp_path, {3: ("A", "")}), a, b)
    assert list(decisions) == [("d1", T1.index("Zed"), T1.index("Zed") + 7)]
    result = adjudicate(a, b, decisions=decisions, rule="intersection")
    assert (result.by_decision, result.by_rule) == (1, 5)
    assert _spans(result.corpus, "d1") == [("Alice Smith", "PERSON"), ("Zed Inc", "ORG")]
    assert len(adjudicate(a, b, decisions=decisions).unresolved) == 5


@pytest.mark.parametrize(
    ("decisions", "line", "needle"),
    [
        ({2: ("maybe", "")}, 3, "unknown decision 'maybe'"),
        ({5: ("custom", "")}, 6, "needs spans"),
        ({5: ("custom", "ten-twenty ORG")}, 6, "cannot read custom span"),
        ({5: ("custom", "60-999 ORG")}, 6, "outside the document"),
        ({5: ("custom", '20-30 ORG "Big Pharm"')}, 6, "covers"),
        ({5: ("A", "20-30 ORG")}, 6, "custom spans given"),
        ({5: ("", "20-30 ORG")}, 6, "decision is empty"),
    ],
)
def test_bad_decisions_name_file_and_line(pair: tuple[Corpus, Corpus], tmp_path: Path,
                                          decisions: dict[int, tuple[str, str]], line: int,
                                          needle: str) -> None:
    path = _filled(pair, tmp_path, decisions)
    with pytest.raises(InputError) as err:
        read_decisions(path, *pair)
    assert err.value.file == str(path)
    assert err.value.line == line
    assert needle in err.value.message
    assert err.value.hint


def test_an_unclosed_quote_is_reported_on_the_row_where_it_opens(
        pair: tuple[Corpus, Corpus], tmp_path: Path) -> None:
    path = _filled(pair, tmp_path, {2: ("maybe", "")})
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace(",maybe,", ',"maybe,', 1)  # the quote swallows line 4
    path.write_text("".join(lines), encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_decisions(path, *pair)
    assert err.value.line == 3


def test_both_with_overlapping_spans_is_an_error(pair: tuple[Corpus, Corpus],
                                                 tmp_path: Path) -> None:
    path = _filled(pair, tmp_path, {1: ("both", "")})
    decisions = read_decisions(path, *pair)
    with pytest.raises(InputError) as err:
        adjudicate(*pair, decisions=decisions, decisions_file=path, rule="A")
    assert (err.value.file, err.value.line) == (str(path), 2)
    assert "custom" in (err.value.hint or "")


def test_custom_span_overlapping_agreed_span_is_an_error(pair: tuple[Corpus, Corpus],
                                                         tmp_path: Path) -> None:
    # row 1 (Bob Jones) decided as a span reaching back into agreed "Alice Smith"
    path = _filled(pair, tmp_path, {1: ("custom", "6-25 PERSON")})
    decisions = read_decisions(path, *pair)
    with pytest.raises(InputError) as err:
        adjudicate(*pair, decisions=decisions, decisions_file=path, rule="A")
    assert err.value.line == 2 and "overlaps" in err.value.message


def test_decisions_for_changed_annotations_are_refused(pair: tuple[Corpus, Corpus],
                                                       tmp_path: Path) -> None:
    a, b = pair
    path = _filled(pair, tmp_path, {2: ("A", "")})
    # annotator B relabels Acme Corp after the list was written: same offsets, new label
    d1 = b.by_id()["d1"]
    relabelled = [Span(s.start, s.end, "MISC") if s.label == "PERSON" and
                  d1.span_text(s) == "Acme Corp" else s for s in d1.spans]
    b2 = Corpus([d1.with_spans(relabelled), b.by_id()["d2"]], source="b.jsonl")
    with pytest.raises(InputError) as err:
        read_decisions(path, a, b2)
    assert err.value.line == 3 and "B_label" in err.value.message


def test_row_matching_no_disagreement(pair: tuple[Corpus, Corpus], tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("doc_id,start,end,decision\nd1,0,11,A\nzz,0,1,A\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_decisions(path, *pair)
    assert err.value.line == 2 and "matches nothing" in err.value.message
    path.write_text("doc_id,start,end,decision\nd1,x,11,A\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_decisions(path, *pair)
    assert err.value.line == 2 and "whole numbers" in err.value.message


def test_repeated_row_missing_columns_and_bad_bytes(pair: tuple[Corpus, Corpus],
                                                    tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    zed = T1.index("Zed")
    path.write_text(f"doc_id,start,end,decision\nd1,{zed},{zed + 7},A\nd1,{zed},{zed + 7},B\n",
                    encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_decisions(path, *pair)
    assert err.value.line == 3 and "twice" in err.value.message
    path.write_text("doc_id,begin,end,decision\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_decisions(path, *pair)
    assert err.value.line == 1 and "start" in err.value.message
    path.write_bytes(b"doc_id,start,end,decision\nd1,\xff,1,A\n")
    with pytest.raises(InputError) as err:
        read_decisions(path, *pair)
    assert "UTF-8" in err.value.message
    with pytest.raises(InputError):
        read_decisions(tmp_path / "absent.csv", *pair)


def test_output_folder_must_exist(pair: tuple[Corpus, Corpus], tmp_path: Path) -> None:
    aligned = align(pair)
    with pytest.raises(InputError):
        write_disagreements(find_disagreements(aligned), aligned.names, _texts(aligned),
                            tmp_path / "no" / "x.csv")
