"""The ``hf`` backend: fine-tune a Hugging Face transformer for token classification.

Encoders (BERT, RoBERTa, GatorTron, ...) and decoders (GPT-2, Llama, ...) run
through ``AutoModelForTokenClassification`` with a fresh BIO head; decoders get a
padding token when they have none. ``model`` is a preset name (see
:mod:`nercurve.backends.hf.presets`), a hub id or a local folder (see
:mod:`nercurve.backends.hf.load` for offline use and pickle-based weights).

Training unit: the *document*. Each document is cut into windows of at most
``max_length`` subwords (one window when it fits; overlapping windows when it
does not), so entities keep their context across sentence boundaries as in
spaCy's transformer pipeline that Majdik et al. used; see
:mod:`nercurve.backends.hf.align`. Words are the document's tokens (derived with
:func:`nercurve.corpus.segment.segment` when the format did not fix them);
an entity whose boundary falls inside a token is learned and predicted at token
boundaries. The schedule defaults follow that spaCy configuration; see
:mod:`nercurve.backends.hf.train`.

GPU use: ``device = "auto"`` (the default) takes ``cuda`` when torch sees a GPU.
A runner that places jobs on GPUs asks :meth:`HFBackend.wants_gpu` and gives each
worker its GPU through ``CUDA_VISIBLE_DEVICES``; ``"cuda"`` then means the first
visible GPU. Several runs may share one GPU (the runner's ``runs_per_gpu``): each
needs its model, AdamW state (about 4x the weights in fp32) and activations of
``batch_size`` windows; seeded runs on a GPU are close to, but not bit-for-bit,
reproducible.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from nercurve.backends.base import TrainResult, dev_strict_f1, validated
from nercurve.backends.hf.backend import HFFamily, HFParams, Run, model_limit, trained
from nercurve.corpus.model import Doc, Span
from nercurve.errors import BackendError
from nercurve.tasks.ner_scores import corpus_labels


@dataclass
class HFModel:
    """A fine-tuned token classifier that predicts character spans."""

    net: Any
    encoder: Any
    tags: list[str]
    device: Any
    dtype: Any
    batch_size: int

    def predict(self, docs: Sequence[Doc]) -> list[tuple[Span, ...]]:
        """Predicted spans for each document, as character offsets into its text."""
        from nercurve.backends.hf.align import decode, doc_words
        from nercurve.backends.hf.train import predict_labels

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

    def uncertainty(self, docs: Sequence[Doc], measure: str) -> list[float]:
        """How unsure the model is of each document (higher: more), from each word's tag
        distribution (the softmax at its first word piece): ``"least_confidence"`` is 1 −
        the probability of the predicted (argmax) tag sequence, ``"entropy"`` the mean word
        entropy (:mod:`nercurve.backends.uncertainty`)."""
        import numpy as np

        from nercurve.backends.hf.align import doc_words
        from nercurve.backends.uncertainty import least_confidence, mean_token_entropy

        docs = with_tokens(docs)
        examples = self.encoder.examples(docs, [doc_words(d) for d in docs])
        rows: list[dict[int, Any]] = [{} for _ in docs]
        for example, probs in zip(examples, self._word_probabilities(examples), strict=True):
            rows[example.doc].update(probs)
        out = []
        for found in rows:
            p = np.array([found[w] for w in sorted(found)]).reshape(len(found), len(self.tags))
            out.append(least_confidence(float(np.prod(p.max(axis=1)))) if measure ==
                       "least_confidence" else mean_token_entropy(p))
        return out

    def _word_probabilities(self, examples: Sequence[Any]) -> list[dict[int, Any]]:
        """The tag distribution of each owned word (word index -> probabilities) per example."""
        import torch

        from nercurve.backends.hf.train import autocast, collate

        out: list[dict[int, Any]] = [{} for _ in examples]
        pad = self.encoder.tokenizer.pad_token_id
        was_training = self.net.training
        self.net.eval()
        with torch.inference_mode(), autocast(self.device, self.dtype):
            for b in range(0, len(examples), self.batch_size):
                chunk = list(range(b, min(b + self.batch_size, len(examples))))
                batch = collate([examples[i] for i in chunk], pad, self.device)
                logits = self.net(input_ids=batch["input_ids"],
                                  attention_mask=batch["attention_mask"]).logits
                probs = torch.softmax(logits.float(), dim=-1).cpu().numpy()
                for row, i in enumerate(chunk):
                    out[i] = {w: probs[row, p] for w, p in examples[i].positions.items()}
        self.net.train(was_training)
        return out

    def save(self, path: Path) -> None:
        """The model and its tokenizer as a Hugging Face folder (``save_pretrained``: the
        tags are the config's ``id2label``; ``AutoModelForTokenClassification.from_pretrained``
        reads it), and the windowing in ``nercurve_hf.json``."""
        self.net.save_pretrained(path)
        self.encoder.tokenizer.save_pretrained(path)
        window = {"max_length": self.encoder.budget + len(self.encoder.prefix)
                  + len(self.encoder.suffix), "window_overlap": self.encoder.overlap,
                  "batch_size": self.batch_size, "tags": self.tags,
                  "precision": precision_name(self.dtype)}
        (path / SETTINGS).write_text(json.dumps(window, indent=1), encoding="utf-8")


class HFBackend(HFFamily):
    """Fine-tunes a transformer (encoder or decoder) with a token-classification head."""

    #: The measures its models' ``uncertainty`` scores (uncertainty selection).
    uncertainty_measures: ClassVar[tuple[str, ...]] = ("least_confidence", "entropy")

    name: ClassVar[str] = "hf"
    Params: ClassVar[type[HFParams]] = HFParams

    def train(self, train: Sequence[Doc], dev: Sequence[Doc], params: Any,
              seed: int) -> TrainResult:
        """Fine-tune on ``train``, keeping the weights with the best strict F1 on ``dev``."""
        import torch

        from nercurve.backends.hf import align
        from nercurve.backends.hf import train as hf_train
        from nercurve.backends.hf.load import load_model

        p = validated(HFParams, params)
        run = Run.of(p)
        train_docs, dev_docs = with_tokens(train), with_tokens(dev)
        tags = align.label_list([s.label for d in [*train_docs, *dev_docs] for s in d.spans])
        hf_train.seed_everything(seed)
        net = load_model(run.source, tags)
        net.config.pad_token_id = run.tokenizer.pad_token_id
        if run.device.type == "cuda":
            torch.cuda.empty_cache()
        net.to(run.device)
        encoder = align.Encoder(run.tokenizer,
                                model_limit(net.config, run.tokenizer, p.max_length),
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
        model = HFModel(net, encoder, tags, device=run.device, dtype=run.dtype,
                        batch_size=p.eval_batch_size)

        own = corpus_labels(dev_docs)

        def evaluate() -> tuple[float, dict[str, float]]:
            return dev_strict_f1([d.spans for d in dev_docs], model.predict(dev_docs),
                                 se=p.stop == "noise", labels=own)

        fitted = hf_train.fit(
            net, examples, hf_train.Schedule.of(p, len(examples)), device=run.device,
            dtype=run.dtype, pad_id=run.tokenizer.pad_token_id, seed=seed,
            evaluate=evaluate if dev_docs else None,
        )
        return trained(model, fitted)

    def load(self, path: Path) -> HFModel:
        """A model that :meth:`HFModel.save` wrote into the folder ``path``, on a GPU when
        torch sees one (in the precision it was trained in), else on the CPU in fp32."""
        from transformers import AutoModelForTokenClassification

        from nercurve.backends.hf import align
        from nercurve.backends.hf.load import load_tokenizer, locate, quiet
        from nercurve.backends.hf.train import autocast_dtype, resolve_device

        settings = read_settings(path)
        source = locate(str(path), revision=None, trust_pickle=False)
        tokenizer = load_tokenizer(source)
        with quiet():
            net = AutoModelForTokenClassification.from_pretrained(path)
        device = resolve_device("auto")
        net.to(device)
        encoder = align.Encoder(tokenizer, settings["max_length"], settings["window_overlap"])
        return HFModel(net, encoder, list(settings["tags"]), device=device,
                       dtype=autocast_dtype(device, settings.get("precision", "fp32")
                                            if device.type == "cuda" else "fp32"),
                       batch_size=settings["batch_size"])


#: The file beside a saved ``hf`` model that holds what its config does not (windows, batch).
SETTINGS = "nercurve_hf.json"


def precision_name(dtype: Any) -> str:
    """The ``precision`` setting of an autocast type (``None``: fp32)."""
    return {"torch.bfloat16": "bf16", "torch.float16": "fp16"}.get(str(dtype), "fp32")


def read_settings(path: Path) -> dict[str, Any]:
    """The :data:`SETTINGS` of a saved ``hf`` model folder."""
    try:
        return dict(json.loads((path / SETTINGS).read_text(encoding="utf-8")))
    except (OSError, ValueError) as err:
        raise BackendError(f"cannot read the settings of a saved hf model: {err}",
                           file=path / SETTINGS,
                           hint="give a folder that a kept hf model was saved in") from None


def with_tokens(docs: Sequence[Doc]) -> list[Doc]:
    """The documents, segmented into tokens where their format did not fix them."""
    from nercurve.corpus.segment import segment

    todo = [i for i, d in enumerate(docs) if d.tokens is None]
    out = list(docs)
    for i, doc in zip(todo, segment([docs[i] for i in todo]), strict=True):
        out[i] = doc
    return out
