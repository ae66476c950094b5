"""Words, subwords and windows: between character spans and a transformer's label positions.

The words of a document are its tokens (character offsets; blank ones are
skipped). Each word is tagged BIO from the spans it overlaps and encoded by the
tokenizer as a pre-split word; the word's label sits on its first subword and
every other position is ignored (label ``-100``).

Training and prediction run on *windows*: runs of consecutive words whose
subwords fit in the model's length (``budget`` = maximum length minus the
tokenizer's special tokens). A document that fits is one window; a longer one is
cut into windows that overlap by at most ``overlap`` subwords. Every word is
*owned* by exactly one window, the one where it sits nearer the middle (the
overlap is split at its midpoint), so a word is labelled once in training and
predicted from the window that gives it the most context on both sides.
Predicted word tags become character spans by BIO decoding, where an ``I-X``
that does not continue an ``X`` entity starts one.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from nercurve.corpus.model import Doc, Span
from nercurve.errors import ConfigError

IGNORE = -100
"""The label of positions the loss skips (special tokens, non-first subwords, context)."""

Words = list[tuple[int, int]]


def doc_words(doc: Doc) -> Words:
    """The document's non-blank tokens as (start, end) character offsets."""
    if doc.tokens is None:
        raise ValueError(f"document {doc.id!r} has no tokens; segment it first")
    return [(s, e) for s, e in doc.tokens if doc.text[s:e].strip()]


def label_list(labels: Sequence[str]) -> list[str]:
    """The BIO tag set for entity labels: ``O``, then ``B-X``, ``I-X`` per sorted label."""
    return ["O", *(f"{p}-{lab}" for lab in sorted(set(labels)) for p in ("B", "I"))]


def bio_tags(words: Words, spans: Sequence[Span]) -> list[str]:
    """BIO tag per word: a word belongs to the first span it overlaps."""
    tags = ["O"] * len(words)
    starts = [s for s, _ in words]
    ends = [e for _, e in words]
    for span in spans:
        lo = bisect_right(ends, span.start)  # first word ending after the span starts
        hi = bisect_left(starts, span.end)  # first word starting at or after the span ends
        inside = False
        for i in range(lo, hi):
            if tags[i] != "O":
                continue
            tags[i] = f"{'I' if inside else 'B'}-{span.label}"
            inside = True
    return tags


def spans_from_tags(words: Words, tags: Sequence[str]) -> list[Span]:
    """Character spans from word BIO tags (an I- tag that continues nothing opens a span)."""
    spans: list[Span] = []
    label: str | None = None
    start = end = 0
    for (ws, we), tag in zip(words, tags, strict=True):
        kind, _, lab = tag.partition("-")
        if kind == "I" and lab == label:
            end = we
            continue
        if label is not None:
            spans.append(Span(start, end, label))
            label = None
        if kind in ("B", "I"):
            label, start, end = lab, ws, we
    if label is not None:
        spans.append(Span(start, end, label))
    return spans


@dataclass(frozen=True)
class Window:
    """Words ``[start, end)`` go into the model; words ``[own_start, own_end)`` are labelled."""

    start: int
    end: int
    own_start: int
    own_end: int


def plan_windows(counts: Sequence[int], budget: int, overlap: int) -> list[Window]:
    """Windows over words with ``counts`` subwords each (each count at most ``budget``)."""
    if budget < 1 or not 0 <= 2 * overlap < budget:
        raise ValueError(f"need 0 <= 2 * overlap < budget, got overlap {overlap}, budget {budget}")
    n = len(counts)
    spans: list[tuple[int, int]] = []
    start = 0
    while start < n or not spans:
        end, used = start, 0
        while end < n and used + counts[end] <= budget:
            used += counts[end]
            end += 1
        spans.append((start, end))
        if end >= n:
            break
        nxt, back = end, 0
        room = min(overlap, budget - counts[end])  # the next window must take word ``end``
        while nxt - 1 > start and back + counts[nxt - 1] <= room:
            nxt -= 1
            back += counts[nxt]
        start = nxt
    windows: list[Window] = []
    own_start = 0
    for k, (s, e) in enumerate(spans):
        own_end = n if k == len(spans) - 1 else max(own_start, (spans[k + 1][0] + e) // 2)
        windows.append(Window(s, e, own_start, own_end))
        own_start = own_end
    return windows


@dataclass(frozen=True)
class Example:
    """One window as model input: ids, labels, and where each owned word's first subword is."""

    doc: int
    input_ids: list[int]
    labels: list[int]
    positions: dict[int, int]  # word index -> position of its first subword


class Encoder:
    """Turns documents into windows of subword ids for one tokenizer and length."""

    def __init__(self, tokenizer: Any, max_length: int, overlap: int) -> None:
        probe = tokenizer(["x"], is_split_into_words=True)
        word_ids = probe.word_ids()
        first = word_ids.index(0)
        last = len(word_ids) - 1 - word_ids[::-1].index(0)
        self.tokenizer = tokenizer
        self.prefix: list[int] = list(probe["input_ids"][:first])
        self.suffix: list[int] = list(probe["input_ids"][last + 1 :])
        self.budget = max_length - len(self.prefix) - len(self.suffix)
        self.overlap = overlap
        if self.budget < 1 or not 0 <= 2 * overlap < self.budget:
            raise ConfigError(
                f"window_overlap {overlap} must be under half of the {self.budget} subwords "
                f"a window of max_length {max_length} holds for this tokenizer",
                hint="raise max_length or lower window_overlap in the backend parameters",
            )

    def pieces(self, texts: Sequence[Sequence[str]]) -> list[list[list[int]]]:
        """Subword ids per word per document (each word cut to at most ``budget`` subwords)."""
        out: list[list[list[int]]] = [[] for _ in texts]
        todo = [i for i, words in enumerate(texts) if words]
        if not todo:
            return out
        enc = self.tokenizer(
            [list(texts[i]) for i in todo],
            is_split_into_words=True,
            add_special_tokens=False,
            verbose=False,
        )
        for row, i in enumerate(todo):
            per_word: list[list[int]] = [[] for _ in texts[i]]
            for tok, w in zip(enc["input_ids"][row], enc.word_ids(row), strict=True):
                if w is not None and len(per_word[w]) < self.budget:
                    per_word[w].append(tok)
            out[i] = per_word
        return out

    def examples(
        self,
        docs: Sequence[Doc],
        words: Sequence[Words],
        tags: Sequence[Sequence[int]] | None = None,
    ) -> list[Example]:
        """Windows of every document; ``tags`` (label ids per word) fill the labels."""
        texts = [[d.text[s:e] for s, e in w] for d, w in zip(docs, words, strict=True)]
        out: list[Example] = []
        for i, per_word in enumerate(self.pieces(texts)):
            if not per_word:
                continue
            for win in plan_windows([len(p) for p in per_word], self.budget, self.overlap):
                ids = list(self.prefix)
                labels = [IGNORE] * len(ids)
                positions: dict[int, int] = {}
                for w in range(win.start, win.end):
                    if per_word[w] and win.own_start <= w < win.own_end:
                        positions[w] = len(ids)
                        labels.append(tags[i][w] if tags is not None else IGNORE)
                        labels.extend([IGNORE] * (len(per_word[w]) - 1))
                    else:
                        labels.extend([IGNORE] * len(per_word[w]))
                    ids.extend(per_word[w])
                ids.extend(self.suffix)
                labels.extend([IGNORE] * len(self.suffix))
                out.append(Example(i, ids, labels, positions))
        return out


def decode(
    words: Sequence[Words],
    examples: Sequence[Example],
    found: Sequence[dict[int, int]],
    tags: Sequence[str],
) -> list[tuple[Span, ...]]:
    """Spans per document from the label ids ``found`` for each example's owned words."""
    per_doc = [["O"] * len(w) for w in words]
    for example, labels in zip(examples, found, strict=True):
        for w, label in labels.items():
            per_doc[example.doc][w] = tags[label]
    return [tuple(spans_from_tags(w, t)) for w, t in zip(words, per_doc, strict=True)]
