"""Document classes of a text-classification corpus: which classes a document carries, the
class scheme (single- or multi-label), class statistics, and per-document class counts for
designs and splits.

A document's classes are its ``cats`` scored at least :data:`POSITIVE` (spaCy's convention:
1.0 yes, 0.0 no). A corpus is **multi-label** when some document carries more than one
class; a document may then carry none. In a **single-label** corpus every document carries
exactly one class. The classes of a corpus are every category a document names (a 0.0 score
names one too), or the ``labels`` a caller fixes.

The **minority-class share** of a set of documents is the share of them that carry its
rarest class, counted over every class of the corpus (a class the set lacks gives 0): the
classification counterpart of entities per sentence, the covariate a study regresses on
besides size. It is 1/K for K perfectly balanced single-label classes and falls as the set
grows lopsided.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from nercurve.corpus.model import Doc
from nercurve.corpus.stats import Summary
from nercurve.errors import InputError

POSITIVE = 0.5
"""A category score at or above this names a class the document carries."""

_SHOWN = 5


def doc_classes(doc: Doc) -> tuple[str, ...]:
    """The classes a document carries, sorted."""
    return tuple(sorted(k for k, v in doc.cats.items() if v >= POSITIVE))


def has_classes(docs: Iterable[Doc]) -> bool:
    """Whether any document carries category labels (``cats``)."""
    return any(d.cats for d in docs)


@dataclass(frozen=True)
class ClassScheme:
    """The classes of a classification task and whether a document may carry several."""

    labels: tuple[str, ...]
    multi_label: bool

    def decide(self, scores: Mapping[str, float]) -> tuple[str, ...]:
        """The classes a model's scores name: the best-scoring class (single-label; ties go to
        the class first in ``labels``), or every class scored at least 0.5 (multi-label)."""
        if self.multi_label:
            return tuple(lab for lab in self.labels if scores.get(lab, 0.0) >= POSITIVE)
        if not scores:
            return ()
        best = max(self.labels, key=lambda lab: (scores.get(lab, float("-inf")),
                                                  -self.labels.index(lab)))
        return (best,)

    def cats(self, classes: Iterable[str]) -> dict[str, float]:
        """spaCy-style category scores: 1.0 for each of ``classes``, 0.0 for every other."""
        chosen = set(classes)
        return {lab: float(lab in chosen) for lab in self.labels}


def class_scheme(
    docs: Sequence[Doc], labels: Iterable[str] | None = None, *, source: str | None = None,
    strict: bool = True,
) -> ClassScheme:
    """The class scheme of classification documents (see the module docstring).

    Raises :class:`InputError` (naming ``source``) when no document names a class, or, when
    ``strict``, when a single-label corpus holds documents without a class (describing a
    corpus, ``strict=False`` counts them instead: :attr:`ClassStats.unclassified`).
    """
    names = set(labels or ())
    for d in docs:
        names.update(d.cats)
    if not names:
        raise InputError(
            "no document carries a class label",
            file=source,
            hint='a classification corpus gives each document a class: JSONL "label"/"labels"/'
            '"cats", a CSV/TSV label column, or a folder of text files per class',
        )
    carried = [doc_classes(d) for d in docs]
    multi = any(len(c) > 1 for c in carried)
    if strict and not multi:
        bare = [d.id for d, c in zip(docs, carried, strict=True) if not c]
        if bare:
            shown = ", ".join(repr(i) for i in bare[:_SHOWN])
            more = f" and {len(bare) - _SHOWN} more" if len(bare) > _SHOWN else ""
            raise InputError(
                f"{len(bare)} document(s) carry no class: {shown}{more}",
                file=source,
                hint="give every document one class (a --labels list may have left its class "
                "out: add it, or map it with --label-map); only multi-label data (some document "
                "with several classes) may hold documents without one",
            )
    return ClassScheme(tuple(sorted(names)), multi)


@dataclass(frozen=True, eq=False)
class ClassCounts:
    """Which classes each document carries (a documents × classes matrix), aligned with
    ``ids``; describes any subset of the documents by their class counts."""

    ids: tuple[str, ...]
    labels: tuple[str, ...]
    matrix: np.ndarray

    @cached_property
    def _position(self) -> dict[str, int]:
        return {doc_id: i for i, doc_id in enumerate(self.ids)}

    def positions(self, ids: Iterable[str]) -> np.ndarray:
        """Row positions of these document ids (an unknown id is an InputError)."""
        index = self._position
        try:
            return np.fromiter((index[i] for i in ids), dtype=np.intp)
        except KeyError as err:
            raise InputError(
                f"document id {err.args[0]!r} is not in the counted documents",
                hint="describe subsets of the documents that class_counts() was given",
            ) from None

    def counts(self, ids: Iterable[str] | None = None) -> dict[str, int]:
        """Documents carrying each class, over these ids (all documents when None)."""
        rows = self.matrix if ids is None else self.matrix[self.positions(ids)]
        return {lab: int(n) for lab, n in zip(self.labels, rows.sum(axis=0), strict=True)}

    def keys(self) -> np.ndarray:
        """One integer per document naming its combination of classes (for stratifying)."""
        _, inverse = np.unique(self.matrix, axis=0, return_inverse=True)
        return inverse.reshape(-1)


def minority_share(counts: Mapping[str, int], documents: int) -> float:
    """The share of ``documents`` carrying the rarest class of ``counts`` (0 when empty)."""
    if not documents or not counts:
        return 0.0
    return min(counts.values()) / documents


def class_counts(docs: Sequence[Doc], scheme: ClassScheme) -> ClassCounts:
    """The class matrix of documents under a scheme."""
    column = {lab: j for j, lab in enumerate(scheme.labels)}
    matrix = np.zeros((len(docs), len(scheme.labels)), dtype=bool)
    for i, doc in enumerate(docs):
        for lab in doc_classes(doc):
            if lab in column:
                matrix[i, column[lab]] = True
    return ClassCounts(tuple(d.id for d in docs), scheme.labels, matrix)


@dataclass(frozen=True)
class ClassStats:
    """The class distribution and text lengths of a classification corpus."""

    documents: int
    multi_label: bool
    counts: dict[str, int]
    shares: dict[str, float]
    minority_class: str | None
    minority_share: float
    classes_per_doc: Summary
    chars_per_doc: Summary
    #: Documents that carry no class (in single-label data, a gap in the annotation).
    unclassified: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        return {
            "documents": self.documents,
            "multi_label": self.multi_label,
            "counts": dict(self.counts),
            "shares": dict(self.shares),
            "minority_class": self.minority_class,
            "minority_share": self.minority_share,
            "classes_per_doc": self.classes_per_doc.to_dict(),
            "chars_per_doc": self.chars_per_doc.to_dict(),
            "unclassified": self.unclassified,
        }


def class_stats(docs: Sequence[Doc], scheme: ClassScheme | None = None) -> ClassStats:
    """Documents per class, their shares, the minority class and share, classes per document,
    characters per document and the documents without a class (the scheme is derived from the
    documents when None, without requiring a class of every document)."""
    scheme = scheme or class_scheme(docs, strict=False)
    counts = class_counts(docs, scheme).counts()
    n = len(docs)
    rarest = min(scheme.labels, key=lambda lab: (counts[lab], lab)) if scheme.labels else None
    return ClassStats(
        documents=n,
        multi_label=scheme.multi_label,
        counts=counts,
        shares={lab: (c / n if n else 0.0) for lab, c in counts.items()},
        minority_class=rarest,
        minority_share=minority_share(counts, n),
        classes_per_doc=Summary.of([len(doc_classes(d)) for d in docs]),
        chars_per_doc=Summary.of([len(d.text) for d in docs]),
        unclassified=sum(not doc_classes(d) for d in docs),
    )
