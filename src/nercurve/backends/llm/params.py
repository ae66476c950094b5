"""The ``llm`` backend's parameters (NER; classification extends them): the model, LoRA or
full fine-tuning, prompting, decoding and self-consistency. Their meaning is documented on
:mod:`nercurve.backends.llm.ner` and in the README."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from nercurve.backends.base import BackendParams
from nercurve.backends.hf.backend import TorchParams
from nercurve.backends.llm.prompt import DEFAULT_SYSTEM, DEFAULT_TEMPLATE, TEXT


def _off(value: Any) -> bool:
    return value is False


class SelfConsistency(BackendParams):
    """Self-consistency decoding: several sampled answers per question, entities kept by vote."""

    samples: int = Field(5, ge=2)
    temperature: float = Field(0.7, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    top_k: int = Field(50, ge=1)
    """Tokens considered at each step (then narrowed to ``top_p`` of the probability)."""
    min_votes: int | None = Field(None, ge=1)
    """Answers that must name an entity for it to be kept (default: a majority)."""

    @model_validator(mode="after")
    def _votes_fit(self) -> SelfConsistency:
        if self.min_votes is not None and self.min_votes > self.samples:
            raise ValueError(f"min_votes ({self.min_votes}) exceeds samples ({self.samples})")
        return self

    @property
    def votes_needed(self) -> int:
        """``min_votes``, or a majority of ``samples``."""
        return self.min_votes or self.samples // 2 + 1


class LLMParams(TorchParams):
    """Parameters of the ``llm`` backend."""

    model: str = Field("smollm2-135m", min_length=1)
    """A preset (llama-3.1-8b, qwen2.5-7b, smollm2-135m), a hub id, a local folder or a
    .gguf file."""
    gguf_file: str | None = None
    """The GGUF file inside the folder or hub repository ``model`` names."""
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    """``auto``: bf16 on GPUs that have it, else fp32."""
    quantization: Literal["4bit", "8bit"] | None = None
    """Quantize the frozen base model (QLoRA: ``4bit``); needs a CUDA GPU and bitsandbytes."""
    train: bool = True
    """Fine-tune a LoRA adapter; ``false`` for the zero- and few-shot arms."""
    shots: int = Field(0, ge=0)
    """Examples from the training subset put before each question (``train = false`` only)."""

    descriptions: dict[str, str] = Field(default_factory=dict)
    """Entity type -> one-line description, shown in the question."""
    template: str = DEFAULT_TEMPLATE
    """The question: ``{text}`` (required), ``{types}`` and ``{format}`` are filled in."""
    system: str = DEFAULT_SYSTEM
    """The system turn (empty: none)."""
    answer_format: Literal["json", "inline"] = "json"
    per_type_prompts: bool = False
    """One question per entity type (the multi-task form) instead of one for all."""
    prompt_corpus: bool = Field(False, exclude_if=_off)
    """In a multi-corpus study, name each document's corpus in its questions ("Corpus: ncbi.
    Entity types: ..."); the types asked are always its corpus's own. Unset, it is left out
    of the stored parameters (job ids do not change)."""
    sentences_per_unit: int = Field(1, ge=1)
    """Sentences asked about at once (1: one question per sentence)."""
    max_length: int = Field(512, ge=16)
    """Tokens of a training example (prompt and answer); longer ones are left out."""

    lora: bool = True
    """Train a LoRA adapter; ``false``: fine-tune every weight (full-parameter)."""
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | Literal["all-linear"] | None = "all-linear"
    """Layers that get the adapter: every linear layer of the blocks (the QLoRA recipe),
    a list of layer names, or ``None`` for peft's choice for the architecture (the query
    and value projections of Llama and Qwen)."""

    learning_rate: float | None = Field(None, gt=0)
    """Default: 2e-4 for a LoRA adapter (the QLoRA recipe), 2e-5 for full fine-tuning."""
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(10, ge=0)
    epochs: float | None = Field(3.0, gt=0)
    """Passes over the training questions (``None``: ``max_steps`` alone decides)."""
    max_steps: int = Field(1000, ge=1)
    eval_every: int = Field(50, ge=1)
    patience: int = Field(150, ge=1)
    """Stop after this many steps without a better dev score."""
    gradient_checkpointing: bool = False
    select_on: Literal["dev_f1", "dev_loss"] = "dev_f1"
    dev_units: int | None = Field(100, ge=1)
    """Dev sentences (a fixed sample) used for model selection (``None``: all)."""

    self_consistency: SelfConsistency | None = None
    constrained: bool = True
    """Decode under a grammar of the answers that can be right in form (see the module
    docstring); ``false``: decode freely."""
    max_new_tokens: int = Field(128, ge=1)
    eval_batch_size: int = Field(16, ge=1)
    """Sequences decoded at once (self-consistency: questions × samples)."""
    overlap: Literal["longest", "first"] = "longest"
    """Which of two overlapping predicted spans is kept."""

    @model_validator(mode="after")
    def _consistent(self) -> LLMParams:
        if TEXT not in self.template:
            raise ValueError(f"template must contain the text placeholder {TEXT}")
        if self.shots and self.train:
            raise ValueError("shots (few-shot examples) are for arms with train = false")
        if not self.lora and self.quantization is not None:
            raise ValueError("quantization freezes the base model: it needs lora = true")
        return self

    @property
    def lr(self) -> float:
        """The learning rate in force (``learning_rate``, or the default of the arm)."""
        if self.learning_rate is not None:
            return self.learning_rate
        return 2e-4 if self.lora else 2e-5
