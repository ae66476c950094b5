"""What the ``hf`` backends of NER and classification share (parameters, GPU placement, the
model check before any job, the set-up of a run and its result), and what they share with
the ``llm`` backends (:class:`TorchParams`, :class:`TorchFamily`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from nercurve.backends.base import TrainResult, validated
from nercurve.backends.loop import ScheduleParams

_DEFAULT_MAX_LENGTH = 512


class TorchParams(ScheduleParams):
    """The parameters the ``hf`` and ``llm`` backends share: where the model comes from and
    runs, the batches of their training loop (:mod:`nercurve.backends.hf.train`), and the
    optional schedule that scales ``eval_every`` and ``patience`` with the data
    (:class:`~nercurve.backends.loop.ScheduleParams`)."""

    revision: str | None = None
    """Hub revision (branch, tag or commit) to pin, for reproducible studies."""
    trust_pickle: bool = False
    """Allow pickle-based weight files (pytorch_model.bin), which can run code when loaded."""
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    batch_size: int = Field(8, ge=1)
    """Training examples per batch (``hf``: windows; ``llm``: questions)."""
    grad_accum: int = Field(1, ge=1)
    """Batches per optimizer step."""
    max_grad_norm: float = Field(1.0, gt=0)


class HFParams(TorchParams):
    """Parameters of the ``hf`` backend (defaults: the Majdik et al. spaCy schedule)."""

    model: str = Field("roberta-base", min_length=1)
    """A preset (roberta-base, roberta-large, gatortron-base, gpt2-large, biobert, pubmedbert,
    minilm), a Hugging Face hub id or a local model folder."""
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Autocast type: ``auto`` is bf16 on GPUs that have it, else fp16; fp32 on a CPU."""
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(250, ge=0)
    max_steps: int = Field(20000, ge=1)
    eval_every: int = Field(200, ge=1)
    patience: int = Field(1600, ge=1)
    """Stop after this many steps without a better dev F1."""
    max_length: int | None = Field(None, ge=8)
    """Subwords per window, special tokens included (default 512; capped at the model's limit)."""
    window_overlap: int = Field(64, ge=0)
    """Subwords that consecutive windows of a long document share."""
    eval_batch_size: int = Field(32, ge=1)

    @model_validator(mode="after")
    def _overlap_fits(self) -> HFParams:
        length = self.max_length or _DEFAULT_MAX_LENGTH
        if 2 * self.window_overlap >= length:
            raise ValueError(f"window_overlap must be under half of max_length ({length})")
        return self


@dataclass(frozen=True)
class Run:
    """What every ``hf`` run starts from: the device, the autocast type, the model folder and
    its tokenizer."""

    device: Any
    dtype: Any
    source: Any
    tokenizer: Any

    @classmethod
    def of(cls, p: HFParams) -> Run:
        """The device, precision, model and tokenizer that ``p`` asks for."""
        from nercurve.backends.hf.load import load_tokenizer, locate
        from nercurve.backends.hf.presets import resolve_preset
        from nercurve.backends.hf.train import autocast_dtype, resolve_device

        device = resolve_device(p.device)
        dtype = autocast_dtype(device, p.precision)
        source = locate(resolve_preset(p.model), revision=p.revision, trust_pickle=p.trust_pickle)
        return cls(device, dtype, source, load_tokenizer(source))


class TorchFamily:
    """GPU placement of the ``hf`` and ``llm`` backends (their ``Params`` are
    :class:`TorchParams`)."""

    Params: ClassVar[type[TorchParams]]

    @classmethod
    def wants_gpu(cls, params: Any) -> bool:
        """Whether runs with these parameters should be placed on a GPU when there is one."""
        return validated(cls.Params, params).device != "cpu"


class HFFamily(TorchFamily):
    """The model check of the ``hf`` backends (their ``Params`` are :class:`HFParams`)."""

    Params: ClassVar[type[HFParams]]

    @classmethod
    def check(cls, params: Any) -> None:
        """Find (or download, once) the model before any job starts: a model that cannot be
        had is one clear error, not a failure in every job."""
        from nercurve.backends.hf.load import locate
        from nercurve.backends.hf.presets import resolve_preset

        p = validated(cls.Params, params)
        locate(resolve_preset(p.model), revision=p.revision, trust_pickle=p.trust_pickle)


def trained(model: Any, fitted: Any) -> TrainResult:
    """The result of a run: the model (holding the best weights) and how :func:`fit`
    went (the schedule in force and why it stopped among them)."""
    return TrainResult(model, fitted.steps, fitted.best_step, fitted.best_score,
                       fitted.history,
                       {"train_tokens_per_s": fitted.tokens_per_s, **fitted.schedule},
                       fitted.stop_reason)


def model_limit(config: Any, tokenizer: Any, requested: int | None) -> int:
    """Subwords per window: ``requested`` (default 512) capped at the model's positions."""
    limits = [requested or _DEFAULT_MAX_LENGTH]
    positions = getattr(config, "max_position_embeddings", None) or getattr(
        config, "n_positions", None
    )
    if isinstance(positions, int) and positions > 0:
        # RoBERTa-style models count positions from padding_idx + 1
        offset = 2 if "roberta" in config.model_type or config.model_type == "camembert" else 0
        limits.append(positions - offset)
    if 0 < tokenizer.model_max_length < 1_000_000:
        limits.append(tokenizer.model_max_length)
    return min(limits)
