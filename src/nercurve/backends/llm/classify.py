"""The ``llm`` backend of text classification: a causal language model answers with the
document's class.

It is the NER ``llm`` backend (:mod:`nercurve.backends.llm.ner`) asked another question, and
reuses its pieces unchanged: model loading, GGUF expansion, LoRA and quantization
(:mod:`~nercurve.backends.llm.load`), the prompt rendering of
:class:`~nercurve.backends.llm.prompt.Prompter` (chat template, system turn, few-shot turns;
plain text ending in ``Answer:`` for a model without a chat template), training examples
with the loss on the answer tokens only (:mod:`~nercurve.backends.llm.train`) through the
``hf`` loop, and batched greedy or self-consistency decoding with a shared prompt prefix
(:mod:`~nercurve.backends.llm.decode`). The same three kinds of arm: fine-tuned (a LoRA
adapter, ``train = true``), zero-shot (``train = false``) and few-shot (``shots = n``
documents of the job's training subset, drawn with its seed).

The question is ``template`` with ``{types}`` -> "Classes: CURRENT (description); PAST; ...",
``{format}`` -> how to answer, and ``{text}`` -> the document (cut when too long, see
below). The gold answer is the class name; in multi-label data the classes joined by ", ",
or "none".

How answers are read (letter case never matters). A single-label answer names a class
only when it *starts* with one: leading white space, quotes and markdown (``* _ ` " '
[ ( < # > -`` and typographic quotes) are skipped, then one ``answer:``, ``class:`` or
``classes:`` label, if any (no other lead-in: "The class is PAST" names nothing), then a
class name must follow, ending at a word boundary (not followed by a letter, digit or
``_``). When one class name is a prefix of another ("NON", "NON-SMOKER") the longest that
matches wins. Whatever follows the class is ignored, so "CURRENT - the patient smokes" and
'"current".' are CURRENT, while "not a current smoker" names nothing (a negation never
starts with a class name). A multi-label answer (after the same lead) is a list separated
by commas, semicolons or new lines; each item, stripped of quotes and punctuation, must be
a class name, and the answer "none" alone means no class. An answer that names no class is
*unparseable*: the document gets no class (a miss). *Invalid* class answers are counted
too: a non-empty single-label answer that names no class counts one, and in a multi-label
answer every item that is not a class counts one ("none" beside classes included). With
``self_consistency`` each class scores the share of the sampled answers that name it
(single-label: the most named wins; multi-label: a class is kept when ``min_votes``, by
default a majority, name it).

Long documents are cut, never left out: every question and its answer fit ``max_length``
tokens of the model's tokenizer. The answer is given the room of the longest gold answer
(single-label: the longest class name; multi-label: every class, or "none") with its
end-of-turn tokens, the prompt's own parts (system turn, instructions, classes, few-shot
turns) take theirs, and the document's text gets the rest. A longer text is cut by tokens as
``truncation`` says: ``head_tail`` (the default) keeps its first and last tokens, half of
the room each once the marker's tokens are counted, joined by " [...] " (a note's reason for
admission and its discharge diagnoses sit at the two ends); ``head`` keeps its first tokens.
The cut text is the original text up to and from token boundaries, and the whole prompt is
measured again (a cut can change how the tokens next to it merge) until it fits. The same
cut applies to training documents, the dev sample and every predicted document, so a model
is asked about what it learned on; zero- and few-shot arms are cut alike. The text of each
few-shot example is cut to an equal share of the room, as if the question's text were one
more share (``room // (shots + 1)`` tokens), and the question's text gets what the shots
leave. Only when even an empty text does not fit is a job stopped (a ``BackendError``: raise
``max_length``), so ``skipped_examples`` stays 0. Counted per job: ``truncated_examples``
(training documents cut), ``truncated_shots`` (few-shot texts cut) and ``truncated_docs``
(documents cut at the most recent prediction, the test set).

With ``constrained = true`` (the default) the answer is decoded under a grammar of the
class names (:func:`~nercurve.backends.llm.grammar.class_grammar`): one class, or, for
multi-label data, classes joined by ", " or "none", so every answer names a class and none
is invalid; the reading above is for ``constrained = false``. ``lora = false`` fine-tunes
every weight, as for NER.

Model selection decodes greedily and scores the dev sample's macro-F1 (``select_on =
"dev_f1"``) or its answer loss (``"dev_loss"``). Counted per job: ``answers``,
``parse_failures``, ``parse_failure_rate``, ``invalid_classes``, ``decode_seconds``,
``generated_tokens``, the truncation counts above, the decoding settings (``decode_*``) and
the training numbers of the NER backend.

The NER-only options (``answer_format``, ``per_type_prompts``, ``sentences_per_unit``,
``overlap``) must stay at their defaults; ``descriptions`` describe classes and
``dev_units`` counts dev documents.
"""

from __future__ import annotations

import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from nercurve.backends.base import TrainResult, dev_macro_f1, validated
from nercurve.backends.hf.train import Evaluate
from nercurve.backends.llm.ner import Asker, LLMFamily
from nercurve.backends.llm.params import LLMParams
from nercurve.backends.llm.prompt import FORMAT, TEXT, TYPES, Prompter, PromptStyle, Unit
from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError

DEFAULT_SYSTEM = "You classify texts."
NONE = "none"
MARKER = " [...] "
_SEPARATORS = re.compile(r"[,;\n]+")
_TRIM = " \t\"'`.:!*[](){}"
_LEAD = r"[\s*_`\"'\[(<#>\-\u201c\u201d\u2018\u2019\u00ab]*"
_PREFIX = rf"{_LEAD}(?:(?:answer|class(?:es)?)\s*:{_LEAD})?"


class LLMClassifyParams(LLMParams):
    """Parameters of the ``llm`` classification backend: those of the NER ``llm`` backend
    (:class:`~nercurve.backends.llm.params.LLMParams`) with a classifying system turn and short
    answers."""

    system: str = DEFAULT_SYSTEM
    max_new_tokens: int = Field(16, ge=1)
    truncation: Literal["head", "head_tail"] = "head_tail"
    """How a document too long for ``max_length`` is cut: its first tokens (``head``), or
    its first and last tokens joined by " [...] " (``head_tail``); in training and
    prediction alike (documents are cut, never left out)."""

    @model_validator(mode="after")
    def _no_ner_options(self) -> LLMClassifyParams:
        ner = {"answer_format": "json", "per_type_prompts": False, "sentences_per_unit": 1,
               "overlap": "longest", "prompt_corpus": False}
        changed = [k for k, default in ner.items() if getattr(self, k) != default]
        if changed:
            raise ValueError(f"{', '.join(changed)} are options of NER with the llm backend")
        return self


@dataclass(frozen=True)
class Document(Unit):
    """A whole document asked about at once, with its gold classes."""

    classes: tuple[str, ...] = ()


class ClassPrompter(Prompter):
    """Questions and gold answers about a document's class (see the module docstring)."""

    def __init__(self, tokenizer: Any, style: PromptStyle, shots: Sequence[Document],
                 multi_label: bool) -> None:
        super().__init__(tokenizer, style, shots)
        self.multi_label = multi_label
        self._longest_first = sorted(style.labels, key=len, reverse=True)
        names = "|".join(f"({re.escape(lab)})" for lab in self._longest_first)
        self._named = re.compile(rf"{_PREFIX}(?:{names})(?!\w)", re.IGNORECASE)
        self._lead_in = re.compile(rf"\A{_PREFIX}", re.IGNORECASE)

    def asked(self) -> list[str | None]:
        """One question per document, about every class."""
        return [None]

    def answer(self, unit: Unit, asked: str | None) -> str:
        """The gold answer: the class, or the classes joined by ', ' (or 'none')."""
        classes = getattr(unit, "classes", ())
        if self.multi_label:
            return ", ".join(classes) or NONE
        return classes[0]

    def question(self, text: str, asked: str | None) -> str:
        """The user turn: the template with the classes, the answer format and the text."""
        labels = self.style.labels
        named = "; ".join(
            f"{lab} ({self.style.descriptions[lab]})" if self.style.descriptions.get(lab) else lab
            for lab in labels
        )
        how = ("Answer with every class of the text, separated by commas, written exactly as "
               f"above; {NONE} if no class applies." if self.multi_label else
               "Answer with the one class of the text, written exactly as above.")
        return (self.style.template.replace(TYPES, f"Classes: {named}.").replace(FORMAT, how)
                .replace(TEXT, text))

    def classes_of(self, answer: str) -> tuple[tuple[str, ...], bool, int]:
        """The classes an answer names, whether it named any (or 'none' in multi-label
        data), and how many invalid class answers it holds (see the module docstring)."""
        if not self.multi_label:
            match = self._named.match(answer)  # the one group that matched is the class
            if match is None:
                return (), False, int(bool(answer.strip()))
            return (self._longest_first[match.lastindex - 1],), True, 0
        by_name = {lab.casefold(): lab for lab in self.style.labels}
        listed = self._lead_in.sub("", answer, count=1)
        names = [n.strip().strip(_TRIM).casefold() for n in _SEPARATORS.split(listed)]
        names = [n for n in names if n]
        if names == [NONE]:
            return (), True, 0
        kept = tuple(dict.fromkeys(by_name[n] for n in names if n in by_name))
        return kept, bool(kept), sum(n not in by_name for n in names)


def cut_text(tokenizer: Any, text: str, budget: int, policy: Literal["head", "head_tail"]) -> str:
    """``text`` cut to ``budget`` of its tokens (as it is if no longer): its head, or its
    head and tail around the marker, whose tokens count (the head alone when the budget
    leaves the tail no token)."""
    if not getattr(tokenizer, "is_fast", False):
        raise BackendError(
            "a document too long for max_length is cut by tokens, and the model's tokenizer "
            "is not a fast (Rust) tokenizer that tells where its tokens are",
            hint="use a model folder with tokenizer.json, or raise max_length",
        )
    spans = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)["offset_mapping"]
    if len(spans) <= budget:
        return text
    if budget <= 0:
        return ""
    kept = budget - len(tokenizer(MARKER, add_special_tokens=False)["input_ids"])
    if policy == "head" or kept < 2:
        return text[: spans[budget - 1][1]]
    head, tail = spans[(kept + 1) // 2 - 1][1], spans[len(spans) - kept // 2][0]
    return text[:head].rstrip() + MARKER + text[tail:].lstrip()


class TextFitter:
    """Cuts document texts so that a question about them, with the longest gold answer,
    fits ``max_length`` tokens (see the module docstring)."""

    def __init__(self, prompter: ClassPrompter, max_length: int,
                 policy: Literal["head", "head_tail"]) -> None:
        self.prompter = prompter
        self.max_length = max_length
        self.policy = policy
        labels = prompter.style.labels
        answers = [labels, ()] if prompter.multi_label else [(lab,) for lab in labels]
        self.answer_tokens = max(
            self._count(prompter.example(Document(0, 0, "", (), a), None)[1], special=False)
            for a in answers
        )
        self.room = max_length - self._length("")
        if self.room < 0:
            raise BackendError(
                f"a question about an empty document with its longest answer takes "
                f"{max_length - self.room} tokens (system turn, instructions, classes, "
                f"{len(prompter.shots)} few-shot examples), more than max_length = {max_length}",
                hint="raise max_length (documents are cut to fit, the rest of the prompt is not)",
            )

    def fit(self, text: str) -> tuple[str, bool]:
        """``text`` cut so that its question and answer fit ``max_length`` tokens, and
        whether it was cut."""
        over = self._length(text) - self.max_length
        if over <= 0:
            return text, False
        budget = self._count(text, special=False)
        while over > 0:  # the budget shrinks every round; an empty text fits (self.room)
            budget -= over
            cut = cut_text(self.prompter.tokenizer, text, budget, self.policy)
            over = self._length(cut) - self.max_length
        return cut, True

    def _length(self, text: str) -> int:
        prompter = self.prompter
        return (self._count(prompter.prompt(text, None), special=not prompter.chat)
                + self.answer_tokens)

    def _count(self, text: str, *, special: bool) -> int:
        return len(self.prompter.tokenizer(text, add_special_tokens=special)["input_ids"])


class LLMClassifyModel(Asker):
    """A causal LM (with its adapter, if trained) that answers with documents' classes;
    :meth:`diagnostics` also counts the documents its most recent prediction cut."""

    params: LLMClassifyParams

    def __init__(self, net: Any, fitter: TextFitter, params: LLMClassifyParams,
                 scheme: ClassScheme, *, device: Any, seed: int) -> None:
        super().__init__(net, fitter.prompter, params, device=device, seed=seed)
        self.fitter = fitter
        self.scheme = scheme

    def saved_extra(self) -> dict[str, Any]:
        """Whether the classes are multi-label (a saved model's settings)."""
        return {"multi_label": self.scheme.multi_label}

    def predict(self, docs: Sequence[Doc], *, greedy: bool = False) -> list[dict[str, float]]:
        """A score per class for each document (see the module docstring); ``greedy``
        decodes greedily even with self-consistency (model selection)."""
        from nercurve.backends.llm.decode import Sampling, generate, settings
        from nercurve.backends.llm.grammar import class_grammar

        prompter, tokenizer, p = self.prompter, self.prompter.tokenizer, self.params
        fitted = [self.fitter.fit(d.text) for d in docs]
        prompts = [tokenizer(prompter.prompt(text, None),
                             add_special_tokens=not prompter.chat)["input_ids"]
                   for text, _ in fitted]
        sc = None if greedy else p.self_consistency
        sampling = Sampling() if sc is None else Sampling(sc.samples, sc.temperature, sc.top_p,
                                                          sc.top_k)
        grammar = class_grammar(self.scheme.labels, self.scheme.multi_label, NONE)
        started = time.perf_counter()
        generated = generate(self.net, tokenizer, prompts, sampling=sampling,
                             max_new_tokens=p.max_new_tokens, batch_size=p.eval_batch_size,
                             device=self.device, seed=self.seed,
                             constraint=self.constraint() if p.constrained else None,
                             grammars=[grammar] * len(prompts))
        failures = invalid = 0
        out = []
        for answers in generated.answers:
            votes: Counter[str] = Counter()
            for answer in answers:
                classes, ok, bad = prompter.classes_of(answer)
                failures += not ok
                invalid += bad
                votes.update(classes)
            if not votes:
                out.append({})  # no class named: a miss
            elif sc is not None and self.scheme.multi_label:
                out.append({c: float(votes[c] >= sc.votes_needed) for c in self.scheme.labels})
            else:
                out.append({c: votes[c] / len(answers) for c in self.scheme.labels})
        n = sum(len(a) for a in generated.answers)
        self._diagnostics = {
            "answers": float(n), "parse_failures": float(failures),
            "parse_failure_rate": failures / n if n else 0.0, "invalid_classes": float(invalid),
            "decode_seconds": time.perf_counter() - started,
            "generated_tokens": float(generated.new_tokens),
            "truncated_docs": float(sum(cut for _, cut in fitted)),
            **settings(sampling, p.max_new_tokens, p.constrained),
        }
        if sc is not None:
            self._diagnostics["decode_min_votes"] = float(sc.votes_needed)
        return out


class LLMClassifyBackend(LLMFamily):
    """Classification with a causal LM: LoRA/QLoRA fine-tuning, or zero-/few-shot prompting
    (``needs_training_data``, ``wants_gpu`` and ``check`` as for NER)."""

    name: ClassVar[str] = "llm"
    Params: ClassVar[type[LLMClassifyParams]] = LLMClassifyParams

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int,
              scheme: ClassScheme) -> TrainResult:
        """Fine-tune an adapter on ``train`` (or, with ``train = false``, prompt the model as
        it is), selecting on a sample of ``dev``."""
        from nercurve.backends.llm.train import train_llm

        p = validated(LLMClassifyParams, params)
        return train_llm(p, seed, _Classes(train, dev, p, seed, scheme))

    def load(self, path: Path) -> LLMClassifyModel:
        """A model that :meth:`~nercurve.backends.llm.ner.Asker.save` wrote into the folder
        ``path`` (its few-shot texts saved as cut for the study)."""
        from nercurve.backends.llm.saved import read_saved

        saved, p = read_saved(path, LLMClassifyParams)
        scheme = ClassScheme(saved.labels, bool(saved.settings["multi_label"]))
        style = PromptStyle(scheme.labels, p.descriptions, p.template, p.system or None)
        prompter = ClassPrompter(saved.tokenizer, style, saved.shots(Document),
                                 scheme.multi_label)
        return LLMClassifyModel(saved.net, TextFitter(prompter, p.max_length, p.truncation),
                                p, scheme, device=saved.device, seed=saved.seed)


class _Classes:
    """The classification questions of one job: one per document, its text cut to fit (see
    the module docstring)."""

    def __init__(self, train: Sequence[Doc], dev: Sequence[Doc], p: LLMClassifyParams,
                 seed: int, scheme: ClassScheme) -> None:
        self.p, self.seed, self.scheme, self.dev = p, seed, scheme, dev
        self.documents = [Document(i, 0, d.text, (), doc_classes(d)) for i, d in enumerate(train)]
        self.cut_shots = 0
        self.shots: list[Document] = []

    def prompter(self, tokenizer: Any) -> Prompter:
        """A prompter for the study's classes, with ``shots`` documents of the training subset
        drawn with the job's seed (their texts cut to share the room)."""
        p = self.p
        style = PromptStyle(self.scheme.labels, p.descriptions, p.template, p.system or None)
        self.shots = random.Random(self.seed).sample(self.documents,
                                                     min(p.shots, len(self.documents)))
        self.fitter, self.cut_shots = _fitter(tokenizer, style, self.shots,
                                              self.scheme.multi_label, p)
        return self.fitter.prompter

    def model(self, net: Any, device: Any) -> LLMClassifyModel:
        """The model that asks the questions."""
        return LLMClassifyModel(net, self.fitter, self.p, self.scheme, device=device,
                                seed=self.seed)

    def untrained(self) -> dict[str, float]:
        """The number of few-shot examples and how many were cut."""
        return {"shots": float(len(self.shots)), "truncated_shots": float(self.cut_shots)}

    def training(self) -> tuple[list[Unit], dict[str, float]]:
        """Every training document, cut to fit, and how many were cut."""
        documents, truncated = _fitted(self.fitter, self.documents)
        return list(documents), {"truncated_examples": float(truncated)}

    def selection(self, model: LLMClassifyModel) -> tuple[list[Unit], Evaluate]:
        """A fixed sample of ``dev_units`` dev documents, scored by macro-F1 (greedy)."""
        from nercurve.backends.llm.train import dev_sample

        sample = dev_sample(self.dev, self.p.dev_units)
        fitted = _fitted(self.fitter, [Document(i, 0, d.text, (), doc_classes(d))
                                       for i, d in enumerate(sample)])[0]
        scheme = self.scheme

        def dev_f1() -> tuple[float, dict[str, float]]:
            return dev_macro_f1(scheme, sample, model.predict(sample, greedy=True),
                                se=self.p.stop == "noise")

        return list(fitted), dev_f1


def _fitter(tokenizer: Any, style: PromptStyle, shots: Sequence[Document], multi_label: bool,
            p: LLMClassifyParams) -> tuple[TextFitter, int]:
    """The fitter of a job's questions, its few-shot texts cut to an equal share of the
    room each (the question's text has one share too), and how many shots were cut."""
    bare = [replace(s, text="") for s in shots]
    room = TextFitter(ClassPrompter(tokenizer, style, bare, multi_label), p.max_length,
                      p.truncation).room
    share = room // (len(shots) + 1)
    cut = [replace(s, text=cut_text(tokenizer, s.text, share, p.truncation)) for s in shots]
    changed = sum(a.text != b.text for a, b in zip(cut, shots, strict=True))
    prompter = ClassPrompter(tokenizer, style, cut, multi_label)
    return TextFitter(prompter, p.max_length, p.truncation), changed


def _fitted(fitter: TextFitter, documents: Sequence[Document]) -> tuple[list[Document], int]:
    """The documents with their texts cut to fit (see :class:`TextFitter`), and how many
    were cut."""
    out, cut = [], 0
    for doc in documents:
        text, was_cut = fitter.fit(doc.text)
        out.append(replace(doc, text=text))
        cut += was_cut
    return out, cut
