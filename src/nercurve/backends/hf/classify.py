"""The ``hf`` backend of text classification: fine-tune a Hugging Face transformer to classify
documents.

The model loads as for NER (:mod:`nercurve.backends.hf.load`: presets, hub ids, local
folders, offline use, no pickle unless trusted) with the same parameters, devices, precision
and training loop (:mod:`nercurve.backends.hf.train`). On top of the model's hidden states
sits a fresh linear head over a ``pooling`` of them: ``mean`` (the default: the average of
the text's token states, which suits every architecture and sentence encoders such as
MiniLM best), ``first`` (the first token, BERT's [CLS]) or ``last`` (the last token,
decoders). Single-label data train with cross-entropy, multi-label data with a binary
cross-entropy per class.

Long texts, by a fixed rule: a document is cut into windows of at most ``max_length``
subwords (special tokens included; default 512, capped at the model's limit) that overlap by
``window_overlap`` subwords (the tokenizer's own overflow windows). Each window is a
training example carrying its document's classes, and a document's scores are its windows'
logits averaged, then a softmax (single-label) or a sigmoid per class (multi-label). The dev
set's macro-F1 selects the best step (every ``eval_every`` steps, early stopping after
``patience``). ``epochs`` sets the training length in passes over the windows (at least
``min_steps``, at most ``max_steps`` steps), so that small and large subsets see their data
equally often while the smallest still get enough updates to leave the head's random start
(4 passes over 25 notes in batches of 16 are 7 steps).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field

from nercurve.backends.base import TrainResult, dev_macro_f1, require_training, validated
from nercurve.backends.hf.align import IGNORE
from nercurve.backends.hf.backend import HFFamily, HFParams, Run, model_limit, trained
from nercurve.corpus.classes import ClassScheme, doc_classes
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError

#: Multi-label targets travel to the training loop as a bit mask (bit k: class k).
MAX_MULTI_LABELS = 62


class HFClassifyParams(HFParams):
    """Parameters of the ``hf`` classification backend: those of the NER ``hf`` backend
    (:class:`~nercurve.backends.hf.backend.HFParams`), and the ``pooling`` under the head."""

    pooling: Literal["mean", "first", "last"] = "mean"
    dropout: float = Field(0.1, ge=0, lt=1)
    """Dropout on the pooled state before the head."""
    epochs: float | None = Field(None, gt=0)
    """Passes over the training windows, at least ``min_steps`` and at most ``max_steps``
    steps (``None``: ``max_steps`` alone decides)."""
    min_steps: int = Field(0, ge=0)
    """The fewest steps ``epochs`` may give a small subset."""


@dataclass(frozen=True)
class Window:
    """One window of a document: subword ids and, for training, the target at position 0."""

    doc: int
    input_ids: list[int]
    labels: list[int]


def _head_module(encoder: Any, n_labels: int, pooling: str, multi_label: bool,
                 dropout: float) -> Any:
    """A torch module: the encoder, a pooling of its states and a linear head. Its forward
    takes the training loop's batches (the target at position 0 of ``labels``) and returns
    the loss and the logits."""
    import torch
    from transformers.modeling_outputs import SequenceClassifierOutput

    class SequenceClassifier(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.pooling = pooling
            self.dropout = torch.nn.Dropout(dropout)
            self.head = torch.nn.Linear(encoder.config.hidden_size, n_labels)
            self.register_buffer("bits", 2 ** torch.arange(n_labels), persistent=False)

        def forward(self, input_ids: Any, attention_mask: Any,
                    labels: Any = None) -> SequenceClassifierOutput:
            states = self.encoder(input_ids=input_ids,
                                  attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(states.dtype)
            if pooling == "mean":
                pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1)
            elif pooling == "first":
                pooled = states[:, 0]
            else:
                last = attention_mask.sum(1) - 1
                pooled = states[torch.arange(states.size(0), device=states.device), last]
            logits = self.head(self.dropout(pooled)).float()
            loss = None
            if labels is not None:
                target = labels[:, 0]
                if multi_label:
                    hot = (target.unsqueeze(-1) & self.bits).ne(0).float()
                    loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, hot)
                else:
                    loss = torch.nn.functional.cross_entropy(logits, target)
            return SequenceClassifierOutput(loss=loss, logits=logits)

    return SequenceClassifier()


@dataclass
class HFClassifyModel:
    """A fine-tuned transformer classifier that scores every class of a document."""

    net: Any
    tokenizer: Any
    scheme: ClassScheme
    limit: int
    overlap: int
    device: Any
    dtype: Any
    batch_size: int

    def windows(self, docs: Sequence[Doc], targets: Sequence[int] | None = None) -> list[Window]:
        """Each document's windows (see the module docstring), with its target if given."""
        encoded = self.tokenizer([d.text for d in docs], truncation=True, max_length=self.limit,
                                 stride=self.overlap, return_overflowing_tokens=True)
        out = []
        for ids, doc in zip(encoded["input_ids"], encoded["overflow_to_sample_mapping"],
                            strict=True):
            target = IGNORE if targets is None else targets[doc]
            out.append(Window(doc, list(ids), [target] + [IGNORE] * (len(ids) - 1)))
        return out

    def predict(self, docs: Sequence[Doc]) -> list[dict[str, float]]:
        """A probability per class for each document."""
        import torch

        from nercurve.backends.hf.train import autocast, collate

        windows = self.windows(docs)
        logits = torch.zeros((len(docs), len(self.scheme.labels)))
        count = torch.zeros(len(docs))
        order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
        was_training = self.net.training
        self.net.eval()
        with torch.inference_mode(), autocast(self.device, self.dtype):
            for b in range(0, len(order), self.batch_size):
                chunk = [windows[i] for i in order[b : b + self.batch_size]]
                batch = collate(chunk, self.tokenizer.pad_token_id, self.device)
                out = self.net(input_ids=batch["input_ids"],
                               attention_mask=batch["attention_mask"]).logits.float().cpu()
                for row, window in enumerate(chunk):
                    logits[window.doc] += out[row]
                    count[window.doc] += 1
        self.net.train(was_training)
        mean = logits / count.clamp(min=1).unsqueeze(-1)
        scores = torch.sigmoid(mean) if self.scheme.multi_label else torch.softmax(mean, -1)
        return [dict(zip(self.scheme.labels, map(float, row), strict=True))
                for row in scores.tolist()]

    def uncertainty(self, docs: Sequence[Doc], measure: str) -> list[float]:
        """How unsure the classifier is of each document (``"margin"`` or ``"entropy"`` of
        its class scores; :func:`nercurve.backends.uncertainty.scores_uncertainty`)."""
        from nercurve.backends.uncertainty import scores_uncertainty

        return scores_uncertainty(self.predict(docs), measure)

    def save(self, path: Path) -> None:
        """The encoder and its tokenizer as a Hugging Face folder (``save_pretrained``;
        ``AutoModel.from_pretrained`` reads the encoder), the head's weights as
        ``head.safetensors`` and the classes, pooling and windows in ``nercurve_hf.json``."""
        from safetensors.torch import save_file

        from nercurve.backends.hf.ner import SETTINGS, precision_name

        self.net.encoder.save_pretrained(path)
        self.tokenizer.save_pretrained(path)
        head = {k: v.detach().cpu().contiguous() for k, v in self.net.head.state_dict().items()}
        save_file(head, str(path / HEAD))
        settings = {"labels": list(self.scheme.labels), "multi_label": self.scheme.multi_label,
                    "pooling": self.net.pooling, "dropout": self.net.dropout.p,
                    "max_length": self.limit, "window_overlap": self.overlap,
                    "batch_size": self.batch_size, "precision": precision_name(self.dtype)}
        (path / SETTINGS).write_text(json.dumps(settings, indent=1), encoding="utf-8")


class HFClassifyBackend(HFFamily):
    """Fine-tunes a transformer with a classification head (see the module docstring)."""

    name: ClassVar[str] = "hf"
    Params: ClassVar[type[HFClassifyParams]] = HFClassifyParams
    #: The measures its models' ``uncertainty`` scores (uncertainty selection).
    uncertainty_measures: ClassVar[tuple[str, ...]] = ("margin", "entropy")

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int,
              scheme: ClassScheme) -> TrainResult:
        """Fine-tune on ``train``, keeping the weights with the best dev macro-F1."""
        from nercurve.backends.hf import train as hf_train
        from nercurve.backends.hf.load import load_encoder

        p = validated(HFClassifyParams, params)
        require_training(train, "hf")
        if scheme.multi_label and len(scheme.labels) > MAX_MULTI_LABELS:
            raise BackendError(f"{len(scheme.labels)} classes are more than the "
                               f"{MAX_MULTI_LABELS} the hf backend takes in multi-label data")
        run = Run.of(p)
        hf_train.seed_everything(seed)
        encoder = load_encoder(run.source)
        net = _head_module(encoder, len(scheme.labels), p.pooling, scheme.multi_label, p.dropout)
        net.to(run.device)
        model = HFClassifyModel(
            net, run.tokenizer, scheme,
            limit=model_limit(encoder.config, run.tokenizer, p.max_length),
            overlap=p.window_overlap, device=run.device, dtype=run.dtype,
            batch_size=p.eval_batch_size,
        )
        index = {label: k for k, label in enumerate(scheme.labels)}
        if scheme.multi_label:
            targets = [sum(1 << index[c] for c in doc_classes(d)) for d in train]
        else:
            targets = [index[doc_classes(d)[0]] for d in train]

        def evaluate() -> tuple[float, dict[str, float]]:
            return dev_macro_f1(scheme, dev, model.predict(dev), se=p.stop == "noise")

        windows = model.windows(train, targets)
        fitted = hf_train.fit(
            net, windows, hf_train.Schedule.of(p, len(windows)), device=run.device,
            dtype=run.dtype, pad_id=run.tokenizer.pad_token_id, seed=seed,
            evaluate=evaluate if dev else None,
        )
        return trained(model, fitted)

    def load(self, path: Path) -> HFClassifyModel:
        """A model that :meth:`HFClassifyModel.save` wrote into the folder ``path``, on a GPU
        when torch sees one (in the precision it was trained in), else on the CPU in fp32."""
        from safetensors.torch import load_file

        from nercurve.backends.hf.load import load_encoder, load_tokenizer, locate
        from nercurve.backends.hf.ner import read_settings
        from nercurve.backends.hf.train import autocast_dtype, resolve_device

        settings = read_settings(path)
        source = locate(str(path), revision=None, trust_pickle=False)
        scheme = ClassScheme(tuple(settings["labels"]), bool(settings["multi_label"]))
        net = _head_module(load_encoder(source), len(scheme.labels), settings["pooling"],
                           scheme.multi_label, settings["dropout"])
        net.head.load_state_dict(load_file(str(path / HEAD)))
        net.eval()
        device = resolve_device("auto")
        net.to(device)
        return HFClassifyModel(
            net, load_tokenizer(source), scheme, limit=settings["max_length"],
            overlap=settings["window_overlap"], device=device,
            dtype=autocast_dtype(device, settings["precision"] if device.type == "cuda"
                                 else "fp32"),
            batch_size=settings["batch_size"])


#: The file of a saved classifier's head weights.
HEAD = "head.safetensors"
