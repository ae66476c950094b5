"""Loading a model (token classifier or bare encoder) and its tokenizer for the ``hf`` backends.

Every source becomes a local folder first: a folder is used as it is; a hub id
is looked up in the local Hugging Face cache when the hub is offline
(``HF_HUB_OFFLINE=1``) and downloaded (configuration, tokenizer and weight files
only) otherwise. Weights load from safetensors; pickle-based files
(``pytorch_model.bin`` and the like, which can run code when loaded) are refused
unless the caller trusts them.

Tokenizers: byte-level BPE tokenizers (RoBERTa, GPT-2, Llama 3 style) get
``add_prefix_space`` so that each pre-split word is encoded as it would be after a
space; SentencePiece-style ones get their word-boundary marker on every word.
Tokenizers without a padding token (decoders) pad with their end-of-text token.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nercurve.errors import BackendError

SAFE_PATTERNS = ("*.safetensors", "*.safetensors.index.json")
PICKLE_PATTERNS = ("*.bin", "*.bin.index.json", "*.pt", "*.pth", "*.ckpt")
_SIDE_FILES = ("*.json", "*.txt", "*.model", "*.tiktoken", "*.jinja")
_LOCAL_HINT = (
    "download the model once on a machine with network access (for example with "
    "`hf download {id} --local-dir models/{name}`), copy the folder here and set "
    "model = \"models/{name}\" (a local folder) in the study's backend parameters"
)


@dataclass(frozen=True)
class Source:
    """A model folder on disk and whether its weights are pickle-based."""

    folder: Path
    pickle: bool
    name: str


def locate(model: str, *, revision: str | None, trust_pickle: bool) -> Source:
    """The local folder for a hub id or folder ``model``, checked for loadable weights."""
    path = Path(model).expanduser()
    if path.is_dir():
        return _checked(path, model, trust_pickle)
    if model.startswith(("/", "./", "../", "~")) or path.suffix in {".bin", ".safetensors"}:
        raise BackendError(
            f"model folder {model!r} does not exist",
            hint="give an existing folder that holds config.json and the weights, "
            "a preset name or a Hugging Face hub id",
        )
    return _checked(_hub_folder(model, revision, trust_pickle), model, trust_pickle)


def _hub_folder(repo_id: str, revision: str | None, trust_pickle: bool) -> Path:
    import huggingface_hub
    from huggingface_hub import constants

    hint = _LOCAL_HINT.format(id=repo_id, name=repo_id.rsplit("/", 1)[-1])
    if not constants.is_offline_mode():
        try:
            with quiet():
                return _download(repo_id, revision, trust_pickle)
        except BackendError:
            raise
        except Exception as err:  # network down, unknown or gated repository, bad revision
            fetch_error = f"{type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}"
    try:
        return Path(huggingface_hub.snapshot_download(
            repo_id, revision=revision, local_files_only=True
        ))
    except Exception as err:  # not cached, malformed id, ...
        if constants.is_offline_mode():
            raise BackendError(
                f"model {repo_id!r} is not in the local Hugging Face cache and the hub is "
                f"offline (HF_HUB_OFFLINE is set) [{type(err).__name__}]",
                hint=hint,
            ) from None
        raise BackendError(
            f"could not fetch model {repo_id!r} from the Hugging Face hub ({fetch_error}) "
            "and it is not in the local cache",
            hint="check the id (a preset name, a hub id or a local folder); without network "
            "set HF_HUB_OFFLINE=1 and " + hint,
        ) from None


def _download(repo_id: str, revision: str | None, trust_pickle: bool) -> Path:
    """Configuration, tokenizer and weight files of a hub model (weights: safetensors only,
    unless the repository has none and pickle files are trusted)."""
    import huggingface_hub

    files = huggingface_hub.list_repo_files(repo_id, revision=revision)
    patterns = [*_SIDE_FILES, *SAFE_PATTERNS]
    if not _matching(files, SAFE_PATTERNS) and _matching(files, PICKLE_PATTERNS):
        if not trust_pickle:
            raise BackendError(
                f"model {repo_id!r} publishes only pickle-based weights "
                f"({', '.join(_matching(files, PICKLE_PATTERNS))})",
                hint="loading pickle files can run arbitrary code: if you trust the source, "
                "set trust_pickle = true in the backend parameters",
            )
        patterns += PICKLE_PATTERNS
    return Path(huggingface_hub.snapshot_download(
        repo_id, revision=revision, allow_patterns=patterns
    ))


def _matching(files: list[str], patterns: tuple[str, ...]) -> list[str]:
    from fnmatch import fnmatch

    return [f for f in files if any(fnmatch(f.rsplit("/", 1)[-1], p) for p in patterns)]


def _checked(folder: Path, name: str, trust_pickle: bool) -> Source:
    files = [p.name for p in folder.iterdir() if p.is_file()]
    if "config.json" not in files:
        raise BackendError(
            f"model folder {str(folder)!r} has no config.json",
            file=folder,
            hint="save the model with save_pretrained() or download the whole hub repository",
        )
    if _matching(files, SAFE_PATTERNS):
        return Source(folder, pickle=False, name=name)
    pickled = _matching(files, PICKLE_PATTERNS)
    if not pickled:
        raise BackendError(
            f"model folder {str(folder)!r} holds no weight files (*.safetensors)",
            file=folder,
            hint="save the model with save_pretrained() next to its config.json",
        )
    if not trust_pickle:
        raise BackendError(
            f"model {name!r} has only pickle-based weights ({', '.join(sorted(pickled))})",
            file=folder,
            hint="loading pickle files can run arbitrary code: convert them to safetensors, "
            "or, if you trust the source, set trust_pickle = true in the backend parameters",
        )
    return Source(folder, pickle=True, name=name)


@contextmanager
def quiet() -> Any:
    """Silence load reports and progress bars of transformers and the hub (the library never
    prints); the previous settings are restored afterwards."""
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as hf_logging

    loggers = [logging.getLogger(name) for name in ("transformers", "huggingface_hub")]
    levels = [logger.level for logger in loggers]
    bars = hf_logging.is_progress_bar_enabled()
    hub_bars = not hub_utils.are_progress_bars_disabled()
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    hf_logging.disable_progress_bar()
    hub_utils.disable_progress_bars()
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)
        if bars:
            hf_logging.enable_progress_bar()
        if hub_bars:
            hub_utils.enable_progress_bars()


def auto_tokenizer(source: Source, *, padding_side: str) -> Any:
    """The source's tokenizer, padding on ``padding_side`` with its padding token (or, when
    it has none, as decoders do not, its end or unknown token)."""
    from transformers import AutoTokenizer

    try:
        with quiet():
            tokenizer = AutoTokenizer.from_pretrained(source.folder)
    except Exception as err:
        raise BackendError(
            f"could not load the tokenizer of {source.name!r}: {type(err).__name__}: {err}",
            file=source.folder,
            hint="the model folder needs its tokenizer files (tokenizer.json or vocabulary)",
        ) from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or tokenizer.unk_token
    if tokenizer.pad_token is None:
        raise BackendError(
            f"the tokenizer of {source.name!r} has no padding, end or unknown token",
            file=source.folder,
            hint="add a pad_token to the tokenizer's special tokens",
        )
    tokenizer.padding_side = padding_side
    return tokenizer


def load_tokenizer(source: Source) -> Any:
    """The source's fast tokenizer, set up for pre-split words and padding on the right."""
    tokenizer = auto_tokenizer(source, padding_side="right")
    if not getattr(tokenizer, "is_fast", False):
        raise BackendError(
            f"the tokenizer of {source.name!r} is not a fast (Rust) tokenizer",
            file=source.folder,
            hint="word alignment needs a fast tokenizer: save one with tokenizer.json",
        )
    prefix_every_word(tokenizer)
    return tokenizer


def prefix_every_word(tokenizer: Any) -> None:
    """Make a BPE tokenizer encode each pre-split word as if a space preceded it."""
    from tokenizers import pre_tokenizers

    def parts(pre: Any) -> list[Any]:
        if not isinstance(pre, pre_tokenizers.Sequence):
            return [pre]
        found, i = [], 0
        while True:
            try:
                found += parts(pre[i])
            except IndexError:
                return found
            i += 1

    pre = tokenizer.backend_tokenizer.pre_tokenizer
    for part in parts(pre) if pre is not None else []:
        if isinstance(part, pre_tokenizers.ByteLevel):
            part.add_prefix_space = True
            tokenizer.add_prefix_space = True
        elif isinstance(part, pre_tokenizers.Metaspace):
            part.prepend_scheme = "always"


def load_model(source: Source, labels: list[str]) -> Any:
    """A token-classification model from the source with a fresh head for ``labels``."""
    from transformers import AutoConfig, AutoModelForTokenClassification

    id2label = dict(enumerate(labels))
    try:
        with quiet():
            config = AutoConfig.from_pretrained(
                source.folder,
                num_labels=len(labels),
                id2label=id2label,
                label2id={v: k for k, v in id2label.items()},
            )
            return AutoModelForTokenClassification.from_pretrained(
                source.folder,
                config=config,
                ignore_mismatched_sizes=True,
                use_safetensors=not source.pickle,
            )
    except ValueError as err:
        raise BackendError(
            f"model {source.name!r} cannot do token classification: {err}",
            file=source.folder,
            hint="use an encoder (BERT, RoBERTa, ...) or a decoder with a token-classification "
            "head in transformers (GPT-2, Llama, ...)",
        ) from None
    except OSError as err:
        raise BackendError(
            f"could not load the weights of {source.name!r}: {err}",
            file=source.folder,
            hint="check that the folder holds complete weight files",
        ) from None


def load_encoder(source: Source) -> Any:
    """The model without a task head (``AutoModel``)."""
    from transformers import AutoModel

    try:
        with quiet():
            return AutoModel.from_pretrained(source.folder, use_safetensors=not source.pickle)
    except (OSError, ValueError) as err:
        raise BackendError(
            f"could not load the model {source.name!r}: {err}", file=source.folder,
            hint="check that the folder holds a complete transformer model",
        ) from None
