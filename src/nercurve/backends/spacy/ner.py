"""The ``spacy`` backend: a blank spaCy tok2vec + ner pipeline trained in-process.

The pipeline is built from spaCy's quickstart config for English NER ("efficiency",
CPU; see :mod:`nercurve.backends.spacy.config`) or from the user's own
``config.cfg``, with dotted-key overrides. It trains as :class:`~nercurve.backends.spacy.run.
SpacyRun` does (the loop of ``spacy train``, nothing on disk, the best model kept in memory,
the schedule of :class:`~nercurve.backends.loop.ScheduleParams`), selecting on the dev set
scored with the project's strict scorer (:func:`nercurve.tasks.ner_scores.strict_prf`) on
the original character spans.

Dev documents drive model selection only. An empty dev set means no early stopping:
training runs ``max_steps`` steps and keeps the last model.
"""
from __future__ import annotations

import gc
import hashlib
from collections.abc import Sequence
from typing import Any, ClassVar

from pydantic import Field, model_validator

from nercurve.backends.base import (
    BackendParams,
    TrainResult,
    dev_strict_f1,
    require_training,
    validated,
)
from nercurve.backends.loop import ScheduleParams
from nercurve.backends.spacy.config import (
    DEFAULT_CONFIG,
    build_config,
    check_overrides,
    parse_config,
    read_config_file,
    require_pipeline,
)
from nercurve.backends.spacy.docs import SpacyModel, examples, predict_tokenized
from nercurve.backends.spacy.run import SpacyRun, pipeline
from nercurve.corpus.model import Doc
from nercurve.errors import BackendError

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


class SpacyBackend:
    """Trains a blank spaCy NER pipeline on the training documents (see the module doc)."""

    name: ClassVar[str] = "spacy"
    Params: ClassVar[type[BackendParams]] = SpacyParams

    def train(
        self, train: Sequence[Doc], dev: Sequence[Doc], params: Any, seed: int
    ) -> TrainResult:
        """Train on ``train``, select the best step on ``dev``; see the module docstring."""
        params = validated(SpacyParams, params)
        require_training(train, "spacy")
        if not 0 <= seed < 2**32:
            raise BackendError(f"seed {seed} is out of range", hint="use 0 <= seed < 2**32")
        if not dev and params.max_steps == 0:
            raise BackendError(
                "without dev documents training stops only at max_steps, which is 0",
                hint="give dev documents or set max_steps",
            )
        if params.vectors is not None:
            _require_vectors(params.vectors)
        # spaCy pipelines hold reference cycles: free earlier runs' models now, so that a
        # long-lived worker's memory stays flat (about 0.1 s)
        gc.collect()
        nlp, training = pipeline(params.training_config(seed), seed, params.config_file)
        train_examples, alignment = examples(nlp, train)
        dev_sdocs = [nlp.make_doc(d.text) for d in dev]
        gold = [d.spans for d in dev]

        def score(se: bool) -> tuple[float, dict[str, float]]:
            return dev_strict_f1(gold, predict_tokenized(nlp, [d.copy() for d in dev_sdocs]),
                                 se=se)

        run = SpacyRun(params, seed, nlp, training, train_examples, score if dev else None)
        return run.train(SpacyModel(nlp, alignment=alignment))


def _require_vectors(name: str) -> None:
    """Raise :class:`BackendError` if the pipeline ``name`` ships no static vectors."""
    import spacy

    try:
        path = spacy.util.get_package_path(name) if spacy.util.is_package(name) else name
        meta = spacy.util.get_model_meta(path)
    except (OSError, ValueError) as err:
        raise BackendError(f"cannot read the spaCy pipeline {name!r}: {err}") from None
    info = meta.get("vectors") or {}
    if not (info.get("vectors") or info.get("keys")):
        raise BackendError(
            f"the spaCy pipeline {name!r} has no static word vectors (its meta.json lists none)",
            hint="small pipelines such as en_core_web_sm ship none; use a md/lg pipeline "
            "(e.g. en_core_web_md) or leave `vectors` unset",
        )
