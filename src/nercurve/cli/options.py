"""Corpus-reading flags shared by every command that reads a corpus, and ``load_corpus``.

A command declares the flags it offers with the annotations below, under these parameter
names, and passes them on::

    @app.command()
    def stats(corpus: CorpusArg, fmt: FormatOpt = None, label_map: LabelMapOpt = None,
              labels: LabelsOpt = None, overlap: OverlapOpt = Overlap.error, ...) -> None:
        docs = load_corpus(corpus, fmt=fmt, label_map=label_map, labels=labels, ...)

``load_corpus`` builds the :class:`~nercurve.corpus.io.ReadOptions`, reads the corpus and
reports a summary of its notices (repairs, skipped lines) on stderr.
"""

from __future__ import annotations

from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from nercurve.corpus.io import ReadOptions, parse_label_map, parse_labels, read_corpus
from nercurve.corpus.model import Corpus


class InFormat(StrEnum):
    """Formats a corpus can be read from."""

    pubtator = "pubtator"
    conll = "conll"
    brat = "brat"
    jsonl = "jsonl"
    docbin = "docbin"


class OutFormat(StrEnum):
    """Formats a corpus can be written to."""

    jsonl = "jsonl"
    conll = "conll"
    docbin = "docbin"
    pubtator = "pubtator"


class Overlap(StrEnum):
    """What to do with overlapping or nested spans."""

    error = "error"
    longest = "longest"
    first = "first"


class Mismatch(StrEnum):
    """What to do when a mention's text differs from the text at its offsets."""

    error = "error"
    strip = "strip"


class DuplicateIds(StrEnum):
    """What to do with a repeated document id."""

    error = "error"
    keep_first = "keep-first"


class EmptyDocs(StrEnum):
    """What to do with a document without text."""

    error = "error"
    skip = "skip"


class Discontinuous(StrEnum):
    """What to do with a discontinuous brat span."""

    error = "error"
    hull = "hull"
    first_fragment = "first-fragment"
    split = "split"


class Scheme(StrEnum):
    """The tag scheme of a CoNLL/IOB file."""

    auto = "auto"
    iob1 = "iob1"
    iob2 = "iob2"
    bioes = "bioes"


_READ = "Reading"
CorpusArg = Annotated[
    Path, typer.Argument(help="Corpus file (or brat folder).", show_default=False)
]
FormatOpt = Annotated[
    InFormat | None,
    typer.Option(
        "--format", help="Input format; detected from the file when omitted.", rich_help_panel=_READ
    ),
]
LabelMapOpt = Annotated[
    str | None,
    typer.Option(
        "--label-map",
        metavar="OLD=NEW,...",
        help="Rename labels, e.g. SpecificDisease=Disease,Modifier=Disease.",
        rich_help_panel=_READ,
    ),
]
LabelsOpt = Annotated[
    str | None,
    typer.Option(
        "--labels",
        metavar="A,B",
        help="Keep only these labels (after --label-map); dropped spans are counted.",
        rich_help_panel=_READ,
    ),
]
OverlapOpt = Annotated[
    Overlap,
    typer.Option(
        "--overlap",
        help="Overlapping or nested spans: error, or keep the longest or the first in the file.",
        rich_help_panel=_READ,
    ),
]
MismatchOpt = Annotated[
    Mismatch,
    typer.Option(
        "--mismatch",
        help="Mention text differing from the text at its offsets: "
        "error, or strip edge whitespace and accept.",
        rich_help_panel=_READ,
    ),
]
StrictOpt = Annotated[
    bool,
    typer.Option(
        "--strict",
        help="Make repairs without their own policy errors (dangling "
        "I- tags, labels outside --labels, repeated spans).",
        rich_help_panel=_READ,
    ),
]
DuplicateIdsOpt = Annotated[
    DuplicateIds,
    typer.Option(
        "--duplicate-ids",
        help="A repeated document id: error, or keep the first.",
        rich_help_panel=_READ,
    ),
]
EmptyDocsOpt = Annotated[
    EmptyDocs,
    typer.Option(
        "--empty-docs", help="A document without text: error, or skip it.", rich_help_panel=_READ
    ),
]
DiscontinuousOpt = Annotated[
    Discontinuous,
    typer.Option(
        "--discontinuous",
        help="A discontinuous brat span: error, its hull, its "
        "first fragment, or one span per fragment.",
        rich_help_panel=_READ,
    ),
]
TokenColOpt = Annotated[
    int,
    typer.Option(
        "--token-col",
        help="CoNLL token column (0-based; negative from the end).",
        rich_help_panel=_READ,
    ),
]
TagColOpt = Annotated[
    int,
    typer.Option(
        "--tag-col", help="CoNLL tag column (0-based; -1 is the last).", rich_help_panel=_READ
    ),
]
SchemeOpt = Annotated[
    Scheme,
    typer.Option(
        "--scheme",
        help="CoNLL tag scheme; auto reads BIOES when E-/S- tags occur, else IOB2.",
        rich_help_panel=_READ,
    ),
]
SentencesPerDocOpt = Annotated[
    int,
    typer.Option(
        "--sentences-per-doc",
        min=1,
        help="CoNLL files without -DOCSTART- lines: "
        "this many consecutive sentences make one document.",
        rich_help_panel=_READ,
    ),
]


def read_options(
    *,
    label_map: str | None = None,
    labels: str | None = None,
    overlap: str = "error",
    mismatch: str = "error",
    strict: bool = False,
    duplicate_ids: str = "error",
    empty_docs: str = "error",
    discontinuous: str = "error",
    token_col: int = 0,
    tag_col: int = -1,
    scheme: str = "auto",
    sentences_per_doc: int = 1,
) -> ReadOptions:
    """The :class:`ReadOptions` that the corpus-reading flags describe."""
    return ReadOptions(
        label_map=parse_label_map(label_map),
        labels=parse_labels(labels),
        overlap=str(overlap),  # type: ignore[arg-type]
        mismatch=str(mismatch),  # type: ignore[arg-type]
        strict=strict,
        duplicate_ids=str(duplicate_ids),  # type: ignore[arg-type]
        empty_docs=str(empty_docs),  # type: ignore[arg-type]
        discontinuous=str(discontinuous),  # type: ignore[arg-type]
        token_col=token_col,
        tag_col=tag_col,
        scheme=str(scheme),  # type: ignore[arg-type]
        sentences_per_doc=sentences_per_doc,
    )


def notice_summary(corpus: Corpus) -> list[str]:
    """One line per notice kind: its count and its first occurrence."""
    first: dict[str, str] = {}
    for notice in corpus.notices:
        first.setdefault(notice.kind, str(notice))
    counts = Counter(n.kind for n in corpus.notices)
    return [f"{counts[k]:>6} x {k} (first: {first[k]})" for k in counts]


def load_corpus(path: Path, *, fmt: str | None = None, **flags: object) -> Corpus:
    """Read a corpus with the corpus-reading flags and report its notices on stderr.

    ``flags`` are the keyword arguments of :func:`read_options`.
    """
    corpus = read_corpus(path, str(fmt) if fmt is not None else None, read_options(**flags))  # type: ignore[arg-type]
    lines = notice_summary(corpus)
    if lines:
        typer.echo(
            f"{path}: {len(corpus.notices)} notice(s) while reading {len(corpus)} documents:",
            err=True,
        )
        for line in lines:
            typer.echo(line, err=True)
    return corpus
