"""The ``llm`` backend of text classification: a causal language model answers with the
document's class.

It is the NER ``llm`` backend (:mod:`nercurve.backends.llm`) asked another question, and
reuses its pieces unchanged: model loading, GGUF expansion, LoRA and quantization
(:mod:`~nercurve.backends.llm_load`), the prompt rendering of
:class:`~nercurve.backends.llm_prompt.Prompter` (chat template, system turn, few-shot turns;
plain text ending in ``Answer:`` for a model without a chat template), training examples
with the loss on the answer tokens only (:mod:`~nercurve.backends.llm_train`) through the
``hf`` loop, and batched greedy or self-consistency decoding with a shared prompt prefix
(:mod:`~nercurve.backends.llm_decode`). The same three kinds of arm: fine-tuned (a LoRA
adapter, ``train = true``), zero-shot (``train = false``) and few-shot (``shots = n``
documents of the job's training subset, drawn with its seed).

The question is ``template`` with ``{types}`` -> "Classes: CURRENT (description); PAST; ...",
``{format}`` -> how to answer, and ``{text}`` -> the whole document. The gold answer is the
class name; in multi-label data the classes joined by ", ", or "none".

An answer names a class when, stripped of quotes and punctuation, it is a class name
(letter case aside); otherwise the class whose name comes first in it as a word. A
multi-label answer is read as a list separated by commas, semicolons or new lines ("none":
no class). An answer that names no class is *unparseable*: the document gets no class (a
miss); names that are not classes are counted as *invalid*. With ``self_consistency`` each
class scores the share of the sampled answers that name it (single-label: the most named
wins; multi-label: a class is kept when ``min_votes``, by default a majority, name it).
Model selection decodes greedily and scores the dev sample's macro-F1 (``select_on =
"dev_f1"``) or its answer loss (``"dev_loss"``). Counted per job: ``answers``,
``parse_failures``, ``parse_failure_rate``, ``invalid_classes``, ``decode_seconds``,
``generated_tokens``, and the training numbers of the NER backend.

The NER-only options (``answer_format``, ``per_type_prompts``, ``sentences_per_unit``,
``overlap``) must stay at their defaults; ``descriptions`` describe classes and
``dev_units`` counts dev documents.
"""

from __future__ import annotations

import math
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import Field, model_validator

from nercurve.backends.base import TrainResult
from nercurve.backends.classify_base import dev_macro_f1
from nercurve.backends.llm import LLMBackend, LLMParams
from nercurve.backends.llm_prompt import FORMAT, TEXT, TYPES, Prompter, PromptStyle, Unit
from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError

DEFAULT_SYSTEM = "You classify texts."
NONE = "none"
_SEPARATORS = re.compile(r"[,;\n]+")
_TRIM = " \t\"'`.:!*[](){}"


class LLMClassifyParams(LLMParams):
    """Parameters of the ``llm`` classification backend: those of the NER ``llm`` backend
    (:class:`~nercurve.backends.llm.LLMParams`) with a classifying system turn and short
    answers."""

    system: str = DEFAULT_SYSTEM
    max_new_tokens: int = Field(16, ge=1)

    @model_validator(mode="after")
    def _no_ner_options(self) -> LLMClassifyParams:
        ner = {"answer_format": "json", "per_type_prompts": False, "sentences_per_unit": 1,
               "overlap": "longest"}
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
        data), and how many names were not classes."""
        by_name = {lab.casefold(): lab for lab in self.style.labels}
        if not self.multi_label:
            whole = answer.strip().strip(_TRIM).casefold()
            if whole in by_name:
                return (by_name[whole],), True, 0
            found = []
            for lab in self.style.labels:
                match = re.search(rf"(?<!\w){re.escape(lab)}(?!\w)", answer, re.IGNORECASE)
                if match:
                    found.append((match.start(), lab))
            return ((min(found)[1],), True, 0) if found else ((), False, 0)
        names = [n.strip().strip(_TRIM).casefold() for n in _SEPARATORS.split(answer)]
        names = [n for n in names if n]
        if names == [NONE]:
            return (), True, 0
        kept = tuple(dict.fromkeys(by_name[n] for n in names if n in by_name))
        return kept, bool(kept), sum(n not in by_name for n in names)


class LLMClassifyModel:
    """A causal LM (with its adapter, if trained) that answers with documents' classes."""

    def __init__(self, net: Any, prompter: ClassPrompter, params: LLMClassifyParams,
                 scheme: ClassScheme, *, device: Any, seed: int) -> None:
        self.net = net
        self.prompter = prompter
        self.params = params
        self.scheme = scheme
        self.device = device
        self.seed = seed
        self._diagnostics: dict[str, float] = {}

    def predict(self, docs: Sequence[Doc], *, greedy: bool = False) -> list[dict[str, float]]:
        """A score per class for each document (see the module docstring); ``greedy``
        decodes greedily even with self-consistency (model selection)."""
        import torch

        from nercurve.backends.llm_decode import Sampling, generate

        prompter, tokenizer = self.prompter, self.prompter.tokenizer
        prompts = [tokenizer(prompter.prompt(d.text, None),
                             add_special_tokens=not prompter.chat)["input_ids"] for d in docs]
        sc = None if greedy else self.params.self_consistency
        sampling = Sampling() if sc is None else Sampling(sc.samples, sc.temperature, sc.top_p,
                                                          sc.top_k)
        torch.manual_seed(self.seed)
        started = time.perf_counter()
        generated = generate(self.net, tokenizer, prompts, sampling=sampling,
                             max_new_tokens=self.params.max_new_tokens,
                             batch_size=self.params.eval_batch_size, device=self.device)
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
        }
        return out

    def diagnostics(self) -> dict[str, float]:
        """Counts about the answers of the most recent prediction and its decoding time."""
        return dict(self._diagnostics)


class LLMClassifyBackend(LLMBackend):
    """Classification with a causal LM: LoRA/QLoRA fine-tuning, or zero-/few-shot prompting
    (``needs_training_data``, ``wants_gpu`` and ``check`` as for NER)."""

    name: ClassVar[str] = "llm"
    Params: ClassVar[type[LLMClassifyParams]] = LLMClassifyParams

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int,
              scheme: ClassScheme) -> TrainResult:
        """Fine-tune an adapter on ``train`` (or, with ``train = false``, prompt the model as
        it is), selecting on a sample of ``dev``."""
        import torch

        from nercurve.backends import hf_train
        from nercurve.backends.llm_load import (
            add_lora,
            check_quantization,
            load_causal_lm,
            load_tokenizer,
            resolve,
        )
        from nercurve.backends.llm_train import answer_loss, lm_examples, mean_loss

        p = (params if isinstance(params, LLMClassifyParams)
             else LLMClassifyParams.model_validate(params or {}))
        device = hf_train.resolve_device(p.device)
        check_quantization(p.quantization, device.type)
        dtype = hf_train.autocast_dtype(device, p.precision)
        source = resolve(p.model, gguf_file=p.gguf_file, revision=p.revision,
                         trust_pickle=p.trust_pickle)
        tokenizer = load_tokenizer(source)
        documents = [Document(i, 0, d.text, (), doc_classes(d)) for i, d in enumerate(train)]
        style = PromptStyle(scheme.labels, p.descriptions, p.template, p.system or None)
        shots = random.Random(seed).sample(documents, min(p.shots, len(documents)))
        prompter = ClassPrompter(tokenizer, style, shots, scheme.multi_label)
        hf_train.seed_everything(seed)
        weights = torch.bfloat16 if dtype == torch.bfloat16 else None
        net = load_causal_lm(source, device=device, dtype=weights, quantization=p.quantization)
        model = LLMClassifyModel(net, prompter, p, scheme, device=device, seed=seed)
        if not p.train:
            return TrainResult(model, extra={"shots": float(len(shots))})

        examples, too_long = lm_examples(prompter, documents, max_length=p.max_length)
        if not examples:
            raise BackendError(
                f"none of the {len(documents)} training documents gives an example of at most "
                f"max_length = {p.max_length} tokens",
                hint="raise max_length (prompt, document and answer must fit)",
            )
        net = add_lora(net, r=p.r, alpha=p.alpha, dropout=p.dropout,
                       target_modules=p.target_modules, quantized=p.quantization is not None,
                       gradient_checkpointing=p.gradient_checkpointing)
        net.config.use_cache = False
        model.net = net
        sample = list(dev)
        if p.dev_units is not None and len(sample) > p.dev_units:  # the same for every job
            sample = [sample[i] for i in sorted(random.Random(0).sample(range(len(sample)),
                                                                        p.dev_units))]
        dev_docs = [Document(i, 0, d.text, (), doc_classes(d)) for i, d in enumerate(sample)]
        dev_examples = lm_examples(prompter, dev_docs, max_length=p.max_length)[0]

        def dev_f1() -> tuple[float, dict[str, float]]:
            return dev_macro_f1(scheme, sample, model.predict(sample, greedy=True))

        def dev_loss() -> tuple[float, dict[str, float]]:
            loss = mean_loss(net, dev_examples, batch_size=p.eval_batch_size, device=device,
                             pad_id=tokenizer.pad_token_id)
            return -loss, {"dev_loss": loss}

        steps = p.max_steps
        if p.epochs is not None:
            steps = max(1, min(steps, math.ceil(
                p.epochs * len(examples) / (p.batch_size * p.grad_accum))))
        fitted = hf_train.fit(
            net, examples, hf_train.Schedule.of(p, max_steps=steps), device=device, dtype=dtype,
            pad_id=tokenizer.pad_token_id, seed=seed, loss_of=answer_loss,
            evaluate=(dev_f1 if p.select_on == "dev_f1" else dev_loss) if sample else None,
        )
        best = fitted.best_score
        if sample and p.select_on == "dev_loss":
            best = dev_f1()[0]
        extra = {"train_tokens_per_s": fitted.tokens_per_s,
                 "train_examples": float(len(examples)), "skipped_examples": float(too_long)}
        return TrainResult(model, fitted.steps, fitted.best_step, best, fitted.history, extra)
