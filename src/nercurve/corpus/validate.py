"""Checks and repairs shared by every reader.

A reader turns its lines into raw spans (with the line they came from) and hands each
document to a :class:`Checker`, which applies the same rules to every format: offsets
inside the text, mention text equal to the text at its offsets, the label map and the
``labels`` filter, overlapping or nested spans, empty documents and repeated document
ids. A rule with a repair policy records each repair as a counted
:class:`~nercurve.corpus.model.Notice`; otherwise it raises
:class:`~nercurve.errors.InputError` with the file, the line and a hint.

Mention texts that differ from the text at their offsets follow ``ReadOptions.mismatch``:

- ``error``: every such mention of the input is collected and reported in one error when
  reading ends (the first :data:`MAX_LISTED` listed with file and line, and the total);
- ``strip``: whitespace at the mention edges is stripped and the offsets moved inwards past
  whitespace; a mention that then agrees is kept (counted), the others are errors as above;
- ``skip``: the mention is dropped (counted);
- ``relocate``: as ``strip``, then a mention that differs from the text at its offsets in
  letter case only is kept at its offsets (the document's text wins; counted), else it is
  moved to the nearest occurrence of its text that starts within :data:`RELOCATE_WINDOW`
  characters of its stated start (an exact occurrence first, else one that differs in case
  only; ties go to the earlier one; counted). A mention with no such occurrence is dropped
  (counted), or is an error under ``strict``.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus, Doc, Notice, Offsets, Span
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

RELOCATE_WINDOW = 100
"""How far (in characters, either way) ``mismatch="relocate"`` looks for a mention's text."""
MAX_LISTED = 20
"""How many mismatching mentions one error lists (it counts them all)."""


@dataclass(frozen=True)
class RawSpan:
    """A span as a file states it, before checks: offsets, label, source line, mention.

    ``ref`` names the span in files without lines to point at (e.g. a BioC annotation id).
    """

    start: int
    end: int
    label: str
    line: int | None = None
    mention: str | None = None
    ref: str | None = None


@dataclass(frozen=True)
class _Mismatch:
    """One mention whose text differs from the text at its offsets, for the error report."""

    file: str
    line: int | None
    what: str


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


def read_lines(path: Path, checker: Checker) -> list[str]:
    """A line-based file's lines (see :func:`split_lines`).

    A file whose lines end with a carriage return only (classic Mac OS) has its ``\\r``
    read as line breaks, with a counted notice; line breaks are never part of a document
    text in the line-based formats, so offsets are unchanged.
    """
    text = read_text(path)
    if "\r" in text and "\n" not in text:
        checker.notice(
            "cr-line-endings",
            "lines end with a carriage return only (classic Mac OS): read as line breaks",
            file=str(path),
        )
        text = text.replace("\r", "\n")
    return split_lines(text)


def read_xml(path: Path, hint: str) -> Any:
    """An XML file's root element (lxml; every element knows its ``sourceline``).

    XML that is not well formed (cut short, a stray ``<``, bytes not in its encoding) raises
    an error naming the line; entities are not resolved and nothing is fetched.
    """
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    try:
        return etree.fromstring(path.read_bytes(), parser)
    except etree.XMLSyntaxError as err:
        raise InputError(
            f"not well-formed XML: {err.msg}", file=path, line=err.lineno or None, hint=hint
        ) from None


def _show(span: RawSpan | Span, text: str) -> str:
    return f"{span.label} [{span.start},{span.end}) {text[span.start : span.end]!r}"


def _named(doc_id: str, raw: RawSpan) -> str:
    return f"document {doc_id!r}" + (f", {raw.ref}" if raw.ref else "")


def _occurrence(text: str, mention: str, near: int) -> tuple[int, bool] | None:
    """The start of the occurrence of ``mention`` nearest to ``near`` within the relocation
    window (exact first, else differing in case only; ties: the earlier), and whether it
    differs in case."""
    lo = max(0, near - RELOCATE_WINDOW)
    hi = min(len(text), near + RELOCATE_WINDOW + len(mention))
    pattern = f"(?={re.escape(mention)})"  # a lookahead: overlapping occurrences too
    for flags in (0, re.IGNORECASE):
        starts = [lo + m.start() for m in re.finditer(pattern, text[lo:hi], flags)]
        starts = [p for p in starts if abs(p - near) <= RELOCATE_WINDOW]
        if starts:
            return min(starts, key=lambda p: (abs(p - near), p)), flags != 0
    return None


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
        self._mismatches: list[_Mismatch] = []
        self._unclassified: set[str] = set()

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
        """An :class:`InputError` located in this input (the caller raises it).

        When mismatching mentions were found before (they are reported together), the
        error reports them, and names this later problem as where reading stopped.
        """
        if self._mismatches:
            where = _location(file or self.file, line, self.file)
            return self._mismatch_error(f"reading stopped at {where}: {message}")
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
        classes = self._check_cats(doc_id, cats or {}, line, where)
        doc = Doc(doc_id, text, tuple(checked), sentences, tokens, classes, dict(meta or {}))
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
            self.notice(
                "duplicate-id-dropped",
                msg + f"; kept the first, dropped the repeat with its {len(doc.spans)} "
                "mention(s)",
                line,
                doc.id,
                where,
            )
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
            if span is None:
                continue
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
            if any(c.isspace() for c in label):
                raise self.error(
                    f"span {_show(span, text)} in {_named(doc_id, span)} has the label "
                    f"{label!r}, which holds whitespace",
                    span.line,
                    "labels are single words (they become IOB tags): rename it with "
                    f"--label-map '{label}={'_'.join(label.split())}'",
                    where,
                )
            kept.append(RawSpan(span.start, span.end, label, span.line, span.mention))
        return self._resolve_overlaps(doc_id, text, kept, where)

    def _check_cats(
        self, doc_id: str, cats: dict[str, float], line: int | None, where: str
    ) -> dict[str, float]:
        """Document classes with the label map applied (a class mapped onto another keeps
        the higher score) and, with ``labels``, only those classes: a class the document
        carries (score of at least 0.5) outside them is dropped with a counted notice, or is
        an error under ``strict``; a class scored below 0.5 is dropped silently."""
        opts = self.options
        kept: dict[str, float] = {}
        for name, score in cats.items():
            label = opts.label_map.get(name, name)
            if opts.labels is not None and label not in opts.labels:
                if score >= 0.5:
                    self.repair(
                        "class-dropped",
                        f"document {doc_id!r} has the class {label!r}, not one of --labels "
                        f"{','.join(sorted(opts.labels))}; dropped",
                        line=line,
                        doc_id=doc_id,
                        hint="add the class to --labels or map it with --label-map OLD=NEW",
                        file=where,
                    )
                continue
            kept[label] = max(score, kept.get(label, score))
        if any(v >= 0.5 for v in cats.values()) and not any(v >= 0.5 for v in kept.values()):
            self._unclassified.add(doc_id)
        return kept

    def skip_unclassified(self) -> None:
        """Leave out the documents that ``labels`` left without any class (for formats that
        hold classification data only), each with a counted notice."""
        for doc in self.docs:
            if doc.id in self._unclassified:
                self.notice("doc-skipped", f"document {doc.id!r} has no class of --labels left; "
                            "left out", doc_id=doc.id)
        self.docs = [d for d in self.docs if d.id not in self._unclassified]

    def _check_offsets(
        self, doc_id: str, text: str, raw: RawSpan, where: str
    ) -> RawSpan | None:
        if not raw.label:
            raise self.error(
                f"span [{raw.start},{raw.end}) in {_named(doc_id, raw)} has an empty label",
                raw.line,
                "give every span a label",
                where,
            )
        if not 0 <= raw.start < raw.end <= len(text):
            raise self.error(
                f"span {raw.label} [{raw.start},{raw.end}) in {_named(doc_id, raw)} lies "
                f"outside its text (length {len(text)})"
                + (" or is empty" if raw.start >= raw.end else ""),
                raw.line,
                "offsets are 0-based character offsets into the document text, end exclusive "
                "(PubTator: title, one space, abstract)",
                where,
            )
        if raw.mention is None or text[raw.start : raw.end] == raw.mention:
            return raw
        return self._mismatch(doc_id, text, raw, where)

    def _mismatch(self, doc_id: str, text: str, raw: RawSpan, where: str) -> RawSpan | None:
        """Apply the mismatch policy to a mention whose text differs from the text there."""
        assert raw.mention is not None
        found = text[raw.start : raw.end]
        what = (
            f"{_named(doc_id, raw)}: expected {raw.mention!r}, found {found!r} at "
            f"[{raw.start},{raw.end})"
            + (" (letter case only)" if found.casefold() == raw.mention.casefold() else "")
        )
        msg = f"mention text differs from the text at its offsets in {what}"
        policy = self.options.mismatch
        if policy == "skip":
            self.notice("mismatch-skipped", msg + "; dropped", raw.line, doc_id, where)
            return None
        if policy == "error":
            self._mismatches.append(_Mismatch(where, raw.line, what))
            return None
        start = raw.start + len(found) - len(found.lstrip())
        end = raw.end - (len(found) - len(found.rstrip()))
        mention = raw.mention.strip()
        if start < end and text[start:end] == mention:
            self.notice(
                "mismatch-stripped",
                msg + f"; stripped whitespace and accepted [{start},{end})",
                raw.line,
                doc_id,
                where,
            )
            return RawSpan(start, end, raw.label, raw.line, mention, raw.ref)
        if policy == "strip":
            self._mismatches.append(_Mismatch(where, raw.line, what))
            return None
        return self._relocate(doc_id, text, raw, (start, end, mention), msg, where)

    def _relocate(
        self,
        doc_id: str,
        text: str,
        raw: RawSpan,
        stripped: tuple[int, int, str],
        msg: str,
        where: str,
    ) -> RawSpan | None:
        start, end, mention = stripped
        if start < end and text[start:end].casefold() == mention.casefold():
            self.notice(
                "mismatch-case",
                msg + f"; kept [{start},{end}) with the document's letter case",
                raw.line,
                doc_id,
                where,
            )
            return RawSpan(start, end, raw.label, raw.line, text[start:end], raw.ref)
        found = _occurrence(text, mention, raw.start) if mention else None
        if found is None:
            self.repair(
                "mismatch-dropped",
                msg + f"; its text does not occur within {RELOCATE_WINDOW} characters: dropped",
                line=raw.line,
                doc_id=doc_id,
                hint="fix the offsets or the mention",
                file=where,
            )
            return None
        new, by_case = found
        new_end = new + len(mention)
        self.notice(
            "mismatch-relocated",
            msg + f"; moved to [{new},{new_end}) ({new - raw.start:+d} characters"
            + (", differing in letter case" if by_case else "") + ")",
            raw.line,
            doc_id,
            where,
        )
        return RawSpan(new, new_end, raw.label, raw.line, text[new:new_end], raw.ref)

    def fragments(
        self,
        fragments: list[tuple[int, int]],
        raw: RawSpan,
        doc_id: str,
        text: str,
        shown: str,
        where: str | None = None,
    ) -> list[RawSpan]:
        """The spans of a discontinuous mention (several fragments), by the options.

        ``raw`` carries the label, line, reference and mention text (the fragments' texts
        joined by whitespace); ``shown`` is how the file writes the mention, for messages.
        ``ReadOptions.discontinuous`` picks the ``hull``, the ``first-fragment`` or ``split``
        (each counted), or makes it an error. A mention text that differs from the
        fragments' is reported like any mismatch (``skip`` and ``relocate`` drop it).
        """
        where = where or self.file
        policy = self.options.discontinuous
        if policy == "error":
            raise self.error(
                f"discontinuous span {shown} in {_named(doc_id, raw)}",
                raw.line,
                "pass --discontinuous hull, first-fragment or split to handle such spans "
                "(counted)",
                where,
            )
        joined = " ".join(text[a:b] for a, b in fragments)
        in_text = all(0 <= a < b <= len(text) for a, b in fragments)
        if raw.mention is not None and in_text and joined.split() != raw.mention.split():
            what = f"{_named(doc_id, raw)}: expected {raw.mention!r}, found {joined!r} at {shown}"
            msg = f"mention text differs from the text at the fragments of {what}"
            if self.options.mismatch in ("error", "strip"):
                self._mismatches.append(_Mismatch(where, raw.line, what))
            elif self.options.mismatch == "skip":
                self.notice("mismatch-skipped", msg + "; dropped", raw.line, doc_id, where)
            else:
                self.repair(
                    "mismatch-dropped",
                    msg + "; a discontinuous mention is not relocated: dropped",
                    line=raw.line,
                    doc_id=doc_id,
                    hint="fix the offsets or the mention",
                    file=where,
                )
            return []
        self.notice(
            "discontinuous",
            f"discontinuous span {shown} in {_named(doc_id, raw)}: used its {policy}",
            raw.line,
            doc_id,
            where,
        )
        parts = [RawSpan(a, b, raw.label, raw.line, None, raw.ref) for a, b in fragments]
        if policy == "hull":
            hull = (fragments[0][0], max(b for _, b in fragments))
            return [RawSpan(*hull, raw.label, raw.line, None, raw.ref)]
        if policy == "first-fragment":
            return parts[:1]
        return parts

    def _mismatch_error(self, stopped: str | None = None) -> InputError:
        """One error reporting every mismatching mention collected so far."""
        first, n = self._mismatches[0], len(self._mismatches)
        lines = [f"mention text differs from the text at its offsets in {first.what}"]
        if n > 1:
            lines[0] += f"; {n} such mentions in all:"
            listed = self._mismatches[:MAX_LISTED]
            lines += [f"  {_location(m.file, m.line, '')}: {m.what}" for m in listed]
            if n > MAX_LISTED:
                lines.append(f"  ... and {n - MAX_LISTED} more")
        if stopped:
            lines.append(f"  {stopped}")
        if self.options.mismatch == "strip":
            hint = (
                "these differ beyond edge whitespace: fix the offsets, or pass --mismatch "
                "relocate (move each to the nearest occurrence of its text) or --mismatch skip "
                "(drop them), each counted"
            )
        else:
            hint = (
                "fix the offsets or the mentions, or pass --mismatch strip (strip whitespace at "
                "the mention edges), --mismatch relocate (also accept case-only differences and "
                f"move a mention to its text within {RELOCATE_WINDOW} characters) or --mismatch "
                "skip (drop them), each counted"
            )
        return InputError("\n".join(lines), file=first.file, line=first.line, hint=hint)

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
        """The documents read so far, with their notices.

        Raises the one error that reports every mismatching mention, when there were any.
        """
        if self._mismatches:
            raise self._mismatch_error()
        return Corpus(self.docs, source=source or self.file, notices=list(self.notices))
