"""``nercurve predict``: run a model that a study kept (``[run] keep``) over a corpus."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nercurve.cli.app import app
from nercurve.cli.options import CorpusArg, CorpusReading, reads_corpus


@app.command()
@reads_corpus
def predict(
    model: Annotated[Path, typer.Argument(
        help="A kept model's folder (models/final/ARM or models/best/ARM/STRATUM of a study).",
        show_default=False)],
    corpus: CorpusArg,
    out: Annotated[Path, typer.Option(
        "-o", "--out", help="Where to write the predictions (JSON Lines).",
        show_default=False)],
    *,
    reading: CorpusReading,
) -> None:
    """Predict with a kept model: entity spans (NER) or class scores (classification).

    The model card in the folder names the backend and the task; the documents are read
    with the reading flags, segmented as a study segments them, and written with the
    model's predictions in place of their annotations. `nercurve evaluate GOLD PREDS`
    scores them.

    Example: nercurve predict runs/coi/models/final/spacy test.jsonl -o preds.jsonl
    """
    from nercurve.corpus.jsonl import write
    from nercurve.study.keep import load_kept, predict_with

    card, loaded = load_kept(model)
    docs = reading.load(corpus)
    predicted = predict_with(card, loaded, list(docs))
    write(predicted, out)
    typer.echo(f"wrote {len(predicted)} documents with the predictions of {model} to {out}")
