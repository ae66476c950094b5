"""i2b2/VA 2010 concepts and assertions: notes (``.txt``) with concept files (``.con``).

A note holds one sentence per line, its tokens separated by whitespace. Its ``.con`` file
names one concept a line by line:token offsets, lines counted from 1, tokens from 0, the
end token included::

    c="chest pain" 45:3 45:4||t="problem"

A token is a run of characters other than spaces and tabs (a line ends at ``\\n``; a ``\\r``
before it is not part of a token). Each concept becomes the span from its first token's
first character to its last token's last character, labelled with its ``t`` (problem,
test, treatment). The quoted text is checked against the tokens at the offsets ignoring
letter case and whitespace, since the release lowercases it: a case-only difference is
accepted and counted (one ``mention-case`` notice per file); any other difference is
reported as a mismatch (``ReadOptions.mismatch``; an error names the ``.con`` file and
line). The document keeps the note's lines as its sentences and its whitespace tokens as its
tokens, so a study sizes the corpus in the release's sentences; a concept that runs over a
line end (the release has a few) joins those lines into one sentence, with a counted
notice. One notice per corpus says that the line:token offsets were read this way.

Assertions (``.ast``, the same lines with ``||a="absent"`` added) name problem concepts of
the ``.con``; spans carry no attributes, so each document keeps them in
``meta["i2b2_assertions"]`` (``start``, ``end``, ``label``, ``assertion``), with a counted
notice per file. An assertion whose concept is not in the ``.con`` is left out with a
counted notice (an error under ``strict``). Relation files (``.rel``) are not read (counted).

Layout: a ``.con`` finds its ``.txt`` (and ``.ast``) beside it, else in the ``txt/``
(``ast/``) folder beside its folder (the release's ``beth/concept/``, ``beth/txt/``,
``beth/ast/``), else as the one file of that name under the folder read. A folder is read
recursively, in sorted order; a document's id is its ``.con`` path under the folder
without the suffix (``beth/concept/record-13``), or the file name when one ``.con`` (or a
``.txt`` with its ``.con`` beside it) is read. A ``.txt`` without a ``.con`` is not read
(counted). Errors name the file and line: a line that is not a concept, offsets past the
note's lines or a line's tokens, an end before the start, a ``.con`` without its ``.txt``.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nercurve.corpus.model import Corpus
from nercurve.corpus.validate import Checker, RawSpan, read_lines, read_text

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

META_KEY = "i2b2_assertions"
_TOKEN = re.compile(r"[^ \t\r\f\v\n]+")
_CONCEPT = (
    r'c="(?P<text>.*)"\s+(?P<l1>\d+):(?P<t1>\d+)\s+(?P<l2>\d+):(?P<t2>\d+)'
    r'\|\|t="(?P<type>[^"]+)"'
)
_CON_LINE = re.compile(_CONCEPT)
_AST_LINE = re.compile(_CONCEPT + r'\|\|a="(?P<assertion>[^"]+)"')
_HINTS = {
    ".con": "a concept line reads c=\"chest pain\" 45:3 45:4||t=\"problem\" (lines from 1, "
    "tokens from 0, the end token included)",
    ".ast": "an assertion line reads c=\"chest pain\" 45:3 45:4||t=\"problem\"||a=\"present\"",
}
_OFFSETS_HINT = (
    "lines count from 1 and tokens from 0, tokens are separated by whitespace; check that "
    "the file belongs to this .txt"
)

Where = tuple[int, int, int, int]
"""A concept's line:token offsets: start line, start token, end line, end token."""


@dataclass(frozen=True)
class _Note:
    """A note's text and its tokens: ``lines[k]`` holds line k+1's (start, end) offsets."""

    text: str
    lines: list[list[tuple[int, int]]]

    @classmethod
    def of(cls, text: str) -> _Note:
        lines, pos = [], 0
        for line in text.split("\n"):
            lines.append([(pos + m.start(), pos + m.end()) for m in _TOKEN.finditer(line)])
            pos += len(line) + 1
        return cls(text, lines)


@dataclass(frozen=True)
class _Concept:
    """One parsed concept (or assertion) line."""

    mention: str
    where: Where
    label: str
    line: int
    assertion: str | None


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read i2b2 2010 notes and concept files: a folder, one ``.con``, or a ``.txt`` whose
    ``.con`` lies beside it (see the module docstring)."""
    checker = Checker(path, options)
    if path.is_file():
        con = path if path.suffix.lower() == ".con" else path.with_suffix(".con")
        if not con.is_file():
            raise checker.error(f"{con.name} is missing", hint="point at a .con file, or at a "
                                ".txt with its .con beside it, or at a folder of them")
        _document(con, con.stem, {}, checker)
    else:
        found: dict[str, list[Path]] = defaultdict(list)
        for file in sorted(path.rglob("*")):
            if file.suffix.lower() in (".txt", ".ast") and file.is_file():
                found[file.name].append(file)
        cons = sorted(path.rglob("*.con"))
        if not cons:
            raise checker.error("the folder holds no .con files", hint=_HINTS[".con"])
        used = {_document(con, con.relative_to(path).with_suffix("").as_posix(), found,
                          checker) for con in cons}
        for txt in sorted(p for files in found.values() for p in files):
            if txt.suffix.lower() == ".txt" and txt not in used:
                checker.notice("txt-without-con", f"{txt.name} has no .con file; not read",
                               file=str(txt))
        rels = sorted(path.rglob("*.rel"))
        if rels:
            checker.notice("relations-not-read", f"{len(rels)} relation file(s) (.rel) not "
                           "read: nercurve reads the concepts", file=str(rels[0]))
    if checker.docs:
        checker.notice(
            "line-token-offsets",
            "i2b2 2010 offsets are line:token pairs over whitespace-separated tokens (lines "
            "from 1, tokens from 0): read as the character offsets of those tokens, each line "
            "of a note one sentence, its whitespace tokens the tokens",
        )
    return checker.corpus(str(path))


def _partner(con: Path, suffix: str, folder: str, found: dict[str, list[Path]]) -> Path | None:
    """The ``.txt`` or ``.ast`` of a ``.con``: beside it, in ``folder`` beside its folder, or
    the one file of that name under the folder read."""
    name = con.with_suffix(suffix).name
    for near in (con.parent / name, con.parent.parent / folder / name):
        if near.is_file():
            return near
    elsewhere = found.get(name, [])
    return elsewhere[0] if len(elsewhere) == 1 else None


def _document(con: Path, doc_id: str, found: dict[str, list[Path]], checker: Checker) -> Path:
    """Hand one note and its concepts to the checker; the ``.txt`` read."""
    txt = _partner(con, ".txt", "txt", found)
    if txt is None:
        many = len(found.get(con.with_suffix(".txt").name, []))
        raise checker.error(
            f"{con.name} has no .txt: not beside it, not in ../txt/"
            + (f", and {many} files of that name lie under the folder" if many else ""),
            hint="put each .con beside its .txt, or lay the folder out as the release does "
            "(txt/, concept/ and ast/ side by side)",
            file=str(con),
        )
    note = _Note.of(read_text(txt))
    concepts = _parse(con, _CON_LINE, checker)
    spans, crossing, case_only = [], [], 0
    for c in concepts:
        start, end = _offsets(note, c, str(con), checker)
        at = _squeezed(note.text[start:end])
        mention: str | None = None
        if at.casefold() != _squeezed(c.mention).casefold():
            mention = c.mention  # the checker reports it under the mismatch policy
        elif at != _squeezed(c.mention):
            case_only += 1
        if c.where[0] != c.where[2]:
            crossing.append(c.where)
            checker.notice(
                "concept-across-lines",
                f"concept {c.mention!r} ({c.label}) of document {doc_id!r} runs from line "
                f"{c.where[0]} to line {c.where[2]}: those lines are one sentence",
                c.line, doc_id, str(con),
            )
        spans.append(RawSpan(start, end, c.label, c.line, mention))
    if case_only:
        checker.notice(
            "mention-case",
            f"{case_only} of {len(concepts)} concept text(s) of document {doc_id!r} differ "
            "from the note in letter case only (the release lowercases them): read at their "
            "offsets",
            doc_id=doc_id, file=str(con),
        )
    meta = _assertions(con, doc_id, note, concepts, found, checker)
    tokens = tuple(t for line in note.lines for t in line)
    checker.add_doc(doc_id, note.text, spans, file=str(con), tokens=tokens,
                    sentences=_sentences(note, crossing), meta=meta)
    return txt


def _squeezed(text: str) -> str:
    return "".join(text.split())


def _parse(file: Path, pattern: re.Pattern[str], checker: Checker) -> list[_Concept]:
    hint = _HINTS[file.suffix.lower()]
    out = []
    for lineno, line in enumerate(read_lines(file, checker), 1):
        if not line.strip():
            continue
        m = pattern.fullmatch(line.strip())
        if m is None:
            raise checker.error(f"cannot read the line {line.strip()[:80]!r}", lineno, hint,
                                str(file))
        where = (int(m["l1"]), int(m["t1"]), int(m["l2"]), int(m["t2"]))
        assertion = m.groupdict().get("assertion")
        out.append(_Concept(m["text"], where, m["type"].strip(), lineno, assertion))
    return out


def _offsets(note: _Note, c: _Concept, file: str, checker: Checker) -> tuple[int, int]:
    """A concept's character offsets, or an error naming the offsets that do not exist."""
    l1, t1, l2, t2 = c.where
    shown = f"{l1}:{t1} {l2}:{t2}"
    for line, token in ((l1, t1), (l2, t2)):
        if not 1 <= line <= len(note.lines):
            raise checker.error(
                f"concept {c.mention!r} at {shown}: line {line} is not a line of the note "
                f"(it has {len(note.lines)} lines, counted from 1)",
                c.line, _OFFSETS_HINT, file,
            )
        count = len(note.lines[line - 1])
        if token >= count:
            raise checker.error(
                f"concept {c.mention!r} at {shown}: line {line} has {count} token(s), so no "
                f"token {token} (tokens count from 0)",
                c.line, _OFFSETS_HINT, file,
            )
    if (l2, t2) < (l1, t1):
        raise checker.error(f"concept {c.mention!r} at {shown} ends before it starts", c.line,
                            "write the start offset first", file)
    return note.lines[l1 - 1][t1][0], note.lines[l2 - 1][t2][1]


def _sentences(note: _Note, crossing: list[Where]) -> tuple[tuple[int, int], ...]:
    """Each line with tokens one sentence; the lines a concept runs over joined."""
    joined = {k for l1, _, l2, _ in crossing for k in range(l1, l2)}  # line k joins k + 1
    sentences: list[tuple[int, int]] = []
    glue = False
    for number, tokens in enumerate(note.lines, 1):
        if tokens:
            if glue and sentences:
                sentences[-1] = (sentences[-1][0], tokens[-1][1])
            else:
                sentences.append((tokens[0][0], tokens[-1][1]))
            glue = number in joined
        elif number not in joined:
            glue = False
    return tuple(sentences)


def _assertions(
    con: Path,
    doc_id: str,
    note: _Note,
    concepts: list[_Concept],
    found: dict[str, list[Path]],
    checker: Checker,
) -> dict[str, Any]:
    """The document's assertions (from its ``.ast``, if any) for its meta."""
    ast = _partner(con, ".ast", "ast", found)
    if ast is None:
        return {}
    known = {(c.where, c.label) for c in concepts}
    kept = []
    for a in _parse(ast, _AST_LINE, checker):
        if (a.where, a.label) not in known:
            checker.repair(
                "assertion-without-concept",
                f"assertion {a.assertion!r} names the concept {a.mention!r} ({a.label}) at "
                f"{a.where[0]}:{a.where[1]} {a.where[2]}:{a.where[3]}, which {con.name} does "
                "not hold; left out",
                line=a.line, doc_id=doc_id, file=str(ast),
                hint="check that the .ast and the .con belong to the same note",
            )
            continue
        start, end = _offsets(note, a, str(ast), checker)
        kept.append({"start": start, "end": end, "label": a.label, "assertion": a.assertion})
    checker.notice(
        "assertions-in-meta",
        f"{len(kept)} assertion(s) of document {doc_id!r} kept in its meta[{META_KEY!r}]: "
        "spans carry no attributes",
        doc_id=doc_id, file=str(ast),
    )
    return {META_KEY: kept}
