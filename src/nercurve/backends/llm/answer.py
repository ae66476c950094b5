"""From a generated answer to character spans: parsing, voting, locating, overlaps, counts.

An answer is parsed into entities, (text, type) pairs, in one of two forms:

- ``json`` (the default): a JSON list of ``{"text": ..., "type": ...}`` objects, or of
  plain strings when the question asked for a single type (``per_type_prompts``).
  Text around the list is ignored (a model that says "Here are the entities:" first
  still parses). A list that was opened but never closed (an answer cut at the token
  limit, or stopped in a loop) is *partial*: the items complete before the cut are
  kept, the rest is lost, and the answer is counted as partial, not as a failure. No
  list at all, an empty answer, or an opened list without a single complete item is
  *unparseable*.
- ``inline``: a copy of the text with each entity wrapped in tags named by its type,
  ``<Disease>breast cancer</Disease>``. A tag left open at the end (an answer cut at
  the token limit) makes it partial, the entities closed before kept; a close without
  an open, nested or mismatched tags, or an empty answer make it unparseable; an answer
  without tags is a valid "no entities".

Items that are not entities (a number, an object without ``text``, an empty text) and
types outside the label set (matched case-insensitively) are dropped and counted as
*invalid*. The same entity twice in one answer counts once.

Each entity is located in its text: every occurrence of its text is tagged (the
annotation guidelines of the corpora we target tag every mention, and the answer
names a mention by its text only, so there is no telling which occurrence was
meant). The case policy: occurrences are found letter case aside ("cancer" tags
"cancer", "Cancer" and "CANCER" alike: a mention's case changes at the start of a
sentence, in titles and in abbreviations, never its identity), each occurrence keeps
the text's own characters. Occurrences must start and end at word boundaries (an
entity ``cancer`` is not found inside ``cancers``). An entity found nowhere is a
*hallucination*, counted and dropped. Overlapping spans are then resolved as the corpus
readers do: ``longest`` keeps the longest (ties: the one named first), ``first`` the
one named first.

Self-consistency (:func:`vote`) keeps an entity when at least ``min_votes`` of the
sampled answers name it; entities are compared by type and case-folded text, and a
kept entity takes the spelling most answers used.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nercurve.corpus.model import Span

_TAG = re.compile(r"<(/?)([A-Za-z][\w.\- ]*)>")
_OBJECT = re.compile(r"\{[^{}]*\}")  # a complete item of a list of objects
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')  # a complete item of a list of strings
_COMMA = re.compile(r"\s*,\s*")  # between two items of a list


@dataclass(frozen=True)
class Entity:
    """An entity as an answer names it: its text and its type (a label of the label set)."""

    text: str
    label: str


@dataclass(frozen=True)
class Parsed:
    """One answer, parsed: the distinct entities in answer order, whether it parsed at all,
    how many items were dropped as invalid, and whether it was cut before its end (the
    entities complete before the cut are kept)."""

    entities: tuple[Entity, ...] = ()
    ok: bool = True
    invalid: int = 0
    partial: bool = False


def parse_json(answer: str, labels: Sequence[str], *, only: str | None = None) -> Parsed:
    """Parse a JSON-list answer; ``only`` is the single type the question asked for."""
    items = first_json_list(answer)
    if items is not None:
        return _entities(items, labels, only)
    complete = _complete_items(answer)
    if not complete:
        return Parsed(ok=False)
    parsed = _entities(complete, labels, only)
    return Parsed(parsed.entities, ok=True, invalid=parsed.invalid, partial=True)


def _complete_items(answer: str) -> list[object]:
    """The items complete before the cut of a list that never closes (``[]``: none)."""
    start = answer.find("[")
    if start < 0:
        return []
    rest = answer[start + 1 :].lstrip()
    pattern = _OBJECT if rest.startswith("{") else _STRING
    items: list[object] = []
    at = 0
    while match := pattern.match(rest, at):
        try:
            items.append(json.loads(match.group()))
        except json.JSONDecodeError:
            break
        at = match.end()
        separator = _COMMA.match(rest, at)
        if separator is None:
            break
        at = separator.end()
    return items


def json_answer_done(answer: str) -> bool:
    """Whether a JSON answer being generated can stop: its list is complete, or it names
    an item a second time. The answers a model is tuned on never repeat an item, and a
    model that starts to (small models do, greedily) repeats it until the token limit;
    such an answer is partial (its distinct items kept), only its generation ends sooner."""
    if first_json_list(answer) is not None:
        return True
    start = answer.find("[")
    if start < 0:
        return False
    rest = answer[start + 1 :].lstrip()
    items = (_OBJECT if rest.startswith("{") else _STRING).findall(rest)
    return len(items) != len(set(items))


def first_json_list(answer: str) -> list[object] | None:
    """The first complete JSON list in ``answer`` (``None``: there is none)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"\[", answer):
        try:
            value, _ = decoder.raw_decode(answer, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, list):
            return value
    return None


def parse_inline(answer: str, labels: Sequence[str], *, only: str | None = None) -> Parsed:
    """Parse an inline-tagged answer; ``only`` is the single type the question asked for."""
    if not answer.strip():
        return Parsed(ok=False)
    items: list[dict[str, str]] = []
    open_tag: re.Match[str] | None = None
    for tag in _TAG.finditer(answer):
        closing = tag.group(1) == "/"
        if closing == (open_tag is None) or (
            closing and open_tag is not None and tag.group(2) != open_tag.group(2)
        ):
            return Parsed(ok=False)  # a close without an open, nesting, or a mismatch
        if closing and open_tag is not None:
            items.append({"text": answer[open_tag.end() : tag.start()], "type": tag.group(2)})
            open_tag = None
        else:
            open_tag = tag
    parsed = _entities(items, labels, only)
    if open_tag is not None:  # cut inside an entity: the ones closed before are kept
        return Parsed(parsed.entities, ok=True, invalid=parsed.invalid, partial=True)
    return parsed


def _entities(items: list[object], labels: Sequence[str], only: str | None) -> Parsed:
    by_fold = {label.casefold(): label for label in labels}
    found: dict[Entity, None] = {}
    invalid = 0
    for item in items:
        if isinstance(item, str) and only is not None:
            text, label = item, only
        elif isinstance(item, dict) and isinstance(item.get("text"), str):
            kind = item.get("type")
            label = only if only is not None else (
                by_fold.get(kind.strip().casefold()) if isinstance(kind, str) else None
            )
            text = item["text"]
        else:
            invalid += 1
            continue
        if label is None or not text.strip():
            invalid += 1
            continue
        found.setdefault(Entity(text.strip(), label))
    return Parsed(tuple(found), ok=True, invalid=invalid)


def vote(answers: Sequence[Sequence[Entity]], min_votes: int) -> list[Entity]:
    """The entities named by at least ``min_votes`` answers, in order of first mention.

    Entities are compared by type and case-folded text; each answer votes once per
    entity; a kept entity takes its most frequent spelling (ties: the earliest).
    """
    votes: Counter[tuple[str, str]] = Counter()
    spellings: dict[tuple[str, str], Counter[str]] = {}
    for answer in answers:
        keys = {}
        for entity in answer:
            key = (entity.text.casefold(), entity.label)
            keys.setdefault(key, entity.text)
        for key, text in keys.items():
            votes[key] += 1
            spellings.setdefault(key, Counter())[text] += 1
    return [
        Entity(spellings[key].most_common(1)[0][0], key[1])
        for key in spellings  # insertion order: first mention
        if votes[key] >= min_votes
    ]


def vote_settled(answers: Sequence[Sequence[Entity]], samples: int, min_votes: int) -> bool:
    """Whether the :func:`vote` of ``samples`` answers is settled by the first ``answers``
    already: every entity named has its ``min_votes``, or could not reach them with the
    answers still to come, and an entity not named yet could not either."""
    left = samples - len(answers)
    if left >= min_votes:
        return False
    votes = Counter(key for answer in answers
                    for key in {(e.text.casefold(), e.label) for e in answer})
    return all(n >= min_votes or n + left < min_votes for n in votes.values())


def locate(entities: Iterable[Entity], text: str) -> tuple[list[Span], int]:
    """Every occurrence of each entity in ``text``, letter case aside, as spans (in entity
    order, then position), and how many entities were found nowhere (hallucinations)."""
    spans: list[Span] = []
    missing = 0
    for entity in entities:
        hits = _occurrences(text, entity.text)
        if not hits:
            missing += 1
        spans.extend(Span(s, e, entity.label) for s, e in hits)
    return spans, missing


def _occurrences(text: str, needle: str) -> list[tuple[int, int]]:
    """Start and end of every occurrence of ``needle`` (overlapping ones too), letter case
    aside, that starts and ends at a word boundary."""
    found = []
    for match in re.finditer(f"(?=({re.escape(needle)}))", text, re.IGNORECASE):
        at, end = match.start(1), match.end(1)
        if not (_joined(text, at - 1, needle[0]) or _joined(text, end, needle[-1])):
            found.append((at, end))
    return found


def _joined(text: str, i: int, edge: str) -> bool:
    """Whether the character at ``i`` continues a word that the entity's ``edge`` ends."""
    return 0 <= i < len(text) and edge.isalnum() and text[i].isalnum()


def resolve_overlaps(spans: Sequence[Span], policy: str) -> list[Span]:
    """Non-overlapping spans, sorted: ``longest`` or ``first`` (in the given order) wins."""
    order = list(dict.fromkeys(spans))
    if policy == "longest":
        order.sort(key=lambda s: s.start - s.end)  # stable: ties keep their order
    kept: list[Span] = []
    for span in order:
        if not any(span.overlaps(k) for k in kept):
            kept.append(span)
    return sorted(kept)


@dataclass
class AnswerStats:
    """Counts over the answers of one ``predict`` call."""

    answers: int = 0
    parse_failures: int = 0
    partial: int = 0
    entities: int = 0
    hallucinations: int = 0
    invalid: int = 0

    def add(self, parsed: Parsed, hallucinated: int) -> None:
        """Count one answer and how many of its entities were found nowhere."""
        self.answers += 1
        self.parse_failures += not parsed.ok
        self.partial += parsed.partial
        self.entities += len(parsed.entities)
        self.invalid += parsed.invalid
        self.hallucinations += hallucinated

    def as_dict(self) -> dict[str, float]:
        """The counts and rates (failures per answer, hallucinations per entity named)."""
        return {
            "answers": float(self.answers),
            "parse_failures": float(self.parse_failures),
            "parse_failure_rate": self.parse_failures / self.answers if self.answers else 0.0,
            "partial_answers": float(self.partial),
            "entities_named": float(self.entities),
            "hallucinations": float(self.hallucinations),
            "hallucination_rate": self.hallucinations / self.entities if self.entities else 0.0,
            "invalid_entities": float(self.invalid),
        }
