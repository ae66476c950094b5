"""Grammars for constrained decoding: the answers a question allows, built per input.

With ``constrained = true`` (the default) every answer of the ``llm`` backends is
decoded under a grammar (llguidance's Lark dialect, see :mod:`nercurve.backends.llm.decode`)
that allows exactly the answers that can be right in form:

- NER, ``json``: the JSON list the model is tuned on, written as ``json.dumps`` writes
  it (``[{"text": "...", "type": "..."}, ...]``, or a list of strings when the question
  asks for one type), where a mention is a sequence of consecutive *words* of the input
  copied with the input's own characters in between, and a type is one of the
  question's types;
- NER, ``inline``: the input copied word for word, with tags of the question's types
  around runs of words (no nesting);
- classification: one class name, or for multi-label data class names joined by ", ",
  each at most once and in sorted order as the gold answers list them (or ``none``).

The words of a text are runs of letters and digits and single other characters
(``\\w+|[^\\w\\s]``); a mention starts at the start of a word and ends at the end of
one, so "breast cancer", "BRCA1" and "BRCA1-linked" are mentions of "BRCA1-linked breast
cancer;", and "reast" or "cancer risk" are not. Mentions are written in the input's own
letter case.

Every grammar sets llguidance's ``no_forcing``: by default, where a grammar allows only
one continuation, llguidance admits only the tokenizer's own tokenization of those
bytes, which refuses tokens a model may rightly choose when the merge depends on text
still to come ("recombinants" is re|com|bin|ants, a forced "recombinant" re|comb|inant;
measured in ``bench/constrained_libs.py``).

A mention grammar has one terminal per word, ``W<i>: word_i (gap_i W<i+1>)?`` (every
mention that starts at word ``i``), so its size grows with the input's length, not with
the number of its word sequences (quadratic). An answer may still name the same
mention twice; the decoder stops such a loop
(:func:`~nercurve.backends.llm.answer.json_answer_done`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

_WORD = re.compile(r"\w+|[^\w\s]")
_HEADER = '%llguidance {"no_forcing": true}'


def lark(text: str) -> str:
    """``text`` as a Lark string literal."""
    return json.dumps(text, ensure_ascii=False)


def _json_inner(text: str) -> str:
    """``text`` as it appears between the quotes of a JSON string (``json.dumps`` rules)."""
    return json.dumps(text, ensure_ascii=False)[1:-1]


def words(text: str) -> list[tuple[int, int]]:
    """Start and end of every word of ``text`` (see the module docstring)."""
    return [(m.start(), m.end()) for m in _WORD.finditer(text)]


def _mention_terminals(text: str) -> list[str]:
    """``MENTION`` (any word sequence of ``text``, JSON-escaped) and its word terminals."""
    found = words(text)
    lines = []
    for i, (start, end) in enumerate(found):
        word = lark(_json_inner(text[start:end]))
        if i + 1 == len(found):
            lines.append(f"W{i}: {word}")
            continue
        gap = _json_inner(text[end : found[i + 1][0]])
        rest = f"{lark(gap)} W{i + 1}" if gap else f"W{i + 1}"
        lines.append(f"W{i}: {word} ({rest})?")
    return [f"MENTION: {' | '.join(f'W{i}' for i in range(len(found)))}", *lines]


def json_grammar(text: str, labels: Sequence[str], asked: str | None) -> str:
    """The JSON answers about ``text``: objects with ``labels`` as types, or, when the
    question ``asked`` for one type, strings."""
    if not words(text):
        return f'{_HEADER}\nstart: "[]"'
    if asked is not None:
        item = '"\\"" MENTION "\\""'
    else:
        types = " | ".join(lark(_json_inner(label)) for label in labels)
        item = f'"{{\\"text\\": \\"" MENTION "\\", \\"type\\": \\"" ({types}) "\\"}}"'
    return "\n".join([
        _HEADER,
        'start: "[" (item (", " item)*)? "]"',
        f"item: {item}",
        *_mention_terminals(text),
    ])


def inline_grammar(text: str, labels: Sequence[str], asked: str | None) -> str:
    """The inline answers about ``text``: its words in order, with runs of them wrapped in
    tags named by a type (``asked``, or any of ``labels``)."""
    found = words(text)
    if not found:
        return f"{_HEADER}\nstart: {lark(text)}"
    tags = [asked] if asked is not None else list(labels)
    lines = [_HEADER, "start: O0"]
    for i, (start, end) in enumerate(found):
        word = lark(text[start:end])
        last = i + 1 == len(found)
        after = "" if last else " ".join(
            [lark(text[end : found[i + 1][0]]), f"O{i + 1}"] if text[end : found[i + 1][0]]
            else [f"O{i + 1}"])
        options = [f"{word} {after}".strip()]
        for t, label in enumerate(tags):
            options.append(f"{lark(f'<{label}>')} T{t}_{i}")
            inside = [f"{word} {lark(f'</{label}>')} {after}".strip()]
            if not last:
                gap = text[end : found[i + 1][0]]
                inside.append(" ".join([word, *([lark(gap)] if gap else []), f"T{t}_{i + 1}"]))
            lines.append(f"T{t}_{i}: {' | '.join(inside)}")
        lines.append(f"O{i}: {' | '.join(options)}")
    return "\n".join(lines)


def class_grammar(labels: Sequence[str], multi_label: bool, none: str) -> str:
    """The answers naming a document's class; for multi-label data its classes, each at
    most once and in sorted order (as gold answers list them), or ``none``."""
    names = sorted(labels)
    if not multi_label:
        return f"{_HEADER}\nstart: {' | '.join(lark(n) for n in names)}"
    lines = [_HEADER, f"start: {lark(none)} | {' | '.join(f'c{i}' for i in range(len(names)))}"]
    for i, name in enumerate(names):
        rest = " | ".join(f"c{j}" for j in range(i + 1, len(names)))
        lines.append(f"c{i}: {lark(name)} ({lark(', ')} ({rest}))?" if rest
                     else f"c{i}: {lark(name)}")
    return "\n".join(lines)
