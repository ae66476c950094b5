"""Entity-level scoring of predicted spans against gold spans.

Three views of the same comparison, all computed per document (documents are
matched by id) and summed over documents:

**Strict** (the score every study result reports). A predicted span is a true
positive when the same document holds a gold span with the same start, the same
end and the same label. Spans are counted as multisets, so a span predicted twice
against one gold copy is one true positive and one false positive. ``precision =
tp / (tp + fp)``, ``recall = tp / (tp + fn)``, ``f1 = 2·tp / (2·tp + fp + fn)``.
*Micro* scores pool the counts over all labels; *macro* scores are the unweighted
means of the per-label precision, recall and F1 over every label that occurs in
the gold or the predicted spans (seqeval's ``average="macro"``); the macro
:class:`PRF` carries the pooled counts.

**Partial** (boundary overlap). A predicted span and a gold span match when they
carry the same label and share at least one character. Matching is one-to-one: a
gold span is credited to at most one prediction and a prediction to at most one
gold span, and the score uses a *maximum* matching (the largest number of
disjoint pairs), so no span is counted twice and the count does not depend on the
order of the spans. Every strict true positive is also a partial one, so partial
scores are never below strict scores.

**Type confusion.** Each gold span is paired with at most one predicted span, one
to one, in four tiers (each a maximum matching among the spans still unpaired):
(1) same boundaries and same label, (2) same boundaries, other label, (3)
overlapping, same label, (4) overlapping, other label. ``confusion[g][p]`` counts
gold spans labelled ``g`` paired with a prediction labelled ``p``; a gold span left
unpaired is counted under ``p = "O"`` (missed) and a prediction left unpaired under
``g = "O"`` (spurious). Row sums are the gold counts per label and column sums the
predicted counts. The tiers also give the error breakdown in ``errors``:
``correct`` (tier 1, equal to the strict true positives), ``label`` (tier 2),
``boundary`` (tier 3), ``label_and_boundary`` (tier 4), ``missed``, ``spurious``.

Zero division follows seqeval (``zero_division=0``): precision is 0 when nothing
was predicted, recall is 0 when there is nothing to find, and F1 is 0 when
``tp = 0`` — including when there are neither gold nor predicted spans.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from nercurve.corpus.model import Doc, Span
from nercurve.errors import InputError

OUTSIDE = "O"
"""The confusion-table label for "no span" (a missed gold span or a spurious prediction)."""

_SHOWN_IDS = 5


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


@dataclass(frozen=True)
class PRF:
    """Counts and scores: true positives, false positives, false negatives, P, R, F1."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def from_counts(cls, tp: int, fp: int, fn: int) -> PRF:
        """Scores from counts (zero division gives 0, as in seqeval)."""
        return cls(
            tp, fp, fn, _ratio(tp, tp + fp), _ratio(tp, tp + fn), _ratio(2 * tp, 2 * tp + fp + fn)
        )

    @property
    def support(self) -> int:
        """Number of gold spans (``tp + fn``)."""
        return self.tp + self.fn

    def to_dict(self) -> dict[str, float | int]:
        """Plain-data form for JSON."""
        return {
            "tp": self.tp,
            "fp": self.fp,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
        }


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate` (see the module docstring for every definition)."""

    micro: PRF
    macro: PRF
    per_label: dict[str, PRF]
    partial: PRF
    partial_per_label: dict[str, PRF]
    confusion: dict[str, dict[str, int]]
    errors: dict[str, int]
    documents: int
    missing_in_pred: tuple[str, ...] = ()
    missing_in_gold: tuple[str, ...] = ()
    labels: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        return {
            "documents": self.documents,
            "labels": list(self.labels),
            "micro": self.micro.to_dict(),
            "macro": self.macro.to_dict(),
            "per_label": {k: v.to_dict() for k, v in self.per_label.items()},
            "partial": self.partial.to_dict(),
            "partial_per_label": {k: v.to_dict() for k, v in self.partial_per_label.items()},
            "confusion": {g: dict(row) for g, row in self.confusion.items()},
            "errors": dict(self.errors),
            "missing_in_pred": list(self.missing_in_pred),
            "missing_in_gold": list(self.missing_in_gold),
        }


def only_labels(predicted: Sequence[Iterable[Span]],
                labels: frozenset[str]) -> list[tuple[Span, ...]]:
    """Predicted entity spans of each document with those of other labels dropped."""
    return [tuple(s for s in spans if s.label in labels) for spans in predicted]


def corpus_labels(docs: Iterable[Doc]) -> frozenset[str] | None:
    """The labels these documents are scored on in a multi-corpus study: the union of their
    ``meta["corpus_labels"]`` (each corpus's own labels), or None when a document has none
    (a study of one corpus: every predicted span counts)."""
    labels: set[str] = set()
    for doc in docs:
        own = doc.meta.get("corpus_labels")
        if own is None:
            return None
        labels.update(own)
    return frozenset(labels)


def strict_prf(gold_spans: Sequence[Iterable[Span]], pred_spans: Sequence[Iterable[Span]]) -> PRF:
    """Micro strict P/R/F1 over aligned per-document span collections.

    ``gold_spans[i]`` and ``pred_spans[i]`` belong to the same document. This is
    the fast path for a backend's dev score; :func:`evaluate` gives everything else.
    """
    per_doc = strict_doc_counts(gold_spans, pred_spans)
    return PRF.from_counts(*(sum(c[i] for c in per_doc) for i in range(3)))


def strict_doc_counts(gold_spans: Sequence[Iterable[Span]],
                      pred_spans: Sequence[Iterable[Span]]) -> list[list[int]]:
    """Strict ``[tp, fp, fn]`` of each document (spans as multisets), in the order given:
    the counts every strict micro score adds up from."""
    if len(gold_spans) != len(pred_spans):
        raise InputError(
            f"{len(gold_spans)} gold documents but {len(pred_spans)} predicted ones",
            hint="pass one span collection per document on both sides, in the same order",
        )
    out = []
    for gold, pred in zip(gold_spans, pred_spans, strict=True):
        g, p = Counter(gold), Counter(pred)
        hit = sum((g & p).values())
        out.append([hit, sum(p.values()) - hit, sum(g.values()) - hit])
    return out


def evaluate(
    gold: Iterable[Doc], pred: Iterable[Doc], *, allow_missing: bool = False,
    names: tuple[str, str] = ("GOLD", "PRED"),
) -> Evaluation:
    """Score predicted documents against gold documents, matched by id.

    A document id present on one side only is an :class:`InputError` naming it,
    unless ``allow_missing``: then a document missing from ``pred`` counts as
    predicting no spans (its gold spans are all missed) and one missing from
    ``gold`` as having no gold spans (its predictions are all spurious); the ids
    are recorded on the result. Both sides must hold the same text for a shared id,
    since spans are character offsets into it. ``names`` are what errors call the two
    sides (e.g. their file names).
    """
    gold_name, pred_name = names
    gold_by_id = _index(gold, gold_name)
    pred_by_id = _index(pred, pred_name)
    missing_in_pred = tuple(i for i in gold_by_id if i not in pred_by_id)
    missing_in_gold = tuple(i for i in pred_by_id if i not in gold_by_id)
    if not allow_missing and (missing_in_pred or missing_in_gold):
        parts = []
        if missing_in_pred:
            parts.append(f"{len(missing_in_pred)} missing from {pred_name} "
                         f"({_show(missing_in_pred)})")
        if missing_in_gold:
            parts.append(f"{len(missing_in_gold)} missing from {gold_name} "
                         f"({_show(missing_in_gold)})")
        raise InputError(
            "gold and predicted documents differ: " + "; ".join(parts),
            hint="score the same documents on both sides, or pass --allow-missing "
            "(in Python: allow_missing=True) to count an absent document as having no spans",
        )

    strict: dict[str, list[int]] = {}
    partial: dict[str, list[int]] = {}
    confusion: dict[str, Counter[str]] = {}
    errors: Counter[str] = Counter()
    for doc_id in [*gold_by_id, *missing_in_gold]:
        g_doc, p_doc = gold_by_id.get(doc_id), pred_by_id.get(doc_id)
        if g_doc is not None and p_doc is not None and g_doc.text != p_doc.text:
            raise InputError(
                f"document {doc_id!r}: its text in {pred_name} differs from its text in "
                f"{gold_name}",
                hint="spans are character offsets; predict on the gold documents' own text",
            )
        g_spans = g_doc.spans if g_doc is not None else ()
        p_spans = p_doc.spans if p_doc is not None else ()
        _count_strict(g_spans, p_spans, strict)
        _count_partial(g_spans, p_spans, partial)
        _count_confusion(g_spans, p_spans, confusion, errors)

    labels = tuple(sorted(strict))
    per_label = {lab: PRF.from_counts(*strict[lab]) for lab in labels}
    partial_per_label = {lab: PRF.from_counts(*partial[lab]) for lab in labels}
    return Evaluation(
        micro=_pooled(per_label.values()),
        macro=_macro(list(per_label.values())),
        per_label=per_label,
        partial=_pooled(partial_per_label.values()),
        partial_per_label=partial_per_label,
        confusion={g: dict(sorted(row.items())) for g, row in sorted(confusion.items())},
        errors={k: errors[k] for k in _ERROR_KINDS},
        documents=len(gold_by_id) + len(missing_in_gold),
        missing_in_pred=missing_in_pred,
        missing_in_gold=missing_in_gold,
        labels=labels,
    )


def _index(docs: Iterable[Doc], side: str) -> dict[str, Doc]:
    out: dict[str, Doc] = {}
    for d in docs:
        if d.id in out:
            raise InputError(
                f"{side} holds document id {d.id!r} more than once",
                hint="give every document a unique id before scoring",
            )
        out[d.id] = d
    return out


def _show(ids: Sequence[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:_SHOWN_IDS])
    return shown + (f", … {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else "")


def _pooled(prfs: Iterable[PRF]) -> PRF:
    tp = fp = fn = 0
    for s in prfs:
        tp, fp, fn = tp + s.tp, fp + s.fp, fn + s.fn
    return PRF.from_counts(tp, fp, fn)


def _macro(prfs: list[PRF]) -> PRF:
    pooled = _pooled(prfs)
    n = len(prfs)
    return PRF(
        pooled.tp,
        pooled.fp,
        pooled.fn,
        _ratio(sum(s.precision for s in prfs), n),
        _ratio(sum(s.recall for s in prfs), n),
        _ratio(sum(s.f1 for s in prfs), n),
    )


def _count_strict(gold: Sequence[Span], pred: Sequence[Span], into: dict[str, list[int]]) -> None:
    g, p = Counter(gold), Counter(pred)
    for span, n in g.items():
        into.setdefault(span.label, [0, 0, 0])[2] += n
    for span, n in p.items():
        into.setdefault(span.label, [0, 0, 0])[1] += n
    for span, n in (g & p).items():
        row = into[span.label]
        row[0] += n
        row[1] -= n
        row[2] -= n


def _count_partial(gold: Sequence[Span], pred: Sequence[Span], into: dict[str, list[int]]) -> None:
    for span in gold:
        into.setdefault(span.label, [0, 0, 0])[2] += 1
    for span in pred:
        into.setdefault(span.label, [0, 0, 0])[1] += 1
    pairs = _max_matching(list(gold), list(pred), lambda g, p: g.label == p.label)
    for g_i in pairs:
        row = into[gold[g_i].label]
        row[0] += 1
        row[1] -= 1
        row[2] -= 1


_TIERS: tuple[tuple[str, Callable[[Span, Span], bool]], ...] = (
    ("correct", lambda g, p: g == p),
    ("label", lambda g, p: (g.start, g.end) == (p.start, p.end)),
    ("boundary", lambda g, p: g.label == p.label),
    ("label_and_boundary", lambda g, p: True),
)
_ERROR_KINDS = (*(name for name, _ in _TIERS), "missed", "spurious")


def _count_confusion(
    gold: Sequence[Span],
    pred: Sequence[Span],
    into: dict[str, Counter[str]],
    errors: Counter[str],
) -> None:
    g_left, p_left = list(gold), list(pred)
    for name, same in _TIERS:
        pairs = _max_matching(g_left, p_left, same)
        for g_i, p_i in pairs.items():
            into.setdefault(g_left[g_i].label, Counter())[p_left[p_i].label] += 1
        errors[name] += len(pairs)
        g_left = [s for i, s in enumerate(g_left) if i not in pairs]
        taken = set(pairs.values())
        p_left = [s for i, s in enumerate(p_left) if i not in taken]
    for s in g_left:
        into.setdefault(s.label, Counter())[OUTSIDE] += 1
    for s in p_left:
        into.setdefault(OUTSIDE, Counter())[s.label] += 1
    errors["missed"] += len(g_left)
    errors["spurious"] += len(p_left)


def _max_matching(
    gold: Sequence[Span], pred: Sequence[Span], same: Callable[[Span, Span], bool]
) -> dict[int, int]:
    """A maximum one-to-one matching (gold index -> pred index) between overlapping
    spans for which ``same(gold, pred)`` holds (Kuhn's augmenting paths, iterative)."""
    if not gold or not pred:
        return {}
    adj = _overlap_candidates(gold, pred, same)
    gold_of: dict[int, int] = {}  # pred index -> gold index
    pred_of: dict[int, int] = {}  # gold index -> pred index
    for root, nbrs in enumerate(adj):
        if nbrs:
            _augment(root, adj, gold_of, pred_of)
    return pred_of


def _overlap_candidates(
    gold: Sequence[Span], pred: Sequence[Span], same: Callable[[Span, Span], bool]
) -> list[list[int]]:
    order = sorted(range(len(pred)), key=lambda i: (pred[i].start, pred[i].end, pred[i].label))
    starts = [pred[i].start for i in order]
    longest = max(s.end - s.start for s in pred)
    adj: list[list[int]] = []
    for g in gold:
        lo = bisect_right(starts, g.start - longest)
        hi = bisect_left(starts, g.end)
        adj.append(
            [
                order[k]
                for k in range(lo, hi)
                if pred[order[k]].end > g.start and same(g, pred[order[k]])
            ]
        )
    return adj


def _augment(
    root: int, adj: list[list[int]], gold_of: dict[int, int], pred_of: dict[int, int]
) -> bool:
    """Find an augmenting path from gold ``root``; apply it and return True if found."""
    reached_by: dict[int, int] = {}  # pred index -> gold index it was reached from
    stack = [(root, iter(adj[root]))]
    while stack:
        g, nbrs = stack[-1]
        for p in nbrs:
            if p in reached_by:
                continue
            reached_by[p] = g
            owner = gold_of.get(p)
            if owner is None:
                while True:  # flip the path back to the root
                    g = reached_by[p]
                    previous = pred_of.get(g)
                    gold_of[p], pred_of[g] = g, p
                    if g == root:
                        return True
                    p = previous  # type: ignore[assignment]
            stack.append((owner, iter(adj[owner])))
            break
        else:
            stack.pop()
    return False
