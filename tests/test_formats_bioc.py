"""BioC XML and JSON: passages at their document-wide offsets, annotations, round trips."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, detect_format, read_corpus, write_corpus
from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError

NERCURVE = str(Path(sys.executable).parent / "nercurve")
TITLE = "Naloxone reverses clonidine."
ABSTRACT = "In rats, clonidine lowered blood pressure; naloxone did not."
XML = f"""<?xml version='1.0' encoding='utf-8' standalone='yes'?>
<!DOCTYPE collection SYSTEM "BioC.dtd">
<collection><source>PubTator</source><date>2024-01-01</date><key>BioC.key</key>
<document><id>6</id><infon key="journal">Hypertension</infon>
<passage><infon key="type">title</infon><offset>0</offset><text>{TITLE}</text>
<annotation id="1"><infon key="type">Chemical</infon><infon key="MESH">D009270</infon>
<location offset="0" length="8"/><text>Naloxone</text></annotation>
</passage>
<passage><infon key="type">abstract</infon><offset>29</offset><text>{ABSTRACT}</text>
<annotation id="2"><infon key="type">Chemical</infon><location offset="38" length="9"/>
<text>clonidine</text></annotation>
<annotation id="3"><infon key="type">Disease</infon>
<location offset="56" length="5"/><location offset="62" length="8"/>
<text>blood pressure</text></annotation>
<relation id="R1"><infon key="relation">CID</infon><node refid="1" role="Chemical"/>
<node refid="3" role="Disease"/></relation>
</passage>
</document>
<document><id>7</id>
<passage><offset>0</offset>
<sentence><offset>0</offset><text>Aspirin helps.</text>
<annotation id="4"><infon key="type">Chemical</infon><location offset="0" length="7"/>
<text>Aspirin</text></annotation></sentence>
<sentence><offset>15</offset><text>It is cheap.</text></sentence>
</passage>
</document>
</collection>
"""


def _xml(tmp_path: Path, content: str = XML, name: str = "cdr.xml") -> Path:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def _as_json(xml_path: Path, tmp_path: Path) -> Path:
    from bioc import biocjson, biocxml

    with xml_path.open("rb") as fh:
        collection = biocxml.load(fh)
    path = tmp_path / "cdr.bioc.json"
    path.write_text(biocjson.dumps(collection, indent=2), encoding="utf-8")
    return path


def _entities(doc: Doc) -> list[tuple[str, str]]:
    return [(doc.span_text(s), s.label) for s in doc.spans]


def test_reads_passages_at_their_offsets_from_xml_and_json(tmp_path: Path) -> None:
    xml = _xml(tmp_path)
    for path in (xml, _as_json(xml, tmp_path)):
        assert detect_format(path) == "bioc"
        corpus = read_corpus(path, options=ReadOptions(discontinuous="hull"))
        assert corpus.ids == ["6", "7"]
        doc, sentences = corpus
        assert doc.text == f"{TITLE} {ABSTRACT}"
        assert _entities(doc) == [("Naloxone", "Chemical"), ("clonidine", "Chemical"),
                                  ("blood pressure", "Disease")]
        assert doc.meta["bioc"]["passages"][1] == {"offset": 29, "length": len(ABSTRACT),
                                                   "infons": {"type": "abstract"}}
        assert sentences.text == "Aspirin helps. It is cheap."
        assert sentences.sentences == ((0, 14), (15, 27))
        assert _entities(sentences) == [("Aspirin", "Chemical")]
        assert corpus.notice_counts() == {"discontinuous": 1, "skipped-relation": 1,
                                          "infons-not-kept": 1}


def test_multiple_locations_follow_the_discontinuous_policy(tmp_path: Path) -> None:
    path = _xml(tmp_path)
    with pytest.raises(InputError, match=r"discontinuous span Disease \[56,61\);\[62,70\) in "
                       r"document '6', annotation '3'") as err:
        read_corpus(path)
    assert "--discontinuous" in (err.value.hint or "")
    split = read_corpus(path, options=ReadOptions(discontinuous="split"))[0]
    assert _entities(split)[-2:] == [("blood", "Disease"), ("pressure", "Disease")]
    touching = XML.replace('length="5"/><location offset="62"', 'length="6"/><location offset="62"')
    assert Span(56, 70, "Disease") in read_corpus(_xml(tmp_path, touching, "t.xml"))[0].spans


def test_passage_gaps_are_spaces_and_offsets_stay_exact(tmp_path: Path) -> None:
    content = XML.replace("<offset>29</offset>", "<offset>31</offset>").replace(
        'offset="38"', 'offset="40"').replace('offset="56"', 'offset="58"').replace(
        'offset="62"', 'offset="64"')
    doc = read_corpus(_xml(tmp_path, content), options=ReadOptions(discontinuous="hull"))[0]
    assert doc.text == f"{TITLE}   {ABSTRACT}"
    assert _entities(doc)[1:] == [("clonidine", "Chemical"), ("blood pressure", "Disease")]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('offset="38"', 'offset="37"',
         "annotation '2': expected 'clonidine', found ' clonidin' at [37,46)"),
        ('<infon key="type">Chemical</infon><location', "<location",
         "annotation '2' in document '6' has no 'type' infon"),
        ("<offset>29</offset>", "<offset>5</offset>", "passage 2 of document '6'"),
        ('offset="38"', 'offset="x"', "not a BioC collection (invalid literal for int()"),
        ("</passage>\n<passage>", "</passage>\n<passag>", "not well-formed XML"),
    ],
)
def test_broken_files_are_errors_naming_the_place(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    assert old in XML
    path = _xml(tmp_path, XML.replace(old, new, 1))
    with pytest.raises(InputError) as err:
        read_corpus(path, options=ReadOptions(discontinuous="hull"))
    assert err.value.file == str(path) and message in err.value.message


def test_mismatch_policies_apply(tmp_path: Path) -> None:
    path = _xml(tmp_path, XML.replace("<text>clonidine</text>", "<text>Clonidine</text>"))
    opts = {"discontinuous": "hull"}
    with pytest.raises(InputError, match=r"annotation '2': expected 'Clonidine'.*letter case"):
        read_corpus(path, options=ReadOptions(**opts))
    relocated = read_corpus(path, options=ReadOptions(mismatch="relocate", **opts))
    assert relocated.notice_counts()["mismatch-case"] == 1
    skipped = read_corpus(path, options=ReadOptions(mismatch="skip", **opts))
    assert ("clonidine", "Chemical") not in _entities(skipped[0])


@pytest.mark.parametrize("name", ["out.xml", "out.bioc.json"])
def test_round_trip_keeps_passages_offsets_and_spans(tmp_path: Path, name: str) -> None:
    corpus = read_corpus(_xml(tmp_path), options=ReadOptions(discontinuous="hull"))
    out = tmp_path / name
    write_corpus(corpus, out)
    assert detect_format(out) == "bioc"
    back = read_corpus(out)
    assert back.docs == corpus.docs
    assert [d.meta["bioc"] for d in back] == [d.meta["bioc"] for d in corpus]
    again = tmp_path / f"again-{name}"
    write_corpus(back, again)
    assert again.read_bytes() == out.read_bytes()


def test_any_document_round_trips_and_pubtator_keeps_title_and_abstract(tmp_path: Path) -> None:
    docs = [
        Doc("a", "Tabs\tand\r\nbreaks, ünïcode & <xml> \"quotes\"", (Span(0, 4, "X"),)),
        Doc("b", "  edge spaces  ", (Span(2, 6, "Y"),)),
    ]
    for name in ("any.xml", "any.json"):
        write_corpus(docs, tmp_path / name)
        assert read_corpus(tmp_path / name, "bioc").docs == docs
    src = tmp_path / "in.pubtator"
    src.write_text(f"9|t|{TITLE}\n9|a|{ABSTRACT}\n9\t0\t8\tNaloxone\tChemical\n\n",
                   encoding="utf-8")
    write_corpus(read_corpus(src), tmp_path / "p.xml")
    passages = read_corpus(tmp_path / "p.xml")[0].meta["bioc"]["passages"]
    assert [(p["offset"], p["infons"]) for p in passages] == [(0, {"type": "title"}),
                                                              (29, {"type": "abstract"})]
    write_corpus(read_corpus(tmp_path / "p.xml"), tmp_path / "back.pubtator")
    assert (tmp_path / "back.pubtator").read_text(encoding="utf-8") == src.read_text(
        encoding="utf-8")


def test_text_that_xml_cannot_hold_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "x.xml"
    with pytest.raises(InputError, match="document 'bad' cannot be written as BioC XML") as err:
        write_corpus([Doc("ok", "fine"), Doc("bad", "bell \x07")], out)
    assert "BioC JSON (.json)" in (err.value.hint or "") and not out.exists()
    write_corpus([Doc("bad", "bell \x07")], tmp_path / "x.json")
    assert read_corpus(tmp_path / "x.json")[0].text == "bell \x07"


def test_bioc_json_missing_keys_and_cli_convert(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text(json.dumps({"source": "", "date": "", "key": "", "infons": {},
                                "documents": [{"id": "1", "passages": []}]}), encoding="utf-8")
    with pytest.raises(InputError, match="not a BioC collection: an element lacks 'infons'"):
        read_corpus(path)
    src = _xml(tmp_path)
    out = subprocess.run(
        [NERCURVE, "convert", str(src), str(tmp_path / "cdr.jsonl"), "--discontinuous", "split"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert out.returncode == 0, out.stderr
    assert "wrote 2 documents (5 spans)" in out.stdout
    bad = subprocess.run([NERCURVE, "stats", str(path)], capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2 and bad.stderr.startswith(f"error: {path}: not a BioC")


def test_split_writes_bioc_parts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from nercurve.cli import app

    src = tmp_path / "docs.jsonl"
    write_corpus([Doc(f"d{i}", f"Gene {i} here.", (Span(0, 4, "Gene"),)) for i in range(10)], src)
    result = CliRunner().invoke(app, ["split", str(src), "-o", str(tmp_path / "parts"), "--to",
                                      "bioc", "--test", "0.3", "--dev", "0.1"])
    assert result.exit_code == 0, result.output
    parts = [read_corpus(tmp_path / "parts" / f"{p}.xml") for p in ("train", "dev", "test")]
    assert [len(p) for p in parts] == [6, 1, 3]
