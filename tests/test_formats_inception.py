"""INCEpTION / WebAnno: UIMA CAS XMI with its type system, export folders with two
annotators and a curation, WebAnno TSV 3.x, agree on the annotators, malformed inputs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nercurve.corpus.io import ReadOptions, detect_format, read_annotations, read_corpus
from nercurve.errors import InputError

NERCURVE = str(Path(sys.executable).parent / "nercurve")
NE = "de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity"
TYPESYSTEM = f"""<?xml version="1.0" encoding="UTF-8"?>
<typeSystemDescription xmlns="http://uima.apache.org/resourceSpecifier">
  <types>
    <typeDescription>
      <name>de.tudarmstadt.ukp.dkpro.core.api.metadata.type.DocumentMetaData</name>
      <supertypeName>uima.tcas.DocumentAnnotation</supertypeName>
      <features>
        <featureDescription><name>documentTitle</name>
          <rangeTypeName>uima.cas.String</rangeTypeName></featureDescription>
        <featureDescription><name>documentId</name>
          <rangeTypeName>uima.cas.String</rangeTypeName></featureDescription>
      </features>
    </typeDescription>
    <typeDescription>
      <name>{NE}</name>
      <supertypeName>uima.tcas.Annotation</supertypeName>
      <features>
        <featureDescription><name>value</name>
          <rangeTypeName>uima.cas.String</rangeTypeName></featureDescription>
        <featureDescription><name>identifier</name>
          <rangeTypeName>uima.cas.String</rangeTypeName></featureDescription>
      </features>
    </typeDescription>
    <typeDescription>
      <name>webanno.custom.Disease</name>
      <supertypeName>uima.tcas.Annotation</supertypeName>
      <features>
        <featureDescription><name>label</name>
          <rangeTypeName>uima.cas.String</rangeTypeName></featureDescription>
      </features>
    </typeDescription>
  </types>
</typeSystemDescription>
"""
T1 = "Aspirin eased the migraine of Ann Lee."
T2 = "Ibuprofen and naproxen relieve pain."


def _xmi(text: str, entities: list[tuple[int, int, str]],
         diseases: list[tuple[int, int, str]] = (), title: str = "doc.txt") -> str:
    """A UIMA CAS XMI file as INCEpTION writes it: metadata, entities, a custom layer."""
    items = [f'<type:DocumentMetaData xmi:id="1" sofa="9" begin="0" end="{len(text)}" '
             f'documentTitle="{title}" documentId="{title}"/>']
    ids = ["1"]
    for i, (begin, end, label) in enumerate(entities, 10):
        items.append(f'<type2:NamedEntity xmi:id="{i}" sofa="9" begin="{begin}" end="{end}" '
                     f'value="{label}"/>')
        ids.append(str(i))
    for i, (begin, end, label) in enumerate(diseases, 50):
        items.append(f'<custom:Disease xmi:id="{i}" sofa="9" begin="{begin}" end="{end}" '
                     f'label="{label}"/>')
        ids.append(str(i))
    body = "\n  ".join(items)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<xmi:XMI xmlns:xmi="http://www.omg.org/XMI" xmlns:cas="http:///uima/cas.ecore"
 xmlns:tcas="http:///uima/tcas.ecore"
 xmlns:type="http:///de/tudarmstadt/ukp/dkpro/core/api/metadata/type.ecore"
 xmlns:type2="http:///de/tudarmstadt/ukp/dkpro/core/api/ner/type.ecore"
 xmlns:custom="http:///webanno/custom.ecore" xmi:version="2.0">
  <cas:NULL xmi:id="0"/>
  {body}
  <cas:Sofa xmi:id="9" sofaNum="1" sofaID="_InitialView" mimeType="text" sofaString="{text}"/>
  <cas:View sofa="9" members="{' '.join(ids)}"/>
</xmi:XMI>
"""


def _export(root: Path, curated: bool = False) -> Path:
    """An unpacked INCEpTION project export: two documents, annotated by ann and bob (bob
    did not annotate doc2), each user file with its TypeSystem.xml beside it."""
    files = {
        "doc1.txt/ann.xmi": _xmi(T1, [(0, 7, "Chemical"), (30, 37, "Person")],
                                 [(18, 26, "Disease")], "doc1.txt"),
        "doc1.txt/bob.xmi": _xmi(T1, [(0, 7, "Chemical"), (30, 33, "Person")],
                                 title="doc1.txt"),
        "doc1.txt/INITIAL_CAS.xmi": _xmi(T1, [], title="doc1.txt"),
        "doc2.txt/ann.xmi": _xmi(T2, [(0, 9, "Chemical"), (14, 22, "Chemical")],
                                 title="doc2.txt"),
    }
    for name, content in files.items():
        path = root / "annotation" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        (path.parent / "TypeSystem.xml").write_text(TYPESYSTEM, encoding="utf-8")
    if curated:
        path = root / "curation" / "doc1.txt" / "CURATION_USER.xmi"
        path.parent.mkdir(parents=True)
        path.write_text(_xmi(T1, [(0, 7, "Chemical"), (30, 37, "Person")], title="doc1.txt"),
                        encoding="utf-8")
        (path.parent / "TypeSystem.xml").write_text(TYPESYSTEM, encoding="utf-8")
    return root


def _entities(corpus: object) -> list[tuple[str, str, str]]:
    return [(d.id, d.span_text(s), s.label) for d in corpus for s in d.spans]  # type: ignore[attr-defined]


def test_one_xmi_file_with_its_type_system_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "ann.xmi"
    path.write_text(_xmi(T1, [(0, 7, "Chemical"), (30, 37, "Person")], [(18, 26, "Disease")],
                         "report-1.txt"), encoding="utf-8")
    (tmp_path / "TypeSystem.xml").write_text(TYPESYSTEM, encoding="utf-8")
    assert detect_format(path) == "inception"
    corpus = read_corpus(path)
    assert [(d.id, d.text) for d in corpus] == [("report-1.txt", T1)]
    assert _entities(corpus) == [("report-1.txt", "Aspirin", "Chemical"),
                                 ("report-1.txt", "Ann Lee", "Person")]
    custom = read_corpus(path, options=ReadOptions(layer="webanno.custom.Disease"))
    assert _entities(custom) == [("report-1.txt", "migraine", "Disease")]
    named = read_corpus(path, options=ReadOptions(layer="webanno.custom.Disease:label"))
    assert named.docs == custom.docs


def test_export_folder_two_annotators_with_exact_counts(tmp_path: Path) -> None:
    root = _export(tmp_path / "export")
    assert detect_format(root) == "inception"
    ann, bob = read_annotations(root)
    assert (ann.source, bob.source) == (f"{root} (ann)", f"{root} (bob)")
    assert _entities(ann) == [("doc1.txt", "Aspirin", "Chemical"),
                              ("doc1.txt", "Ann Lee", "Person"),
                              ("doc2.txt", "Ibuprofen", "Chemical"),
                              ("doc2.txt", "naproxen", "Chemical")]
    assert _entities(bob) == [("doc1.txt", "Aspirin", "Chemical"), ("doc1.txt", "Ann", "Person")]
    assert ann.notice_counts() == {} and bob.notice_counts() == {"not-annotated-by": 1}
    with pytest.raises(InputError) as err:
        read_corpus(root)
    assert "document 'doc1.txt' has annotations by 2 annotators (ann, bob)" in str(err.value)
    assert err.value.file == str(root / "annotation" / "doc1.txt")


def test_a_curation_is_the_document_read_without_an_annotator(tmp_path: Path) -> None:
    root = _export(tmp_path / "export", curated=True)
    corpus = read_corpus(root)
    assert _entities(corpus) == [("doc1.txt", "Aspirin", "Chemical"),
                                 ("doc1.txt", "Ann Lee", "Person"),
                                 ("doc2.txt", "Ibuprofen", "Chemical"),
                                 ("doc2.txt", "naproxen", "Chemical")]
    assert len(read_annotations(root)) == 2  # the curation is not an annotator
    curation = read_corpus(root, options=ReadOptions(annotator="CURATION_USER"))
    assert curation.ids == ["doc1.txt"]


def test_agree_compares_the_annotators_of_an_export_folder(tmp_path: Path) -> None:
    root = _export(tmp_path / "export")
    out = subprocess.run([NERCURVE, "agree", str(root), "--json", "--allow-missing"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["annotators"] == {"A": f"{root} (ann)", "B": f"{root} (bob)"}
    assert report["documents"] == 1 and report["documents_left_out"] == {"A": 1}
    pair = report["pairs"][0]["overall"]
    assert (pair["n_a"], pair["n_b"], pair["f1_exact"]) == (2, 2, 0.5)
    files = subprocess.run(
        [NERCURVE, "agree", str(root / "annotation/doc1.txt/ann.xmi"),
         str(root / "annotation/doc1.txt/bob.xmi"), "--json"],
        capture_output=True, text=True, timeout=300, check=False)
    assert files.returncode == 0, files.stderr
    assert json.loads(files.stdout)["pairs"][0]["overall"]["f1_exact"] == 0.5


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda p: p.write_text(p.read_text(encoding="utf-8")[:700], encoding="utf-8"),
         "is the file truncated?"),
        (lambda p: (p.parent / "TypeSystem.xml").unlink(),
         "no type system beside the XMI file (TypeSystem.xml)"),
        (lambda p: p.write_text(p.read_text(encoding="utf-8").replace('end="37"', 'end="99"'),
                                encoding="utf-8"),
         "span Person [30,99) in document 'doc1.txt', NamedEntity 11 lies outside its text "
         "(length 38)"),
        (lambda p: (p.parent / "TypeSystem.xml").write_text(
            TYPESYSTEM.replace("webanno.custom.Disease", "webanno.custom.Other"),
            encoding="utf-8"),
         "the XMI uses a type its type system lacks"),
    ],
)
def test_malformed_xmi_is_an_error_naming_the_file(tmp_path: Path, break_it: object,
                                                   message: str) -> None:
    root = _export(tmp_path / "export")
    path = root / "annotation" / "doc1.txt" / "ann.xmi"
    break_it(path)  # type: ignore[operator]
    with pytest.raises(InputError) as err:
        read_corpus(root, options=ReadOptions(annotator="ann"))
    assert message in str(err.value) and err.value.file == str(path)
    out = subprocess.run([NERCURVE, "stats", str(root), "--annotator", "ann"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: {path}")


def test_unknown_layer_names_the_layers_there_are(tmp_path: Path) -> None:
    root = _export(tmp_path / "export")
    with pytest.raises(InputError, match=r"unknown layer webanno\.custom\.Drug") as err:
        read_corpus(root, options=ReadOptions(annotator="ann", layer="webanno.custom.Drug"))
    assert f"{NE}, webanno.custom.Disease" in (err.value.hint or "")
    with pytest.raises(InputError, match="has no feature 'kind'") as err:
        read_corpus(root, options=ReadOptions(annotator="ann", layer=f"{NE}:kind"))
    assert "value, identifier" in (err.value.hint or "")


TSV = (
    "#FORMAT=WebAnno TSV 3.3\n"
    f"#T_SP={NE}|identifier|value\n"
    "#T_SP=webanno.custom.Disease|label\n"
    "#T_RL=webanno.custom.Link|role|BT_webanno.custom.Disease\n"
    "\n\n"
    "#Text=Aspirin eased the migraine of Ann Lee.\n"
    "1-1\t0-7\tAspirin\t_\tChemical\t_\t_\t_\t\n"
    "1-2\t8-13\teased\t_\t_\t_\t_\t_\t\n"
    "1-3\t14-17\tthe\t_\t_\t_\t_\t_\t\n"
    "1-4\t18-26\tmigraine\t_\t_\tDisease\t_\t_\t\n"
    "1-5\t27-29\tof\t_\t_\t_\t_\t_\t\n"
    "1-6\t30-33\tAnn\t_\tPerson[1]\t_\t_\t_\t\n"
    "1-7\t34-37\tLee\t_\tPerson[1]\t_\t_\t_\t\n"
    "1-8\t37-38\t.\t_\t_\t_\t_\t_\t\n"
    "\n"
    "#Text=Ibuprofen and naproxen relieve pain.\n"
    "2-1\t39-48\tIbuprofen\t_\tChemical\t_\t_\t_\t\n"
    "2-2\t49-52\tand\t_\t_\t_\t_\t_\t\n"
    "2-3\t53-61\tnaproxen\t_\tChemical[2]|Drug[3]\t_\t_\t_\t\n"
    "2-4\t62-69\trelieve\t_\t_\t_\t_\t_\t\n"
    "2-5\t70-74\tpain\t_\t_\tSymptom\t_\t_\t\n"
    "2-6\t74-75\t.\t_\t_\t_\t_\t_\t\n"
)


def test_webanno_tsv_spans_sentences_and_layers(tmp_path: Path) -> None:
    path = tmp_path / "report.tsv"
    path.write_text(TSV, encoding="utf-8")
    assert detect_format(path) == "webanno"
    corpus = read_corpus(path, options=ReadOptions(overlap="first"))
    doc = corpus[0]
    assert doc.id == "report" and doc.text == f"{T1} {T2}"
    assert doc.sentences == ((0, 38), (39, 75))
    assert _entities(corpus) == [("report", "Aspirin", "Chemical"), ("report", "Ann Lee", "Person"),
                                 ("report", "Ibuprofen", "Chemical"),
                                 ("report", "naproxen", "Chemical")]
    assert corpus.notice_counts() == {"overlap-dropped": 1}  # the stacked Drug
    diseases = read_corpus(path, options=ReadOptions(layer="webanno.custom.Disease"))
    assert _entities(diseases) == [("report", "migraine", "Disease"), ("report", "pain", "Symptom")]


def test_tsv_export_folder_feeds_agree(tmp_path: Path) -> None:
    root = tmp_path / "export"
    bob = TSV.replace("Person[1]\t", "_\t").replace("Chemical[2]|Drug[3]", "_")
    for user, content in (("ann", TSV.replace("|Drug[3]", "")), ("bob", bob)):
        path = root / "annotation" / "notes.txt" / f"{user}.tsv"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    assert detect_format(root) == "inception"
    ann_c, bob_c = read_annotations(root)
    assert [len(d.spans) for d in ann_c] == [4] and [len(d.spans) for d in bob_c] == [2]
    out = subprocess.run([NERCURVE, "agree", str(root), "--json"], capture_output=True,
                         text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["pairs"][0]["overall"]["f1_exact"] == pytest.approx(2 / 3)


@pytest.mark.parametrize(
    ("edit", "message", "line"),
    [
        (lambda t: t[: t.index("1-5")] + "1-5\t27-29\tof\t_", "a token line with 4 columns "
         "where the headers declare 8", 12),
        (lambda t: t.replace("1-4\t18-26", "1-4\t18-27"),
         "token 'migraine' at 18-27 does not match the sentence text there", 11),
        (lambda t: t.replace("2-6\t74-75", "2-6\t74-90"), "does not match", 23),
        (lambda t: t.replace("#FORMAT=WebAnno TSV 3.3", "#FORMAT=WebAnno TSV 2"),
         "not a WebAnno TSV 3.x file", 1),
        (lambda t: t.replace("#T_SP=" + NE, "#T_SP=x.Y"),
         "unknown layer " + NE, None),
        (lambda t: t.split("#Text=")[0], "the file holds no sentence", None),
    ],
)
def test_malformed_tsv_is_an_error_naming_file_and_line(
    tmp_path: Path, edit: object, message: str, line: int | None
) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text(edit(TSV), encoding="utf-8")  # type: ignore[operator]
    with pytest.raises(InputError) as err:
        read_corpus(path, "webanno", ReadOptions(overlap="first"))
    assert message in str(err.value) and err.value.file == str(path)
    assert err.value.line == line


def test_convert_xmi_export_to_label_studio_tasks(tmp_path: Path) -> None:
    root = _export(tmp_path / "export")
    shutil.rmtree(root / "annotation" / "doc1.txt")
    out = tmp_path / "tasks.json"
    run = subprocess.run([NERCURVE, "convert", str(root), str(out), "--to", "labelstudio"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    assert "wrote 1 documents (2 spans)" in run.stdout
    back = read_corpus(out)
    assert _entities(back) == [("doc2.txt", "Ibuprofen", "Chemical"),
                               ("doc2.txt", "naproxen", "Chemical")]


def _zip(folder: Path, archive: Path) -> Path:
    import zipfile

    with zipfile.ZipFile(archive, "w") as zf:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                zf.write(file, file.relative_to(folder).as_posix())
    return archive


def test_export_zip_and_per_user_zips_read_like_the_folder(tmp_path: Path) -> None:
    root = _export(tmp_path / "export")
    folder = [c.docs for c in read_annotations(root)]
    archive = _zip(root, tmp_path / "project.zip")
    assert detect_format(archive) == "inception"
    zipped = read_annotations(archive)
    assert [c.docs for c in zipped] == folder
    assert [c.source for c in zipped] == [f"{archive} (ann)", f"{archive} (bob)"]
    assert zipped[1].notice_counts() == {"not-annotated-by": 1}
    # WebAnno's layout: annotation/<doc>/<user>.zip, each with its XMI and TypeSystem.xml
    per_user = tmp_path / "per-user"
    for xmi in sorted((root / "annotation").glob("*/*.xmi")):
        inner = tmp_path / "inner" / xmi.parent.name / xmi.stem
        inner.mkdir(parents=True)
        shutil.copy(xmi, inner / xmi.name)
        shutil.copy(xmi.parent / "TypeSystem.xml", inner / "TypeSystem.xml")
        (per_user / "annotation" / xmi.parent.name).mkdir(parents=True, exist_ok=True)
        _zip(inner, per_user / "annotation" / xmi.parent.name / f"{xmi.stem}.zip")
    assert [c.docs for c in read_annotations(per_user)] == folder


def test_errors_inside_a_zip_name_the_archive(tmp_path: Path) -> None:
    root = _export(tmp_path / "export")
    (root / "annotation" / "doc2.txt" / "TypeSystem.xml").unlink()
    archive = _zip(root, tmp_path / "project.zip")
    with pytest.raises(InputError, match="no type system beside the XMI file") as err:
        read_corpus(archive, options=ReadOptions(annotator="ann"))
    assert err.value.file == f"{archive}/annotation/doc2.txt/ann.xmi"
    cut = tmp_path / "cut.zip"
    cut.write_bytes(archive.read_bytes()[:200])
    with pytest.raises(InputError, match="not a readable zip archive") as err:
        read_corpus(cut)
    assert err.value.file == str(cut)


def test_a_layer_without_features_labels_its_spans_with_its_name(tmp_path: Path) -> None:
    path = tmp_path / "finding.tsv"
    path.write_text(
        "#FORMAT=WebAnno TSV 3.3\n#T_SP=webanno.custom.Finding\n\n\n"
        "#Text=Mild fever , no rash\n"
        "1-1\t0-4\tMild\t*[1]\t\n1-2\t5-10\tfever\t*[1]\t\n1-3\t11-12\t,\t_\t\n"
        "1-4\t13-15\tno\t_\t\n1-5\t16-20\trash\t*\t\n", encoding="utf-8")
    corpus = read_corpus(path, options=ReadOptions(layer="webanno.custom.Finding"))
    assert _entities(corpus) == [("finding", "Mild fever", "Finding"),
                                 ("finding", "rash", "Finding")]
