"""WebAnno TSV 3.x (INCEpTION's and WebAnno's tab-separated export)::

    #FORMAT=WebAnno TSV 3.3
    #T_SP=de.tudarmstadt.ukp.dkpro.core.api.ner.type.NamedEntity|identifier|value


    #Text=Aspirin helps Ann Lee.
    1-1	0-7	Aspirin	_	Chemical
    1-2	8-13	helps	_	_
    1-3	14-17	Ann	_	Person[1]
    1-4	18-21	Lee	_	Person[1]
    1-5	21-22	.	_	_

The ``#T_SP`` (span), ``#T_CH`` (chain) and ``#T_RL`` (relation) headers declare the
columns after the token: one per feature of each layer, in order (a span layer without
features has one). Sentences are blocks of token lines after their ``#Text=`` lines; a token
line is ``<sentence>-<token>``, ``<begin>-<end>`` (character offsets into the document),
the token, then the columns. A cell holds ``_`` (nothing), or annotations separated by
``|``, each a label followed by ``[n]`` when the annotation ``n`` spans several tokens (its
tokens are joined into one span, first begin to last end); ``*`` is an annotation without a
label. Sub-token lines (``1-3.1``) carry annotations on part of a token. Characters that
the format uses (``\\ [ ] | _ * ; -> tab newline``) are escaped with a backslash.

The spans are those of one span layer (``--layer``, as for XMI: the named-entity layer's
``value`` by default; :func:`nercurve.corpus.uima.span_layer`); other layers are left
alone. The text is rebuilt from the sentences (``#Text=``) at their tokens' offsets, with
spaces between sentences; every token must match the text at its offsets. The document id
is the file name (``<doc>`` under ``annotation/<doc>/``). INCEpTION export folders of TSV
files are read by :mod:`nercurve.corpus.inception`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from nercurve.corpus.model import Corpus, Offsets
from nercurve.corpus.uima import doc_id_of, pick_feature, short_name, span_layer
from nercurve.corpus.validate import Checker, RawSpan, read_lines
from nercurve.errors import InputError

if TYPE_CHECKING:
    from nercurve.corpus.io import ReadOptions

_HINT = "a WebAnno TSV 3.x file: '#FORMAT=WebAnno TSV 3.x', '#T_SP=...' headers, sentence blocks"
_TOKEN = re.compile(r"^(\d+)-(\d+)(?:\.(\d+))?$")
_OFFSETS = re.compile(r"^(\d+)-(\d+)$")
_ESCAPED = re.compile(r"\\(.)")
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_LABEL_ID = re.compile(r"^(.*?)(?:\[(\d+)(?:_\d+)?\])?$", re.S)


def _unescape(value: str) -> str:
    return _ESCAPED.sub(lambda m: {"t": "\t", "n": "\n", "r": "\r"}.get(m.group(1),
                                                                         m.group(1)), value)


@dataclass
class _Sentence:
    line: int
    text: list[str] = field(default_factory=list)
    tokens: list[tuple[int, int, str, int]] = field(default_factory=list)  # begin, end, form, line
    cells: dict[int, list[str]] = field(default_factory=dict)  # line -> the layers' cells


def read(path: Path, options: ReadOptions) -> Corpus:
    """Read one WebAnno TSV 3.x file as one document."""
    checker = Checker(path, options)
    text, spans, sentences = parse(path, checker)
    checker.add_doc(doc_id_of(path) or path.stem, text, spans, sentences=sentences)
    return checker.corpus(str(path))


def _check_format(lines: list[str], where: str, checker: Checker) -> None:
    """Check the format line."""
    if not lines or not lines[0].startswith("#FORMAT=WebAnno TSV 3"):
        first = lines[0][:60] if lines else ""
        raise checker.error(f"not a WebAnno TSV 3.x file: the first line is {first!r}", 1,
                            "the file starts with '#FORMAT=WebAnno TSV 3.x'", where)


def parse(path: Path, checker: Checker) -> tuple[str, list[RawSpan], Offsets]:
    """One TSV file's text, the spans of the chosen layer, and its sentences."""
    where = str(path)
    lines = read_lines(path, checker)
    _check_format(lines, where, checker)
    columns: dict[str, tuple[int, list[str]]] = {}  # span layer -> first column, features
    width = 0
    sentences: list[_Sentence] = []
    current: _Sentence | None = None
    for lineno, line in enumerate(lines, 1):
        if lineno == 1:
            continue
        if line.startswith(("#T_SP=", "#T_CH=", "#T_RL=")):
            name, *features = line[6:].split("|")
            if line.startswith("#T_SP="):
                columns[name] = (width, features)
            width += max(1, len(features))
            continue
        if line.startswith("#Text="):
            if current is None or current.tokens:
                current = _Sentence(lineno)
                sentences.append(current)
            current.text.append(line[6:])
            continue
        if not line.strip() or line.startswith("#"):
            if not line.strip() and current is not None and current.tokens:
                current = None
            continue
        if current is None:
            raise checker.error("a token line outside a sentence (no #Text= line before it)",
                                lineno, _HINT, where)
        cells = line.split("\t")
        if cells and cells[-1] == "" and len(cells) == 3 + width + 1:
            cells.pop()  # the trailing tab INCEpTION writes
        if len(cells) != 3 + width or not _TOKEN.match(cells[0]) or not _OFFSETS.match(
                cells[1]):
            raise checker.error(
                f"a token line with {len(cells)} columns where the headers declare {3 + width}"
                if len(cells) != 3 + width else
                f"a token line that does not start with <sentence>-<token> and "
                f"<begin>-<end> ({cells[0]!r}, {cells[1]!r})",
                lineno, _HINT + "; is the file truncated or edited?", where)
        begin, end = (int(x) for x in _OFFSETS.match(cells[1]).groups())  # type: ignore[union-attr]
        current.tokens.append((begin, end, cells[2], lineno))
        current.cells[lineno] = cells[3:]
    if not sentences:
        raise checker.error("the file holds no sentence", None,
                            _HINT + "; is the file truncated?", where)
    type_name, feature = span_layer(checker.options.layer)

    def error(message: str, hint: str) -> InputError:
        return checker.error(message, None, hint, where)

    if type_name not in columns:
        raise error(f"unknown layer {type_name}",
                    "the file's span layers: " + (", ".join(columns) or "none")
                    + "; name one with --layer TYPE[:FEATURE]")
    first, features = columns[type_name]
    label_feature = pick_feature(type_name, feature, features, error)
    column = first + (features.index(label_feature) if label_feature else 0)
    text = _text(sentences, checker, where)
    spans = _spans(sentences, column, type_name, None if label_feature else short_name(type_name))
    offsets = tuple((s.tokens[0][0], max(t[1] for t in s.tokens)) for s in sentences
                    if s.tokens)
    return text, spans, offsets


def _text(sentences: list[_Sentence], checker: Checker, where: str) -> str:
    """The document text: each sentence's text at its first token, spaces between."""
    length = max((t[1] for s in sentences for t in s.tokens), default=0)
    chars = [" "] * length
    for sentence in sentences:
        if not sentence.tokens:
            continue
        start = sentence.tokens[0][0]
        span = max(t[1] for t in sentence.tokens) - start
        raw = "\n".join(sentence.text)
        for candidate in (raw, _unescape(raw)):
            if len(candidate) == span:
                chars[start:start + span] = list(candidate)
                break
        else:  # the sentence text does not fit its tokens: the tokens alone
            for begin, end, form, _ in sentence.tokens:
                if begin <= end and len(_unescape(form)) == end - begin:
                    chars[begin:end] = list(_unescape(form))
    text = "".join(chars)
    for sentence in sentences:
        for begin, end, form, line in sentence.tokens:
            if begin > end or text[begin:end] != _unescape(form):
                raise checker.error(
                    f"token {form!r} at {begin}-{end} does not match the sentence text "
                    f"there ({text[begin:end]!r})", line,
                    "the offsets count characters of the document text: export again", where)
    return text


def _spans(sentences: list[_Sentence], column: int, type_name: str, fixed: str | None
           ) -> list[RawSpan]:
    """The spans of one column: one per single-token label, one per ``[n]`` id (labelled
    ``fixed`` when the layer has no label feature)."""
    spans: list[RawSpan] = []
    joined: dict[str, list[int]] = {}  # id -> [begin, end, line, index into spans]
    for sentence in sentences:
        for begin, end, _, line in sentence.tokens:
            cell = sentence.cells[line][column]
            if cell in ("_", ""):
                continue
            for item in _CELL_SPLIT.split(cell):
                label, ident = _LABEL_ID.match(item).groups()  # type: ignore[union-attr]
                label = fixed or ("" if label == "*" else _unescape(label))
                ref = f"{short_name(type_name)} {ident or 'at line ' + str(line)}"
                if ident is None:
                    spans.append(RawSpan(begin, end, label, line, None, ref))
                elif ident in joined:
                    first = joined[ident]
                    first[1] = max(first[1], end)
                    spans[first[3]] = RawSpan(first[0], first[1], spans[first[3]].label,
                                              first[2], None, ref)
                else:
                    joined[ident] = [begin, end, line, len(spans)]
                    spans.append(RawSpan(begin, end, label, line, None, ref))
    return spans
