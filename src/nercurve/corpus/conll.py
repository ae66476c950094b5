"""CoNLL/IOB column files: one token per line, blank lines between sentences.

Reading: columns are split at tabs when a line has one, else at runs of spaces; the
token and tag columns are chosen with ``ReadOptions.token_col``/``tag_col`` (0-based,
negative from the end; default first and last). Tags follow IOB1, IOB2/BIO or BIOES
(``BILOU``'s ``L-``/``U-`` read as ``E-``/``S-``); ``scheme="auto"`` reads BIOES when
an ``E-``/``S-`` tag occurs, else IOB2. A tag is ``O`` or one prefix and one label: a label
holding a comma, a pipe, whitespace or a second prefix (``B-corporation,B-person``,
``B-B-person``) is an error, like any other malformed tag; one error names the first such
line and counts them all. An ``I-`` tag with no opening tag starts a new
entity (the IOB1 rule) with a counted notice, or is an error under ``strict`` (under
``scheme="iob1"`` it is legal). A ``-DOCSTART-`` line starts a document, whose id is the
rest of the line (unless that is only ``-X-``/``O`` fields: then ``<file stem>-<n>``).
A file without ``-DOCSTART-`` lines makes one document of every
``sentences_per_doc`` consecutive sentences (default 1: each sentence a document).

Text is rebuilt by joining the tokens with single spaces (sentences too); the tokens
and sentences are kept on each document as character offsets.

Writing (IOB2, ``token<TAB>tag``): each document opens with ``-DOCSTART-<TAB><id>`` and
a blank line. Tokens are the document's own (derived with spaCy when missing), cut
further at span edges and at whitespace so every span is whole tokens.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from nercurve.corpus.model import Corpus, Doc
from nercurve.corpus.validate import Checker, RawSpan, read_lines
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

DOCSTART = "-DOCSTART-"
_PREFIXES = {"B": "B", "I": "I", "E": "E", "S": "S", "L": "E", "U": "S"}


class Token(NamedTuple):
    """One tagged token: its text, its tag's prefix (None for O), label and source line."""

    text: str
    prefix: str | None  # None for O
    label: str
    line: int


class DocBuf(NamedTuple):
    """One document's sentences of tokens, its id (None: numbered) and first line."""

    id: str | None
    line: int
    sentences: list[list[Token]]


BadTags = list[tuple[int, str]]  # (line, what is wrong), in file order


def _parse(lines: list[str], checker: Checker) -> tuple[list[DocBuf], bool]:
    """Documents of sentences of tokens, and whether the file had -DOCSTART- lines."""
    opts = checker.options
    docs: list[DocBuf] = []
    sentence: list[Token] = []
    current: DocBuf | None = None
    had_docstart = False
    bad: BadTags = []

    def close_sentence() -> None:
        nonlocal sentence, current
        if sentence:
            if current is None:
                current = DocBuf(None, sentence[0].line, [])
                docs.append(current)
            current.sentences.append(sentence)
            sentence = []

    for lineno, line in enumerate(lines, 1):
        if line.startswith(DOCSTART):
            close_sentence()
            had_docstart = True
            rest = [f for f in line[len(DOCSTART) :].split() if f not in ("-X-", "O")]
            current = DocBuf(" ".join(rest) or None, lineno, [])
            docs.append(current)
            continue
        if not line.strip():
            close_sentence()
            continue
        cols = line.split("\t") if "\t" in line else line.split()
        try:
            token, tag = cols[opts.token_col], cols[opts.tag_col].strip()
        except IndexError:
            raise checker.error(
                f"line has {len(cols)} column(s); token column {opts.token_col} or tag "
                f"column {opts.tag_col} is missing",
                lineno,
                "choose the columns with --token-col and --tag-col (0-based, -1 is the last)",
            ) from None
        if not token.strip():
            raise checker.error("empty token", lineno, "every token line needs a token")
        sentence.append(tag_token(token.strip(), tag, lineno, bad))
    close_sentence()
    check_tags(bad, checker)
    return docs, had_docstart


def tag_token(token: str, tag: str, line: int, bad: BadTags) -> Token:
    """A token with its tag read; a malformed tag is noted in ``bad`` (the token reads O)."""
    if tag == "O":
        return Token(token, None, "", line)
    if not (len(tag) > 2 and tag[1] == "-" and tag[0] in _PREFIXES):
        bad.append((line, f"tag {tag!r} is not O or B-/I-/E-/S- followed by a label"))
        return Token(token, None, "", line)
    problem = label_problem(tag[2:])
    if problem:
        bad.append((line, f"tag {tag!r} holds {problem} in its label (one tag, one label)"))
        return Token(token, None, "", line)
    return Token(token, _PREFIXES[tag[0]], tag[2:], line)


def label_problem(label: str) -> str | None:
    """What makes ``label`` unfit for an IOB tag (None when it is fit): a comma, a pipe,
    whitespace, or a second prefix (``B-``, ``I-``, ... at its start or after a character
    that is not a letter, digit or underscore)."""
    if re.search(r"(?:^|[^\w])[BIESLU]-", label):
        return "a second prefix"
    for what, char in (("a comma", ","), ("a pipe", "|")):
        if char in label:
            return what
    if any(c.isspace() for c in label):
        return "whitespace"
    return None


def check_tags(bad: BadTags, checker: Checker) -> None:
    """Raise one error for the malformed tags noted by :func:`tag_token`, if any."""
    if not bad:
        return
    line, message = bad[0]
    if len(bad) > 1:
        shown = ", ".join(str(n) for n, _ in bad[:10]) + (", ..." if len(bad) > 10 else "")
        message += f"; {len(bad)} malformed tags in all (lines {shown})"
    raise checker.error(
        message,
        line,
        "a tag is O or one prefix and one label (B-person): fix these tags (e.g. keep one of "
        "two labels), and check the tag column (--tag-col) and that the file uses IOB1, IOB2 "
        "or BIOES tags",
    )


class _Decoder:
    """Turns one sentence's tags into entity token ranges, repairing with notices."""

    def __init__(self, checker: Checker, scheme: str) -> None:
        self.checker = checker
        self.scheme = scheme

    def _repair(self, kind: str, message: str, line: int, doc_id: str, hint: str) -> None:
        self.checker.repair(kind, message, line=line, doc_id=doc_id, hint=hint)

    def decode(self, toks: list[Token], doc_id: str) -> list[tuple[int, int, str, int]]:
        ents: list[tuple[int, int, str, int]] = []
        cur: Token | None = None
        cur_start = 0
        bioes = self.scheme == "bioes"

        def close(end: int, by: Token | None) -> None:
            nonlocal cur
            if cur is None:
                return
            if bioes:
                where = f"line {by.line}" if by is not None else "the end of the sentence"
                self._repair(
                    "unclosed-entity",
                    f"B-{cur.label} at line {cur.line} is not closed by E-{cur.label} before "
                    f"{where}; ended the entity at its last token",
                    cur.line,
                    doc_id,
                    f"close it with E-{cur.label} (or S-{cur.label} for one token)",
                )
            ents.append((cur_start, end, cur.label, cur.line))
            cur = None

        for i, tok in enumerate(toks):
            p = tok.prefix
            if p is None:
                close(i, tok)
            elif p == "B":
                close(i, tok)
                cur, cur_start = tok, i
            elif p == "I":
                if cur is not None and cur.label == tok.label:
                    continue
                before = f"{cur.prefix}-{cur.label}" if cur is not None else "O"
                close(i, tok)
                if self.scheme != "iob1":
                    self._dangling(tok, before, doc_id)
                cur, cur_start = tok, i
            elif self.scheme != "bioes":
                raise self.checker.error(
                    f"tag {p}-{tok.label} is not an {self.scheme.upper()} tag",
                    tok.line,
                    "read the file with --scheme bioes (or --scheme auto)",
                )
            elif p == "E" and cur is not None and cur.label == tok.label:
                ents.append((cur_start, i + 1, tok.label, cur.line))
                cur = None
            else:  # S-, or an E- with no opening B-
                close(i, tok)
                if p == "E":
                    self._dangling(tok, "no B-" + tok.label, doc_id)
                ents.append((i, i + 1, tok.label, tok.line))
        close(len(toks), None)
        return ents

    def _dangling(self, tok: Token, before: str, doc_id: str) -> None:
        self._repair(
            "dangling-tag",
            f"{tok.prefix}-{tok.label} has no opening B-{tok.label} (previous tag {before}); "
            "started a new entity there (IOB1 rule)",
            tok.line,
            doc_id,
            f"change it to B-{tok.label}, or read IOB1 files with --scheme iob1",
        )


def _detect_scheme(docs: list[DocBuf]) -> str:
    for doc in docs:
        for sentence in doc.sentences:
            if any(t.prefix in ("E", "S") for t in sentence):
                return "bioes"
    return "iob2"


def group_sentences(docs: list[DocBuf], per_doc: int) -> list[DocBuf]:
    """Every ``per_doc`` consecutive sentences as one (numbered) document."""
    sentences = [s for d in docs for s in d.sentences]
    return [
        DocBuf(None, sentences[i][0].line, sentences[i : i + per_doc])
        for i in range(0, len(sentences), per_doc)
    ]


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read a CoNLL/IOB column file."""
    checker = Checker(path, options)
    docs, had_docstart = _parse(read_lines(path, checker), checker)
    if not had_docstart and docs:
        per = options.sentences_per_doc
        docs = group_sentences(docs, per)
        checker.notice(
            "no-document-boundaries",
            f"no -DOCSTART- lines: every {per} sentence(s) made one document "
            f"({len(docs)} documents; see --sentences-per-doc); document-level sampling "
            "needs the real documents (e.g. the PubTator version of the corpus)",
        )
    add_documents(docs, checker, path.stem)
    return checker.corpus()


def add_documents(docs: list[DocBuf], checker: Checker, stem: str) -> None:
    """Decode the tags of each document and hand it to ``checker``.

    The text joins the tokens with single spaces (sentences too); tokens and sentences are
    kept as character offsets. A document without an id is ``<stem>-<n>``.
    """
    options = checker.options
    scheme = options.scheme if options.scheme != "auto" else _detect_scheme(docs)
    decoder = _Decoder(checker, scheme)
    for n, buf in enumerate(docs, 1):
        doc_id = buf.id if buf.id is not None else f"{stem}-{n}"
        parts: list[str] = []
        tokens: list[tuple[int, int]] = []
        sentences: list[tuple[int, int]] = []
        spans: list[RawSpan] = []
        pos = 0
        for sentence in buf.sentences:
            first = len(tokens)
            for tok in sentence:
                if parts:
                    parts.append(" ")
                    pos += 1
                parts.append(tok.text)
                tokens.append((pos, pos + len(tok.text)))
                pos += len(tok.text)
            sentences.append((tokens[first][0], pos))
            for start, end, label, line in decoder.decode(sentence, doc_id):
                spans.append(
                    RawSpan(tokens[first + start][0], tokens[first + end - 1][1], label, line)
                )
        checker.add_doc(
            doc_id,
            "".join(parts),
            spans,
            line=buf.line,
            sentences=tuple(sentences),
            tokens=tuple(tokens),
        )


def _refuse(doc: Doc, path: Path, what: str) -> InputError:
    return InputError(
        f"document {doc.id!r} cannot be written as CoNLL/IOB2: {what}",
        file=path,
        hint="fix the document, or write it as JSONL (.jsonl)",
    )


def aligned_tokens(doc: Doc) -> list[tuple[int, int]]:
    """Non-whitespace stretches of the text, cut at the document's token, span and
    sentence edges: tokens that every span covers whole."""
    cuts = sorted(
        {p for t in doc.tokens or () for p in t}
        | {p for s in doc.spans for p in (s.start, s.end)}
        | {s for s, _ in doc.sentences or ()}
    )
    pieces: list[tuple[int, int]] = []
    for m in re.finditer(r"\S+", doc.text):
        start = m.start()
        for cut in cuts[bisect.bisect_right(cuts, start) : bisect.bisect_left(cuts, m.end())]:
            pieces.append((start, cut))
            start = cut
        pieces.append((start, m.end()))
    return pieces


def _doc_lines(doc: Doc, path: Path) -> list[str]:
    for a, b in zip(doc.spans, doc.spans[1:], strict=False):
        if a.overlaps(b):
            raise _refuse(doc, path, f"spans {a} and {b} overlap")
    pieces = aligned_tokens(doc)
    starts = [p[0] for p in pieces]
    owner = [-1] * len(pieces)  # index of the span holding each piece
    for k, span in enumerate(doc.spans):
        problem = label_problem(span.label)
        if problem:
            raise _refuse(doc, path, f"the label {span.label!r} holds {problem}")
        lo, hi = bisect.bisect_left(starts, span.start), bisect.bisect_left(starts, span.end)
        if lo == hi:
            raise _refuse(doc, path, f"span {span} covers only whitespace")
        owner[lo:hi] = [k] * (hi - lo)
    sent_starts = sorted(s for s, _ in doc.sentences or ())
    lines = [f"{DOCSTART}\t{doc.id}", ""]
    for i, (start, end) in enumerate(pieces):
        continues = i > 0 and owner[i] != -1 and owner[i] == owner[i - 1]
        if i > 0 and not continues:
            j = bisect.bisect_right(sent_starts, pieces[i - 1][0])
            if j < len(sent_starts) and sent_starts[j] <= start:
                lines.append("")
        tag = "O"
        if owner[i] != -1:
            tag = f"{'I' if continues else 'B'}-{doc.spans[owner[i]].label}"
        lines.append(f"{doc.text[start:end]}\t{tag}")
    lines.append("")
    return lines


def write(docs: Sequence[Doc], path: Path) -> None:
    """Write documents as CoNLL with IOB2 tags (tokens derived with spaCy where missing)."""
    if any(d.tokens is None or d.sentences is None for d in docs):
        from nercurve.corpus.segment import segment

        docs = segment(docs)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for doc in docs:
            if not doc.id or doc.id != " ".join(doc.id.split()) or doc.id in ("-X-", "O"):
                raise _refuse(doc, path, "its id is empty, is -X- or O, or holds tabs or breaks")
            fh.write("\n".join(_doc_lines(doc, path)) + "\n")
