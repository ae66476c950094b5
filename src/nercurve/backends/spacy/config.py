"""The spaCy training configuration: spaCy's quickstart default plus a study's settings.

:data:`DEFAULT_CONFIG` is what ``python -m spacy init config -l en -p ner -o efficiency``
writes with spaCy 3.8 (a tok2vec + ner pipeline with the CPU "efficiency"
architecture); a test keeps it equal to spaCy's own generator. A study may start from
its own ``config.cfg`` instead and override any existing key with a dotted name.
:class:`SpacyParams` are the settings of the ``spacy`` backends (NER; textcat through its
subclass) and build a run's config. Only ``confection`` (the config parser, light to
import) is needed here, so parameters validate without loading spaCy.
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from nercurve.backends.loop import ScheduleParams
from nercurve.errors import BackendError

DEFAULT_CONFIG = """\
[paths]
train = null
dev = null
vectors = null
init_tok2vec = null

[system]
gpu_allocator = null
seed = 0

[nlp]
lang = "en"
pipeline = ["tok2vec", "ner"]
batch_size = 1000
disabled = []
before_creation = null
after_creation = null
after_pipeline_creation = null

[corpora]

[training]
dev_corpus = "corpora.dev"
train_corpus = "corpora.train"
seed = ${system.seed}
gpu_allocator = ${system.gpu_allocator}
dropout = 0.1
accumulate_gradient = 1
patience = 1600
max_epochs = 0
max_steps = 20000
eval_frequency = 200
frozen_components = []
annotating_components = []
before_to_disk = null
before_update = null

[initialize]
vectors = ${paths.vectors}
init_tok2vec = ${paths.init_tok2vec}
vocab_data = null
lookups = null
before_init = null
after_init = null

[components]

[pretraining]

[nlp.tokenizer]
@tokenizers = "spacy.Tokenizer.v1"

[nlp.vectors]
@vectors = "spacy.Vectors.v1"

[corpora.train]
@readers = "spacy.Corpus.v1"
path = ${paths.train}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null

[corpora.dev]
@readers = "spacy.Corpus.v1"
path = ${paths.dev}
max_length = 0
gold_preproc = false
limit = 0
augmenter = null

[training.optimizer]
@optimizers = "Adam.v1"
beta1 = 0.9
beta2 = 0.999
L2_is_weight_decay = true
L2 = 0.01
grad_clip = 1.0
use_averages = false
eps = 1e-08
learn_rate = 0.001

[training.batcher]
@batchers = "spacy.batch_by_words.v1"
discard_oversize = false
tolerance = 0.2
get_length = null

[training.logger]
@loggers = "spacy.ConsoleLogger.v1"
progress_bar = false

[training.score_weights]
ents_f = 1.0
ents_p = 0.0
ents_r = 0.0
ents_per_type = null

[initialize.tokenizer]

[initialize.components]

[components.tok2vec]
factory = "tok2vec"

[components.ner]
factory = "ner"
moves = null
update_with_oracle_cut_size = 100
incorrect_spans_key = null

[training.batcher.size]
@schedules = "compounding.v1"
start = 100
stop = 1000
compound = 1.001
t = 0.0

[components.tok2vec.model]
@architectures = "spacy.Tok2Vec.v2"

[components.ner.model]
@architectures = "spacy.TransitionBasedParser.v2"
state_type = "ner"
extra_state_tokens = false
hidden_width = 64
maxout_pieces = 2
use_upper = true
nO = null

[components.ner.scorer]
@scorers = "spacy.ner_scorer.v1"

[components.tok2vec.model.embed]
@architectures = "spacy.MultiHashEmbed.v2"
width = ${components.tok2vec.model.encode.width}
attrs = ["NORM", "PREFIX", "SUFFIX", "SHAPE"]
rows = [5000, 1000, 2500, 2500]
include_static_vectors = false

[components.tok2vec.model.encode]
@architectures = "spacy.MaxoutWindowEncoder.v2"
width = 96
depth = 4
window_size = 1
maxout_pieces = 3

[components.ner.model.tok2vec]
@architectures = "spacy.Tok2VecListener.v1"
width = ${components.tok2vec.model.encode.width}
upstream = "*"
"""

#: Config sections the study supplies itself: an override there would be ignored or clash.
RESERVED: dict[str, str] = {
    "paths": "the study supplies the documents (and `vectors` names static vectors)",
    "corpora": "the study supplies the training and dev documents",
    "system.seed": "each job's seed is set by the study",
    "training.seed": "each job's seed is set by the study",
    "initialize.vectors": "use the `vectors` parameter",
    "training.optimizer.learn_rate": "use the `learn_rate` parameter",
    "training.optimizer.beta1": "use the `beta1` parameter",
    "training.optimizer.beta2": "use the `beta2` parameter",
    "training.dropout": "use the `dropout` parameter",
    "training.eval_frequency": "use the `eval_frequency` parameter",
    "training.patience": "use the `patience` parameter",
    "training.max_steps": "use the `max_steps` parameter",
    "training.batcher.size": "use the `batch_start`, `batch_stop` and `batch_compound` parameters",
}


def parse_config(text: str, source: str) -> Any:
    """A confection ``Config`` from config text (not interpolated); ``ValueError`` if invalid."""
    from confection import Config

    try:
        return Config().from_str(text, interpolate=False)
    except Exception as err:  # confection raises several types for bad syntax
        raise ValueError(f"{source} is not a valid spaCy config: {err}") from None


def read_config_file(path: str) -> str:
    """The text of a user's ``config.cfg``; ``ValueError`` naming the file if unreadable."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ValueError(f"cannot read config_file {path!r}: {err}") from None


def check_overrides(base: Mapping[str, Any], overrides: Mapping[str, Any], source: str) -> None:
    """Every override names an existing key of ``base`` and none a key the study sets.

    Raises ``ValueError`` naming the first offending key.
    """
    for key in overrides:
        parts = key.split(".")
        if not all(p.strip() for p in parts):
            raise ValueError(f"config override {key!r} is not a dotted key like 'a.b.c'")
        for reserved, why in RESERVED.items():
            if key == reserved or key.startswith(reserved + ".") or reserved.startswith(key + "."):
                raise ValueError(f"config override {key!r} is not allowed: {why}")
        node: Any = base
        for depth, part in enumerate(parts):
            if not isinstance(node, Mapping) or part not in node:
                where = ".".join(parts[:depth]) or "the top level"
                raise ValueError(
                    f"config override {key!r}: {source} has no key {part!r} under {where}"
                )
            node = node[part]


def build_config(
    base_text: str,
    source: str,
    overrides: Mapping[str, Any],
    settings: Mapping[str, Any],
) -> Any:
    """The final (not interpolated) config: ``base_text`` with ``overrides``, then ``settings``.

    Both map dotted keys to values; a setting's parent section must exist.
    """
    config = parse_config(base_text, source)
    for key, value in [*overrides.items(), *settings.items()]:
        *parents, leaf = key.split(".")
        node = config
        for part in parents:
            if not isinstance(node.get(part), dict):
                raise ValueError(f"{source} has no [{'.'.join(parents)}] section for {key!r}")
            node = node[part]
        node[leaf] = copy.deepcopy(value)
    return config


def require_pipeline(name: str, key: str) -> None:
    """Raise :class:`BackendError` unless ``name`` is an installed spaCy pipeline or a folder.

    ``key`` names the backend parameter that asked for it. Nothing is imported.
    """
    from importlib.util import find_spec

    if Path(name).is_dir():
        return
    found = "." not in name and find_spec(name) is not None
    if not found:
        package = name.replace("_", "-")
        raise BackendError(
            f"backend parameter `{key}`: no installed spaCy pipeline named {name!r}",
            hint=f"install it (`pip install {package}`, or `python -m spacy download {name}` "
            "for spaCy's own pipelines) or give the path of a saved pipeline folder",
        )


_STATIC_VECTORS_KEY = "components.tok2vec.model.embed.include_static_vectors"


class SpacyParams(ScheduleParams):
    """Parameters of the ``spacy`` backend; the schedule defaults are spaCy's own.

    ``config_file`` replaces the built-in quickstart config with a full ``config.cfg``
    (its SHA-256 is recorded in ``config_file_sha256``, so editing the file makes new
    jobs instead of silently mixing results). ``config`` overrides existing keys by
    dotted name, e.g. ``{"components.tok2vec.model.encode.width": 128}``; keys that a
    parameter below controls, the seed, and the data sections are refused.
    ``patience = 0`` disables early stopping and ``max_steps = 0`` the step limit (not
    both). ``eval_frequency`` and ``patience`` may scale with the data instead (the
    schedule parameters of :class:`~nercurve.backends.loop.ScheduleParams`: they are then
    the ceilings). The batch size, in words, follows spaCy's compounding schedule from
    ``batch_start`` to ``batch_stop``. ``vectors`` names an installed spaCy pipeline (or
    a pipeline folder) whose static word vectors the embedding layer also reads.
    """

    config_file: str | None = None
    config_file_sha256: str | None = None
    config: dict[str, Any] = Field(default_factory=dict)
    learn_rate: float = Field(0.001, gt=0)
    beta1: float = Field(0.9, ge=0, lt=1)
    beta2: float = Field(0.999, ge=0, lt=1)
    dropout: float = Field(0.1, ge=0, lt=1)
    eval_frequency: int = Field(200, ge=1)
    patience: int = Field(1600, ge=0)
    max_steps: int = Field(20000, ge=0)
    batch_start: int = Field(100, ge=1)
    batch_stop: int = Field(1000, ge=1)
    batch_compound: float = Field(1.001, ge=1)
    vectors: str | None = Field(None, min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _hash_config_file(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data.get("config_file"):
            return data
        digest = hashlib.sha256(read_config_file(str(data["config_file"])).encode()).hexdigest()
        recorded = data.get("config_file_sha256")
        if recorded is not None and recorded != digest:
            raise ValueError(
                f"config_file {data['config_file']!r} changed since these parameters were "
                f"recorded (sha256 {recorded[:12]}…, now {digest[:12]}…); restore it or "
                "start a new study"
            )
        return {**data, "config_file_sha256": digest}

    @model_validator(mode="after")
    def _check(self) -> SpacyParams:
        if self.config_file is None and self.config_file_sha256 is not None:
            raise ValueError("config_file_sha256 is set but config_file is not")
        if self.patience == 0 and self.max_steps == 0:
            raise ValueError("patience = 0 and max_steps = 0 would never stop; set one")
        if self.batch_stop < self.batch_start:
            raise ValueError("batch_stop must be at least batch_start")
        text, source = self.base_config()
        check_overrides(parse_config(text, source), self.config, source)
        if self.vectors is not None:
            require_pipeline(self.vectors, "vectors")
        return self

    def base_config(self) -> tuple[str, str]:
        """The config text training starts from, and a name for it in messages."""
        if self.config_file is None:
            return DEFAULT_CONFIG, "the default spaCy NER config"
        return read_config_file(self.config_file), f"config_file {self.config_file!r}"

    def training_config(self, seed: int) -> Any:
        """The complete (not interpolated) spaCy config of one run with ``seed``."""
        text, source = self.base_config()
        settings: dict[str, Any] = {
            "system.seed": seed,
            "training.seed": seed,
            "training.optimizer.learn_rate": self.learn_rate,
            "training.optimizer.beta1": self.beta1,
            "training.optimizer.beta2": self.beta2,
            "training.dropout": self.dropout,
            "training.eval_frequency": self.eval_frequency,
            "training.patience": self.patience,
            "training.max_steps": self.max_steps,
            "training.batcher.size": {
                "@schedules": "compounding.v1",
                "start": self.batch_start,
                "stop": self.batch_stop,
                "compound": self.batch_compound,
                "t": 0.0,
            },
        }
        if self.vectors is not None:
            settings["initialize.vectors"] = self.vectors
            settings[_STATIC_VECTORS_KEY] = True
        try:
            return build_config(text, source, self.config, settings)
        except ValueError as err:
            raise BackendError(str(err), file=self.config_file) from None
