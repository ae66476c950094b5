"""JSON Lines: one document per line, in our own shape or the doccano and Prodigy shapes.

Our shape (what :func:`write` produces)::

    {"id": "d1", "text": "...", "spans": [{"start": 0, "end": 5, "label": "ORG"}],
     "sentences": [[0, 40]], "tokens": [[0, 5], ...], "cats": {...}, "meta": {...}}

where ``sentences``, ``tokens``, ``cats`` and ``meta`` are optional. The reader also
accepts doccano exports (``"label": [[start, end, "LABEL"], ...]``, or
``"entities": [{"start_offset", "end_offset", "label"}]``; a ``label`` list of plain
strings is read as document categories) and Prodigy exports (``"spans"`` with
``start``/``end``/``label``, tokens as dicts, ``_input_hash``; examples whose
``answer`` is not ``accept`` are skipped with a notice). A span's ``text``, when given,
is checked against the document text. A document without ``id`` (or with a null one)
takes its Prodigy ``_input_hash``, else ``<file stem>-<line>``; an id that is not a string or
a whole number (a list, an object, ``true``) is an error, not replaced. ``cats`` must map
category names to finite numbers (``"yes"``, ``null``, ``true`` and ``NaN`` are errors).

Document classes (text classification) come as ``"label": "X"`` (one class), ``"labels":
["X", "Y"]`` (a list; doccano's ``"label": ["X"]`` too) or ``"cats"``; a file that gives
classes as one string on some lines and as a list on others mixes the single- and
multi-label forms and is an error, as is a line with both ``"label"`` and ``"labels"``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus, Doc, Offsets
from nercurve.corpus.validate import Checker, RawSpan, read_lines
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

_SHAPE_HINT = (
    'each line must be one JSON object like {"id": "d1", "text": "...", "spans": '
    '[{"start": 0, "end": 5, "label": "ORG"}]} (doccano "label" and Prodigy "spans" '
    "shapes are read too)"
)


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a JSONL corpus file (our shape, doccano or Prodigy)."""
    checker = Checker(path, options)
    forms: dict[str, int] = {}  # class form ("one", "list") -> first line using it
    for lineno, line in enumerate(read_lines(path, checker), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            raise checker.error(
                f"not valid JSON ({err.msg} at column {err.colno})", lineno, _SHAPE_HINT
            ) from None
        if not isinstance(obj, dict):
            raise checker.error("the line is not a JSON object", lineno, _SHAPE_HINT)
        doc_id = _doc_id(obj, path, lineno, checker)
        answer = obj.get("answer")
        if answer is not None and answer != "accept":
            checker.notice(
                "prodigy-not-accepted",
                f"Prodigy example {doc_id!r} has answer {answer!r}; skipped",
                lineno,
                doc_id,
            )
            continue
        text = obj.get("text")
        if not isinstance(text, str):
            raise checker.error('the object has no "text" string', lineno, _SHAPE_HINT)
        spans, cats = _spans_and_cats(obj, checker, lineno)
        form = _class_form(obj)
        if form is not None:
            forms.setdefault(form, lineno)
            other = forms.get("list" if form == "one" else "one")
            if other is not None:
                raise checker.error(
                    "single- and multi-label forms are mixed: this line gives its classes "
                    + ('as one string ("label": "X")' if form == "one" else "as a list")
                    + f", line {other} "
                    + ("as a list" if form == "one" else 'as one string ("label": "X")'),
                    lineno,
                    'write every line alike: "label": "X" for single-label data, "labels": '
                    '["X", "Y"] for multi-label data',
                )
        meta = obj.get("meta")
        checker.add_doc(
            doc_id,
            text,
            spans,
            line=lineno,
            sentences=_offsets(obj.get("sentences"), "sentences", len(text), checker, lineno),
            tokens=_offsets(obj.get("tokens"), "tokens", len(text), checker, lineno),
            cats=cats,
            meta=meta if isinstance(meta, dict) else {},
        )
    return checker.corpus()


def _doc_id(obj: dict[str, Any], path: Path, lineno: int, checker: Checker) -> str:
    for key in ("id", "_input_hash"):
        value = obj.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise checker.error(
                f'the "{key}" is {json.dumps(value)[:60]}, not a string or a whole number',
                lineno,
                'give each document one id, e.g. "id": "d1" (or leave it out: then '
                "documents are numbered by line)",
            )
        if str(value) != "":
            return str(value)
    return f"{path.stem}-{lineno}"


def _cats(value: Any, checker: Checker, lineno: int) -> dict[str, float]:
    if not isinstance(value, dict):
        raise checker.error(
            f'"cats" is {json.dumps(value)[:60]}, not an object of category scores',
            lineno,
            'write document categories as "cats": {"LABEL": 1.0, "OTHER": 0.0}',
        )
    cats: dict[str, float] = {}
    for name, score in value.items():
        if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(
            score
        ):
            raise checker.error(
                f'category {name!r} in "cats" has the score {json.dumps(score)}, not a number',
                lineno,
                "each category score is a finite number, e.g. 1.0 (yes) or 0.0 (no)",
            )
        cats[name] = float(score)
    return cats


def _int(value: Any, what: str, checker: Checker, lineno: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise checker.error(f"{what} is {value!r}, not an integer offset", lineno, _SHAPE_HINT)
    return value


def _spans_and_cats(
    obj: dict[str, Any], checker: Checker, lineno: int
) -> tuple[list[RawSpan], dict[str, float]]:
    spans: list[RawSpan] = []
    cats: dict[str, float] = {}
    if obj.get("cats") is not None:
        cats = _cats(obj["cats"], checker, lineno)
    for item in obj.get("spans") or []:  # ours and Prodigy
        if not isinstance(item, dict):
            raise checker.error(f"span {item!r} is not an object", lineno, _SHAPE_HINT)
        spans.append(_raw(item, "start", "end", checker, lineno))
    for item in obj.get("entities") or []:  # doccano (newer exports)
        if not isinstance(item, dict):
            raise checker.error(f"entity {item!r} is not an object", lineno, _SHAPE_HINT)
        spans.append(_raw(item, "start_offset", "end_offset", checker, lineno))
    for item in _label_items(obj, checker, lineno):  # ours and doccano
        if isinstance(item, str):
            cats[item] = 1.0
        elif isinstance(item, Sequence) and len(item) == 3:
            start, end, label = item
            spans.append(
                RawSpan(
                    _int(start, "span start", checker, lineno),
                    _int(end, "span end", checker, lineno),
                    str(label),
                    lineno,
                )
            )
        else:
            raise checker.error(
                f"doccano label {item!r} is neither [start, end, label] nor a category",
                lineno,
                _SHAPE_HINT,
            )
    return spans, cats


def _class_form(obj: dict[str, Any]) -> str | None:
    """How a line gives document classes: ``"one"`` (``"label": "X"``), ``"list"`` (a list of
    class names under ``"labels"`` or ``"label"``) or None (neither; ``cats`` and doccano spans
    are neutral)."""
    if isinstance(obj.get("label"), str):
        return "one"
    for key in ("labels", "label"):
        value = obj.get(key)
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return "list"
    return None


def _label_items(obj: dict[str, Any], checker: Checker, lineno: int) -> list[Any]:
    """The items of ``"label"``/``"labels"``: class names and doccano ``[start, end, label]``."""
    label, labels = obj.get("label"), obj.get("labels")
    if isinstance(labels, str):
        raise checker.error(
            f'"labels" is the string {labels!r}, not a list',
            lineno,
            'write one class as "label": "X" and several as "labels": ["X", "Y"]',
        )
    if isinstance(label, str):
        if labels:
            raise checker.error(
                'the line gives both "label" (one class) and "labels" (a list)',
                lineno,
                'write one class as "label": "X" or several as "labels": ["X", "Y"], not both',
            )
        return [label]
    return list(label or labels or [])


def _raw(item: dict[str, Any], start: str, end: str, checker: Checker, lineno: int) -> RawSpan:
    label = item.get("label")
    if not isinstance(label, str):
        raise checker.error(f"span {item!r} has no label string", lineno, _SHAPE_HINT)
    mention = item.get("text")
    return RawSpan(
        _int(item.get(start), f"span {start}", checker, lineno),
        _int(item.get(end), f"span {end}", checker, lineno),
        label,
        lineno,
        mention if isinstance(mention, str) else None,
    )


def _offsets(value: Any, what: str, length: int, checker: Checker, lineno: int) -> Offsets | None:
    if value is None:
        return None
    pairs: list[tuple[int, int]] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):  # Prodigy token
            pair = (item.get("start"), item.get("end"))
        elif isinstance(item, list) and len(item) == 2:
            pair = (item[0], item[1])
        else:
            raise checker.error(f"{what} entry {item!r} is not [start, end]", lineno, _SHAPE_HINT)
        start = _int(pair[0], f"{what} start", checker, lineno)
        end = _int(pair[1], f"{what} end", checker, lineno)
        if not 0 <= start <= end <= length:
            raise checker.error(
                f"{what} entry [{start}, {end}] lies outside the text (length {length})",
                lineno,
                "offsets are 0-based character offsets into the text, end exclusive",
            )
        pairs.append((start, end))
    return tuple(pairs)


def doc_to_json(doc: Doc) -> dict[str, Any]:
    """One document in our JSONL shape."""
    obj: dict[str, Any] = {
        "id": doc.id,
        "text": doc.text,
        "spans": [{"start": s.start, "end": s.end, "label": s.label} for s in doc.spans],
    }
    if doc.sentences is not None:
        obj["sentences"] = [list(p) for p in doc.sentences]
    if doc.tokens is not None:
        obj["tokens"] = [list(p) for p in doc.tokens]
    if doc.cats:
        obj["cats"] = doc.cats
    if doc.meta:
        obj["meta"] = doc.meta
    return obj


def write(docs: Sequence[Doc], path: Path) -> None:
    """Write documents as JSON Lines in our shape."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for doc in docs:
            try:
                line = json.dumps(doc_to_json(doc), ensure_ascii=False)
            except (TypeError, ValueError) as err:
                raise InputError(
                    f"document {doc.id!r} cannot be written as JSON: {err}",
                    file=path,
                    hint="keep meta values to strings, numbers, lists and dicts",
                ) from None
            fh.write(line + "\n")
