"""Corpus statistics: the counts the sample-size analysis is built on.

Sentences and tokens are the document's own boundaries when its format carried
them (CoNLL/IOB, DocBin), else derived with :func:`nercurve.corpus.segment.segment`
(spaCy, imported only when a document needs it). EPS is entities per sentence.

For many subsets of one corpus (a study design), call :func:`doc_counts` once and
:meth:`DocCounts.describe` per subset: segmentation then happens once, and each
subset costs a few array sums.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np

from nercurve.corpus.model import Doc
from nercurve.errors import InputError


def _segmented(docs: Iterable[Doc]) -> list[Doc]:
    docs = list(docs)
    if all(d.sentences is not None and d.tokens is not None for d in docs):
        return docs
    from nercurve.corpus.segment import segment

    return segment(docs)


def _eps(entities: float, sentences: float) -> float:
    """Entities per sentence; 0.0 when there are no sentences."""
    return float(entities) / float(sentences) if sentences else 0.0


@dataclass(frozen=True)
class SubsetStats:
    """Size of a set of documents: the predictors of the sample-size analysis."""

    documents: int
    sentences: int
    tokens: int
    entities: int
    eps: float

    def to_dict(self) -> dict[str, int | float]:
        """Plain-data form for JSON."""
        return {
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "entities": self.entities,
            "eps": self.eps,
        }


@dataclass(frozen=True, eq=False)
class DocCounts:
    """Per-document sentence, token and entity counts, aligned with ``ids``."""

    ids: tuple[str, ...]
    sentences: np.ndarray
    tokens: np.ndarray
    entities: np.ndarray

    @cached_property
    def _position(self) -> dict[str, int]:
        return {doc_id: i for i, doc_id in enumerate(self.ids)}

    @property
    def eps(self) -> np.ndarray:
        """Entities per sentence of each document (0 for a document without sentences)."""
        return np.divide(
            self.entities,
            self.sentences,
            out=np.zeros(len(self.ids), dtype=float),
            where=self.sentences > 0,
        )

    def positions(self, ids: Iterable[str]) -> np.ndarray:
        """Array positions of these document ids (an unknown id is an InputError)."""
        index = self._position
        try:
            return np.fromiter((index[i] for i in ids), dtype=np.intp)
        except KeyError as err:
            raise InputError(
                f"document id {err.args[0]!r} is not in the counted documents",
                hint="describe subsets of the documents that doc_counts() was given",
            ) from None

    def describe(self, ids: Iterable[str] | None = None) -> SubsetStats:
        """Totals over the documents with these ids (all documents when ``ids`` is None)."""
        if ids is None:
            sel = slice(None)
            n = len(self.ids)
        else:
            sel = self.positions(ids)
            n = len(sel)
        sentences = int(self.sentences[sel].sum())
        entities = int(self.entities[sel].sum())
        return SubsetStats(
            documents=n,
            sentences=sentences,
            tokens=int(self.tokens[sel].sum()),
            entities=entities,
            eps=_eps(entities, sentences),
        )


def doc_counts(docs: Iterable[Doc]) -> DocCounts:
    """Count sentences, tokens and entities of every document once (segmenting if needed)."""
    docs = _segmented(docs)
    n = len(docs)
    return DocCounts(
        ids=tuple(d.id for d in docs),
        sentences=np.fromiter((len(d.sentences or ()) for d in docs), dtype=np.int64, count=n),
        tokens=np.fromiter((len(d.tokens or ()) for d in docs), dtype=np.int64, count=n),
        entities=np.fromiter((len(d.spans) for d in docs), dtype=np.int64, count=n),
    )


def describe(docs: Iterable[Doc]) -> SubsetStats:
    """Documents, sentences, tokens, entities and EPS of a set of documents."""
    return doc_counts(docs).describe()


@dataclass(frozen=True)
class Summary:
    """Location and spread of a list of numbers (``sd`` is the sample SD, ddof=1)."""

    n: int
    mean: float | None
    sd: float | None
    min: float | None
    median: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        """Summarize ``values``; statistics that need more values than given are None."""
        if not len(values):
            return cls(0, None, None, None, None, None)
        arr = np.asarray(values, dtype=float)
        return cls(
            n=len(arr),
            mean=float(arr.mean()),
            sd=float(arr.std(ddof=1)) if len(arr) > 1 else None,
            min=float(arr.min()),
            median=float(np.median(arr)),
            max=float(arr.max()),
        )

    def to_dict(self) -> dict[str, float | int | None]:
        """Plain-data form for JSON."""
        return {
            "n": self.n,
            "mean": self.mean,
            "sd": self.sd,
            "min": self.min,
            "median": self.median,
            "max": self.max,
        }


@dataclass(frozen=True)
class CorpusStats:
    """Everything ``nercurve stats`` reports about a corpus.

    ``entity_tokens`` is the length of entities in tokens (the tokens a span
    overlaps), ``entity_chars`` their length in characters, and
    ``entity_token_counts`` how many entities have each token length.
    """

    documents: int
    sentences: int
    tokens: int
    entities: int
    eps: float
    entities_per_label: dict[str, int]
    eps_per_label: dict[str, float]
    sentences_per_doc: Summary
    tokens_per_doc: Summary
    entity_tokens: Summary
    entity_chars: Summary
    entity_token_counts: dict[int, int]

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON (token-length keys become strings)."""
        return {
            "documents": self.documents,
            "sentences": self.sentences,
            "tokens": self.tokens,
            "entities": self.entities,
            "eps": self.eps,
            "entities_per_label": dict(self.entities_per_label),
            "eps_per_label": dict(self.eps_per_label),
            "sentences_per_doc": self.sentences_per_doc.to_dict(),
            "tokens_per_doc": self.tokens_per_doc.to_dict(),
            "entity_tokens": self.entity_tokens.to_dict(),
            "entity_chars": self.entity_chars.to_dict(),
            "entity_token_counts": {str(k): v for k, v in self.entity_token_counts.items()},
        }


def corpus_stats(docs: Iterable[Doc]) -> CorpusStats:
    """Counts, EPS (total and per label), document sizes and entity lengths of a corpus."""
    docs = _segmented(docs)
    counts = doc_counts(docs)
    total = counts.describe()
    per_label = Counter(s.label for d in docs for s in d.spans)
    token_lengths: list[int] = []
    char_lengths: list[int] = []
    for d in docs:
        starts = [s for s, _ in d.tokens or ()]
        ends = [e for _, e in d.tokens or ()]
        for span in d.spans:
            token_lengths.append(
                max(0, bisect_left(starts, span.end) - bisect_right(ends, span.start))
            )
            char_lengths.append(span.end - span.start)
    labels = sorted(per_label)
    return CorpusStats(
        documents=total.documents,
        sentences=total.sentences,
        tokens=total.tokens,
        entities=total.entities,
        eps=total.eps,
        entities_per_label={lab: per_label[lab] for lab in labels},
        eps_per_label={lab: _eps(per_label[lab], total.sentences) for lab in labels},
        sentences_per_doc=Summary.of(counts.sentences),
        tokens_per_doc=Summary.of(counts.tokens),
        entity_tokens=Summary.of(token_lengths),
        entity_chars=Summary.of(char_lengths),
        entity_token_counts=dict(sorted(Counter(token_lengths).items())),
    )
