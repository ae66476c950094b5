"""``nercurve convert``: read a corpus in one format and write it in another."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nercurve.cli.app import app
from nercurve.cli.options import (
    CorpusArg,
    Discontinuous,
    DiscontinuousOpt,
    DuplicateIds,
    DuplicateIdsOpt,
    EmptyDocs,
    EmptyDocsOpt,
    InFormat,
    LabelMapOpt,
    LabelsOpt,
    Mismatch,
    MismatchOpt,
    OutFormat,
    Overlap,
    OverlapOpt,
    Scheme,
    SchemeOpt,
    SentencesPerDocOpt,
    StrictOpt,
    TagColOpt,
    TokenColOpt,
    load_corpus,
)


@app.command()
def convert(
    source: CorpusArg,
    target: Annotated[
        Path, typer.Argument(help="Output file; its suffix names the format unless --to.")
    ],
    fmt: Annotated[
        InFormat | None,
        typer.Option("--from", "--format", help="Input format; detected when omitted."),
    ] = None,
    to: Annotated[
        OutFormat | None,
        typer.Option(
            "--to",
            help="Output format; from the suffix when omitted (.jsonl, .conll/.iob/.tsv, "
            ".spacy, .pubtator/.txt).",
        ),
    ] = None,
    label_map: LabelMapOpt = None,
    labels: LabelsOpt = None,
    overlap: OverlapOpt = Overlap.error,
    mismatch: MismatchOpt = Mismatch.error,
    strict: StrictOpt = False,
    duplicate_ids: DuplicateIdsOpt = DuplicateIds.error,
    empty_docs: EmptyDocsOpt = EmptyDocs.error,
    discontinuous: DiscontinuousOpt = Discontinuous.error,
    token_col: TokenColOpt = 0,
    tag_col: TagColOpt = -1,
    scheme: SchemeOpt = Scheme.auto,
    sentences_per_doc: SentencesPerDocOpt = 1,
) -> None:
    """Convert an annotated corpus between PubTator, CoNLL/IOB, brat, JSONL and DocBin.

    Example: nercurve convert NCBItrainset_corpus.txt ncbi.jsonl --mismatch strip
    --duplicate-ids keep-first --label-map SpecificDisease=Disease,Modifier=Disease
    """
    from nercurve.corpus.io import write_corpus

    corpus = load_corpus(
        source,
        fmt=fmt,
        label_map=label_map,
        labels=labels,
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
    )
    write_corpus(corpus, target, str(to) if to is not None else None)
    spans = sum(len(d.spans) for d in corpus)
    typer.echo(f"wrote {len(corpus)} documents ({spans} spans) to {target}")
