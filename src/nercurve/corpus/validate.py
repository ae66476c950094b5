"""Checks and repairs shared by every reader.

A reader turns its lines into raw spans (with the line they came from) and hands each
document to a :class:`Checker`, which applies the same rules to every format: offsets
inside the text, mention text equal to the text at its offsets, the label map and the
``labels`` filter, overlapping or nested spans, empty documents and repeated document
ids. A rule with a repair policy records each repair as a counted
:class:`~nercurve.corpus.model.Notice`; otherwise it raises
:class:`~nercurve.errors.InputError` with the file, the line and a hint.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus, Doc, Notice, Offsets, Span
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions


@dataclass(frozen=True)
class RawSpan:
    """A span as a file states it, before checks: offsets, label, source line, mention."""

    start: int
    end: int
    label: str
    line: int | None = None
    mention: str | None = None


def read_text(path: Path, *, strip_bom: bool = True) -> str:
    """A file's text as UTF-8; bytes that are not UTF-8 raise an error naming their line."""
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise InputError(
            f"bytes that are not UTF-8 at line {line}, column {column}: "
            f"{data[err.start : err.end + 3]!r}",
            file=path,
            line=line,
            hint="re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 IN > OUT`",
        ) from None
    if strip_bom and text.startswith("\ufeff"):
        text = text[1:]
    return text


def split_lines(text: str) -> list[str]:
    """Lines split at ``\\n`` only (a ``\\r`` before it is dropped), numbered from index 0."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln[:-1] if ln.endswith("\r") else ln for ln in lines]


def _show(span: RawSpan | Span, text: str) -> str:
    return f"{span.label} [{span.start},{span.end}) {text[span.start : span.end]!r}"


def _location(file: str, line: int | None, here: str) -> str:
    if line is None:
        return file
    return f"line {line}" if file == here else f"{file}:{line}"


class Checker:
    """Collects one input's documents, applying the shared checks and recording notices."""

    def __init__(self, file: str | Path, options: ReadOptions) -> None:
        self.file = str(file)
        self.options = options
        self.notices: list[Notice] = []
        self.docs: list[Doc] = []
        self._seen: dict[str, tuple[str, int | None, int]] = {}

    def notice(
        self,
        kind: str,
        message: str,
        line: int | None = None,
        doc_id: str | None = None,
        file: str | None = None,
    ) -> None:
        """Record one counted repair or warning."""
        self.notices.append(Notice(kind, message, file or self.file, line, doc_id))

    def error(
        self,
        message: str,
        line: int | None = None,
        hint: str | None = None,
        file: str | None = None,
    ) -> InputError:
        """An :class:`InputError` located in this input (the caller raises it)."""
        return InputError(message, file=file or self.file, line=line, hint=hint)

    def repair(
        self,
        kind: str,
        message: str,
        *,
        line: int | None,
        doc_id: str | None,
        hint: str,
        file: str | None = None,
    ) -> None:
        """A repair without a policy of its own: a counted notice, or an error under strict."""
        if self.options.strict:
            raise self.error(message, line, hint + " (or drop --strict to repair it)", file)
        self.notice(kind, message, line, doc_id, file)

    def add_doc(
        self,
        doc_id: str,
        text: str,
        spans: Iterable[RawSpan],
        *,
        line: int | None = None,
        file: str | None = None,
        sentences: Offsets | None = None,
        tokens: Offsets | None = None,
        cats: dict[str, float] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Check one document and keep it (or skip it under a policy, with a notice)."""
        where = file or self.file
        if not text.strip():
            msg = f"document {doc_id!r} has no text"
            if self.options.empty_docs == "skip":
                self.notice("empty-doc-skipped", msg + "; skipped", line, doc_id, where)
                return
            raise self.error(
                msg, line, "remove it, or pass --empty-docs skip to skip such documents", where
            )
        previous = self._seen.get(doc_id)
        checked = self._check_spans(doc_id, text, list(spans), where)
        doc = Doc(
            doc_id, text, tuple(checked), sentences, tokens, dict(cats or {}), dict(meta or {})
        )
        if previous is not None:
            self._repeated_id(doc, previous, line, where)
            return
        self._seen[doc_id] = (where, line, len(self.docs))
        self.docs.append(doc)

    def _repeated_id(
        self, doc: Doc, previous: tuple[str, int | None, int], line: int | None, where: str
    ) -> None:
        first_file, first_line, index = previous
        same = self.docs[index] == doc
        msg = (
            f"document id {doc.id!r} is repeated: first at "
            f"{_location(first_file, first_line, where)}, again at "
            f"{_location(where, line, self.file)} "
            f"({'identical' if same else 'different'} content)"
        )
        if self.options.duplicate_ids == "keep-first":
            self.notice("duplicate-id-dropped", msg + "; kept the first", line, doc.id, where)
            return
        raise self.error(
            msg,
            line,
            "remove or rename one of them, or pass --duplicate-ids keep-first to keep the "
            "first (counted)",
            where,
        )

    def _check_spans(self, doc_id: str, text: str, spans: list[RawSpan], where: str) -> list[Span]:
        opts = self.options
        kept: list[RawSpan] = []
        for raw in spans:
            span = self._check_offsets(doc_id, text, raw, where)
            label = opts.label_map.get(span.label, span.label)
            if opts.labels is not None and label not in opts.labels:
                self.repair(
                    "label-dropped",
                    f"span {_show(span, text)} in document {doc_id!r} has label {label!r}, "
                    f"not one of --labels {','.join(sorted(opts.labels))}; dropped",
                    line=span.line,
                    doc_id=doc_id,
                    hint="add the label to --labels or map it with --label-map OLD=NEW",
                    file=where,
                )
                continue
            kept.append(RawSpan(span.start, span.end, label, span.line, span.mention))
        return self._resolve_overlaps(doc_id, text, kept, where)

    def _check_offsets(self, doc_id: str, text: str, raw: RawSpan, where: str) -> RawSpan:
        if not raw.label:
            raise self.error(
                f"span [{raw.start},{raw.end}) in document {doc_id!r} has an empty label",
                raw.line,
                "give every span a label",
                where,
            )
        if not 0 <= raw.start < raw.end <= len(text):
            raise self.error(
                f"span {raw.label} [{raw.start},{raw.end}) in document {doc_id!r} lies outside "
                f"its text (length {len(text)})" + (" or is empty" if raw.start >= raw.end else ""),
                raw.line,
                "offsets are 0-based character offsets into the document text, end exclusive "
                "(PubTator: title, one space, abstract)",
                where,
            )
        if raw.mention is None or text[raw.start : raw.end] == raw.mention:
            return raw
        found = text[raw.start : raw.end]
        msg = (
            f"mention text differs from the text at its offsets in document {doc_id!r}: "
            f"expected {raw.mention!r}, found {found!r} at [{raw.start},{raw.end})"
        )
        if self.options.mismatch == "strip":
            start = raw.start + len(found) - len(found.lstrip())
            end = raw.end - (len(found) - len(found.rstrip()))
            if start < end and text[start:end] == raw.mention.strip():
                self.notice(
                    "mismatch-stripped",
                    msg + f"; stripped whitespace and accepted [{start},{end})",
                    raw.line,
                    doc_id,
                    where,
                )
                return RawSpan(start, end, raw.label, raw.line, text[start:end])
            raise self.error(
                msg, raw.line, "the texts differ beyond edge whitespace: fix the offsets", where
            )
        raise self.error(
            msg,
            raw.line,
            "fix the offsets or the mention, or pass --mismatch strip to strip whitespace at "
            "the mention edges and accept it (counted)",
            where,
        )

    def _resolve_overlaps(
        self, doc_id: str, text: str, spans: list[RawSpan], where: str
    ) -> list[Span]:
        policy = self.options.overlap
        unique: list[RawSpan] = []
        seen: set[tuple[int, int, str]] = set()
        for raw in spans:
            key = (raw.start, raw.end, raw.label)
            if key in seen:
                self.repair(
                    "duplicate-span",
                    f"span {_show(raw, text)} is repeated in document {doc_id!r}; kept once",
                    line=raw.line,
                    doc_id=doc_id,
                    hint="remove the repeated span",
                    file=where,
                )
                continue
            seen.add(key)
            unique.append(raw)
        order = unique
        if policy == "longest":  # stable: ties keep file order
            order = sorted(unique, key=lambda r: -(r.end - r.start))
        starts: list[int] = []
        accepted: list[RawSpan] = []
        for raw in order:
            i = bisect.bisect_left(starts, raw.start)
            clash = None
            if i > 0 and accepted[i - 1].end > raw.start:
                clash = accepted[i - 1]
            elif i < len(accepted) and accepted[i].start < raw.end:
                clash = accepted[i]
            if clash is None:
                starts.insert(i, raw.start)
                accepted.insert(i, raw)
                continue
            msg = (
                f"spans overlap in document {doc_id!r}: {_show(clash, text)}"
                f"{f' (line {clash.line})' if clash.line is not None else ''} and "
                f"{_show(raw, text)}"
            )
            if policy == "error":
                raise self.error(
                    msg,
                    raw.line,
                    "fix the annotation, or pass --overlap longest or --overlap first to keep "
                    "one of them (counted)",
                    where,
                )
            self.notice(
                "overlap-dropped",
                msg + f"; kept the {policy}: {_show(clash, text)}",
                raw.line,
                doc_id,
                where,
            )
        return [Span(r.start, r.end, r.label) for r in accepted]

    def corpus(self, source: str | None = None) -> Corpus:
        """The documents read so far, with their notices."""
        return Corpus(self.docs, source=source or self.file, notices=list(self.notices))
