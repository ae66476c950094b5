"""``nercurve synth``: generate synthetic annotated corpora (the COI disclosure statements)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from nercurve.cli.app import app

synth_app = typer.Typer(
    help="Generate synthetic annotated corpora for demos, tests and method checks.\n\n"
    "Example: nercurve synth coi --docs 490 --seed 0 -o coi.jsonl",
    no_args_is_help=True,
)
app.add_typer(synth_app, name="synth")


@synth_app.command("coi")
def coi(
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Corpus file to write; its suffix names the format (.jsonl)."
        ),
    ],
    docs: Annotated[int, typer.Option(help="Number of statements.")] = 490,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 0,
    eps: Annotated[
        float | None,
        typer.Option(help="Target entities per sentence (default: the built-in mix, about 2)."),
    ] = None,
    annotators: Annotated[
        int,
        typer.Option(
            help="Also write this many simulated annotations of the same documents "
            "(<stem>.annotator1<suffix>, ...)."
        ),
    ] = 0,
    noise: Annotated[
        float, typer.Option(help="Per-entity error rate of each simulated annotator.")
    ] = 0.02,
) -> None:
    """Write synthetic conflict-of-interest disclosure statements with PERSON and ORG spans.

    They read like the disclosures closing clinical journal articles.

    All text is synthetic: names come from Faker and word lists.

    --annotators N adds N simulated annotations with errors at rate --noise.

    Example: nercurve synth coi --docs 490 --seed 0 -o coi.jsonl

    Example: nercurve synth coi --eps 3 --annotators 2 --noise 0.02 -o coi.jsonl
    """
    from nercurve.corpus.io import format_for_output, write_corpus
    from nercurve.corpus.stats import corpus_stats
    from nercurve.synthetic.coi import generate_coi

    format_for_output(output)  # an unknown suffix fails before any work
    corpus = generate_coi(docs, seed, eps)
    copies = []
    if annotators:
        from nercurve.synthetic.annotators import simulate_annotators

        copies = simulate_annotators(corpus, annotators, noise, seed)
    write_corpus(corpus, output)
    written = []
    for i, copy in enumerate(copies, start=1):
        path = output.with_name(f"{output.stem}.annotator{i}{output.suffix}")
        write_corpus(copy, path)
        written.append(str(path))
    stats = corpus_stats(corpus.docs)
    per_label = ", ".join(f"{label} {value:.2f}" for label, value in stats.eps_per_label.items())
    typer.echo(
        f"wrote {output}: {stats.documents} documents, {stats.sentences} sentences, "
        f"{stats.entities} entities, EPS {stats.eps:.2f}" + (f" ({per_label})" if per_label else "")
    )
    if written:
        typer.echo(f"simulated annotators (noise {noise:g}): {', '.join(written)}")


@synth_app.command("smoking")
def smoking(
    output: Annotated[
        Path,
        typer.Option(
            "-o", "--output", help="Corpus file to write; its suffix names the format (.jsonl)."
        ),
    ],
    docs: Annotated[int, typer.Option(help="Number of notes.")] = 600,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same file.")] = 0,
    balance: Annotated[
        str | None,
        typer.Option(
            metavar="CLASS=WEIGHT,...",
            help="Class weights, e.g. CURRENT=1,PAST=1,NEVER=2,UNKNOWN=4 (default: 25% "
            "CURRENT, 20% PAST, 30% NEVER, 25% UNKNOWN).",
        ),
    ] = None,
    difficulty: Annotated[
        float,
        typer.Option(help="Probability of a hard phrasing and of a distractor in each note."),
    ] = 0.3,
) -> None:
    """Write synthetic discharge-summary-like notes, each labelled with a smoking status.

    The classes are those of the i2b2 2006 smoking challenge (CURRENT, PAST, NEVER,
    UNKNOWN); the text is none of its text: every note is made up from word lists, with
    hard cases (negation, a recent quit, pack-years, a relative who smokes, no mention).

    Example: nercurve synth smoking --docs 600 --seed 0 -o smoking.jsonl

    Example: nercurve synth smoking --balance CURRENT=1,PAST=1,NEVER=2,UNKNOWN=6 -o s.jsonl
    """
    from nercurve.corpus.classes import class_stats
    from nercurve.corpus.io import format_for_output, write_corpus
    from nercurve.synthetic.smoking import generate_smoking, parse_balance

    format_for_output(output)  # an unknown suffix fails before any work
    weights = parse_balance(balance) if balance is not None else None
    corpus = generate_smoking(docs, seed, balance=weights, difficulty=difficulty)
    write_corpus(corpus, output)
    stats = class_stats(corpus.docs)
    shares = ", ".join(f"{label} {n} ({stats.shares[label]:.0%})"
                       for label, n in stats.counts.items())
    typer.echo(f"wrote {output}: {stats.documents} synthetic notes: {shares}")
