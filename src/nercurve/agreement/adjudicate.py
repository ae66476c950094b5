"""Adjudication: merge two annotations of the same documents into one gold standard.

Spans both annotators marked identically are kept. Every other group of overlapping spans
(a disagreement, see :mod:`nercurve.agreement.disagreements`) is resolved by a rule:

- ``A`` or ``B``: that annotator's spans in the group;
- ``union``: every span either annotator marked; where an A span and a B span overlap,
  the longer one (on a tie, A's) is kept, so the result stays flat;
- ``intersection``: nothing (only what both agree on survives);

or by a third rater's decisions: the disagreement CSV with its ``decision`` column filled
in, one of ``A`` (or ``keep A``), ``B`` (or ``keep B``), ``both``, ``neither`` or
``custom``; for ``custom`` the ``custom`` column lists the spans to keep as
``START-END LABEL`` (optionally followed by the quoted text, which is then checked),
several separated by ``;``. A row is matched to a disagreement by ``doc_id``, ``start``
and ``end``; when the annotator columns are present they must still describe the
annotations (so a decisions file cannot be applied to annotations edited after it was
written). With both decisions and a rule, the rule resolves the disagreements left
undecided.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import pairwise
from pathlib import Path
from typing import Literal

from nercurve.agreement.aligned import ANNOTATOR_META_KEYS, align
from nercurve.agreement.disagreements import (
    DECISION_COLUMNS,
    Disagreement,
    find_disagreements,
    label_cell,
    span_cell,
    split_document,
)
from nercurve.corpus.model import Corpus, Span
from nercurve.errors import InputError

Rule = Literal["A", "B", "union", "intersection"]
RULES: tuple[str, ...] = ("A", "B", "union", "intersection")
DECISIONS = ("A", "B", "both", "neither", "custom")
_ALIASES = {"keep a": "A", "a": "A", "keep b": "B", "b": "B", "both": "both",
            "neither": "neither", "none": "neither", "custom": "custom"}
_CUSTOM = re.compile(r'^(\d+)\s*-\s*(\d+)\s+([^\s"]+)(?:\s+"(.*)")?$')
_CUSTOM_HINT = 'write spans as START-END LABEL, e.g. 10-24 PERSON or 10-24 PERSON "Jane Doe"; ' \
               "separate several with ';'"


@dataclass(frozen=True)
class Decision:
    """A third rater's resolution of one disagreement, and the decisions-file line it is on."""

    choice: str
    spans: tuple[Span, ...] = ()
    line: int | None = None


@dataclass(frozen=True)
class Adjudication:
    """The merged corpus and how each disagreement was resolved.

    ``unresolved`` are the disagreements neither a rule nor a decision settled; the
    merged corpus keeps nothing of them.
    """

    corpus: Corpus
    disagreements: tuple[Disagreement, ...]
    agreed: int
    by_rule: int
    by_decision: int
    unresolved: tuple[Disagreement, ...] = field(default_factory=tuple)


def adjudicate(
    a: Corpus,
    b: Corpus,
    *,
    rule: str | None = None,
    decisions: Mapping[tuple[str, int, int], Decision] | None = None,
    decisions_file: str | Path | None = None,
    allow_missing: bool = False,
) -> Adjudication:
    """Merge annotations ``a`` and ``b`` (see the module doc).

    ``decisions`` (from :func:`read_decisions`) take precedence over ``rule``.
    ``decisions_file`` only names the file in error messages. Raises
    :class:`InputError` for an unknown rule, for a decision whose spans overlap the
    rest of the document's gold spans, and for whatever
    :func:`nercurve.agreement.aligned.align` rejects.
    """
    if rule is not None and rule not in RULES:
        raise InputError(f"unknown adjudication rule {rule!r}",
                         hint=f"choose one of: {', '.join(RULES)}")
    aligned = align([a, b], ["A", "B"], allow_missing=allow_missing)
    disagreements = find_disagreements(aligned)
    by_key = {d.key: d for d in disagreements}
    decisions = decisions or {}
    docs, unresolved = [], []
    agreed_count = by_rule = by_decision = 0
    groups_by_doc: dict[str, list[Disagreement]] = {}
    for d in disagreements:
        groups_by_doc.setdefault(d.doc_id, []).append(d)
    for doc_id, row in zip(aligned.ids, aligned.docs, strict=True):
        agreed, _ = split_document(row)
        agreed_count += len(agreed)
        spans: list[tuple[Span, int | None]] = [(s, None) for s in agreed]
        for d in groups_by_doc.get(doc_id, []):
            decision = decisions.get(d.key)
            if decision is not None:
                chosen = _decided(d, decision, decisions_file)
                spans += [(s, decision.line) for s in chosen]
                by_decision += 1
            elif rule is not None:
                spans += [(s, None) for s in _by_rule(d, rule)]
                by_rule += 1
            else:
                unresolved.append(d)
        _check_flat(doc_id, spans, decisions_file)
        meta = {k: v for k, v in row[0].meta.items() if k not in ANNOTATOR_META_KEYS}
        docs.append(replace(row[0], spans=tuple(sorted(s for s, _ in spans)), meta=meta))
    unknown = set(decisions) - set(by_key)
    if unknown:  # read_decisions checks this already; guard direct callers
        raise InputError(f"{len(unknown)} decision(s) match no disagreement",
                         file=decisions_file, hint="write the decisions file anew")
    return Adjudication(
        corpus=Corpus(docs, source=f"adjudicated from {aligned.sources[0]} and "
                                   f"{aligned.sources[1]}"),
        disagreements=tuple(disagreements),
        agreed=agreed_count,
        by_rule=by_rule,
        by_decision=by_decision,
        unresolved=tuple(unresolved),
    )


def _by_rule(d: Disagreement, rule: str) -> list[Span]:
    spans_a, spans_b = d.spans
    if rule == "A":
        return list(spans_a)
    if rule == "B":
        return list(spans_b)
    if rule == "intersection":
        return []
    ranked = sorted([(s, 0) for s in spans_a] + [(s, 1) for s in spans_b],
                    key=lambda sa: (-(sa[0].end - sa[0].start), sa[1], sa[0].start))
    kept: list[Span] = []
    for span, _ in ranked:
        if not any(span.overlaps(k) for k in kept):
            kept.append(span)
    return kept


def _decided(d: Disagreement, decision: Decision, file: str | Path | None) -> list[Span]:
    spans_a, spans_b = d.spans
    if decision.choice == "A":
        return list(spans_a)
    if decision.choice == "B":
        return list(spans_b)
    if decision.choice == "neither":
        return []
    if decision.choice == "both":
        both = sorted({*spans_a, *spans_b})
        for x, y in pairwise(both):
            if x.overlaps(y):
                raise InputError(
                    f"'both' keeps overlapping spans {x.start}-{x.end} {x.label} and "
                    f"{y.start}-{y.end} {y.label} in document {d.doc_id!r}",
                    file=file,
                    line=decision.line,
                    hint="a gold standard is flat: choose A, B or custom for this row",
                )
        return both
    return list(decision.spans)


def _check_flat(doc_id: str, spans: Sequence[tuple[Span, int | None]],
                file: str | Path | None) -> None:
    ordered = sorted(spans)
    for (x, line_x), (y, line_y) in pairwise(ordered):
        if x.overlaps(y):
            line = line_y if line_y is not None else line_x
            raise InputError(
                f"document {doc_id!r}: decided span {y.start}-{y.end} {y.label} overlaps "
                f"{x.start}-{x.end} {x.label}",
                file=file,
                line=line,
                hint="custom spans must not overlap each other or spans kept elsewhere in "
                "the document",
            )


def read_decisions(
    path: str | Path, a: Corpus, b: Corpus, *, allow_missing: bool = False
) -> dict[tuple[str, int, int], Decision]:
    """Read and check a third rater's decisions file against annotations ``a`` and ``b``.

    Rows with an empty ``decision`` are left out (undecided). Raises
    :class:`InputError` with the file, line and a hint for: a file that is not UTF-8 CSV,
    a missing column, an unknown decision, a row that matches no disagreement between
    ``a`` and ``b`` (or whose annotator columns no longer match them), a repeated row,
    and custom spans that cannot be parsed, lie outside the text or misquote it.
    """
    path = Path(path)
    aligned = align([a, b], ["A", "B"], allow_missing=allow_missing)
    texts = dict(zip(aligned.ids, (row[0].text for row in aligned.docs), strict=True))
    by_key = {d.key: d for d in find_disagreements(aligned)}
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise InputError("decisions file not found", file=path,
                         hint="pass the disagreement CSV the third rater filled in") from None
    except UnicodeDecodeError as err:
        raise InputError(f"decisions file is not UTF-8 ({err.reason} at byte {err.start})",
                         file=path, hint="save the file as UTF-8 CSV") from None
    reader = csv.DictReader(raw.splitlines(keepends=True))
    header = reader.fieldnames or []
    required = ("doc_id", "start", "end", "decision")
    missing = [c for c in required if c not in header]
    if missing:
        raise InputError(
            f"decisions file lacks column(s) {', '.join(missing)}",
            file=path,
            line=1,
            hint="start from the CSV written by --disagreements-out and fill in its "
            f"{' and '.join(DECISION_COLUMNS)} columns",
        )
    out: dict[tuple[str, int, int], Decision] = {}
    for row in reader:
        # the row's first line: line_num is its last, and quoted cells may span lines
        line = reader.line_num - sum(str(v).count("\n") for v in row.values() if v)
        if None in row:
            raise InputError("row has more cells than the header", file=path, line=line,
                             hint="quote cells that contain commas")
        key = _row_key(row, path, line)
        d = by_key.get(key)
        if d is None:
            where = "document is not in the annotations" if key[0] not in texts else \
                "no disagreement between these annotations has this document, start and end"
            raise InputError(
                f"row for {key[0]!r} {key[1]}-{key[2]} matches nothing: {where}",
                file=path,
                line=line,
                hint="apply decisions to the same annotation files the disagreement list "
                "was written from",
            )
        if key in out:
            raise InputError(f"disagreement {key[0]!r} {key[1]}-{key[2]} is decided twice",
                             file=path, line=line, hint="keep one row per disagreement")
        _check_annotator_cells(row, d, texts[key[0]], path, line)
        choice = _ALIASES.get((row.get("decision") or "").strip().lower())
        custom = (row.get("custom") or "").strip()
        if not (row.get("decision") or "").strip():
            if custom:
                raise InputError("custom spans given but the decision is empty",
                                 file=path, line=line,
                                 hint="write custom in the decision column")
            continue
        if choice is None:
            raise InputError(
                f"unknown decision {row['decision'].strip()!r}",
                file=path,
                line=line,
                hint=f"write one of: {', '.join(DECISIONS)} (or keep A / keep B)",
            )
        if choice != "custom" and custom:
            raise InputError(f"custom spans given but the decision is {choice!r}",
                             file=path, line=line,
                             hint="write custom in the decision column, or clear the "
                             "custom column")
        spans = _parse_custom(custom, texts[key[0]], path, line) if choice == "custom" else ()
        out[key] = Decision(choice, spans, line)
    return out


def _row_key(row: Mapping[str, str | None], path: Path, line: int) -> tuple[str, int, int]:
    doc_id = (row.get("doc_id") or "").strip()
    try:
        start = int((row.get("start") or "").strip())
        end = int((row.get("end") or "").strip())
    except ValueError:
        raise InputError(
            f"start and end must be whole numbers, not {row.get('start')!r} and "
            f"{row.get('end')!r}",
            file=path,
            line=line,
            hint="leave the doc_id, start and end columns as they were written",
        ) from None
    return (doc_id, start, end)


def _check_annotator_cells(row: Mapping[str, str | None], d: Disagreement, text: str,
                           path: Path, line: int) -> None:
    for name, spans in zip(("A", "B"), d.spans, strict=True):
        expected = {f"{name}_label": label_cell(spans), f"{name}_span": span_cell(spans, text)}
        for column, value in expected.items():
            found = row.get(column)
            if found is not None and found.strip() != value.strip():
                raise InputError(
                    f"column {column} reads {found!r} but annotation {name} now has "
                    f"{value!r} there",
                    file=path,
                    line=line,
                    hint="the annotations changed after the disagreement list was written: "
                    "write it anew (--disagreements-out) and decide again",
                )


def _parse_custom(cell: str, text: str, path: Path, line: int) -> tuple[Span, ...]:
    if not cell:
        raise InputError("decision custom needs spans in the custom column", file=path,
                         line=line, hint=_CUSTOM_HINT + " (or decide neither)")
    spans = []
    for part in cell.split(";"):
        if not part.strip():
            continue
        match = _CUSTOM.match(part.strip())
        if match is None:
            raise InputError(f"cannot read custom span {part.strip()!r}", file=path,
                             line=line, hint=_CUSTOM_HINT)
        start, end, label, quoted = int(match[1]), int(match[2]), match[3], match[4]
        if not 0 <= start < end <= len(text):
            raise InputError(
                f"custom span {start}-{end} lies outside the document's {len(text)} "
                "characters or is empty",
                file=path,
                line=line,
                hint="offsets are character positions, START before END",
            )
        if quoted is not None and quoted != text[start:end]:
            raise InputError(
                f"custom span {start}-{end} covers {text[start:end]!r}, not {quoted!r}",
                file=path,
                line=line,
                hint="fix the offsets, or leave the quoted text out",
            )
        spans.append(Span(start, end, label))
    return tuple(sorted(spans))
