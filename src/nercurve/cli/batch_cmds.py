"""``nercurve next-batch``: the documents to annotate next, chosen from an unlabelled pool."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nercurve.cli.app import app
from nercurve.cli.options import CorpusReading, reads_corpus
from nercurve.next_batch import DEFAULT_MINUTES_PER_SENTENCE, OUTPUTS, STRATEGIES


@app.command("next-batch")
@reads_corpus
def next_batch_cmd(
    study: Annotated[Path, typer.Argument(help="A study folder (the output of `nercurve run`).",
                                          show_default=False)],
    pool: Annotated[Path, typer.Option(
        "--pool", help="The unlabelled documents to choose from: JSON Lines of {\"id\", "
        "\"text\"} or any corpus format (its annotations are ignored).", show_default=False)],
    out: Annotated[Path, typer.Option(
        "-o", "--out", help="Where to write the batch (a file; brat: a folder); the manifest "
        "(OUT.manifest.json) and the Label Studio labeling config go beside it.",
        show_default=False)],
    *,
    reading: CorpusReading,
    sentences: Annotated[int | None, typer.Option(
        "--sentences", min=1, help="Sentences to annotate (default: the recommendation's "
        "'about N more sentences' for --target-f1).", show_default=False)] = None,
    strategy: Annotated[str, typer.Option(
        help=f"How to choose: {', '.join(STRATEGIES)}.")] = "random",
    to: Annotated[str, typer.Option(
        "--to", help=f"Output format: {', '.join(OUTPUTS)}.")] = "labelstudio",
    pre_annotate: Annotated[bool, typer.Option(
        "--pre-annotate", help="Add the kept model's predictions (Label Studio `predictions`; "
        "brat and JSON Lines: as the documents' spans) for model-assisted annotation.")] = False,
    minutes_per_sentence: Annotated[float, typer.Option(
        "--minutes-per-sentence", help="Annotation speed behind the estimated annotator "
        "hours in the manifest.")] = DEFAULT_MINUTES_PER_SENTENCE,
    seed: Annotated[int, typer.Option(help="Seed of the random choices.")] = 0,
    model: Annotated[Path | None, typer.Option(
        "--model", help="A kept model's folder to score uncertainty and pre-annotate with "
        "(default: the study's final model, else its best at the largest size).",
        show_default=False)] = None,
    target_f1: Annotated[float, typer.Option(
        "--target-f1", help="The F1 whose recommendation sizes the batch.")] = 0.9,
    arm: Annotated[str | None, typer.Option(
        "--arm", help="The arm whose recommendation and model to use (default: the arm "
        "that reaches the target with the fewest sentences).", show_default=False)] = None,
) -> None:
    """Choose the next documents to annotate from an unlabelled pool.

    Documents already in the study (same id or text) are left out. The batch holds about
    N sentences (within one document), chosen at random, by the kept model's uncertainty,
    or for diversity (MiniLM embeddings, k-means++ from the study's pool).

    Example: nercurve next-batch runs/coi --pool pool.jsonl --strategy uncertainty -o b.json
    """
    from nercurve.next_batch import check_choices, next_batch, write_batch

    check_choices(strategy, to)
    docs = reading.load(pool)
    batch = next_batch(study, list(docs), sentences=sentences, strategy=strategy, seed=seed,
                       model=model, pre_annotate=pre_annotate,
                       minutes_per_sentence=minutes_per_sentence, target_f1=target_f1,
                       arm=arm)
    files = write_batch(batch, out, to)
    for note in batch.notes:
        typer.echo(f"note: {note}", err=True)
    m = batch.manifest
    typer.echo(f"{m['documents_count']} documents, {m['sentences']} sentences (asked "
               f"{m['sentences_asked']}), about {m['annotator_hours']} annotator hours at "
               f"{m['minutes_per_sentence']:g} minutes per sentence")
    for path in files:
        typer.echo(f"wrote {path}")
