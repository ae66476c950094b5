"""Token-level B/I/O tags of every annotator over the tokens of the aligned documents.

Tokens are the document's tokens (spaCy's rule-based tokenizer where the format fixed
none), further split at every annotator's span boundary, so that a one-character boundary
difference is a tag difference and every span covers whole tokens.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

from nercurve.agreement.aligned import Aligned
from nercurve.corpus.model import Doc, Span

TAGS = {"O": 0, "B": 1, "I": 2}


@dataclass(frozen=True)
class TokenTags:
    """B/I/O tags (codes of :data:`TAGS`) per annotator, for all labels and per label."""

    overall: tuple[tuple[int, ...], ...]
    per_label: dict[str, tuple[tuple[int, ...], ...]]

    def of(self, annotator: int, label: str | None) -> tuple[int, ...]:
        """The tags of one annotator over all tokens of all documents."""
        return self.overall[annotator] if label is None else self.per_label[label][annotator]


def token_pieces(doc: Doc, cuts: set[int]) -> list[tuple[int, int]]:
    """The document's tokens split at every offset in ``cuts`` that falls inside one."""
    ordered = sorted(cuts)
    pieces = []
    for start, end in doc.tokens or ():
        inner = ordered[bisect_right(ordered, start) : bisect_left(ordered, end)]
        pieces.extend(pairwise([start, *inner, end]))
    return pieces


def token_tags(aligned: Aligned, labels: Sequence[str]) -> TokenTags:
    """B/I/O tags of every annotator over the shared refined tokens (see module doc)."""
    from nercurve.corpus.segment import segment

    firsts = segment([row[0] for row in aligned.docs])
    k = len(aligned.names)
    overall: list[list[int]] = [[] for _ in range(k)]
    per_label = {label: [[] for _ in range(k)] for label in labels}
    for first, row in zip(firsts, aligned.docs, strict=True):
        cuts = {x for doc in row for s in doc.spans for x in (s.start, s.end)}
        pieces = token_pieces(first, cuts)
        for j, doc in enumerate(row):
            owners = _owning_spans(pieces, doc.spans)
            prev = None
            for owner in owners:
                tag = TAGS["O"] if owner is None else TAGS["I"] if owner is prev else TAGS["B"]
                overall[j].append(tag)
                for label in labels:
                    per_label[label][j].append(
                        tag if owner is not None and owner.label == label else TAGS["O"]
                    )
                prev = owner
    return TokenTags(
        overall=tuple(tuple(t) for t in overall),
        per_label={label: tuple(tuple(t) for t in v) for label, v in per_label.items()},
    )


def _owning_spans(pieces: list[tuple[int, int]], spans: Sequence[Span]) -> list[Span | None]:
    """For each piece (in order), the span that contains it, if any."""
    owners: list[Span | None] = []
    k = 0
    for start, end in pieces:
        while k < len(spans) and spans[k].end <= start:
            k += 1
        inside = k < len(spans) and spans[k].start <= start and end <= spans[k].end
        owners.append(spans[k] if inside else None)
    return owners
