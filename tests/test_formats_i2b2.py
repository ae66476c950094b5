"""The i2b2/n2c2 clinical releases, on small files written in their formats (the real data
needs a data-use agreement): 2006 smoking status (classification), 2010 concepts and
assertions (line:token offsets), 2014 de-identification (XML with character offsets) and
2018 track 2 medications (brat). Exact counts, and every malformed input one clear error
with file and line (exit 2 through the CLI, never a traceback)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nercurve.corpus.classes import class_scheme, doc_classes
from nercurve.corpus.i2b2concepts import META_KEY
from nercurve.corpus.i2b2deid import CATEGORIES
from nercurve.corpus.io import READ_FORMATS, ReadOptions, detect_format, read_corpus
from nercurve.corpus.model import Span
from nercurve.errors import InputError

NERCURVE = str(Path(sys.executable).parent / "nercurve")


def _run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [NERCURVE, *map(str, args)], capture_output=True, text=True, timeout=120, check=False
    )


def _write(path: Path, content: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8", newline="")
    return path


def _exits_2(path: Path, needle: str, *flags: str) -> None:
    out = _run("stats", path, *flags)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "Traceback" not in out.stderr and needle in out.stderr
    assert out.stderr.startswith("error: ") and "hint:" in out.stderr


def test_the_formats_are_registered() -> None:
    # the CLI's --format choices follow the registry (the tests below name them)
    assert {"i2b2smoking", "i2b2concepts", "i2b2deid"} <= set(READ_FORMATS)


# --- 2006 smoking status -------------------------------------------------------------------

SMOKING = """<?xml version="1.0" encoding="UTF-8"?>
<ROOT>
<RECORD ID="101">
<SMOKING STATUS="CURRENT SMOKER"></SMOKING>
<TEXT>
Patient smokes 1 ppd.
</TEXT>
</RECORD>
<RECORD ID="102">
<SMOKING STATUS="NON-SMOKER"/>
<TEXT>
Denies tobacco &amp; alcohol.
</TEXT>
</RECORD>
<RECORD ID="103">
<SMOKING STATUS="PAST SMOKER"/>
<TEXT>Quit in 1999.</TEXT>
</RECORD>
<RECORD ID="104">
<SMOKING STATUS="UNKNOWN"/>
<TEXT>No social history.</TEXT>
</RECORD>
<RECORD ID="105">
<SMOKING STATUS="SMOKER"/>
<TEXT>Tobacco use, years not given.</TEXT>
</RECORD>
</ROOT>
"""


def test_smoking_records_are_classified_documents(tmp_path: Path) -> None:
    path = _write(tmp_path / "smokers_surrogate_train_all_version2.xml", SMOKING)
    assert detect_format(path) == "i2b2smoking"
    corpus = read_corpus(path)
    assert corpus.ids == ["101", "102", "103", "104", "105"]
    assert [doc_classes(d) for d in corpus] == [
        ("CURRENT SMOKER",), ("NON-SMOKER",), ("PAST SMOKER",), ("UNKNOWN",), ("SMOKER",)]
    assert corpus[0].text == "\nPatient smokes 1 ppd.\n"
    assert corpus[1].text == "\nDenies tobacco & alcohol.\n"
    assert all(d.spans == () for d in corpus)
    scheme = class_scheme(corpus.docs)
    assert not scheme.multi_label and len(scheme.labels) == 5
    assert corpus.notices == []


def test_smoking_classes_follow_the_label_map_and_labels(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.xml", SMOKING)
    opts = ReadOptions(label_map={"NON-SMOKER": "NEVER", "CURRENT SMOKER": "CURRENT",
                                  "PAST SMOKER": "PAST"},
                       labels=frozenset({"NEVER", "CURRENT", "PAST"}))
    corpus = read_corpus(path, options=opts)
    assert [(d.id, doc_classes(d)) for d in corpus] == [
        ("101", ("CURRENT",)), ("102", ("NEVER",)), ("103", ("PAST",))]
    assert corpus.notice_counts() == {"class-dropped": 2, "doc-skipped": 2}


def test_smoking_test_release_without_statuses_is_an_error(tmp_path: Path) -> None:
    unannotated = SMOKING
    for line in [ln for ln in SMOKING.splitlines() if ln.startswith("<SMOKING")]:
        unannotated = unannotated.replace(line + "\n", "")
    path = _write(tmp_path / "smokers_surrogate_test_all_version2.xml", unannotated)
    with pytest.raises(InputError, match="none of the 5 record") as err:
        read_corpus(path)
    assert (err.value.file, err.value.line) == (str(path), 3)
    assert "ground-truth file" in (err.value.hint or "")
    _exits_2(path, "unannotated test file")


def test_smoking_record_without_status_is_left_out_counted(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.xml", SMOKING.replace('<SMOKING STATUS="UNKNOWN"/>\n', ""))
    corpus = read_corpus(path)
    assert corpus.ids == ["101", "102", "103", "105"]
    (notice,) = corpus.notices
    assert (notice.kind, notice.line, notice.doc_id) == ("record-without-status", 19, "104")
    with pytest.raises(InputError, match="record '104' has no SMOKING STATUS") as err:
        read_corpus(path, options=ReadOptions(strict=True))
    assert err.value.line == 19


def test_smoking_other_statuses_and_elements_are_counted(tmp_path: Path) -> None:
    content = SMOKING.replace('STATUS="SMOKER"', 'STATUS="HEAVY SMOKER"').replace(
        "<TEXT>Quit in 1999.</TEXT>", "<TEXT>Quit in 1999.</TEXT><NOTE>x</NOTE>")
    corpus = read_corpus(_write(tmp_path / "s.xml", content))
    assert len(corpus) == 5 and doc_classes(corpus[4]) == ("HEAVY SMOKER",)
    assert corpus.notice_counts() == {"unknown-status": 1, "element-skipped": 1}


@pytest.mark.parametrize(("edit", "line", "needle"), [
    (lambda s: s[: s.index("<RECORD ID=\"103\">")], 15, "not well-formed XML"),  # truncated
    (lambda s: s.replace('<RECORD ID="102">', "<RECORD>"), 9, "a RECORD has no ID"),
    (lambda s: s.replace('<SMOKING STATUS="NON-SMOKER"/>',
                         '<SMOKING STATUS="NON-SMOKER"/><SMOKING STATUS="SMOKER"/>'), 10,
     "record '102' has 2 SMOKING elements"),
    (lambda s: s.replace('STATUS="UNKNOWN"', 'STATUS=" "'), 20,
     "the SMOKING element of record '104' has no STATUS"),
    (lambda s: s.replace("<TEXT>Quit in 1999.</TEXT>", ""), 15,
     "record '103' has 0 TEXT elements"),
    (lambda s: s.replace('<RECORD ID="105">', '<RECORD ID="101">'), 23,
     "document id '101' is repeated"),
    (lambda s: s.replace("<TEXT>Quit in 1999.</TEXT>", "<TEXT> </TEXT>"), 15,
     "document '103' has no text"),
    (lambda s: '<?xml version="1.0"?>\n<ROOT>\n</ROOT>\n', 2, "no RECORD element"),
])
def test_smoking_malformed_input_is_one_error_with_line(tmp_path, edit, line, needle) -> None:
    path = _write(tmp_path / "bad.xml", edit(SMOKING))
    with pytest.raises(InputError) as err:
        read_corpus(path, "i2b2smoking")
    assert needle in err.value.message
    assert (err.value.file, err.value.line) == (str(path), line)
    assert err.value.hint


def test_smoking_through_the_cli(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.xml", SMOKING)
    out = _run("stats", path, "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["documents"] == 5
    _exits_2(_write(tmp_path / "cut.xml", SMOKING[:300]), "not well-formed XML",
             "--format", "i2b2smoking")


# --- 2010 concepts and assertions ------------------------------------------------------------

NOTE = (
    "Admission Date :\n"
    "The patient had chest pain and SOB .\n"
    "He was given aspirin 81 mg\n"
    "and  a\tCT scan .\n"
    "\n"
    "Denies fever .\n"
)
CON = (
    'c="chest pain" 2:3 2:4||t="problem"\n'
    'c="sob" 2:6 2:6||t="problem"\n'
    'c="aspirin 81 mg" 3:3 3:5||t="treatment"\n'
    'c="a ct scan" 4:1 4:3||t="test"\n'
    'c="fever" 6:1 6:1||t="problem"\n'
)
AST = (
    'c="chest pain" 2:3 2:4||t="problem"||a="present"\n'
    'c="sob" 2:6 2:6||t="problem"||a="possible"\n'
    'c="fever" 6:1 6:1||t="problem"||a="absent"\n'
)
ACROSS_NOTE = "Started on heparin\ndrip today .\n"
ACROSS_CON = 'c="heparin drip" 1:2 2:0||t="treatment"\n'


def _release(tmp_path: Path, con: str = CON, ast: str | None = AST) -> Path:
    """The release's layout (txt/, concept/, ast/, rel/ side by side) and a flat folder."""
    root = tmp_path / "concept_assertion_relation_training_data"
    _write(root / "beth" / "txt" / "record-1.txt", NOTE)
    _write(root / "beth" / "concept" / "record-1.con", con)
    if ast is not None:
        _write(root / "beth" / "ast" / "record-1.ast", ast)
    _write(root / "beth" / "rel" / "record-1.rel",
           'c="aspirin 81 mg" 3:3 3:5||r="TrAP"||c="chest pain" 2:3 2:4\n')
    _write(root / "flat" / "record-2.txt", ACROSS_NOTE)
    _write(root / "flat" / "record-2.con", ACROSS_CON)
    _write(root / "README.txt", "i2b2 2010\n")
    return root


def _at(text: str, mention: str, label: str, nth: int = 0) -> Span:
    start = -1
    for _ in range(nth + 1):
        start = text.index(mention, start + 1)
    return Span(start, start + len(mention), label)


def test_concepts_in_the_release_layout_exact_counts(tmp_path: Path) -> None:
    root = _release(tmp_path)
    assert detect_format(root) == "i2b2concepts"
    corpus = read_corpus(root)
    assert corpus.ids == ["beth/concept/record-1", "flat/record-2"]
    doc, across = corpus
    assert doc.text == NOTE
    assert doc.spans == (
        _at(NOTE, "chest pain", "problem"), _at(NOTE, "SOB", "problem"),
        _at(NOTE, "aspirin 81 mg", "treatment"), _at(NOTE, "a\tCT scan", "test"),
        _at(NOTE, "fever", "problem"),
    )
    assert len(doc.tokens or ()) == 3 + 8 + 6 + 5 + 3
    assert [doc.text[a:b] for a, b in doc.sentences or ()] == [
        "Admission Date :", "The patient had chest pain and SOB .", "He was given aspirin 81 mg",
        "and  a\tCT scan .", "Denies fever ."]
    assert [(Span(a["start"], a["end"], a["label"]), a["assertion"])
            for a in doc.meta[META_KEY]] == [
        (_at(NOTE, "chest pain", "problem"), "present"), (_at(NOTE, "SOB", "problem"), "possible"),
        (_at(NOTE, "fever", "problem"), "absent")]
    # a concept over a line end: one span, its lines one sentence
    assert across.spans == (Span(11, 23, "treatment"),)
    assert across.text[11:23] == "heparin\ndrip" and across.sentences == ((0, 31),)
    assert corpus.notice_counts() == {
        "line-token-offsets": 1, "mention-case": 1, "assertions-in-meta": 1,
        "concept-across-lines": 1, "txt-without-con": 1, "relations-not-read": 1,
    }
    case = next(n for n in corpus.notices if n.kind == "mention-case")
    assert case.message.startswith("2 of 5 concept text(s)")


def test_one_con_or_its_txt_is_one_document(tmp_path: Path) -> None:
    root = _release(tmp_path)
    con = root / "beth" / "concept" / "record-1.con"
    assert detect_format(con) == "i2b2concepts"
    corpus = read_corpus(con)
    assert corpus.ids == ["record-1"] and len(corpus[0].spans) == 5
    assert len(corpus[0].meta[META_KEY]) == 3  # its .ast found in ../ast/
    txt = root / "flat" / "record-2.txt"
    assert detect_format(txt) == "i2b2concepts"
    assert read_corpus(txt).ids == ["record-2"]


def test_concepts_through_the_cli(tmp_path: Path) -> None:
    out = _run("stats", _release(tmp_path), "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert (data["documents"], data["sentences"], data["entities"]) == (2, 6, 6)


@pytest.mark.parametrize(("line", "lineno", "needle"), [
    ('c="chest pain" 2-3 2:4||t="problem"', 2, "cannot read the line"),
    ('c="chest pain" 2:3 2:4|t="problem"', 2, "cannot read the line"),
    ('c=chest pain 2:3 2:4||t="problem"', 2, "cannot read the line"),
    ('c="chest pain" 2:3 2:4||t=""', 2, "cannot read the line"),
    ('c="fever" 9:1 9:1||t="problem"', 2, "line 9 is not a line of the note (it has 7 lines"),
    ('c="fever" 0:1 0:1||t="problem"', 2, "line 0 is not a line of the note"),
    ('c="pain ." 2:4 2:8||t="problem"', 2, "line 2 has 8 token(s), so no token 8"),
    ('c="pain chest" 2:4 2:3||t="problem"', 2, "ends before it starts"),
    ('c="heart pain" 2:3 2:4||t="problem"', 2, "expected 'heart pain', found 'chest pain'"),
])
def test_concept_malformed_lines_are_errors_with_file_and_line(tmp_path, line, lineno,
                                                               needle) -> None:
    con = CON.splitlines()
    con.insert(lineno - 1, line)
    root = _release(tmp_path, con="\n".join(con) + "\n")
    with pytest.raises(InputError) as err:
        read_corpus(root)
    assert needle in err.value.message
    assert err.value.file == str(root / "beth" / "concept" / "record-1.con")
    assert err.value.line == lineno and err.value.hint
    _exits_2(root, needle)


def test_wrong_concept_text_follows_the_mismatch_policy(tmp_path: Path) -> None:
    root = _release(tmp_path, con=CON.replace('c="fever"', 'c="chills"'))
    corpus = read_corpus(root, options=ReadOptions(mismatch="skip"))
    assert len(corpus[0].spans) == 4
    assert corpus.notice_counts()["mismatch-skipped"] == 1


def test_missing_txt_for_a_con_is_an_error(tmp_path: Path) -> None:
    root = _release(tmp_path)
    (root / "beth" / "txt" / "record-1.txt").unlink()
    with pytest.raises(InputError, match=r"record-1\.con has no \.txt") as err:
        read_corpus(root)
    assert err.value.file == str(root / "beth" / "concept" / "record-1.con")
    assert "txt/, concept/ and ast/" in (err.value.hint or "")
    _exits_2(root, "has no .txt")
    lone = _write(tmp_path / "lone" / "x.txt", NOTE)
    with pytest.raises(InputError, match=r"x\.con is missing"):
        read_corpus(lone, "i2b2concepts")


def test_assertion_without_its_concept_is_counted_or_an_error(tmp_path: Path) -> None:
    root = _release(tmp_path, ast=AST + 'c="pain" 2:4 2:4||t="problem"||a="absent"\n')
    corpus = read_corpus(root)
    assert len(corpus[0].meta[META_KEY]) == 3
    (notice,) = [n for n in corpus.notices if n.kind == "assertion-without-concept"]
    assert notice.line == 4 and notice.file == str(root / "beth" / "ast" / "record-1.ast")
    with pytest.raises(InputError, match=r"which record-1\.con does not hold") as err:
        read_corpus(root, options=ReadOptions(strict=True))
    assert err.value.line == 4
    bad = _release(tmp_path / "b", ast='c="sob" 2:6 2:6||t="problem"\n')
    with pytest.raises(InputError, match="cannot read the line") as err:
        read_corpus(bad)
    assert err.value.file.endswith("record-1.ast") and err.value.line == 1


# --- 2014 de-identification ------------------------------------------------------------------

DEID_TEXT = "\nRecord date: 2067-05-03\nDr. Ann Lee saw Mr. Bo Ray at Mercy Hospital & clinic.\n"


def _deid(tags: list[tuple[str, str, str]] | None = None, text: str = DEID_TEXT) -> str:
    """A 2014 file: (element, TYPE, text) tags placed at the first occurrence of their text."""
    if tags is None:
        tags = [("DATE", "DATE", "2067-05-03"), ("NAME", "DOCTOR", "Ann Lee"),
                ("NAME", "PATIENT", "Bo Ray"), ("LOCATION", "HOSPITAL", "Mercy Hospital")]
    lines = []
    for k, (element, kind, mention) in enumerate(tags):
        start = text.index(mention)
        lines.append(f'<{element} id="P{k}" start="{start}" end="{start + len(mention)}" '
                     f'text="{mention}" TYPE="{kind}" comment="" />')
    return ('<?xml version="1.0" encoding="UTF-8" ?>\n<deIdi2b2>\n'
            f"<TEXT><![CDATA[{text}]]></TEXT>\n<TAGS>\n" + "\n".join(lines)
            + "\n</TAGS>\n</deIdi2b2>\n")


def test_deid_file_and_folder_exact_spans(tmp_path: Path) -> None:
    path = _write(tmp_path / "set1" / "220-01.xml", "\ufeff" + _deid())  # a byte-order mark
    _write(tmp_path / "set1" / "sub" / "220-02.xml", _deid(tags=[]))
    _write(tmp_path / "set1" / "notes.md", "not a note\n")
    assert detect_format(path) == "i2b2deid" and detect_format(tmp_path / "set1") == "i2b2deid"
    doc = read_corpus(path)[0]
    assert doc.id == "220-01" and doc.text == DEID_TEXT
    assert doc.spans == (
        _at(DEID_TEXT, "2067-05-03", "DATE"), _at(DEID_TEXT, "Ann Lee", "DOCTOR"),
        _at(DEID_TEXT, "Bo Ray", "PATIENT"), _at(DEID_TEXT, "Mercy Hospital", "HOSPITAL"))
    corpus = read_corpus(tmp_path / "set1")
    assert corpus.ids == ["220-01", "sub/220-02"]
    assert corpus[1].spans == ()
    assert corpus.notice_counts() == {"file-skipped": 1}


def test_deid_types_map_onto_categories(tmp_path: Path) -> None:
    path = _write(tmp_path / "220-01.xml", _deid())
    to_category = {t: cat for cat, types in CATEGORIES.items() for t in types}
    assert len(to_category) == sum(len(t) for t in CATEGORIES.values())
    doc = read_corpus(path, options=ReadOptions(label_map=to_category))[0]
    assert [s.label for s in doc.spans] == ["DATE", "NAME", "NAME", "LOCATION"]


@pytest.mark.parametrize(("edit", "line", "needle"), [
    (lambda s: s[: s.index("<NAME")], 9, "not well-formed XML"),  # truncated
    (lambda s: s.replace("<TAGS>", "<TAG>").replace("</TAGS>", "</TAG>"), 2,
     "holds no TAGS element"),
    (lambda s: s.replace("<TEXT><![CDATA[", "<BODY><![CDATA[").replace("]]></TEXT>",
                                                                       "]]></BODY>"), 2,
     "holds no TEXT element"),
    (lambda s: s.replace(' TYPE="DOCTOR"', ""), 9, "has no TYPE"),
    (lambda s: s.replace(' text="Bo Ray"', ""), 10, "has no text"),
    (lambda s: s.replace('start="14"', 'start="x14"'), 8, "start='x14', not a whole number"),
    (lambda s: s.replace('end="24"', 'end="240"'), 8, "lies outside its text"),
    (lambda s: s.replace('text="Ann Lee"', 'text="Ann Lea"'), 9,
     "expected 'Ann Lea', found 'Ann Lee'"),
])
def test_deid_malformed_input_is_one_error_with_line(tmp_path, edit, line, needle) -> None:
    path = _write(tmp_path / "220-01.xml", edit(_deid()))
    with pytest.raises(InputError) as err:
        read_corpus(path, "i2b2deid")
    assert needle in err.value.message
    assert (err.value.file, err.value.line) == (str(path), line)
    assert err.value.hint
    _exits_2(path, needle, "--format", "i2b2deid")


def test_deid_in_a_folder_names_the_file(tmp_path: Path) -> None:
    _write(tmp_path / "set" / "a.xml", _deid())
    bad = _write(tmp_path / "set" / "b.xml", _deid().replace('end="24"', 'end="240"'))
    with pytest.raises(InputError, match="lies outside its text") as err:
        read_corpus(tmp_path / "set")
    assert (err.value.file, err.value.line) == (str(bad), 8)


# --- 2018 track 2 medications (brat) ---------------------------------------------------------

MEDS = "Tylenol (acetaminophen) 500 mg 1 tab by mouth q6h x5 days for pain; rash after.\n" \
       "Lasix 40\nmg daily\n"
MEDS_ENTITIES = [
    ("T1", "Drug", "Tylenol"), ("T2", "Drug", "acetaminophen"), ("T3", "Strength", "500 mg"),
    ("T4", "Dosage", "1"), ("T5", "Form", "tab"), ("T6", "Route", "by mouth"),
    ("T7", "Frequency", "q6h"), ("T8", "Duration", "x5 days"), ("T9", "Reason", "pain"),
    ("T10", "ADE", "rash"), ("T11", "Drug", "Lasix"), ("T13", "Frequency", "daily"),
]


def _meds_ann() -> str:
    lines = []
    for ident, label, mention in MEDS_ENTITIES:
        start = MEDS.index(mention if mention != "1" else " 1 ") + (mention == "1")
        lines.append(f"{ident}\t{label} {start} {start + len(mention)}\t{mention}")
    forty = MEDS.index("40\n")
    lines.insert(11, f"T12\tStrength {forty} {forty + 2};{forty + 3} {forty + 5}\t40 mg")
    lines += [
        "R1\tStrength-Drug Arg1:T3 Arg2:T1", "R2\tReason-Drug Arg1:T9 Arg2:T1",
        "R3\tADE-Drug Arg1:T10 Arg2:T1", "R4\tStrength-Drug Arg1:T12 Arg2:T11",
        "A1\tNegated T10", "#1\tAnnotatorNotes T1\tbrand name",
    ]
    return "\n".join(lines) + "\n"


def test_2018_medications_brat_exact_counts(tmp_path: Path) -> None:
    root = tmp_path / "track2" / "train"
    _write(root / "100035.txt", MEDS)
    ann = _write(root / "100035.ann", _meds_ann())
    assert detect_format(root) == "brat"
    with pytest.raises(InputError, match="discontinuous span T12 Strength") as err:
        read_corpus(root)
    assert (err.value.file, err.value.line) == (str(ann), 12)
    corpus = read_corpus(root, options=ReadOptions(discontinuous="split"))
    doc = corpus[0]
    assert len(doc.spans) == 14  # 12 entities + the two fragments of T12
    assert {s.label for s in doc.spans} == {
        "Drug", "Strength", "Form", "Dosage", "Frequency", "Route", "Duration", "Reason", "ADE"}
    assert [doc.span_text(s) for s in doc.spans if s.label == "Strength"] == ["500 mg", "40",
                                                                              "mg"]
    assert corpus.notice_counts() == {"discontinuous": 1, "skipped-annotation": 6}
    skipped = [n for n in corpus.notices if n.kind == "skipped-annotation"]
    assert [n.line for n in skipped] == [14, 15, 16, 17, 18, 19]
    assert "'A1'" in skipped[4].message and "'R1'" in skipped[0].message
    hull = read_corpus(root, options=ReadOptions(discontinuous="hull"))[0]
    (strength,) = [s for s in hull.spans if s.label == "Strength" and s.start > 80]
    assert hull.span_text(strength) == "40\nmg"
    out = _run("stats", root, "--discontinuous", "split", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["entities"] == 14


# --- bytes that are not UTF-8 ------------------------------------------------------------------


def test_bytes_not_utf8_are_errors_with_line(tmp_path: Path) -> None:
    xml = tmp_path / "latin1.xml"
    xml.write_bytes(SMOKING.replace("Quit in 1999.", "Quit in caf\xe9 1999.").encode("latin-1"))
    with pytest.raises(InputError, match="not well-formed XML") as err:
        read_corpus(xml)
    assert (err.value.file, err.value.line) == (str(xml), 17)
    root = _release(tmp_path)
    note = root / "beth" / "txt" / "record-1.txt"
    note.write_bytes(NOTE.replace("Denies", "D\xe9nies").encode("latin-1"))
    with pytest.raises(InputError, match="not UTF-8 at line 6") as err:
        read_corpus(root)
    assert err.value.file == str(note) and "iconv" in (err.value.hint or "")


def test_the_test_release_layout_finds_each_note_by_name(tmp_path: Path) -> None:
    # the test notes and their reference standard come in separate folders
    _write(tmp_path / "test_data" / "0001.txt", NOTE)
    _write(tmp_path / "reference_standard_for_test_data" / "concepts" / "0001.con", CON)
    _write(tmp_path / "reference_standard_for_test_data" / "ast" / "0001.ast", AST)
    corpus = read_corpus(tmp_path)
    assert corpus.ids == ["reference_standard_for_test_data/concepts/0001"]
    assert len(corpus[0].spans) == 5 and len(corpus[0].meta[META_KEY]) == 3
    _write(tmp_path / "elsewhere" / "0001.txt", NOTE)  # two notes of that name: which one?
    with pytest.raises(InputError, match="2 files of that name lie under the folder"):
        read_corpus(tmp_path)
