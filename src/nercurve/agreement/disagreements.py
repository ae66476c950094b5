"""Where annotators disagree: groups of overlapping spans, and the CSV a reconciling rater reads.

Within one document, a span that every annotator marked identically (same start, end and
label) is agreed. The remaining spans of all annotators are grouped into disagreements:
spans that overlap, directly or through a chain of overlaps, form one group. Each group
has a kind:

- ``missing``: some annotator marked nothing there;
- ``type``: every annotator marked the same boundaries, with different labels;
- ``boundary``: the boundaries differ and every span has the same label;
- ``boundary+type``: both differ.

The CSV has one row per disagreement with the columns :data:`BASE_COLUMNS`, then
``<name>_label`` and ``<name>_span`` for each annotator (several spans joined by ``; ``,
a span written as ``START-END "text"``, ``(none)`` where the annotator marked nothing),
then ``decision`` and ``custom``, left empty for a third rater (see
:mod:`nercurve.agreement.adjudicate`).
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from nercurve.agreement.aligned import Aligned
from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError

BASE_COLUMNS = ("item", "doc_id", "start", "end", "kind", "text", "context")
DECISION_COLUMNS = ("decision", "custom")
NONE_MARK = "(none)"
CONTEXT_CHARS = 40


@dataclass(frozen=True)
class Disagreement:
    """One group of overlapping spans on which the annotators differ.

    ``spans[j]`` are annotator ``j``'s spans in the group (possibly none); ``start`` and
    ``end`` cover all of them.
    """

    item: int
    doc_id: str
    start: int
    end: int
    kind: str
    text: str
    context: str
    spans: tuple[tuple[Span, ...], ...]

    @property
    def key(self) -> tuple[str, int, int]:
        """What identifies the disagreement in a decisions file: document, start, end."""
        return (self.doc_id, self.start, self.end)


def split_document(row: Sequence[Doc]) -> tuple[list[Span], list[list[tuple[int, Span]]]]:
    """A document's agreed spans, and its other spans grouped by overlap.

    ``row`` holds one annotation of the document per annotator; each group is a list of
    (annotator index, span) sorted by position.
    """
    marked = Counter(s for doc in row for s in set(doc.spans))
    agreed = sorted(s for s, n in marked.items() if n == len(row))
    rest = sorted(
        ((j, s) for j, doc in enumerate(row) for s in doc.spans if marked[s] < len(row)),
        key=lambda js: (js[1].start, js[1].end, js[0]),
    )
    groups: list[list[tuple[int, Span]]] = []
    group_end = -1
    for j, span in rest:
        if groups and span.start < group_end:
            groups[-1].append((j, span))
            group_end = max(group_end, span.end)
        else:
            groups.append([(j, span)])
            group_end = span.end
    return agreed, groups


def group_kind(per_annotator: Sequence[Sequence[Span]]) -> str:
    """The kind of a disagreement from each annotator's spans in it (see module doc)."""
    if any(not spans for spans in per_annotator):
        return "missing"
    bounds = {tuple((s.start, s.end) for s in spans) for spans in per_annotator}
    if len(bounds) == 1:
        return "type"
    labels = {s.label for spans in per_annotator for s in spans}
    return "boundary" if len(labels) == 1 else "boundary+type"


def _context(text: str, start: int, end: int) -> str:
    left = text[max(0, start - CONTEXT_CHARS) : start]
    right = text[end : end + CONTEXT_CHARS]
    return " ".join(f"{left}[[{text[start:end]}]]{right}".split())


def find_disagreements(aligned: Aligned) -> list[Disagreement]:
    """Every disagreement between the aligned annotations, numbered from 1 in order."""
    out: list[Disagreement] = []
    k = len(aligned.names)
    for doc_id, row in zip(aligned.ids, aligned.docs, strict=True):
        text = row[0].text
        for group in split_document(row)[1]:
            per = tuple(tuple(s for j, s in group if j == a) for a in range(k))
            start = min(s.start for _, s in group)
            end = max(s.end for _, s in group)
            out.append(
                Disagreement(
                    item=len(out) + 1,
                    doc_id=doc_id,
                    start=start,
                    end=end,
                    kind=group_kind(per),
                    text=text[start:end],
                    context=_context(text, start, end),
                    spans=per,
                )
            )
    return out


def label_cell(spans: Sequence[Span]) -> str:
    """An annotator's labels in a disagreement, as written in the CSV."""
    return "; ".join(s.label for s in spans)


def span_cell(spans: Sequence[Span], text: str) -> str:
    """An annotator's spans in a disagreement, as written in the CSV."""
    if not spans:
        return NONE_MARK
    return "; ".join(f'{s.start}-{s.end} "{text[s.start:s.end]}"' for s in spans)


def columns(names: Sequence[str]) -> list[str]:
    """The CSV header for these annotator names."""
    per = [f"{n}_{part}" for n in names for part in ("label", "span")]
    return [*BASE_COLUMNS, *per, *DECISION_COLUMNS]


def disagreements_csv(disagreements: Sequence[Disagreement], names: Sequence[str],
                      texts: dict[str, str]) -> str:
    """The CSV text for a reconciling rater (``texts`` maps document id to its text)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns(names))
    for d in disagreements:
        cells: list[object] = [d.item, d.doc_id, d.start, d.end, d.kind, d.text, d.context]
        for spans in d.spans:
            cells += [label_cell(spans), span_cell(spans, texts[d.doc_id])]
        writer.writerow([*cells, "", ""])
    return buffer.getvalue()


def write_disagreements(disagreements: Sequence[Disagreement], names: Sequence[str],
                        texts: dict[str, str], path: str | Path) -> None:
    """Write the disagreement CSV; the file appears whole or not at all.

    ``texts`` maps each document id to its text.
    """
    write_text_atomic(path, disagreements_csv(disagreements, names, texts))


def has_decisions(path: str | Path) -> bool:
    """Whether ``path`` is a disagreement CSV with at least one decision filled in."""
    try:
        raw = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError):
        return False
    try:
        rows = list(csv.DictReader(raw.splitlines(keepends=True)))
    except csv.Error:
        return False
    return any((row.get("decision") or "").strip() for row in rows)


def write_text_atomic(path: str | Path, text: str) -> None:
    """Write UTF-8 text through a temporary file in the same folder, then rename it."""
    path = Path(path)
    if not path.parent.is_dir():
        raise InputError(
            f"cannot write {path.name}: folder {path.parent} does not exist",
            file=path,
            hint="create the folder first or write somewhere else",
        )
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~umask)  # as an ordinary new file, not mkstemp's 0600
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
