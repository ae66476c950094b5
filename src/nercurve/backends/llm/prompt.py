"""Instruction data for the ``llm`` backend: units of text, questions and gold answers.

A *unit* is one sentence, or a window of ``sentences_per_unit`` consecutive sentences
(sentence boundaries from the corpus, else from :func:`nercurve.corpus.segment.segment`,
which never cuts an entity). Every unit becomes one question naming every entity
type, or one question per type (``per_type_prompts``, the multi-task form).

In a multi-corpus study every document carries its corpus (``meta["corpus"]``) and
that corpus's entity types (``meta["corpus_labels"]``): its units are asked about
those types only, in training and prediction alike (one question naming them, or one
per type), so a model trained on several corpora learns "in corpus A, find A's types"
and never names another corpus's types on a document of A
(:meth:`Prompter.about`). With ``name_corpus`` the question also names the corpus:
``{types}`` becomes "Corpus: ncbi. Entity types: ...". A document without that meta
is asked about the study's types, as in a study of one corpus.

The question is the user template with three placeholders replaced: ``{text}`` (the
unit, required), ``{types}`` (the entity types with their optional one-line
descriptions) and ``{format}`` (how to answer). Braces elsewhere are kept as they
are, so a template may show JSON. With the model's chat template the question is a
user turn after an optional system turn, and few-shot examples are earlier
user/assistant turns; a model without a chat template gets the same parts as plain
text ending in ``Answer:``.

Why the JSON answer is the default: its length grows with the number of entities,
not with the sentence (a sentence without entities is answered with ``[]``, two
tokens), which matters when every answer is generated token by token; it parses
with the standard library and a broken answer is plainly broken; and it names
each entity once. The inline form (the sentence copied with tags) costs as many
generated tokens as the sentence and lets the model alter the copy; it is kept as
an option because some models were tuned on it.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from nercurve.backends.llm.answer import Parsed, parse_inline, parse_json
from nercurve.corpus.model import Doc, Span

TEXT, TYPES, FORMAT = "{text}", "{types}", "{format}"
DEFAULT_TEMPLATE = "{types}\n{format}\nText: {text}"
DEFAULT_SYSTEM = "You find named entities in text."


@dataclass(frozen=True)
class Unit:
    """A piece of a document asked about at once: its text, where it starts in the document,
    and its gold spans with offsets into the unit's text; in a multi-corpus study, its
    document's corpus and that corpus's entity types."""

    doc_index: int
    start: int
    text: str
    spans: tuple[Span, ...] = ()
    corpus: str | None = field(default=None, kw_only=True)
    corpus_labels: tuple[str, ...] | None = field(default=None, kw_only=True)


def units(docs: Sequence[Doc], sentences_per_unit: int = 1) -> list[Unit]:
    """The units of each document, in order (blank sentences skipped; entities that cross
    a unit boundary are left out of the unit's gold spans), with the document's corpus and
    its entity types where its meta names them."""
    from nercurve.corpus.segment import segment

    out = []
    for index, doc in enumerate(segment(docs)):
        labels = doc.meta.get("corpus_labels")
        scope = {"corpus": doc.meta.get("corpus"),
                 "corpus_labels": None if labels is None else tuple(labels)}
        sentences = [(s, e) for s, e in doc.sentences or () if doc.text[s:e].strip()]
        for i in range(0, len(sentences), sentences_per_unit):
            start = sentences[i][0]
            end = sentences[min(i + sentences_per_unit, len(sentences)) - 1][1]
            text = doc.text[start:end]
            start += len(text) - len(text.lstrip())
            text = text.strip()
            end = start + len(text)
            spans = tuple(
                Span(s.start - start, s.end - start, s.label)
                for s in doc.spans if start <= s.start and s.end <= end
            )
            out.append(Unit(index, start, text, spans, **scope))
    return out


@dataclass(frozen=True)
class PromptStyle:
    """How questions are asked and answered."""

    labels: tuple[str, ...]
    descriptions: Mapping[str, str]
    template: str = DEFAULT_TEMPLATE
    system: str | None = DEFAULT_SYSTEM
    answer_format: str = "json"
    per_type: bool = False
    name_corpus: bool = False
    """Name a unit's corpus in its questions (see the module docstring)."""
    corpus: str | None = None
    """The corpus named in the questions (set by :meth:`Prompter.about`)."""


class Prompter:
    """Questions, gold answers and answer parsing for one model's tokenizer and style;
    ``shots`` are few-shot examples put before every question."""

    def __init__(self, tokenizer: Any, style: PromptStyle, shots: Sequence[Unit] = ()) -> None:
        self.tokenizer = tokenizer
        self.style = style
        self.shots = tuple(shots)
        self.chat = bool(getattr(tokenizer, "chat_template", None))
        self._base = self

    def about(self, unit: Unit) -> Prompter:
        """The prompter of the questions about ``unit``: one that asks for the types of the
        unit's corpus only (and names the corpus, with ``name_corpus``) where its document
        carried them, else this prompter itself."""
        base = self._base
        labels = base.style.labels if unit.corpus_labels is None else unit.corpus_labels
        corpus = unit.corpus if base.style.name_corpus else None
        if labels == base.style.labels and corpus is None:
            return base
        scoped = copy.copy(base)
        scoped.style = replace(base.style, labels=labels, corpus=corpus)
        return scoped

    def asked(self) -> list[str | None]:
        """What each question of a unit asks for: every type at once (``None``) or one type
        (nothing, where the unit's corpus has no types)."""
        if not self.style.labels:
            return []
        return list(self.style.labels) if self.style.per_type else [None]

    def prompt(self, text: str, asked: str | None) -> str:
        """The full prompt (chat template, system turn and shots included) for a unit text."""
        return self._render(self._messages(text, asked), answer=None)

    def example(self, unit: Unit, asked: str | None) -> tuple[str, str]:
        """A training example: the prompt and the completion the loss is computed on (the
        gold answer and the end of the turn)."""
        messages = self._messages(unit.text, asked)
        prompt = self._render(messages, answer=None)
        answer = self.answer(unit, asked)
        full = self._render(messages, answer=answer)
        if full.startswith(prompt):
            return prompt, full[len(prompt):]
        return prompt, answer + (self.tokenizer.eos_token or "")

    def answer(self, unit: Unit, asked: str | None) -> str:
        """The gold answer for a unit."""
        spans = [s for s in unit.spans if asked is None or s.label == asked]
        if self.style.answer_format == "inline":
            out, at = [], 0
            for s in spans:
                tagged = f"<{s.label}>{unit.text[s.start : s.end]}</{s.label}>"
                out += [unit.text[at : s.start], tagged]
                at = s.end
            return "".join([*out, unit.text[at:]])
        named = dict.fromkeys((unit.text[s.start : s.end], s.label) for s in spans)
        if asked is not None:
            return json.dumps([text for text, _ in named], ensure_ascii=False)
        return json.dumps([{"text": t, "type": lab} for t, lab in named], ensure_ascii=False)

    def parse(self, answer: str, asked: str | None) -> Parsed:
        """Parse a generated answer to a question that asked for ``asked``."""
        parse = parse_inline if self.style.answer_format == "inline" else parse_json
        return parse(answer, self.style.labels, only=asked)

    def question(self, text: str, asked: str | None) -> str:
        """The user turn for a unit text: the template with its placeholders filled in."""
        labels = [asked] if asked is not None else list(self.style.labels)
        named = "; ".join(
            f"{lab} ({self.style.descriptions[lab]})" if self.style.descriptions.get(lab) else lab
            for lab in labels
        )
        types = f"Entity type{'s' if len(labels) > 1 else ''}: {named}."
        if self.style.corpus is not None:
            types = f"Corpus: {self.style.corpus}. {types}"
        if self.style.answer_format == "inline":
            first = labels[0]
            how = (f"Copy the text, wrapping each {first} mention in <{first}>...</{first}> tags."
                   if asked else f"Copy the text, wrapping each entity in tags named by its "
                   f"type, like <{first}>...</{first}>.")
        elif asked:
            how = (f"List every {asked} mention as a JSON list of strings copied exactly from "
                   "the text; [] if none.")
        else:
            how = ('List every entity as JSON: [{"text": "...", "type": "..."}], copying the '
                   "text exactly; [] if none.")
        return (self.style.template.replace(TYPES, types).replace(FORMAT, how)
                .replace(TEXT, text))

    def _messages(self, text: str, asked: str | None) -> list[dict[str, str]]:
        messages = [{"role": "system", "content": self.style.system}] if self.style.system else []
        for shot in self.shots:  # each asked as its own corpus is; a question about one
            asker = self.about(shot)  # type shows the shots whose corpus has that type
            if asked is not None and asked not in asker.style.labels:
                continue
            messages += [
                {"role": "user", "content": asker.question(shot.text, asked)},
                {"role": "assistant", "content": asker.answer(shot, asked)},
            ]
        return [*messages, {"role": "user", "content": self.question(text, asked)}]

    def _render(self, messages: list[dict[str, str]], answer: str | None) -> str:
        if self.chat:
            if answer is not None:
                messages = [*messages, {"role": "assistant", "content": answer}]
            return str(self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=answer is None
            ))
        ends = {"system": "\n\n", "user": "\nAnswer: ", "assistant": "\n\n"}
        text = "".join(m["content"] + ends[m["role"]] for m in messages)
        return text if answer is None else text + answer + (self.tokenizer.eos_token or "")
