"""A kept ``llm`` model on disk (``[run] keep``): what the NER and classification models
share when they save themselves and load again.

The folder holds, by kind of arm:

- ``lora`` (fine-tuned adapter): the PEFT adapter folder (``adapter_config.json``, whose
  ``base_model_name_or_path`` names the base model, and the adapter's weights;
  ``PeftModel.from_pretrained(base, folder)`` reads it);
- ``full`` (``lora = false``): the whole fine-tuned model (``save_pretrained``;
  ``AutoModelForCausalLM.from_pretrained(folder)`` reads it);
- ``base`` (zero- and few-shot arms): no weights; the base model is the arm's ``model``;

and, for each, the tokenizer and ``nercurve_llm.json``: the kind, the validated parameters
(the base model among them), the seed, the labels or classes and the few-shot examples, so
that the questions are asked as in the study. The base model is loaded as training loads it
(:func:`~nercurve.backends.llm.load.resolve`: presets, GGUF files, the cache).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nercurve.backends.llm.params import LLMParams
from nercurve.backends.llm.prompt import Unit
from nercurve.corpus.model import Span
from nercurve.errors import BackendError

#: The file of a saved ``llm`` model's settings.
SETTINGS = "nercurve_llm.json"


def save_asker(path: Path, *, net: Any, tokenizer: Any, params: LLMParams, seed: int,
               labels: Sequence[str], shots: Sequence[Unit], extra: dict[str, Any]) -> None:
    """Save a model of the ``llm`` backends into the folder ``path`` (see the module
    docstring); ``extra`` joins the settings (e.g. whether classes are multi-label)."""
    from nercurve.backends.hf.load import quiet

    kind = "base" if not params.train else ("lora" if params.lora else "full")
    with quiet(), warnings.catch_warnings():  # peft calls transformers' deprecated names
        warnings.simplefilter("ignore", FutureWarning)
        if kind != "base":
            net.save_pretrained(path)
        tokenizer.save_pretrained(path)
    settings = {"kind": kind, "params": params.model_dump(mode="json"), "seed": seed,
                "labels": list(labels), "shots": [_unit_json(u) for u in shots], **extra}
    (path / SETTINGS).write_text(json.dumps(settings, indent=1, ensure_ascii=False),
                                 encoding="utf-8")


@dataclass(frozen=True)
class Saved:
    """A saved ``llm`` model read back: its settings, the network on its device and the
    tokenizer."""

    settings: dict[str, Any]
    net: Any
    tokenizer: Any
    device: Any

    @property
    def seed(self) -> int:
        """The seed of the job that trained it (decoding samples are drawn with it)."""
        return int(self.settings["seed"])

    @property
    def labels(self) -> tuple[str, ...]:
        """The entity types or classes it was asked about."""
        return tuple(self.settings["labels"])

    def shots(self, unit_type: type[Unit] = Unit) -> list[Any]:
        """The few-shot examples, as ``unit_type`` (a :class:`Unit` or a subclass)."""
        return [_unit_of(u, unit_type) for u in self.settings["shots"]]


def read_saved(path: Path, params_type: type[LLMParams]) -> tuple[Saved, Any]:
    """The saved model in the folder ``path`` and its validated parameters (of
    ``params_type``): on a GPU when torch sees one, else on the CPU."""
    import torch

    from nercurve.backends.hf import train as hf_train
    from nercurve.backends.hf.load import Source, quiet
    from nercurve.backends.llm.load import load_causal_lm, load_tokenizer, resolve

    try:
        settings = json.loads((path / SETTINGS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise BackendError(f"cannot read the settings of a saved llm model: {err}",
                           file=path / SETTINGS,
                           hint="give a folder that a kept llm model was saved in") from None
    p = params_type.model_validate(settings["params"])
    device = hf_train.resolve_device("auto" if p.quantization is None else p.device)
    dtype = hf_train.autocast_dtype(device, p.precision)
    weights = torch.bfloat16 if dtype == torch.bfloat16 else None
    here = Source(path, pickle=False, name=str(path))
    if settings["kind"] == "full":
        net = load_causal_lm(here, device=device, dtype=weights, quantization=None)
    else:
        base = resolve(p.model, gguf_file=p.gguf_file, revision=p.revision,
                       trust_pickle=p.trust_pickle)
        net = load_causal_lm(base, device=device, dtype=weights, quantization=p.quantization)
        if settings["kind"] == "lora":
            from peft import PeftModel

            with quiet(), warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)
                net = PeftModel.from_pretrained(net, path)
    net.eval()
    return Saved(settings, net, load_tokenizer(here), device), p


def _unit_json(unit: Unit) -> dict[str, Any]:
    row = {"doc_index": unit.doc_index, "start": unit.start, "text": unit.text,
           "spans": [[s.start, s.end, s.label] for s in unit.spans]}
    classes = getattr(unit, "classes", None)
    if classes is not None:
        row["classes"] = list(classes)
    if unit.corpus is not None:
        row["corpus"] = unit.corpus
    if unit.corpus_labels is not None:
        row["corpus_labels"] = list(unit.corpus_labels)
    return row


def _unit_of(row: dict[str, Any], unit_type: type[Unit]) -> Any:
    more = {"classes": tuple(row["classes"])} if "classes" in row else {}
    if "corpus" in row:
        more["corpus"] = row["corpus"]
    if "corpus_labels" in row:
        more["corpus_labels"] = tuple(row["corpus_labels"])
    return unit_type(row["doc_index"], row["start"], row["text"],
                     tuple(Span(s, e, label) for s, e, label in row["spans"]), **more)
