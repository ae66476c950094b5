"""Commands ``stats``, ``split`` and ``evaluate``: thin wrappers over the library.

Library modules (numpy, spaCy through segmentation) are imported inside the commands,
so ``nercurve --help`` stays fast.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nercurve.cli.app import app
from nercurve.cli.options import CorpusArg, CorpusReading, reads_corpus
from nercurve.corpus.io import WriteFormat
from nercurve.tasks import task_names

if TYPE_CHECKING:
    from rich.table import Table

    from nercurve.corpus.model import Doc
    from nercurve.corpus.stats import CorpusStats, Summary
    from nercurve.tasks.ner_scores import PRF, Evaluation

JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON instead.")]


#: What ``evaluate`` scores: a registered task, or ``auto`` (told from the gold documents).
TaskChoice = StrEnum("TaskChoice", {name: name for name in ("auto", *task_names())})


def _print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _table(title: str, *columns: str) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    return table


def _show(*renderables: Any) -> None:
    from rich.console import Console

    console = Console()
    for r in renderables:
        console.print(r)


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


# --- stats --------------------------------------------------------------------------------


@app.command()
@reads_corpus
def stats(
    corpus: CorpusArg,
    as_json: JsonOpt = False,
    *,
    reading: CorpusReading,
) -> None:
    """Documents, sentences, tokens, entities and entities per sentence (EPS) of a corpus.

    Also per label, the spread of sentences per document and the entity length
    distribution. Sentences and tokens come from the file when its format has them
    (CoNLL/IOB, DocBin), else from spaCy's rule-based sentencizer and tokenizer. Documents
    with class labels (text classification) also get their class distribution (documents
    and share per class, the minority class) and text lengths. --json also carries every
    reading notice (and their counts by kind).

    Example: nercurve stats train.pubtator --label-map SpecificDisease=Disease --json

    Example: nercurve stats notes.csv --text-column note --label-column status
    """
    from nercurve.corpus.classes import class_stats, has_classes
    from nercurve.corpus.stats import corpus_stats

    docs = reading.load(corpus)
    cs = corpus_stats(docs)
    classes = class_stats(docs.docs) if has_classes(docs) else None
    if as_json:
        _print_json({
            "corpus": str(corpus),
            **cs.to_dict(),
            **({"classes": classes.to_dict()} if classes is not None else {}),
            "notice_counts": dict(docs.notice_counts()),
            "notices": [n.to_dict() for n in docs.notices],
        })
        return
    tables = _stats_tables(str(corpus), cs, entities=classes is None or cs.entities > 0)
    if classes is not None:
        from nercurve.cli.class_tables import class_stats_tables

        totals, per_label, sizes, lengths = tables
        tables = [totals, *class_stats_tables(classes), sizes,
                  *([per_label, lengths] if cs.entities else [])]
    _show(*tables)


def _stats_tables(name: str, cs: CorpusStats, *, entities: bool = True) -> list[Table]:
    """Totals, per label, distributions, entity lengths; without ``entities`` (a
    classification corpus with no spans) no row about entities."""
    totals = _table(name, "", "count")
    for key in ("documents", "sentences", "tokens", *(("entities",) if entities else ())):
        totals.add_row(key, f"{getattr(cs, key):,}")
    if entities:
        totals.add_row("entities per sentence (EPS)", _num(cs.eps, 3))

    per_label = _table("Per label", "label", "entities", "share", "EPS")
    for label, n in cs.entities_per_label.items():
        share = n / cs.entities if cs.entities else 0.0
        per_label.add_row(label, f"{n:,}", f"{share:.1%}", _num(cs.eps_per_label[label], 3))

    sizes = _table("Distributions", "", "mean", "SD", "min", "median", "max")
    rows: list[tuple[str, Summary]] = [
        ("sentences per document", cs.sentences_per_doc),
        ("tokens per document", cs.tokens_per_doc),
    ]
    if entities:
        rows += [("entity length (tokens)", cs.entity_tokens),
                 ("entity length (characters)", cs.entity_chars)]
    for title, s in rows:
        sizes.add_row(
            title, _num(s.mean), _num(s.sd), _num(s.min, 0), _num(s.median, 1), _num(s.max, 0)
        )

    lengths = _table("Entity length in tokens", "tokens", "entities", "share")
    for length, n in cs.entity_token_counts.items():
        lengths.add_row(str(length), f"{n:,}", f"{n / cs.entities:.1%}")
    return [totals, per_label, sizes, lengths]


# --- split --------------------------------------------------------------------------------


@app.command()
@reads_corpus
def split(
    corpus: CorpusArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Folder for the parts and manifest.json.")
    ],
    test: Annotated[float, typer.Option("--test", help="Fraction of documents for test.")] = 0.3,
    dev: Annotated[float, typer.Option("--dev", help="Fraction of documents for dev.")] = 0.1,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    stratify_eps: Annotated[
        bool,
        typer.Option("--stratify-eps", help="Give every part a similar entities per sentence."),
    ] = False,
    stratify_classes: Annotated[
        bool,
        typer.Option("--stratify-classes",
                     help="Give every part the class shares of the corpus (class labels)."),
    ] = False,
    to: Annotated[WriteFormat, typer.Option("--to", help="Format of the written parts.")] = (
        "jsonl"
    ),
    force: Annotated[bool, typer.Option("--force", help="Replace existing part files.")] = False,
    as_json: JsonOpt = False,
    *,
    reading: CorpusReading,
) -> None:
    """Split a corpus into train, dev and test by whole documents, from a seed.

    Writes train/dev/test files (JSONL unless --to) and manifest.json (ids, fractions,
    seed, and each part's size and EPS; with class labels, its documents per class) into the
    output folder. --stratify-eps gives every part a similar entities per sentence,
    --stratify-classes the class shares of the whole corpus.

    Example: nercurve split coi.jsonl --test 0.3 --dev 0.1 --seed 0 --stratify-eps -o splits/

    Example: nercurve split notes.jsonl --stratify-classes -o splits/
    """
    from nercurve.corpus.classes import class_counts, class_scheme, has_classes
    from nercurve.corpus.split import part_sizes, split_corpus, write_split
    from nercurve.corpus.stats import doc_counts
    from nercurve.errors import InputError

    if stratify_eps and stratify_classes:
        raise InputError("--stratify-eps and --stratify-classes exclude each other",
                         hint="stratify by entities per sentence (NER) or by class, not both")
    docs = reading.load(corpus)
    part_sizes(len(docs), test, dev)  # check the fractions before segmenting anything
    if stratify_classes and not has_classes(docs):
        raise InputError("--stratify-classes needs class labels, and no document has any",
                         file=corpus, hint="give documents classes, or split with --stratify-eps")
    classes = (class_counts(docs.docs, class_scheme(docs.docs, strict=False))
               if has_classes(docs) else None)
    counts = doc_counts(docs) if stratify_eps else None
    parts = split_corpus(docs, test=test, dev=dev, seed=seed,
                         stratify=stratify_eps or stratify_classes, counts=counts,
                         classes=classes if stratify_classes else None)
    manifest = write_split(docs, parts, out, fmt=to, overwrite=force, counts=counts,
                           classes=classes)
    if as_json:
        _print_json(manifest)
        return
    how = ("stratified by EPS" if stratify_eps else
           "stratified by class" if stratify_classes else "random")
    table = _table(
        f"{corpus} → {out} ({how}, seed {seed})",
        "part",
        "file",
        "documents",
        "sentences",
        "tokens",
        "entities",
        "EPS",
    )
    for name, part in manifest["parts"].items():
        table.add_row(
            name,
            part["file"] or "–",
            f"{part['documents']:,}",
            f"{part['sentences']:,}",
            f"{part['tokens']:,}",
            f"{part['entities']:,}",
            _num(part["eps"], 3),
        )
    shown: list[Any] = [table]
    if classes is not None:
        by_class = _table("Documents per class", "part", *classes.labels)
        for name, part in manifest["parts"].items():
            n = part["documents"]
            by_class.add_row(name, *(f"{part['classes'][c]:,} ({part['classes'][c] / n:.0%})"
                                     if n else "0" for c in classes.labels))
        shown.append(by_class)
    _show(*shown, f"manifest: {Path(out) / 'manifest.json'}")


# --- evaluate -----------------------------------------------------------------------------


@app.command()
@reads_corpus
def evaluate(
    gold: Annotated[Path, typer.Argument(help="Gold-standard corpus.", show_default=False)],
    pred: Annotated[Path, typer.Argument(help="Predicted corpus.", show_default=False)],
    as_json: JsonOpt = False,
    allow_missing: Annotated[
        bool,
        typer.Option(
            "--allow-missing",
            help="Score documents present on one side only as having no spans on the other.",
        ),
    ] = False,
    task: Annotated[TaskChoice, typer.Option(
        "--task", help="Score entity spans (ner) or document classes (classify); auto: "
        "classes when the gold documents carry classes and no spans.")] = "auto",
    *,
    reading: CorpusReading,
) -> None:
    """Score predicted entities against gold: strict P/R/F1, boundary overlap, type confusion.

    Classification (document classes): accuracy, macro- and micro-averaged P/R/F1, per
    class, and a confusion matrix; multi-label data also sample-averaged F1. A predicted
    document's class is its best-scoring category (every category scored at least 0.5 in
    multi-label data); with --allow-missing a document missing from PRED is a miss.

    Documents are matched by id; files without ids of their own (CoNLL without
    -DOCSTART-, foreign DocBins) that share no id but hold the same texts in the same
    order are matched by position. Strict: same start, end and label. Partial: same
    label and at least one shared character, matched one to one. The confusion table
    counts, for each gold label, what the prediction at that place was labelled
    ("O": nothing predicted there; row "O": predictions where gold has nothing).
    The reading flags apply to both files.

    Example: nercurve evaluate test.pubtator predictions.jsonl --label-map Modifier=Disease

    Example: nercurve evaluate test.jsonl predicted_classes.jsonl --task classify
    """
    from nercurve.tasks import get_task, task_of_docs
    from nercurve.tasks.ner_scores import evaluate as score

    gold_docs = reading.load(gold)
    pred_docs = reading.load(pred)
    paired = _paired_by_order(list(gold_docs), list(pred_docs))
    if paired is not None:
        typer.echo(f"note: no document id is shared, but both files hold the same "
                   f"{len(paired)} texts in the same order: matched by position", err=True)
        pred_docs = paired
    chosen = task_of_docs(gold_docs) if task == "auto" else get_task(task)
    if chosen.name == "classify":
        _evaluate_classes(gold, pred, list(gold_docs), list(pred_docs), allow_missing, as_json)
        return
    result = score(gold_docs, pred_docs, allow_missing=allow_missing,
                   names=(str(gold), str(pred)))
    for side, ids in (("PRED", result.missing_in_pred), ("GOLD", result.missing_in_gold)):
        if ids:
            typer.echo(
                f"note: {len(ids)} document(s) missing from {side} were scored as having no spans",
                err=True,
            )
    if as_json:
        _print_json({"gold": str(gold), "pred": str(pred), **result.to_dict()})
        return
    _show(*_evaluation_tables(f"{pred} against {gold}", result))


def _evaluate_classes(gold: Path, pred: Path, gold_docs: list[Doc], pred_docs: list[Doc],
                      allow_missing: bool, as_json: bool) -> None:
    """The classification branch of ``evaluate``."""
    from nercurve.cli.class_tables import class_score_tables
    from nercurve.corpus.classes import class_scheme
    from nercurve.tasks.classify_scores import evaluate_classes

    predicted = {name for d in pred_docs for name in d.cats}
    scheme = class_scheme(gold_docs, predicted, source=str(gold))
    result = evaluate_classes(gold_docs, pred_docs, scheme, allow_missing=allow_missing,
                              names=(str(gold), str(pred)))
    if result.missing_in_pred:
        typer.echo(f"note: {len(result.missing_in_pred)} document(s) missing from PRED were "
                   "scored as misses", err=True)
    if result.missing_in_gold:
        typer.echo(f"note: {len(result.missing_in_gold)} document(s) missing from GOLD were "
                   "left out", err=True)
    if as_json:
        _print_json({"gold": str(gold), "pred": str(pred), **result.to_dict()})
        return
    _show(*class_score_tables(f"{pred} against {gold}", result))


def _prf_cells(s: PRF) -> list[str]:
    return [
        f"{s.precision:.4f}",
        f"{s.recall:.4f}",
        f"{s.f1:.4f}",
        f"{s.tp:,}",
        f"{s.fp:,}",
        f"{s.fn:,}",
    ]


def _paired_by_order(gold: Sequence[Doc], pred: Sequence[Doc]) -> list[Doc] | None:
    """``pred`` renamed to the gold ids when no id is shared but the texts match in order."""
    if len(gold) != len(pred) or {d.id for d in gold} & {d.id for d in pred}:
        return None
    if any(g.text != p.text for g, p in zip(gold, pred, strict=True)):
        return None
    return [replace(p, id=g.id) for g, p in zip(gold, pred, strict=True)]


def _evaluation_tables(title: str, ev: Evaluation) -> list[Any]:
    from nercurve.tasks.ner_scores import OUTSIDE

    columns = ("precision", "recall", "F1", "TP", "FP", "FN")
    overall = _table(f"{title} ({ev.documents:,} documents)", "score", *columns)
    overall.add_row("strict micro", *_prf_cells(ev.micro))
    overall.add_row("strict macro", *_prf_cells(ev.macro))
    overall.add_row("partial (overlap) micro", *_prf_cells(ev.partial))

    per_label = _table("Per label (strict; partial F1 last)", "label", *columns, "partial F1")
    for label, s in ev.per_label.items():
        per_label.add_row(label, *_prf_cells(s), f"{ev.partial_per_label[label].f1:.4f}")

    predicted = [*ev.labels, OUTSIDE]
    confusion = _table(
        "Type confusion (rows: gold, columns: predicted)", "gold \\ pred", *predicted
    )
    for g in [*ev.labels, OUTSIDE]:
        row = ev.confusion.get(g, {})
        confusion.add_row(
            g, *("–" if g == p == OUTSIDE else f"{row.get(p, 0):,}" for p in predicted)
        )

    errors = _table("Errors", "kind", "count")
    for kind, n in ev.errors.items():
        errors.add_row(kind.replace("_", " "), f"{n:,}")
    return [overall, per_label, confusion, errors]
