"""The ``llm`` backend: generative NER with a causal language model.

Each sentence (or window of ``sentences_per_unit`` sentences) of a document becomes
a question naming the entity types (see :mod:`nercurve.backends.llm.prompt`); the
model answers with a JSON list of ``{"text", "type"}`` objects (or an inline-tagged
copy of the text, ``answer_format = "inline"``), and the answer becomes character
spans (see :mod:`nercurve.backends.llm.answer`: every occurrence tagged,
overlaps resolved, unparseable answers and hallucinated entities counted).

Three kinds of arm:

- fine-tuned (``train = true``, the default): a LoRA adapter (peft) on every linear
  layer of the transformer blocks (``target_modules = "all-linear"``, the QLoRA recipe;
  r 16, alpha 32, dropout 0.05, learning rate 2e-4) is trained on the subset's
  questions with the loss on the answer tokens only
  (:mod:`nercurve.backends.llm.train`, a path shared with classification), through the
  ``hf`` backend's loop
  (:func:`nercurve.backends.hf.train.fit`: AdamW, linear warm-up and decay,
  gradient accumulation, early stopping). Training runs ``epochs`` passes over the
  questions, at most ``max_steps`` optimizer steps. Every ``eval_every`` steps the
  adapter is scored on a fixed sample of ``dev_units`` dev sentences (the same
  sample for every job) by greedy decoding and strict F1 (``select_on = "dev_f1"``),
  or, cheaper, by the loss on their gold answers (``select_on = "dev_loss"``; the
  dev F1 is then measured once, at the end); the best adapter is kept. With
  ``quantization = "4bit"`` the frozen base model is loaded in NF4 (QLoRA) or with
  ``"8bit"`` in LLM.int8, on a CUDA GPU only. Only the adapter is trained and kept;
  nothing is written to disk but the expanded copy of a GGUF base model. With
  ``lora = false`` every weight of the model is fine-tuned instead (full-parameter
  fine-tuning, NERLlama's baseline for its QLoRA model: the same data, schedule and
  selection; learning rate 2e-5 unless set; the best weights are kept in memory, a
  copy of the model's size).
- zero-shot (``train = false``): the model as it is, asked the same questions. It
  needs no training data and runs once per seed, like any fixed baseline.
- few-shot (``train = false, shots = n``): ``n`` question/answer pairs drawn with
  the job's seed from the job's own training subset are put before every question.

Decoding is greedy unless ``self_consistency`` is set: then ``samples`` answers are
drawn per question (``temperature``, ``top_p``) in one batch sharing the prompt's
computation (:mod:`nercurve.backends.llm.decode`), and an entity is kept when at
least ``min_votes`` answers name it (default: a majority). The samples are drawn in
two rounds: first the fewest that can settle the vote (``samples - min_votes + 1``: 3
of 5 for a majority), then the rest only for the questions whose vote those left open
(for 3 of 5: unless all three answers name the same entities). A vote settled early is
the vote all ``samples`` answers would give, since no further answer could change it,
so the result follows the same distribution at a fraction of the cost
(``votes_settled_early``: the share of questions the first round settled). Model
selection always decodes greedily. Decoding follows these settings only, never the
checkpoint's own generation settings, and samples are drawn from a generator seeded
with the job's seed. With ``constrained = true`` (the default) every answer follows a grammar built
for its sentence (:mod:`nercurve.backends.llm.grammar`): the answer format, mentions
that are word sequences of the sentence, types of the study's labels; an answer cannot
be unparseable, a mention cannot be absent from its sentence. ``constrained = false``
decodes freely and counts what goes wrong.

In a multi-corpus study each document is asked about its own corpus's entity types
(``meta["corpus_labels"]``; the corpus named too with ``prompt_corpus = true``), in
training, model selection and prediction: its grammar allows those types only, and an
unconstrained answer's other types are counted as invalid entities and dropped, so a
document's predictions never carry another corpus's types
(:mod:`nercurve.backends.llm.prompt`).

GPU use follows the ``hf`` backend: ``device = "auto"`` takes CUDA when torch sees
a GPU, the runner places runs on GPUs and packs ``runs_per_gpu`` of them; on CUDA
the base weights are bf16 (``precision = "auto"``, where the GPU has bf16).
Counted per job and stored with the result: ``answers``, ``parse_failures``,
``parse_failure_rate``, ``partial_answers`` (cut at ``max_new_tokens`` or in a loop:
their complete entities kept), ``entities_named``, ``hallucinations``,
``hallucination_rate``, ``invalid_entities``, ``decode_seconds``,
``generated_tokens`` (about the test set) and ``train_tokens_per_s``,
``train_examples``, ``skipped_examples`` (too long for ``max_length``), and the
decoding settings in force (``decode_*``: samples, temperature, top-p, top-k, token
limit, constrained, and the repetition penalties, always off).
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

from nercurve.backends.base import TrainResult, dev_strict_f1, validated
from nercurve.backends.hf.backend import TorchFamily
from nercurve.backends.hf.train import Evaluate
from nercurve.backends.llm.answer import (
    AnswerStats,
    Parsed,
    json_answer_done,
    locate,
    resolve_overlaps,
    vote,
    vote_settled,
)
from nercurve.backends.llm.params import LLMParams, SelfConsistency
from nercurve.backends.llm.prompt import Prompter, Unit
from nercurve.corpus.model import Doc, Span
from nercurve.errors import BackendError


class Asker:
    """What the models of the ``llm`` backends share: a causal LM (with its adapter, if
    trained), the prompter that asks it, the parameters, the device and the seed of the
    job's samples, the grammar view of its vocabulary and the counts of its most recent
    prediction."""

    def __init__(self, net: Any, prompter: Prompter, params: LLMParams, *, device: Any,
                 seed: int) -> None:
        self.net = net
        self.prompter = prompter
        self.params = params
        self.device = device
        self.seed = seed
        self._diagnostics: dict[str, float] = {}
        self._constraint: Any = None

    def constraint(self) -> Any:
        """The llguidance view of this model's vocabulary (built on first use)."""
        from nercurve.backends.llm.decode import Constraint

        if self._constraint is None:
            self._constraint = Constraint(self.net, self.prompter.tokenizer)
        return self._constraint

    def diagnostics(self) -> dict[str, float]:
        """Counts about the answers of the most recent prediction (see the module
        docstring) and its decoding time."""
        return dict(self._diagnostics)

    def save(self, path: Path) -> None:
        """The adapter (or the fine-tuned model), the tokenizer and the prompt settings in
        the folder ``path`` (:mod:`nercurve.backends.llm.saved`)."""
        from nercurve.backends.llm.saved import save_asker

        save_asker(path, net=self.net, tokenizer=self.prompter.tokenizer, params=self.params,
                   seed=self.seed, labels=self.prompter.style.labels,
                   shots=self.prompter.shots, extra=self.saved_extra())

    def saved_extra(self) -> dict[str, Any]:
        """What a saved model's settings add for this task (nothing for NER)."""
        return {}


class LLMModel(Asker):
    """A causal LM (with its adapter, if trained) that answers questions and predicts spans."""

    def predict(self, docs: Sequence[Doc]) -> list[tuple[Span, ...]]:
        """Predicted spans for each document, as character offsets into its text."""
        from nercurve.backends.llm.prompt import units

        found = units(docs, self.params.sentences_per_unit)
        spans: list[list[Span]] = [[] for _ in docs]
        sc = self.params.self_consistency
        for unit, predicted in zip(found, self.predict_units(found, sc), strict=True):
            spans[unit.doc_index] += [
                Span(s.start + unit.start, s.end + unit.start, s.label) for s in predicted
            ]
        return [tuple(sorted(s)) for s in spans]

    def predict_units(self, found: Sequence[Unit], sc: SelfConsistency | None) -> list[list[Span]]:
        """Predicted spans per unit (offsets into the unit's text), greedy when ``sc`` is
        ``None``; the answers are counted for :meth:`diagnostics`."""
        from nercurve.backends.llm.decode import Sampling, generate, settings
        from nercurve.backends.llm.grammar import inline_grammar, json_grammar

        prompter, tokenizer, p = self.prompter, self.prompter.tokenizer, self.params
        # one row per question: the unit, its prompter (its corpus's types) and what it asks
        rows = [(i, asker, a) for i, u in enumerate(found) for asker in [prompter.about(u)]
                for a in asker.asked()]
        prompts = [
            tokenizer(asker.prompt(found[i].text, a),
                      add_special_tokens=not prompter.chat)["input_ids"]
            for i, asker, a in rows
        ]
        grammar = json_grammar if p.answer_format == "json" else inline_grammar
        grammars = ([grammar(found[i].text, asker.style.labels, a) for i, asker, a in rows]
                    if p.constrained else None)
        spent = 0

        def draw(chosen: Sequence[int], sampling: Sampling, seed: int) -> list[list[Parsed]]:
            nonlocal spent
            generated = generate(
                self.net, tokenizer, [prompts[r] for r in chosen], sampling=sampling,
                max_new_tokens=p.max_new_tokens, batch_size=p.eval_batch_size,
                device=self.device, seed=seed,
                complete=json_answer_done if p.answer_format == "json" else None,
                constraint=self.constraint() if grammars is not None else None,
                grammars=None if grammars is None else [grammars[r] for r in chosen],
            )
            spent += generated.new_tokens
            return [[rows[r][1].parse(t, rows[r][2]) for t in texts]
                    for r, texts in zip(chosen, generated.answers, strict=True)]

        started = time.perf_counter()
        everyone = range(len(prompts))
        if sc is None:
            sampling = Sampling()
            answers = draw(everyone, sampling, self.seed)
        else:
            # the fewest samples that can settle the vote; the rest only where it is open
            first = sc.samples - sc.votes_needed + 1
            sampling = Sampling(sc.samples, sc.temperature, sc.top_p, sc.top_k)
            answers = draw(everyone, replace(sampling, samples=first), self.seed)
            open_rows = [r for r in everyone if not vote_settled(
                [a.entities for a in answers[r]], sc.samples, sc.votes_needed)]
            if open_rows and first < sc.samples:
                more = draw(open_rows, replace(sampling, samples=sc.samples - first),
                            self.seed + 1)
                for r, extra in zip(open_rows, more, strict=True):
                    answers[r] += extra
        seconds = time.perf_counter() - started
        stats = AnswerStats()
        spans: list[list[Span]] = [[] for _ in found]
        for (i, _, _), parsed in zip(rows, answers, strict=True):
            text = found[i].text
            for one in parsed:
                stats.add(one, locate(one.entities, text)[1])
            kept = (list(parsed[0].entities) if sc is None
                    else vote([one.entities for one in parsed], sc.votes_needed))
            spans[i] += locate(kept, text)[0]
        out = [resolve_overlaps(s, p.overlap) for s in spans]
        self._diagnostics = {
            **stats.as_dict(),
            **settings(sampling, p.max_new_tokens, p.constrained),
            "decode_seconds": seconds,
            "generated_tokens": float(spent),
        }
        if sc is not None:
            self._diagnostics["decode_min_votes"] = float(sc.votes_needed)
            self._diagnostics["votes_settled_early"] = (
                1 - len(open_rows) / len(prompts) if prompts else 1.0)
        return out

class LLMFamily(TorchFamily):
    """Arms and the model check of the ``llm`` backends (their ``Params`` are
    :class:`LLMParams`)."""

    Params: ClassVar[type[LLMParams]]

    @classmethod
    def needs_training_data(cls, params: Any) -> bool:
        """Whether runs need a training subset (a zero-shot arm does not)."""
        p = validated(cls.Params, params)
        return p.train or p.shots > 0

    @classmethod
    def check(cls, params: Any) -> None:
        """Before any job: quantization needs a CUDA GPU, and the model must be had (a GGUF
        file is expanded into the cache here, once)."""
        from nercurve.backends.llm.load import check_quantization, resolve

        p = validated(cls.Params, params)
        check_quantization(p.quantization, p.device)
        resolve(p.model, gguf_file=p.gguf_file, revision=p.revision, trust_pickle=p.trust_pickle)


class LLMBackend(LLMFamily):
    """Generative NER with a causal LM: LoRA/QLoRA fine-tuning, or zero-/few-shot prompting."""

    name: ClassVar[str] = "llm"
    Params: ClassVar[type[LLMParams]] = LLMParams

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any,
              seed: int) -> TrainResult:
        """Fine-tune an adapter on ``train`` (or, with ``train = false``, prompt the model as
        it is), selecting on a sample of ``dev``."""
        from nercurve.backends.llm.train import train_llm

        p = validated(LLMParams, params)
        return train_llm(p, seed, _Entities(train, dev, p, seed))

    def load(self, path: Path) -> LLMModel:
        """A model that :meth:`Asker.save` wrote into the folder ``path``."""
        from nercurve.backends.llm.prompt import PromptStyle
        from nercurve.backends.llm.saved import read_saved

        saved, p = read_saved(path, LLMParams)
        style = PromptStyle(saved.labels, p.descriptions, p.template, p.system or None,
                            p.answer_format, p.per_type_prompts, p.prompt_corpus)
        prompter = Prompter(saved.tokenizer, style, saved.shots())
        return LLMModel(saved.net, prompter, p, device=saved.device, seed=saved.seed)


class _Entities:
    """The NER questions of one job: a question per unit of sentences (see the module
    docstring)."""

    def __init__(self, train: Sequence[Doc], dev: Sequence[Doc], p: LLMParams,
                 seed: int) -> None:
        from nercurve.backends.llm.prompt import units

        self.p, self.seed = p, seed
        self.train_units = units(train, p.sentences_per_unit)
        self.dev_units = units(dev, p.sentences_per_unit)
        labels = sorted({s.label for d in [*train, *dev] for s in d.spans} | set(p.descriptions)
                        | {lab for d in [*train, *dev] for lab in d.meta.get("corpus_labels", ())})
        if not labels:
            raise BackendError(
                "no entity types to ask for: the training and dev documents hold no entities",
                hint="name the types with descriptions = { TYPE = \"...\" } in the parameters",
            )
        self.labels = tuple(labels)
        self.shots: list[Unit] = []

    def prompter(self, tokenizer: Any) -> Prompter:
        """A prompter for the study's entity types, with ``shots`` units of the training
        subset drawn with the job's seed."""
        from nercurve.backends.llm.prompt import PromptStyle

        p = self.p
        style = PromptStyle(self.labels, p.descriptions, p.template, p.system or None,
                            p.answer_format, p.per_type_prompts, p.prompt_corpus)
        self.shots = random.Random(self.seed).sample(self.train_units,
                                                     min(p.shots, len(self.train_units)))
        self._prompter = Prompter(tokenizer, style, self.shots)
        return self._prompter

    def model(self, net: Any, device: Any) -> LLMModel:
        """The model that asks the questions."""
        return LLMModel(net, self._prompter, self.p, device=device, seed=self.seed)

    def untrained(self) -> dict[str, float]:
        """The number of few-shot examples."""
        return {"shots": float(len(self.shots))}

    def training(self) -> tuple[list[Unit], dict[str, float]]:
        """Every training unit."""
        return self.train_units, {}

    def selection(self, model: LLMModel) -> tuple[list[Unit], Evaluate]:
        """A fixed sample of ``dev_units`` dev units, scored by strict F1."""
        from nercurve.backends.llm.train import dev_sample

        selection = dev_sample(self.dev_units, self.p.dev_units)

        def dev_f1() -> tuple[float, dict[str, float]]:
            return dev_strict_f1([u.spans for u in selection],
                                 model.predict_units(selection, None),
                                 se=self.p.stop == "noise")

        return selection, dev_f1
