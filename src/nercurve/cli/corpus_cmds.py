"""``nercurve convert``: read a corpus in one format and write it in another."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nercurve.cli.app import app
from nercurve.cli.options import CorpusArg, CorpusReading, reads_corpus
from nercurve.corpus.io import WriteFormat
from nercurve.errors import InputError


@app.command()
@reads_corpus
def convert(
    source: CorpusArg,
    target: Annotated[
        Path, typer.Argument(help="Output file; its suffix names the format unless --to.")
    ],
    reading: Annotated[
        CorpusReading,
        typer.Option("--from", "--format", help="Input format; detected when omitted."),
    ],
    to: Annotated[
        WriteFormat | None,
        typer.Option(
            "--to",
            help="Output format; from the suffix when omitted (.jsonl, .conll/.iob/.tsv, "
            ".spacy, .pubtator/.txt, .xml/.json for BioC); labelstudio: tasks to import.",
        ),
    ] = None,
    as_predictions: Annotated[
        str | None,
        typer.Option(
            "--as-predictions",
            help="Label Studio tasks: write the spans and classes as predictions of this "
            "model version (pre-annotations), not as annotations.",
            metavar="MODEL_VERSION",
        ),
    ] = None,
) -> None:
    """Convert an annotated corpus between PubTator, CoNLL/IOB, brat, JSONL, DocBin and BioC.

    Also reads Hugging Face datasets (a save_to_disk folder or a Parquet file), Label Studio
    exports, INCEpTION XMI and WebAnno TSV. BioC is written as JSON to a .json file, else as
    XML; --to labelstudio writes Label Studio tasks to import, and the labeling config they
    fit beside them (<target stem>.config.xml).

    Example: nercurve convert NCBItrainset_corpus.txt ncbi.jsonl --mismatch strip
    --duplicate-ids keep-first --label-map SpecificDisease=Disease,Modifier=Disease
    """
    from nercurve.corpus.io import write_corpus

    if as_predictions is not None and to != "labelstudio":
        raise InputError("--as-predictions writes Label Studio tasks",
                         hint="add --to labelstudio")
    corpus = reading.load(source)
    options = {} if as_predictions is None else {"as_predictions": True,
                                                 "model_version": as_predictions}
    write_corpus(corpus, target, to, **options)
    spans = sum(len(d.spans) for d in corpus)
    typer.echo(f"wrote {len(corpus)} documents ({spans} spans) to {target}")
    if to == "labelstudio":
        from nercurve.corpus.labelstudio import labeling_config

        config = target.with_name(f"{target.stem}.config.xml")
        try:
            config.write_text(labeling_config(corpus.docs), encoding="utf-8")
        except OSError as err:
            raise InputError(f"cannot write: {err.strerror or err}", file=config,
                             hint="check the output folder") from None
        typer.echo(f"wrote the Label Studio labeling config of these tasks to {config}")
