"""Corpus-reading flags shared by every command that reads a corpus, and ``reads_corpus``.

A command that reads a corpus takes one ``reading`` parameter and is decorated with
:func:`reads_corpus`, which offers typer the reading flags (--format, --label-map, --labels,
--overlap, ...) in its place and hands the command the :class:`CorpusReading` they describe::

    @app.command()
    @reads_corpus
    def stats(corpus: CorpusArg, as_json: JsonOpt = False, *, reading: CorpusReading) -> None:
        docs = reading.load(corpus)

``CorpusReading.load`` reads the corpus with its format and
:class:`~nercurve.corpus.io.ReadOptions` and reports a summary of its notices (repairs,
skipped lines) on stderr; with ``--notices FILE`` it also writes every notice to FILE (JSON
Lines, one object per notice, appended for each corpus the command reads).
"""

from __future__ import annotations

import functools
import inspect
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin, get_type_hints

import typer

from nercurve.corpus.io import (
    DiscontinuousPolicy,
    DuplicateIdPolicy,
    EmptyDocPolicy,
    MismatchPolicy,
    OverlapPolicy,
    ReadFormat,
    ReadOptions,
    TagScheme,
    parse_label_map,
    parse_labels,
    read_annotations,
    read_corpus,
)
from nercurve.corpus.model import Corpus, Notice
from nercurve.errors import InputError

_READ = "Reading"
CorpusArg = Annotated[
    Path, typer.Argument(help="Corpus file (or brat folder).", show_default=False)
]


def _reading_flag(kind: Any, flag: str, help_text: str, **more: Any) -> Any:
    """The annotation of a corpus-reading flag: ``kind`` (a policy of
    :mod:`nercurve.corpus.io` offers its choices) under ``flag``, in the Reading panel."""
    return Annotated[kind, typer.Option(flag, help=help_text, rich_help_panel=_READ, **more)]


FormatOpt = _reading_flag(ReadFormat | None, "--format",
                          "Input format; detected from the file when omitted.")
LabelMapOpt = _reading_flag(str | None, "--label-map",
                            "Rename labels, e.g. SpecificDisease=Disease,Modifier=Disease.",
                            metavar="OLD=NEW,...")
LabelsOpt = _reading_flag(str | None, "--labels", "Keep only these labels (after --label-map); "
                          "dropped spans are counted.", metavar="A,B")
OverlapOpt = _reading_flag(OverlapPolicy, "--overlap", "Overlapping or nested spans: error, or "
                           "keep the longest or the first in the file.")
MismatchOpt = _reading_flag(
    MismatchPolicy, "--mismatch",
    "Mention text differing from the text at its offsets: error (all listed), strip edge "
    "whitespace and accept, skip the mention, or relocate it (strip, accept a case-only "
    "difference, else move it to the nearest occurrence of its text within 100 characters, "
    "else drop it).")
StrictOpt = _reading_flag(bool, "--strict", "Make repairs without their own policy errors "
                          "(dangling I- tags, labels outside --labels, repeated spans).")
DuplicateIdsOpt = _reading_flag(DuplicateIdPolicy, "--duplicate-ids",
                                "A repeated document id: error, or keep the first.")
EmptyDocsOpt = _reading_flag(EmptyDocPolicy, "--empty-docs",
                             "A document without text: error, or skip it.")
DiscontinuousOpt = _reading_flag(DiscontinuousPolicy, "--discontinuous",
                                 "A discontinuous brat span: error, its hull, its first "
                                 "fragment, or one span per fragment.")
TokenColOpt = _reading_flag(int, "--token-col",
                            "CoNLL token column (0-based; negative from the end).")
TagColOpt = _reading_flag(int, "--tag-col", "CoNLL tag column (0-based; -1 is the last).")
SchemeOpt = _reading_flag(TagScheme, "--scheme", "CoNLL tag scheme; auto reads BIOES when "
                          "E-/S- tags occur, else IOB2.")
TagNamesOpt = _reading_flag(str | None, "--tag-names", "Hugging Face datasets whose tag numbers "
                            "are not named: the tag of each number, in order.",
                            metavar="O,B-X,I-X")
NoticesOpt = _reading_flag(Path | None, "--notices", "Write every reading notice (repairs, "
                           "skipped lines) to FILE as JSON Lines.", metavar="FILE")
SentencesPerDocOpt = _reading_flag(int, "--sentences-per-doc", "CoNLL files without -DOCSTART- "
                                   "lines: this many consecutive sentences make one document.",
                                   min=1)
TextColumnOpt = _reading_flag(str, "--text-column",
                              "CSV/TSV tables: the column holding the text.", metavar="NAME")
LabelColumnOpt = _reading_flag(str, "--label-column",
                               "CSV/TSV tables: the column holding the class.", metavar="NAME")
IdColumnOpt = _reading_flag(str, "--id-column", "CSV/TSV tables: the column holding the "
                            "document id (used when present).", metavar="NAME")
AnnotatorOpt = _reading_flag(str | None, "--annotator", "Exports holding several annotators "
                             "(Label Studio, INCEpTION): read this one's annotations.",
                             metavar="NAME")
LayerOpt = _reading_flag(str | None, "--layer", "INCEpTION XMI, WebAnno TSV: the span layer read "
                         "as entities (default: the named-entity layer's value).",
                         metavar="TYPE[:FEATURE]")
LabelSepOpt = _reading_flag(str | None, "--label-sep", "CSV/TSV tables of multi-label data: "
                            "the separator of a cell's classes, e.g. ';'.", metavar="SEP")


def read_options(
    *,
    label_map: str | None = None,
    labels: str | None = None,
    overlap: OverlapPolicy = "error",
    mismatch: MismatchPolicy = "error",
    strict: bool = False,
    duplicate_ids: DuplicateIdPolicy = "error",
    empty_docs: EmptyDocPolicy = "error",
    discontinuous: DiscontinuousPolicy = "error",
    token_col: int = 0,
    tag_col: int = -1,
    scheme: TagScheme = "auto",
    sentences_per_doc: int = 1,
    tag_names: str | None = None,
    text_column: str = "text",
    label_column: str = "label",
    id_column: str = "id",
    label_sep: str | None = None,
    annotator: str | None = None,
    layer: str | None = None,
) -> ReadOptions:
    """The :class:`ReadOptions` that the corpus-reading flags describe."""
    return ReadOptions(
        label_map=parse_label_map(label_map),
        labels=parse_labels(labels),
        overlap=overlap,
        mismatch=mismatch,
        strict=strict,
        duplicate_ids=duplicate_ids,
        empty_docs=empty_docs,
        discontinuous=discontinuous,
        token_col=token_col,
        tag_col=tag_col,
        scheme=scheme,
        sentences_per_doc=sentences_per_doc,
        tag_names=tuple(t.strip() for t in tag_names.split(",")) if tag_names else None,
        text_column=text_column,
        label_column=label_column,
        id_column=id_column,
        label_sep=label_sep or None,
        annotator=annotator or None,
        layer=layer or None,
    )


def notice_summary(notices: Sequence[Notice]) -> list[str]:
    """One line per notice kind: its count and its first occurrence."""
    first: dict[str, str] = {}
    for notice in notices:
        first.setdefault(notice.kind, str(notice))
    counts = Counter(n.kind for n in notices)
    return [f"{counts[k]:>6} x {k} (first: {first[k]})" for k in counts]


def print_notices(notices: Sequence[Notice], what: str) -> None:
    """Report reading notices on stderr: a heading naming ``what`` was read, one line a kind."""
    typer.echo(f"{what}: {len(notices)} notice(s) while reading:", err=True)
    for line in notice_summary(notices):
        typer.echo(line, err=True)


def write_notices(path: Path, notices: Sequence[Notice], *, append: bool) -> None:
    """Write notices to ``path`` as JSON Lines (one object per notice)."""
    try:
        with path.open("a" if append else "w", encoding="utf-8") as fh:
            for notice in notices:
                fh.write(json.dumps(notice.to_dict(), ensure_ascii=False) + "\n")
    except OSError as err:
        raise InputError(
            f"cannot write the notices: {err.strerror or err}",
            file=path,
            hint="check the folder of --notices FILE",
        ) from None


@dataclass(frozen=True)
class CorpusReading:
    """How a command's reading flags say to read a corpus: its format and read options, and
    the file (``--notices``) that every reading notice is appended to."""

    fmt: str | None
    options: ReadOptions
    notices_file: Path | None = None

    def load(self, path: Path) -> Corpus:
        """Read the corpus at ``path`` and report its notices."""
        corpus = read_corpus(path, self.fmt, self.options)
        self.report(corpus.notices, f"{path} ({len(corpus)} documents)")
        return corpus

    def load_annotations(self, path: Path) -> list[Corpus]:
        """One corpus per annotator of an export that holds several, else the one corpus
        (:func:`~nercurve.corpus.io.read_annotations`); notices reported for each."""
        corpora = read_annotations(path, self.fmt, self.options)
        for corpus in corpora:
            self.report(corpus.notices, f"{corpus.source or path} ({len(corpus)} documents)")
        return corpora

    def report(self, notices: Sequence[Notice], what: str) -> None:
        """Summarise notices on stderr and append every one to the notices file, if any."""
        if self.notices_file is not None:
            write_notices(self.notices_file, notices, append=True)
        if notices:
            print_notices(notices, what)
            where = self.notices_file
            typer.echo(
                f"  every notice: in {where}" if where else "  every notice: --notices FILE",
                err=True,
            )


# The flags after --format, in the order --help lists them: name, annotation, default.
_READING_FLAGS: tuple[tuple[str, Any, Any], ...] = (
    ("label_map", LabelMapOpt, None),
    ("labels", LabelsOpt, None),
    ("overlap", OverlapOpt, "error"),
    ("mismatch", MismatchOpt, "error"),
    ("strict", StrictOpt, False),
    ("duplicate_ids", DuplicateIdsOpt, "error"),
    ("empty_docs", EmptyDocsOpt, "error"),
    ("discontinuous", DiscontinuousOpt, "error"),
    ("token_col", TokenColOpt, 0),
    ("tag_col", TagColOpt, -1),
    ("scheme", SchemeOpt, "auto"),
    ("sentences_per_doc", SentencesPerDocOpt, 1),
    ("tag_names", TagNamesOpt, None),
    ("text_column", TextColumnOpt, "text"),
    ("label_column", LabelColumnOpt, "label"),
    ("id_column", IdColumnOpt, "id"),
    ("label_sep", LabelSepOpt, None),
    ("annotator", AnnotatorOpt, None),
    ("layer", LayerOpt, None),
)


def reads_corpus(command: Callable[..., Any]) -> Callable[..., Any]:
    """Give a command the corpus-reading flags in place of its ``reading`` parameter.

    typer sees the command's own parameters with the format flag where ``reading`` stands
    and the other reading flags after them; the command is called with ``reading``, the
    :class:`CorpusReading` they describe. ``reading: CorpusReading`` offers the format as
    :data:`FormatOpt`; ``reading: Annotated[CorpusReading, typer.Option(...)]`` gives the
    format flag other names and help. Apply it below ``@app.command()``.
    """
    signature = inspect.signature(command)
    hints = get_type_hints(command, include_extras=True)
    own = [
        p.replace(annotation=hints.get(p.name, p.annotation)) for p in signature.parameters.values()
    ]
    names = {p.name for p in own}
    flag_names = ["fmt", *(name for name, _, _ in _READING_FLAGS), "notices"]
    if "reading" not in names or names.intersection(flag_names):
        raise TypeError(
            f"{command.__name__}: @reads_corpus needs a 'reading' parameter "
            f"and none named {', '.join(flag_names)}"
        )
    params = [
        p.replace(name="fmt", default=None, annotation=_format_flag(p))
        if p.name == "reading"
        else p
        for p in own
    ]
    params += [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=ann)
        for name, ann, default in (*_READING_FLAGS, ("notices", NoticesOpt, None))
    ]

    @functools.wraps(command)
    def with_reading(**kwargs: Any) -> Any:
        fmt = kwargs.pop("fmt")
        flags = {name: kwargs.pop(name) for name, _, _ in _READING_FLAGS}
        notices = kwargs.pop("notices")
        if notices is not None:  # emptied once: each corpus read appends its notices
            write_notices(notices, [], append=False)
        reading = CorpusReading(fmt, read_options(**flags), notices)
        return command(**kwargs, reading=reading)

    signature = signature.replace(parameters=params)
    with_reading.__signature__ = signature  # type: ignore[attr-defined]
    with_reading.__annotations__ = {
        **{p.name: p.annotation for p in params},
        "return": signature.return_annotation,
    }
    return with_reading


def _format_flag(reading: inspect.Parameter) -> Any:
    """The annotation of the format flag that a ``reading`` parameter stands for."""
    if get_origin(reading.annotation) is Annotated:
        _, *extras = get_args(reading.annotation)
        return Annotated[ReadFormat | None, *extras]
    return FormatOpt
