"""Label Studio: the "JSON" and "JSON-MIN" exports, and tasks to import (with predictions).

**JSON** (the full export, also the shape of tasks to import) is a list of tasks::

    [{"id": 7, "data": {"text": "..."},
      "annotations": [{"id": 12, "completed_by": 1, "was_cancelled": false,
                       "result": [{"from_name": "label", "to_name": "text", "type": "labels",
                                   "value": {"start": 0, "end": 5, "text": "Aspro",
                                             "labels": ["ORG"]}},
                                  {"type": "choices", "value": {"choices": ["news"]}}]}],
      "predictions": [{"model_version": "...", "result": [...]}]}]

**JSON-MIN** is one flat record per annotation: the task's data fields, its ``id``, one field
per control (``from_name``) holding its regions (a list of ``{"start", "end", "text",
"labels"}``) or its choice (a string, or ``{"choices": [...]}``), and ``annotator``,
``annotation_id``, ``created_at``, ... (Label Studio leaves cancelled annotations out of it).

What is read:

- The text is ``data[text_column]`` (``--text-column``, default ``text``); the document id is
  ``data[id_column]`` when the data carries one (``--id-column``, default ``id``), else the
  task id, else ``<file stem>-<task number>``.
- ``labels`` results become spans, one per label of a region; ``value.text``, when given, is
  checked against the text at the offsets (the ``--mismatch`` policy). ``choices`` results
  become document classes (``cats``); in JSON-MIN a plain string is a class only under the
  ``--label-column`` key (default ``label``), any other string is a data field (counted, so
  that a class field read as data shows). JSON-MIN carries the task id where the data had an
  ``id`` (Label Studio overwrites it): export as JSON to keep the documents' own ids.
- Every other result type (relations, text areas, ratings, ...) is left out with a counted
  notice; so are cancelled (skipped) annotations and the tasks' ``predictions`` (model
  output, not annotation).
- Several annotators: an annotator is named by the e-mail of ``completed_by`` (when the export
  carries user details), else its user id (JSON-MIN: ``annotator``). ``--annotator NAME``
  reads that annotator's annotations (tasks it did not annotate are left out, counted).
  Without it, a task with one annotation reads it; one with several reads the one marked
  ``ground_truth``, and is otherwise an error that names the annotators
  (``nercurve agree FILE`` compares them: :func:`annotators` lists them).
- A task without any annotation is left out with a counted notice, unless no task of the file
  has one (tasks to annotate): then every task is a document without spans (one notice).

Errors name the file and the line where the task starts (a JSON file has no other lines).

:func:`write` writes tasks to import: the text under ``data.text``, the document id under
``data.id``, the spans and classes as one annotation, or (``as_predictions``) as one
prediction of ``model_version``, for model-assisted annotation; :func:`labeling_config` is
the labeling config (XML) of a project those tasks fit.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import quoteattr

from nercurve.corpus.classes import POSITIVE
from nercurve.corpus.model import Corpus, Doc
from nercurve.corpus.validate import Checker, RawSpan, read_text
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

_SHAPE_HINT = (
    'a Label Studio export is a JSON list of tasks like {"id": 1, "data": {"text": "..."}, '
    '"annotations": [{"result": [...]}]} (JSON), or of flat records (JSON-MIN)'
)
# the JSON-MIN fields that describe the annotation, not the task's data or its results
_MIN_FIELDS = ("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time",
               "agreement", "history", "was_cancelled", "completed_by")
WRITE_FROM = {"labels": "label", "choices": "class"}
"""The control names (``from_name``) the writer gives spans and classes."""


@dataclass
class _Annotation:
    """One annotator's (or a prediction's) results of one task."""

    annotator: str
    results: list[Any]
    ground_truth: bool = False
    ref: str = ""


@dataclass
class _Task:
    """One task: its document, where it starts, its kept annotations."""

    number: int
    line: int
    doc_id: str
    text: str
    annotations: list[_Annotation] = field(default_factory=list)
    minimal: bool = False


def _items(text: str, checker: Checker) -> Iterator[tuple[int, Any]]:
    """The elements of the top-level JSON list with the line each starts at (one object: one
    task). A truncated or broken file is an error at the line where parsing stopped."""
    decoder = json.JSONDecoder()

    def _line(pos: int) -> int:
        return text.count("\n", 0, pos) + 1

    def broken(err: json.JSONDecodeError, what: str) -> InputError:
        end = err.pos >= len(text.rstrip())
        return checker.error(
            f"not valid JSON {what}: {err.msg} at column {err.colno}"
            + ("; the file ends too early (truncated?)" if end else ""),
            err.lineno,
            "export the project again, or repair the JSON",
        )

    pos = len(text) - len(text.lstrip())
    if pos >= len(text):
        raise checker.error("the file is empty", None, _SHAPE_HINT)
    if text[pos] == "{":
        try:
            obj, _ = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise broken(err, "in the task") from None
        yield _line(pos), obj
        return
    if text[pos] != "[":
        raise checker.error("not a Label Studio export: the file is not a JSON list", 1,
                            _SHAPE_HINT)
    pos += 1
    number = 0
    while True:
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos < len(text) and text[pos] == "]" and number == 0:
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise broken(err, f"in task {number + 1}") from None
        number += 1
        yield _line(pos), obj
        pos = end
        while pos < len(text) and text[pos] in " \t\r\n":
            pos += 1
        if pos >= len(text):
            raise checker.error(
                f"the list of tasks is not closed after task {number}: the file ends too "
                "early (truncated?)", _line(pos), "export the project again")
        if text[pos] == "]":
            return
        if text[pos] != ",":
            raise checker.error(f"expected ',' or ']' after task {number}", _line(pos),
                                _SHAPE_HINT)
        pos += 1


def _annotator(value: Any) -> str:
    """An annotator's name: the e-mail of a ``completed_by`` object, else the user id."""
    if isinstance(value, dict):
        value = value.get("email") or value.get("id")
    return "unknown" if value is None or value == "" else str(value)


def _tasks(path: Path, options: ReadOptions, checker: Checker) -> list[_Task]:
    """Every task of the file with its non-cancelled annotations (JSON-MIN records of one task
    merged); cancelled annotations and predictions counted."""
    tasks: list[_Task] = []
    records: dict[str, _Task] = {}  # JSON-MIN: the task that the records of a task id fill
    for number, (line, obj) in enumerate(_items(read_text(path), checker), 1):
        if not isinstance(obj, dict):
            raise checker.error(f"task {number} is not a JSON object", line, _SHAPE_HINT)
        minimal = "data" not in obj
        data = obj if minimal else obj["data"]
        if not isinstance(data, dict):
            raise checker.error(f'task {number}: "data" is not an object', line, _SHAPE_HINT)
        text = data.get(options.text_column)
        if not isinstance(text, str):
            raise checker.error(
                f'task {number} has no "{options.text_column}" string in its '
                + ("record" if minimal else "data"),
                line,
                "name the data field that holds the text with --text-column",
            )
        doc_id = _doc_id(obj, data, minimal, options, number, path)
        task = records.get(doc_id) if minimal else None
        if task is None:  # a repeated id in the full export: the checker reports it
            task = _Task(number, line, doc_id, text, minimal=minimal)
            tasks.append(task)
            if minimal:
                records[doc_id] = task
        elif task.text != text:
            raise checker.error(
                f"task {doc_id!r} appears again with another text (first at line {task.line})",
                line, "JSON-MIN records of one task carry the same text")
        where = f"task {doc_id!r}"
        if minimal:
            if obj.get("annotation_id") is None and obj.get("annotator") is None:
                continue  # a task without annotations
            results = [(key, value) for key, value in obj.items() if key not in _MIN_FIELDS
                       and key not in (options.text_column, options.id_column)]
            ref = f"annotation {obj.get('annotation_id')}"
            task.annotations.append(_Annotation(_annotator(obj.get("annotator")), results,
                                                ref=f"{where}, {ref}"))
            continue
        for key in ("annotations", "completions"):
            for ann in _list(obj.get(key), f"task {number}: {key!r}", line, checker):
                if not isinstance(ann, dict):
                    raise checker.error(f"task {number}: an annotation is not an object", line,
                                        _SHAPE_HINT)
                who = _annotator(ann.get("completed_by"))
                ref = f"{where}, annotation {ann.get('id')} by {who}"
                if ann.get("was_cancelled") or ann.get("skipped"):
                    checker.notice("cancelled-skipped",
                                   f"{ref} was cancelled (skipped): left out", line, doc_id)
                    continue
                task.annotations.append(_Annotation(
                    who, _list(ann.get("result"), f"{ref}: 'result'", line, checker),
                    bool(ann.get("ground_truth")), ref))
        predictions = _list(obj.get("predictions"), f"task {number}: 'predictions'", line,
                            checker)
        if predictions:
            checker.notice("predictions-left-out",
                           f"{where} carries {len(predictions)} prediction(s) (model output, "
                           "not annotation): left out", line, doc_id)
    return tasks


def _list(value: Any, what: str, line: int, checker: Checker) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise checker.error(f"{what} is not a list", line, _SHAPE_HINT)
    return value


def _doc_id(obj: dict[str, Any], data: dict[str, Any], minimal: bool, options: ReadOptions,
            number: int, path: Path) -> str:
    value = obj.get("id") if minimal else data.get(options.id_column, obj.get("id"))
    if isinstance(value, str | int) and not isinstance(value, bool) and str(value) != "":
        return str(value)
    return f"{path.stem}-{number}"


def annotators(path: Path, options: ReadOptions) -> list[str]:
    """The annotators whose (non-cancelled) annotations the file holds, in order of first
    appearance."""
    checker = Checker(path, options)
    names = [a.annotator for t in _tasks(path, options, checker) for a in t.annotations]
    return list(dict.fromkeys(names))


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a Label Studio JSON or JSON-MIN export (see the module doc)."""
    checker = Checker(path, options)
    tasks = _tasks(path, options, checker)
    if options.annotator is not None:
        names = {a.annotator for t in tasks for a in t.annotations}
        if options.annotator not in names:
            raise checker.error(
                f"no annotation by {options.annotator!r}",
                hint="the file holds annotations by: " + (", ".join(sorted(names)) or "nobody"),
            )
    unannotated = not any(t.annotations for t in tasks)
    if unannotated and tasks:
        checker.notice("unannotated-tasks", f"no task holds an annotation: read {len(tasks)} "
                       "task(s) as documents without spans")
    for task in tasks:
        if unannotated:
            checker.add_doc(task.doc_id, task.text, [], line=task.line)
            continue
        chosen = _chosen(task, options, checker)
        if chosen is not None:
            spans, cats = _results(chosen, task, checker)
            checker.add_doc(task.doc_id, task.text, spans, line=task.line, cats=cats)
    return checker.corpus(str(path))


def _chosen(task: _Task, options: ReadOptions, checker: Checker) -> _Annotation | None:
    """The annotation of a task to read (see the module doc), or None (left out, counted)."""
    where = f"task {task.doc_id!r}"
    anns = task.annotations
    if options.annotator is not None:
        anns = [a for a in anns if a.annotator == options.annotator]
        if not anns:
            checker.notice("not-annotated-by", f"{where} has no annotation by "
                           f"{options.annotator!r}: left out", task.line, task.doc_id)
            return None
    if not anns:
        checker.notice("unannotated-skipped", f"{where} has no annotation: left out",
                       task.line, task.doc_id)
        return None
    if len(anns) == 1:
        return anns[0]
    truth = [a for a in anns if a.ground_truth]
    if len(truth) == 1:
        return truth[0]
    who = Counter(a.annotator for a in anns)
    if options.annotator is None and len(who) > 1:
        raise checker.error(
            f"{where} has annotations by {len(who)} annotators ({', '.join(who)})",
            task.line,
            "read one annotator's with --annotator NAME, or compare them: nercurve agree FILE",
        )
    raise checker.error(
        f"{where} has {len(anns)} annotations by {anns[0].annotator}",
        task.line,
        "keep one annotation per annotator and task in Label Studio, or mark one as ground "
        "truth",
    )


def _results(ann: _Annotation, task: _Task, checker: Checker
             ) -> tuple[list[RawSpan], dict[str, float]]:
    """The spans and classes of one annotation; other result types counted and left out."""
    spans: list[RawSpan] = []
    cats: dict[str, float] = {}
    if task.minimal:
        items = [_min_result(key, value, ann, task, checker) for key, value in ann.results]
        results = [r for group in items for r in group]
    else:
        results = ann.results
    for result in results:
        if not isinstance(result, dict):
            raise checker.error(f"{ann.ref}: a result is not an object", task.line, _SHAPE_HINT)
        kind = str(result.get("type", "")).lower()
        value = result.get("value")
        if kind in ("labels", "choices") and not isinstance(value, dict):
            raise checker.error(f"{ann.ref}: a {kind} result has no \"value\" object",
                                task.line, _SHAPE_HINT)
        if kind == "labels":
            spans += _spans(value, ann, task, checker)
        elif kind == "choices":
            choices = value.get("choices")
            if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
                raise checker.error(f"{ann.ref}: \"choices\" is not a list of strings",
                                    task.line, _SHAPE_HINT)
            cats.update(dict.fromkeys(choices, 1.0))
        else:
            checker.notice("result-skipped", f"{ann.ref}: a {kind or 'untyped'!s} result "
                           "(not labels or choices): left out", task.line, task.doc_id)
    return spans, cats


def _min_result(key: str, value: Any, ann: _Annotation, task: _Task, checker: Checker
                ) -> list[dict[str, Any]]:
    """A JSON-MIN field as full-export results (an unknown field: none, data)."""
    if isinstance(value, dict) and "choices" in value:
        return [{"type": "choices", "value": value}]
    if isinstance(value, str):
        label_key = checker.options.label_column
        if key == label_key:
            return [{"type": "choices", "value": {"choices": [value]}}]
        checker.notice("min-field-as-data", f"{ann.ref}: the field {key!r} ({value[:40]!r}) "
                       f"is read as data, not as a class (a class field is named by "
                       f"--label-column, now {label_key!r})", task.line, task.doc_id)
        return []
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = []
        for region in value:
            if "labels" in region:
                out.append({"type": "labels", "value": region})
            elif "choices" in region:
                out.append({"type": "choices", "value": region})
            else:
                kinds = [k for k in region if k.endswith("labels")] or ["other"]
                out.append({"type": kinds[0], "value": region})
        return out
    return []


def _spans(value: dict[str, Any], ann: _Annotation, task: _Task, checker: Checker
           ) -> list[RawSpan]:
    start, end, labels = value.get("start"), value.get("end"), value.get("labels")
    for name, number in (("start", start), ("end", end)):
        if isinstance(number, bool) or not isinstance(number, int):
            raise checker.error(f"{ann.ref}: region {name} is {json.dumps(number)}, not a "
                                "character offset", task.line,
                                "a labels region carries integer start and end offsets")
    if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
        raise checker.error(f"{ann.ref}: region [{start},{end}) has no labels", task.line,
                            'a labels region carries "labels": ["LABEL"]')
    mention = value.get("text")
    return [RawSpan(start, end, label, task.line, mention if isinstance(mention, str) else None,
                    ann.ref) for label in labels]


def _result_items(doc: Doc) -> list[dict[str, Any]]:
    """A document's spans and classes as Label Studio results."""
    items: list[dict[str, Any]] = [
        {"id": f"s{i}", "from_name": WRITE_FROM["labels"], "to_name": "text", "type": "labels",
         "value": {"start": s.start, "end": s.end, "text": doc.span_text(s),
                   "labels": [s.label]}}
        for i, s in enumerate(doc.spans)
    ]
    classes = [name for name, score in doc.cats.items() if score >= POSITIVE]
    if classes:
        items.append({"id": "c0", "from_name": WRITE_FROM["choices"], "to_name": "text",
                      "type": "choices", "value": {"choices": classes}})
    return items


def labeling_config(docs: Sequence[Doc]) -> str:
    """The Label Studio labeling config (XML) that the tasks :func:`write` makes of these
    documents fit: a ``Labels`` control for their span labels and a ``Choices`` control for
    their classes (``multiple`` when a document carries several), on the text ``$text``."""
    labels = sorted({s.label for d in docs for s in d.spans})
    classes = sorted({c for d in docs for c in d.cats})
    multiple = any(sum(v >= POSITIVE for v in d.cats.values()) > 1 for d in docs)
    parts = ["<View>"]
    if labels or not classes:
        parts.append(f'  <Labels name="{WRITE_FROM["labels"]}" toName="text">')
        parts += [f"    <Label value={quoteattr(label)}/>" for label in labels]
        parts.append("  </Labels>")
    parts.append('  <Text name="text" value="$text"/>')
    if classes:
        choice = "multiple" if multiple else "single"
        parts.append(f'  <Choices name="{WRITE_FROM["choices"]}" toName="text" '
                     f'choice="{choice}">')
        parts += [f"    <Choice value={quoteattr(c)}/>" for c in classes]
        parts.append("  </Choices>")
    parts.append("</View>")
    return "\n".join(parts) + "\n"


def tasks(docs: Sequence[Doc], *, as_predictions: bool = False,
          model_version: str | None = None) -> list[dict[str, Any]]:
    """Documents as Label Studio tasks to import: spans and classes as one annotation, or
    (``as_predictions``) as one prediction of ``model_version`` (pre-annotations)."""
    out = []
    for doc in docs:
        task: dict[str, Any] = {"data": {"id": doc.id, "text": doc.text}}
        results = _result_items(doc)
        if as_predictions:
            task["predictions"] = [{"model_version": model_version or "nercurve",
                                    "result": results}]
        else:
            task["annotations"] = [{"result": results, "was_cancelled": False,
                                    "ground_truth": False}]
        out.append(task)
    return out


def write(docs: Sequence[Doc], path: Path, *, as_predictions: bool = False,
          model_version: str | None = None) -> None:
    """Write documents as Label Studio tasks (JSON) to import (see :func:`tasks`)."""
    payload = tasks(docs, as_predictions=as_predictions, model_version=model_version)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        json.dump(payload, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
