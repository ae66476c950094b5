"""Rich tables of document classes for ``stats`` and ``evaluate``: the class distribution of
a corpus, and the scores of predicted classes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table

    from nercurve.corpus.classes import ClassStats
    from nercurve.tasks.classify_scores import ClassPRF, ClassScores


def _table(title: str, *columns: str) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    return table


def _num(x: float | None, digits: int = 2) -> str:
    return "–" if x is None else f"{x:,.{digits}f}"


def class_stats_tables(cs: ClassStats) -> list[Table]:
    """Documents per class with their shares, the minority class, and text lengths."""
    kind = "multi-label" if cs.multi_label else "single-label"
    classes = _table(f"Classes ({kind}, {cs.documents:,} documents)", "class", "documents",
                     "share")
    for label, n in cs.counts.items():
        classes.add_row(label, f"{n:,}", f"{cs.shares[label]:.1%}")
    classes.add_row(f"minority class: {cs.minority_class}", "", f"{cs.minority_share:.1%}")
    if cs.unclassified:
        classes.add_row("documents without a class", f"{cs.unclassified:,}",
                        f"{cs.unclassified / cs.documents:.1%}")
    lengths = _table("Text lengths", "", "mean", "SD", "min", "median", "max")
    rows = [("characters per document", cs.chars_per_doc)]
    if cs.multi_label:
        rows.append(("classes per document", cs.classes_per_doc))
    for title, s in rows:
        lengths.add_row(title, _num(s.mean, 1), _num(s.sd, 1), _num(s.min, 0),
                        _num(s.median, 1), _num(s.max, 0))
    return [classes, lengths]


def _prf(s: ClassPRF) -> list[str]:
    return [f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}", f"{s.support:,}"]


def class_score_tables(title: str, sc: ClassScores) -> list[Any]:
    """The overall scores, the per-class scores and the confusion matrix."""
    overall = _table(f"{title} ({sc.documents:,} documents)", "score", "precision", "recall",
                     "F1", "support")
    overall.add_row("macro", *_prf(sc.macro))
    overall.add_row("micro", *_prf(sc.micro))
    accuracy = "subset accuracy (exact set)" if sc.multi_label else "accuracy"
    overall.add_row(accuracy, "", "", f"{sc.accuracy:.4f}", "")
    if sc.samples_f1 is not None:
        overall.add_row("samples (per document)", "", "", f"{sc.samples_f1:.4f}", "")
    per_class = _table("Per class", "class", "precision", "recall", "F1", "support")
    for label, s in sc.per_class.items():
        per_class.add_row(label, *_prf(s))
    if sc.multi_label:
        confusion = _table("Per class counts", "class", "TP", "FP", "FN", "TN")
        for label, c in sc.confusion.items():
            confusion.add_row(label, *(f"{c[k]:,}" for k in ("tp", "fp", "fn", "tn")))
    else:
        confusion = _table("Confusion (rows: gold, columns: predicted)", "gold \\ pred",
                           *sc.labels)
        for gold, row in sc.confusion.items():
            confusion.add_row(gold, *(f"{row[p]:,}" for p in sc.labels))
    return [overall, per_class, confusion]
