"""PubTator: ``PMID|t|title``, ``PMID|a|abstract``, tab-separated mention lines.

A document's text is the title, one space and the abstract (the convention the
offsets count in); a document with an empty abstract is its title alone. Mention lines
are ``PMID<TAB>start<TAB>end<TAB>mention<TAB>type[<TAB>ids...]``; other tab-separated
lines whose second column has no digit (e.g. BC5CDR's
``PMID<TAB>CID<TAB>chemical<TAB>disease`` relations) are skipped with a counted notice; a
mention line with a malformed offset is an error, not a skipped line. Concept ids after the
type are not kept (one notice says how many mentions had them). Documents are separated by
blank lines. The writer keeps the title/abstract split when the document came from PubTator
(``meta["pubtator_title_end"]``), else it writes the whole text as the title and an empty
abstract.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nercurve.corpus.model import Corpus, Doc
from nercurve.corpus.validate import Checker, RawSpan, read_lines
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

_HEADER = re.compile(r"^([^\t|]+)\|([ta])\|(.*)$", re.DOTALL)
_LINE_HINT = (
    "PubTator lines are 'PMID|t|title', 'PMID|a|abstract' or "
    "'PMID<TAB>start<TAB>end<TAB>mention<TAB>type', with a blank line between documents"
)
TITLE_END = "pubtator_title_end"


@dataclass
class _Block:
    pmid: str
    line: int
    title: str | None = None
    abstract: str | None = None
    spans: list[RawSpan] = field(default_factory=list)

    def text(self) -> str:
        title = self.title or ""
        return f"{title} {self.abstract}" if self.abstract else title


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a PubTator file."""
    checker = Checker(path, options)
    block: _Block | None = None
    with_ids: list[int] = []  # lines of mentions whose concept ids are not kept

    def finish() -> None:
        if block is not None:
            meta = {TITLE_END: len(block.title or "")} if block.abstract else {}
            checker.add_doc(block.pmid, block.text(), block.spans, line=block.line, meta=meta)

    for lineno, line in enumerate(read_lines(path, checker), 1):
        if not line.strip():
            finish()
            block = None
            continue
        header = _HEADER.match(line)
        if header:
            pmid, kind, body = header.groups()
            field_name = _FIELD[kind]
            if block is not None and (block.pmid != pmid or getattr(block, field_name) is not None):
                finish()  # a new document without a blank line before it
                block = None
            if block is None:
                block = _Block(pmid, lineno)
            setattr(block, field_name, body)
            continue
        fields = line.split("\t")
        if block is None or len(fields) < 2:
            raise checker.error(f"unexpected line {line[:60]!r}", lineno, _LINE_HINT)
        if fields[0] != block.pmid:
            raise checker.error(
                f"line for document {fields[0]!r} inside the block of document {block.pmid!r} "
                f"(which starts at line {block.line})",
                lineno,
                "separate documents with a blank line, and keep each mention with its document",
            )
        if not any(ch.isdigit() for ch in fields[1]):
            checker.notice(
                "skipped-relation",
                f"skipped non-mention line ({fields[1]}) of document {block.pmid!r}",
                lineno,
                block.pmid,
            )
            continue
        if len(fields) < 5:
            raise checker.error(
                f"mention line with {len(fields)} columns where at least 5 are needed",
                lineno,
                _LINE_HINT,
            )
        for name, value in (("start", fields[1]), ("end", fields[2])):
            if not value.isdigit():
                raise checker.error(
                    f"the {name} offset {value!r} of mention {fields[3]!r} is not a whole number",
                    lineno,
                    "offsets are character positions written as digits only (no spaces or "
                    "letters); " + _LINE_HINT,
                )
        block.spans.append(RawSpan(int(fields[1]), int(fields[2]), fields[4], lineno, fields[3]))
        if any(f.strip() for f in fields[5:]):
            with_ids.append(lineno)
    finish()
    if with_ids:
        checker.notice(
            "concept-ids-not-kept",
            f"{len(with_ids)} mention(s) carry concept ids (columns after the type) that are "
            "not kept: spans keep offsets and type only",
            with_ids[0],
        )
    return checker.corpus()


_FIELD = {"t": "title", "a": "abstract"}


def _split(doc: Doc) -> tuple[str, str]:
    end = doc.meta.get(TITLE_END)
    text = doc.text
    if isinstance(end, int) and 0 <= end < len(text) - 1 and text[end] == " ":
        return text[:end], text[end + 1 :]
    return text, ""


def _refuse(doc: Doc, path: Path, what: str) -> InputError:
    return InputError(
        f"document {doc.id!r} cannot be written as PubTator: {what}",
        file=path,
        hint="write it as JSONL (.jsonl), which holds any text",
    )


def write(docs: Sequence[Doc], path: Path) -> None:
    """Write documents as PubTator (title, abstract, one mention line per span)."""
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for doc in docs:
            if not doc.id or any(c in doc.id for c in "|\t\n\r "):
                raise _refuse(doc, path, "its id is empty or holds '|', a tab, a space or a break")
            if "\n" in doc.text or "\r" in doc.text:
                raise _refuse(doc, path, "its text holds a line break")
            title, abstract = _split(doc)
            fh.write(f"{doc.id}|t|{title}\n{doc.id}|a|{abstract}\n")
            for span in doc.spans:
                mention = doc.span_text(span)
                if "\t" in mention or any(c in span.label for c in "\t\n\r"):
                    raise _refuse(doc, path, f"span {span} holds a tab or a break")
                fh.write(f"{doc.id}\t{span.start}\t{span.end}\t{mention}\t{span.label}\n")
            fh.write("\n")
