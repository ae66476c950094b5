"""The corpus model: documents as text plus character-offset spans.

Tokens and sentences are derived views (see :mod:`nercurve.corpus.segment`); a
format that carries its own boundaries (CoNLL, DocBin) keeps them on the document.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

Offsets = tuple[tuple[int, int], ...]


@dataclass(frozen=True, order=True)
class Span:
    """An entity mention: ``text[start:end]`` carries ``label``."""

    start: int
    end: int
    label: str

    def overlaps(self, other: Span) -> bool:
        """True when the two spans share at least one character."""
        return self.start < other.end and other.start < self.end


@dataclass(frozen=True)
class Doc:
    """One annotated document.

    ``sentences`` and ``tokens`` are character-offset pairs when the source format
    fixed them, else ``None`` (derived on demand). ``cats`` holds document-level
    labels for text-classification studies; ``meta`` anything format-specific that
    a writer may want back (e.g. the PubTator title/abstract split).
    """

    id: str
    text: str
    spans: tuple[Span, ...] = ()
    sentences: Offsets | None = None
    tokens: Offsets | None = None
    cats: dict[str, float] = field(default_factory=dict, compare=False)
    meta: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "spans", tuple(sorted(self.spans)))

    def with_spans(self, spans: Sequence[Span]) -> Doc:
        """The same document with other spans (e.g. a model's predictions)."""
        return replace(self, spans=tuple(spans))

    def span_text(self, span: Span) -> str:
        """The text a span covers."""
        return self.text[span.start : span.end]


@dataclass(frozen=True)
class Notice:
    """One counted repair or warning made while reading input."""

    kind: str
    message: str
    file: str | None = None
    line: int | None = None
    doc_id: str | None = None

    def __str__(self) -> str:
        where = ""
        if self.file is not None:
            where = self.file if self.line is None else f"{self.file}:{self.line}"
            where += ": "
        return f"{where}{self.message}"

    def to_dict(self) -> dict[str, Any]:
        """Plain-data form for JSON."""
        return {
            "kind": self.kind,
            "file": self.file,
            "line": self.line,
            "doc_id": self.doc_id,
            "message": self.message,
        }


@dataclass
class Corpus:
    """An ordered collection of documents with unique ids, plus what reading repaired."""

    docs: list[Doc]
    source: str = ""
    notices: list[Notice] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.docs)

    def __iter__(self) -> Iterator[Doc]:
        return iter(self.docs)

    def __getitem__(self, index: int) -> Doc:
        return self.docs[index]

    @property
    def ids(self) -> list[str]:
        """Document ids in corpus order."""
        return [d.id for d in self.docs]

    def by_id(self) -> dict[str, Doc]:
        """Documents keyed by id."""
        return {d.id: d for d in self.docs}

    def subset(self, ids: Sequence[str]) -> Corpus:
        """The documents with these ids, in the given order."""
        index = self.by_id()
        return Corpus([index[i] for i in ids], source=self.source)

    def labels(self) -> list[str]:
        """Sorted entity labels that occur in the corpus."""
        return sorted({s.label for d in self.docs for s in d.spans})

    def notice_counts(self) -> Counter[str]:
        """How many notices of each kind reading produced."""
        return Counter(n.kind for n in self.notices)
