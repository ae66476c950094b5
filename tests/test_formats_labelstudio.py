"""Label Studio: JSON and JSON-MIN exports written by hand, two annotators, agree on them,
malformed exports, and the tasks the writer makes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from nercurve.corpus.io import (
    ReadOptions,
    detect_format,
    read_annotations,
    read_corpus,
    write_corpus,
)
from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError

NERCURVE = str(Path(sys.executable).parent / "nercurve")
ANN = {"id": 1, "email": "ann@lab.org", "first_name": "Ann"}
BOB = {"id": 2, "email": "bob@lab.org", "first_name": "Bob"}
T1 = "Aspirin helps Ann Lee."
T2 = "Ibuprofen and naproxen too."
T3 = "Nothing here."


def _region(start: int, end: int, text: str, label: str, rid: str = "r") -> dict[str, Any]:
    return {"id": rid, "from_name": "label", "to_name": "text", "type": "labels",
            "value": {"start": start, "end": end, "text": text, "labels": [label]}}


def _export() -> list[dict[str, Any]]:
    """Three tasks: two annotated by Ann and Bob, one by Ann only; one cancelled annotation,
    a relation, a text area, a prediction and a class."""
    return [
        {"id": 1, "data": {"text": T1}, "annotations": [
            {"id": 11, "completed_by": ANN, "was_cancelled": False, "ground_truth": False,
             "result": [_region(0, 7, "Aspirin", "Chemical", "a"),
                        _region(14, 21, "Ann Lee", "Person", "b"),
                        {"id": "rel", "type": "relation", "from_id": "a", "to_id": "b",
                         "direction": "right", "labels": []},
                        {"id": "c", "from_name": "topic", "to_name": "text",
                         "type": "choices", "value": {"choices": ["drug"]}}]},
            {"id": 12, "completed_by": BOB, "was_cancelled": False,
             "result": [_region(0, 7, "Aspirin", "Chemical"),
                        _region(14, 17, "Ann", "Person")]},
            {"id": 13, "completed_by": {"id": 3, "email": "cy@lab.org"}, "was_cancelled": True,
             "result": []}],
         "predictions": [{"model_version": "m1", "score": 0.9,
                          "result": [_region(0, 7, "Aspirin", "Chemical")]}]},
        {"id": 2, "data": {"text": T2}, "annotations": [
            {"id": 21, "completed_by": ANN, "result": [
                _region(0, 9, "Ibuprofen", "Chemical"), _region(14, 22, "naproxen", "Chemical"),
                {"id": "n", "from_name": "note", "to_name": "text", "type": "textarea",
                 "value": {"text": ["check"]}}]},
            {"id": 22, "completed_by": BOB, "result": [
                _region(0, 9, "Ibuprofen", "Chemical")]}]},
        {"id": 3, "data": {"text": T3}, "annotations": [
            {"id": 31, "completed_by": ANN, "result": []}]},
    ]


def _json_min() -> list[dict[str, Any]]:
    """The same annotations as Label Studio's JSON-MIN export writes them."""
    def regions(*items: tuple[int, int, str, str]) -> list[dict[str, Any]]:
        return [{"start": a, "end": b, "text": t, "labels": [lab]} for a, b, t, lab in items]

    common = {"created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z",
              "lead_time": 3.5}
    return [
        {"text": T1, "id": 1, "label": regions((0, 7, "Aspirin", "Chemical"),
                                               (14, 21, "Ann Lee", "Person")),
         "topic": "drug", "annotator": "ann@lab.org", "annotation_id": 11, **common},
        {"text": T1, "id": 1, "label": regions((0, 7, "Aspirin", "Chemical"),
                                               (14, 17, "Ann", "Person")),
         "annotator": "bob@lab.org", "annotation_id": 12, **common},
        {"text": T2, "id": 2, "label": regions((0, 9, "Ibuprofen", "Chemical"),
                                               (14, 22, "naproxen", "Chemical")),
         "annotator": "ann@lab.org", "annotation_id": 21, **common},
        {"text": T2, "id": 2, "label": regions((0, 9, "Ibuprofen", "Chemical")),
         "annotator": "bob@lab.org", "annotation_id": 22, **common},
        {"text": T3, "id": 3, "annotator": "ann@lab.org", "annotation_id": 31, **common},
    ]


def _write(tmp_path: Path, content: Any, name: str = "export.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(content, indent=1) if not isinstance(content, str) else content,
                    encoding="utf-8")
    return path


def _entities(corpus: Any) -> list[tuple[str, str, str]]:
    return [(d.id, d.span_text(s), s.label) for d in corpus for s in d.spans]


def test_json_export_two_annotators_read_apart_with_exact_counts(tmp_path: Path) -> None:
    path = _write(tmp_path, _export())
    assert detect_format(path) == "labelstudio"
    ann, bob = read_annotations(path)
    assert (ann.source, bob.source) == (f"{path} (ann@lab.org)", f"{path} (bob@lab.org)")
    assert _entities(ann) == [("1", "Aspirin", "Chemical"), ("1", "Ann Lee", "Person"),
                              ("2", "Ibuprofen", "Chemical"), ("2", "naproxen", "Chemical")]
    assert ann.ids == ["1", "2", "3"] and ann[0].cats == {"drug": 1.0}
    assert _entities(bob) == [("1", "Aspirin", "Chemical"), ("1", "Ann", "Person"),
                              ("2", "Ibuprofen", "Chemical")]
    assert bob.ids == ["1", "2"]
    assert ann.notice_counts() == {"cancelled-skipped": 1, "predictions-left-out": 1,
                                   "result-skipped": 2}
    assert bob.notice_counts() == {"cancelled-skipped": 1, "predictions-left-out": 1,
                                   "not-annotated-by": 1}
    one = read_corpus(path, options=ReadOptions(annotator="bob@lab.org"))
    assert one.docs == bob.docs


def test_several_annotators_without_a_choice_is_an_error_naming_them(tmp_path: Path) -> None:
    path = _write(tmp_path, _export())
    with pytest.raises(InputError) as err:
        read_corpus(path)
    assert err.value.file == str(path) and err.value.line == 2
    assert "task '1' has annotations by 2 annotators (ann@lab.org, bob@lab.org)" in str(err.value)
    assert "--annotator" in (err.value.hint or "") and "nercurve agree" in (err.value.hint or "")
    with pytest.raises(InputError, match="no annotation by 'eve'") as err:
        read_corpus(path, options=ReadOptions(annotator="eve"))
    assert "ann@lab.org, bob@lab.org" in (err.value.hint or "")


def test_ground_truth_is_read_and_single_annotations_need_no_choice(tmp_path: Path) -> None:
    export = _export()
    export[0]["annotations"][1]["ground_truth"] = True
    export[1]["annotations"].pop()  # task 2: Ann's only
    corpus = read_corpus(_write(tmp_path, export))
    assert _entities(corpus)[:2] == [("1", "Aspirin", "Chemical"), ("1", "Ann", "Person")]
    assert len(corpus) == 3 and sum(len(d.spans) for d in corpus) == 4


def test_json_min_reads_like_the_full_export(tmp_path: Path) -> None:
    full = read_annotations(_write(tmp_path, _export()))
    path = _write(tmp_path, _json_min(), "min.json")
    assert detect_format(path) == "labelstudio"
    minimal = read_annotations(path)
    assert [c.source.rsplit(" ", 1)[1] for c in minimal] == ["(ann@lab.org)", "(bob@lab.org)"]
    for got, want in zip(minimal, full, strict=True):
        assert got.docs == want.docs
    assert minimal[0][0].cats == {}  # a plain string is a class only under --label-column
    assert minimal[0].notice_counts() == {"min-field-as-data": 1}
    topic = read_corpus(path, options=ReadOptions(annotator="ann@lab.org", label_column="topic"))
    assert topic[0].cats == {"drug": 1.0} and topic.docs == full[0].docs


def test_unannotated_tasks_are_left_out_unless_none_is_annotated(tmp_path: Path) -> None:
    export = _export()
    export.append({"id": 4, "data": {"text": "Pending."}, "annotations": []})
    for task in export:
        task["annotations"] = [a for a in task["annotations"] if a["completed_by"] != BOB]
    corpus = read_corpus(_write(tmp_path, export))
    assert corpus.ids == ["1", "2", "3"] and corpus.notice_counts()["unannotated-skipped"] == 1
    todo = read_corpus(_write(tmp_path, [{"data": {"text": "A."}}, {"data": {"text": "B."}}],
                              "todo.json"))
    assert [(d.id, d.text, d.spans) for d in todo] == [("todo-1", "A.", ()), ("todo-2", "B.", ())]
    assert todo.notice_counts() == {"unannotated-tasks": 1}


def test_text_and_id_fields_follow_the_column_options(tmp_path: Path) -> None:
    tasks = [{"id": 5, "data": {"abstract": "Aspirin.", "pmid": "123"}, "annotations": [
        {"completed_by": 1, "result": [{"type": "labels", "value": {
            "start": 0, "end": 7, "labels": ["Chemical"]}}]}]}]
    path = _write(tmp_path, tasks)
    with pytest.raises(InputError, match='task 1 has no "text" string'):
        read_corpus(path)
    corpus = read_corpus(path, options=ReadOptions(text_column="abstract", id_column="pmid"))
    assert _entities(corpus) == [("123", "Aspirin", "Chemical")]


@pytest.mark.parametrize(
    ("edit", "message", "line"),
    [
        (lambda t: t[: len(t) // 2], "the file ends too early (truncated?)", None),
        (lambda t: t.replace('"end": 21', '"end": 99'),
         "span Person [14,99) in document '1', task '1', annotation 11 by ann@lab.org lies "
         "outside its text (length 22)", 2),
        (lambda t: t.replace('"text": "Ann Lee"', '"text": "Ann Lea"'),
         "expected 'Ann Lea', found 'Ann Lee' at [14,21)", 2),
        (lambda t: t.replace('"start": 14', '"start": "14"'),
         'region start is "14", not a character offset', 2),
        (lambda t: re.sub(r'"labels": \[\s*"Person"\s*\]', '"labels": []', t, count=1),
         "region [14,21) has no labels", 2),
        (lambda t: '{"tasks": ' + t + "}", 'task 1 has no "text" string', 1),
        (lambda t: "[1, 2]", "task 1 is not a JSON object", 1),
        (lambda t: "42", "not a Label Studio export: the file is not a JSON list", 1),
    ],
)
def test_malformed_exports_are_errors_naming_file_and_place(
    tmp_path: Path, edit: Any, message: str, line: int | None
) -> None:
    text = json.dumps(_export(), indent=1)
    path = _write(tmp_path, edit(text), "bad.json")
    with pytest.raises(InputError) as err:
        read_corpus(path, "labelstudio", ReadOptions(annotator="ann@lab.org"))
    assert err.value.file == str(path) and message in str(err.value)
    if line is not None:
        assert err.value.line == line


def test_truncated_export_exits_2_with_one_line(tmp_path: Path) -> None:
    text = json.dumps(_export(), indent=1)
    path = _write(tmp_path, text[:300], "cut.json")
    out = subprocess.run([NERCURVE, "stats", str(path), "--format", "labelstudio"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: {path}:") and "truncated" in out.stderr


def test_agree_compares_the_two_annotators_of_one_export(tmp_path: Path) -> None:
    path = _write(tmp_path, _export())
    missing = subprocess.run([NERCURVE, "agree", str(path)], capture_output=True, text=True,
                             timeout=300, check=False)
    assert missing.returncode == 2 and "--allow-missing" in missing.stderr  # task 3: Ann's only
    out = subprocess.run([NERCURVE, "agree", str(path), "--json", "--allow-missing"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["annotators"] == {"A": f"{path} (ann@lab.org)", "B": f"{path} (bob@lab.org)"}
    assert report["documents"] == 2 and report["documents_left_out"] == {"A": 1}
    pair = report["pairs"][0]["overall"]
    # Ann 4 entities in tasks 1-2, Bob 3; exact matches: Aspirin, Ibuprofen
    assert (pair["n_a"], pair["n_b"]) == (4, 3)
    assert pair["f1_exact"] == pytest.approx(2 * 2 / (4 + 3))
    assert "cancelled-skipped" in out.stderr


def _docs() -> list[Doc]:
    return [Doc("d1", "Aspirin helps Ann Lee.", (Span(0, 7, "Chemical"), Span(14, 21, "Person"))),
            Doc("d2", "Good news.", cats={"positive": 1.0, "negative": 0.0})]


def test_writer_tasks_read_back_and_predictions_are_left_out(tmp_path: Path) -> None:
    out = tmp_path / "tasks.json"
    write_corpus(_docs(), out, "labelstudio")
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert tasks[0]["data"] == {"id": "d1", "text": "Aspirin helps Ann Lee."}
    assert tasks[0]["annotations"][0]["result"][1]["value"] == {
        "start": 14, "end": 21, "text": "Ann Lee", "labels": ["Person"]}
    assert tasks[1]["annotations"][0]["result"] == [
        {"id": "c0", "from_name": "class", "to_name": "text", "type": "choices",
         "value": {"choices": ["positive"]}}]
    back = read_corpus(out)
    assert back.docs == _docs() and back[1].cats == {"positive": 1.0}
    pre = tmp_path / "pre.json"
    write_corpus(_docs(), pre, "labelstudio", as_predictions=True, model_version="spacy-200")
    tasks = json.loads(pre.read_text(encoding="utf-8"))
    assert "annotations" not in tasks[0]
    assert tasks[0]["predictions"][0]["model_version"] == "spacy-200"
    assert len(tasks[0]["predictions"][0]["result"]) == 2
    todo = read_corpus(pre)
    assert [d.spans for d in todo] == [(), ()]
    assert todo.notice_counts() == {"predictions-left-out": 2, "unannotated-tasks": 1}


def test_convert_writes_tasks_with_predictions(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    write_corpus(_docs(), src)
    out = tmp_path / "tasks.json"
    run = subprocess.run([NERCURVE, "convert", str(src), str(out), "--to", "labelstudio",
                          "--as-predictions", "m2"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["predictions"][0]["model_version"] for t in tasks] == ["m2", "m2"]
    config = (tmp_path / "tasks.config.xml").read_text(encoding="utf-8")
    assert config == (
        '<View>\n  <Labels name="label" toName="text">\n    <Label value="Chemical"/>\n'
        '    <Label value="Person"/>\n  </Labels>\n  <Text name="text" value="$text"/>\n'
        '  <Choices name="class" toName="text" choice="single">\n'
        '    <Choice value="negative"/>\n    <Choice value="positive"/>\n  </Choices>\n'
        "</View>\n")
    bad = subprocess.run([NERCURVE, "convert", str(src), str(tmp_path / "x.jsonl"),
                          "--as-predictions", "m2"], capture_output=True, text=True,
                         timeout=120, check=False)
    assert bad.returncode == 2 and "--to labelstudio" in bad.stderr


def test_repeated_task_ids_follow_the_duplicate_ids_policy(tmp_path: Path) -> None:
    export = _export()[1:]
    export[0]["annotations"].pop()
    export.append(json.loads(json.dumps(export[0])))
    path = _write(tmp_path, export)
    with pytest.raises(InputError, match="document id '2' is repeated") as err:
        read_corpus(path)
    assert err.value.line == 76  # where the third task starts
    kept = read_corpus(path, options=ReadOptions(duplicate_ids="keep-first"))
    assert kept.ids == ["2", "3"] and kept.notice_counts()["duplicate-id-dropped"] == 1


def test_agree_on_a_broken_or_missing_export_is_one_clear_error(tmp_path: Path) -> None:
    cut = _write(tmp_path, json.dumps(_export(), indent=1)[:400], "cut.json")
    with pytest.raises(InputError, match="truncated") as err:
        read_annotations(cut)
    assert "the format guessed from the file" in (err.value.hint or "")
    with pytest.raises(InputError, match="no such file"):
        read_annotations(tmp_path / "none.json", "labelstudio")
    out = subprocess.run([NERCURVE, "agree", str(cut), str(tmp_path / "none.json")],
                         capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.startswith(f"error: {cut}:")
