"""Derived views: sentences and tokens from a spaCy rule-based tokenizer and sentencizer.

spaCy is imported lazily so commands that never segment start fast.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from functools import lru_cache
from typing import Any

from nercurve.corpus.model import Doc


@lru_cache(maxsize=1)
def _nlp() -> Any:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer")
    return nlp


def segment(docs: Sequence[Doc]) -> list[Doc]:
    """Fill in ``sentences`` and ``tokens`` where the source format did not fix them.

    Documents that already carry both are returned unchanged. Text is segmented
    with spaCy's English tokenizer and rule-based sentencizer (texts of any length, even
    over spaCy's 1,000,000-character default limit); derived sentence
    boundaries never cut through an entity span (a sentence end that would is
    moved to the entity's end).
    """
    todo = [i for i, d in enumerate(docs) if d.sentences is None or d.tokens is None]
    out = list(docs)
    if not todo:
        return out
    nlp = _nlp()
    # spaCy refuses texts over nlp.max_length (E088, 1,000,000 characters) to protect the
    # memory of parsers and NER models; a tokenizer and a rule-based sentencizer need none
    nlp.max_length = max(nlp.max_length, *(len(docs[i].text) + 1 for i in todo))
    for i, sdoc in zip(todo, nlp.pipe(docs[i].text for i in todo), strict=True):
        d = docs[i]
        tokens = d.tokens
        if tokens is None:
            tokens = tuple(
                (t.idx, t.idx + len(t.text)) for t in sdoc if not t.is_space
            )
        sentences = d.sentences
        if sentences is None:
            sentences = _sentences_respecting_spans(
                [(s.start_char, s.end_char) for s in sdoc.sents if s.text.strip()], d
            )
        out[i] = replace(d, tokens=tokens, sentences=sentences)
    return out


def _sentences_respecting_spans(
    sents: list[tuple[int, int]], doc: Doc
) -> tuple[tuple[int, int], ...]:
    """Merge sentences whose boundary falls inside an entity span."""
    merged: list[tuple[int, int]] = []
    for start, end in sents:
        if merged and any(s.start < start < s.end for s in doc.spans):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return tuple(merged)
