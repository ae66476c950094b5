"""The ``hf`` backend: fine-tune a Hugging Face transformer for token classification.

Encoders (BERT, RoBERTa, GatorTron, ...) and decoders (GPT-2, Llama, ...) run
through ``AutoModelForTokenClassification`` with a fresh BIO head; decoders get a
padding token when they have none. ``model`` is a preset name (see
:mod:`nercurve.backends.hf_presets`), a hub id or a local folder (see
:mod:`nercurve.backends.hf_load` for offline use and pickle-based weights).

Training unit: the *document*. Each document is cut into windows of at most
``max_length`` subwords (one window when it fits; overlapping windows when it
does not), so entities keep their context across sentence boundaries as in
spaCy's transformer pipeline that Majdik et al. used; see
:mod:`nercurve.backends.hf_align`. Words are the document's tokens (derived with
:func:`nercurve.corpus.segment.segment` when the format did not fix them);
an entity whose boundary falls inside a token is learned and predicted at token
boundaries. The schedule defaults follow that spaCy configuration; see
:mod:`nercurve.backends.hf_train`.

GPU use: ``device = "auto"`` (the default) takes ``cuda`` when torch sees a GPU.
A runner that places jobs on GPUs asks :meth:`HFBackend.wants_gpu` and gives each
worker its GPU through ``CUDA_VISIBLE_DEVICES``; ``"cuda"`` then means the first
visible GPU. Several runs may share one GPU (the runner's ``runs_per_gpu``): each
needs its model, AdamW state (about 4x the weights in fp32) and activations of
``batch_size`` windows; seeded runs on a GPU are close to, but not bit-for-bit,
reproducible.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field, model_validator

from nercurve.backends.base import BackendParams, TrainResult
from nercurve.corpus.model import Doc, Span
from nercurve.errors import BackendError

_DEFAULT_MAX_LENGTH = 512


class HFParams(BackendParams):
    """Parameters of the ``hf`` backend (defaults: the Majdik et al. spaCy schedule)."""

    model: str = Field("roberta-base", min_length=1)
    """A preset (roberta-base, roberta-large, gatortron-base, gpt2-large, biobert, pubmedbert,
    minilm), a Hugging Face hub id or a local model folder."""
    revision: str | None = None
    """Hub revision (branch, tag or commit) to pin, for reproducible studies."""
    trust_pickle: bool = False
    """Allow pickle-based weight files (pytorch_model.bin), which can run code when loaded."""
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?)$")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    """Autocast type: ``auto`` is bf16 on GPUs that have it, else fp16; fp32 on a CPU."""
    learning_rate: float = Field(5e-5, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    warmup_steps: int = Field(250, ge=0)
    max_steps: int = Field(20000, ge=1)
    eval_every: int = Field(200, ge=1)
    patience: int = Field(1600, ge=1)
    """Stop after this many steps without a better dev F1."""
    batch_size: int = Field(8, ge=1)
    """Windows per batch."""
    grad_accum: int = Field(1, ge=1)
    """Batches per optimizer step."""
    max_grad_norm: float = Field(1.0, gt=0)
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


class HFModel:
    """A fine-tuned token classifier that predicts character spans."""

    def __init__(
        self,
        net: Any,
        encoder: Any,
        tags: list[str],
        *,
        device: Any,
        dtype: Any,
        batch_size: int,
    ) -> None:
        self.net = net
        self.encoder = encoder
        self.tags = tags
        self.device = device
        self.dtype = dtype
        self.batch_size = batch_size

    def predict(self, docs: Sequence[Doc]) -> list[tuple[Span, ...]]:
        """Predicted spans for each document, as character offsets into its text."""
        from nercurve.backends.hf_align import decode, doc_words
        from nercurve.backends.hf_train import predict_labels

        docs = with_tokens(docs)
        words = [doc_words(d) for d in docs]
        examples = self.encoder.examples(docs, words)
        found = predict_labels(
            self.net,
            examples,
            batch_size=self.batch_size,
            device=self.device,
            dtype=self.dtype,
            pad_id=self.encoder.tokenizer.pad_token_id,
        )
        return decode(words, examples, found, self.tags)


class HFBackend:
    """Fine-tunes a transformer (encoder or decoder) with a token-classification head."""

    name: ClassVar[str] = "hf"
    Params: ClassVar[type[HFParams]] = HFParams

    @classmethod
    def wants_gpu(cls, params: HFParams | dict[str, Any]) -> bool:
        """Whether runs with these parameters should be placed on a GPU when there is one."""
        return _validated(params).device != "cpu"

    @classmethod
    def check(cls, params: HFParams | dict[str, Any]) -> None:
        """Find (or download, once) the model before any job starts: a model that cannot be
        had is one clear error, not a failure in every job."""
        from nercurve.backends.hf_load import locate
        from nercurve.backends.hf_presets import resolve_preset

        p = _validated(params)
        locate(resolve_preset(p.model), revision=p.revision, trust_pickle=p.trust_pickle)

    def train(
        self,
        train: Sequence[Doc],
        dev: Sequence[Doc],
        params: HFParams | dict[str, Any] | None,
        seed: int,
    ) -> TrainResult:
        """Fine-tune on ``train``, keeping the weights with the best strict F1 on ``dev``."""
        import torch

        from nercurve.backends import hf_align as align
        from nercurve.backends import hf_train
        from nercurve.backends.hf_load import load_model, load_tokenizer, locate
        from nercurve.backends.hf_presets import resolve_preset
        from nercurve.tasks.ner_scores import strict_prf

        p = _validated(params)
        device = hf_train.resolve_device(p.device)
        dtype = hf_train.autocast_dtype(device, p.precision)
        source = locate(resolve_preset(p.model), revision=p.revision, trust_pickle=p.trust_pickle)
        tokenizer = load_tokenizer(source)
        train_docs, dev_docs = with_tokens(train), with_tokens(dev)
        tags = align.label_list([s.label for d in [*train_docs, *dev_docs] for s in d.spans])
        hf_train.seed_everything(seed)
        net = load_model(source, tags)
        net.config.pad_token_id = tokenizer.pad_token_id
        if device.type == "cuda":
            torch.cuda.empty_cache()
        net.to(device)
        encoder = align.Encoder(tokenizer, model_limit(net.config, tokenizer, p.max_length),
                                p.window_overlap)
        tag_id = {t: i for i, t in enumerate(tags)}
        words = [align.doc_words(d) for d in train_docs]
        word_tags = [
            [tag_id[t] for t in align.bio_tags(w, d.spans)]
            for d, w in zip(train_docs, words, strict=True)
        ]
        examples = [
            e for e in encoder.examples(train_docs, words, word_tags)
            if any(label != align.IGNORE for label in e.labels)
        ]
        if not examples:
            raise BackendError(
                f"the {len(train_docs)} training documents hold no text to train on",
                hint="check that the training subset is not empty",
            )
        model = HFModel(net, encoder, tags, device=device, dtype=dtype,
                        batch_size=p.eval_batch_size)

        def evaluate() -> tuple[float, dict[str, float]]:
            prf = strict_prf([d.spans for d in dev_docs], model.predict(dev_docs))
            return prf.f1, {"dev_precision": prf.precision, "dev_recall": prf.recall,
                            "dev_f1": prf.f1}

        fitted = hf_train.fit(
            net, examples, hf_train.Schedule.of(p), device=device, dtype=dtype,
            pad_id=tokenizer.pad_token_id, seed=seed, evaluate=evaluate if dev_docs else None,
        )
        return TrainResult(model, fitted.steps, fitted.best_step, fitted.best_score,
                           fitted.history, {"train_tokens_per_s": fitted.tokens_per_s})


def _validated(params: HFParams | dict[str, Any] | None) -> HFParams:
    if isinstance(params, HFParams):
        return params
    return HFParams.model_validate(params or {})


def with_tokens(docs: Sequence[Doc]) -> list[Doc]:
    """The documents, segmented into tokens where their format did not fix them."""
    from nercurve.corpus.segment import segment

    todo = [i for i, d in enumerate(docs) if d.tokens is None]
    out = list(docs)
    for i, doc in zip(todo, segment([docs[i] for i in todo]), strict=True):
        out[i] = doc
    return out


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
