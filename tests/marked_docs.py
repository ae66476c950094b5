"""Small hand-written documents for the agreement and adjudication tests."""

from __future__ import annotations

import re

from nercurve.corpus.model import Doc, Span


def doc(doc_id: str, text: str, *marks: tuple[str, str]) -> Doc:
    """A document whose spans are given as (substring, label); tokens split words/punct."""
    spans = []
    for sub, label in marks:
        start = text.index(sub)
        spans.append(Span(start, start + len(sub), label))
    tokens = tuple(m.span() for m in re.finditer(r"\w+|[^\w\s]", text))
    return Doc(doc_id, text, tuple(spans), sentences=((0, len(text)),), tokens=tokens)
